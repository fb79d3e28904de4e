//! Large lists of plain objects, written as JSON text while the graph is held.
//!
//! async-graphql resolves every field of every list item as a boxed future of its own and builds
//! a value tree (a map per item) that is serialised afterwards; for a lineage answer of 10,000
//! nodes and as many edges that costs more than the walk. A resolver that answers a large list
//! asks `Plain::answer`: when every selection of that list under the field it resolves is plain
//! (fields, aliases and nested plain objects; no fragments, directives or arguments), the items
//! are written as JSON text at once, from views of the graph, once per selection, and the HTTP
//! handler splices the text into the serialised response (`RawParts`). Anything else builds the
//! items and goes the usual way. The schema does not change: `Plain<T>` is `[T!]!` to clients.

use std::borrow::Cow;
use std::sync::{Arc, Mutex};

use async_graphql::parser::types::{Field, Selection, SelectionSet};
use async_graphql::registry::Registry;
use async_graphql::resolver_utils::resolve_list;
use async_graphql::{
    Context, ContextSelectionSet, Name, OutputType, Positioned, ServerError, ServerResult, Value,
};
use bytes::Bytes;

use crate::json;

/// What to write for each item: its type's name and, per response key (written once as
/// `"key":`), the field and the plan of its selection.
#[derive(Debug)]
pub struct Plan {
    type_name: &'static str,
    fields: Vec<(Vec<u8>, String, Option<Plan>)>,
}

impl Plan {
    /// The plan of a selection on `T`, or `None` when it is not plain.
    pub fn of<T: PlainObject>(selection: &SelectionSet) -> Option<Plan> {
        let mut fields = Vec::with_capacity(selection.items.len());
        for item in &selection.items {
            let Selection::Field(field) = &item.node else {
                return None;
            };
            let f: &Field = &field.node;
            if !f.directives.is_empty() || !f.arguments.is_empty() {
                return None;
            }
            let name = f.name.node.as_str();
            let nested = if f.selection_set.node.items.is_empty() {
                None
            } else {
                Some(T::nested_plan(name, &f.selection_set.node)?)
            };
            if name != "__typename" && !T::has(name) {
                return None;
            }
            let mut key = Vec::new();
            json::write_str(&mut key, f.response_key().node.as_str());
            key.push(b':');
            fields.push((key, name.to_string(), nested));
        }
        Some(Plan {
            type_name: T::TYPE_NAME,
            fields,
        })
    }

    /// Writes one item's answer: `{"key": value, …}` in the selection's order.
    pub fn write(&self, item: &impl WriteFields, out: &mut Vec<u8>) {
        out.push(b'{');
        for (i, (key, name, nested)) in self.fields.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(key);
            if name == "__typename" {
                json::write_str(out, self.type_name);
            } else {
                item.write_field(name, nested.as_ref(), out);
            }
        }
        out.push(b'}');
    }

    /// Writes a list of items.
    fn write_list<V: WriteFields>(&self, items: impl Iterator<Item = V>, out: &mut Vec<u8>) {
        out.push(b'[');
        let (count, _) = items.size_hint();
        for (i, item) in items.enumerate() {
            if i > 0 {
                out.push(b',');
            }
            self.write(&item, out);
            if i == 0 {
                // Room for the rest, as long as the first (one growth instead of twenty).
                out.reserve(count.saturating_sub(1) * (out.len() + 1) * 9 / 8);
            }
        }
        out.push(b']');
    }
}

/// An object whose fields are data: what a plan may select on it.
pub trait PlainObject: OutputType {
    const TYPE_NAME: &'static str;
    /// Whether it has a field of that name (the plan asks before answering).
    fn has(field: &str) -> bool;
    /// The plan of the selection on one of its object fields; `None` for a field that is not
    /// a plain object (the default: it has none).
    fn nested_plan(field: &str, selection: &SelectionSet) -> Option<Plan> {
        let _ = (field, selection);
        None
    }
}

/// An item as it is written: each field's value as JSON text (`nested` is that field's plan,
/// for an object field).
pub trait WriteFields {
    fn write_field(&self, field: &str, nested: Option<&Plan>, out: &mut Vec<u8>);
}

/// A list of plain objects: written already, per response key, or items to resolve.
pub struct Plain<T> {
    written: Vec<(Name, Bytes)>,
    items: Vec<T>,
}

impl<T: PlainObject> Plain<T> {
    /// The list field `field` of the object that the resolver of `ctx` answers: written now
    /// from `views`, once for each of its selections, when they are all plain; otherwise the
    /// items `build` makes, resolved the usual way.
    pub fn answer<V: WriteFields, I: Iterator<Item = V>>(
        ctx: &Context<'_>,
        field: &str,
        views: impl Fn() -> I,
        build: impl FnOnce() -> Vec<T>,
    ) -> Self {
        match plans::<T>(&ctx.item.node.selection_set.node, field) {
            Some(plans) => Plain {
                written: plans
                    .into_iter()
                    .map(|(key, plan)| {
                        let mut out = Vec::new();
                        plan.write_list(views(), &mut out);
                        (key, Bytes::from(out))
                    })
                    .collect(),
                items: Vec::new(),
            },
            None => Plain {
                written: Vec::new(),
                items: build(),
            },
        }
    }
}

/// The plans of every selection of `field` in `selection` by response key, or `None` when one
/// is not plain or the selection has fragments (which may select the field again).
fn plans<T: PlainObject>(selection: &SelectionSet, field: &str) -> Option<Vec<(Name, Plan)>> {
    let mut plans: Vec<(Name, Plan)> = Vec::new();
    for item in &selection.items {
        let Selection::Field(f) = &item.node else {
            return None;
        };
        if f.node.name.node != field {
            continue;
        }
        if !f.node.directives.is_empty() || !f.node.arguments.is_empty() {
            return None;
        }
        let key = f.node.response_key().node.clone();
        // The same key twice is one merged answer: the usual way.
        if plans.iter().any(|(k, _)| *k == key) {
            return None;
        }
        plans.push((key, Plan::of::<T>(&f.node.selection_set.node)?));
    }
    Some(plans)
}

impl<T: PlainObject> OutputType for Plain<T> {
    fn type_name() -> Cow<'static, str> {
        Vec::<T>::type_name()
    }

    fn qualified_type_name() -> String {
        Vec::<T>::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        Vec::<T>::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        let key = &field.node.response_key().node;
        if let Some((_, text)) = self.written.iter().find(|(k, _)| k == key) {
            return Ok(match ctx.data_opt::<Arc<RawParts>>() {
                Some(parts) => Value::String(parts.add(text.clone())),
                // Without a handler to splice it (a schema run in a test): parsed back.
                None => serde_json::from_slice(text)
                    .and_then(Value::from_json)
                    .map_err(|e| ServerError::new(e.to_string(), Some(field.pos)))?,
            });
        }
        if !self.written.is_empty() {
            // `plans` saw every selection of the field; this cannot be reached.
            return Err(ServerError::new(
                "internal error: a list was not written for its selection",
                Some(field.pos),
            ));
        }
        resolve_list(ctx, field, &self.items, Some(self.items.len())).await
    }
}

/// The JSON text plain lists wrote during one request, spliced into the serialised response
/// where the strings standing for it are: `"tributary-raw-{nonce}-{i}"`, with a nonce drawn for
/// each request, so that no data can spell one.
pub struct RawParts {
    prefix: String,
    parts: Mutex<Vec<Bytes>>,
}

impl RawParts {
    pub fn new() -> Arc<Self> {
        Arc::new(RawParts {
            prefix: format!("\"tributary-raw-{:032x}-", uuid::Uuid::new_v4().as_u128()),
            parts: Mutex::new(Vec::new()),
        })
    }

    /// Keeps `text`; answers the string that stands for it.
    fn add(&self, text: Bytes) -> String {
        let mut parts = self.parts.lock().expect("raw parts lock");
        parts.push(text);
        format!("{}{}", &self.prefix[1..], parts.len() - 1)
    }

    /// `serialised` (the response as JSON text) with each stand-in replaced by its text.
    pub fn splice(&self, serialised: Vec<u8>) -> Vec<u8> {
        let parts = self.parts.lock().expect("raw parts lock");
        if parts.is_empty() {
            return serialised;
        }
        let mut out =
            Vec::with_capacity(serialised.len() + parts.iter().map(Bytes::len).sum::<usize>());
        let finder = memchr::memmem::Finder::new(self.prefix.as_bytes());
        let mut at = 0;
        while let Some(found) = finder.find(&serialised[at..]) {
            let start = at + found;
            let digits = start + self.prefix.len();
            let end = digits
                + serialised[digits..]
                    .iter()
                    .position(|b| !b.is_ascii_digit())
                    .unwrap_or(0);
            let part = std::str::from_utf8(&serialised[digits..end])
                .ok()
                .and_then(|d| d.parse::<usize>().ok())
                .and_then(|i| parts.get(i));
            match (part, serialised.get(end)) {
                (Some(text), Some(b'"')) => {
                    out.extend_from_slice(&serialised[at..start]);
                    out.extend_from_slice(text);
                    at = end + 1;
                }
                _ => {
                    out.extend_from_slice(&serialised[at..digits]);
                    at = digits;
                }
            }
        }
        out.extend_from_slice(&serialised[at..]);
        out
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::parser::parse_query;
    use async_graphql::parser::types::{DocumentOperations, Selection};

    use super::*;
    use crate::graphql::{Affected, LineageNode};

    /// The selection of the first field of `query`'s operation.
    fn top(query: &str) -> SelectionSet {
        let doc = parse_query(query).unwrap();
        let DocumentOperations::Single(op) = doc.operations else {
            panic!("one operation");
        };
        op.node.selection_set.node
    }

    /// The selection on the items of the first field of `query`'s operation.
    fn items(query: &str) -> SelectionSet {
        let Selection::Field(f) = &top(query).items[0].node else {
            panic!("a field");
        };
        f.node.selection_set.node.clone()
    }

    /// A node with a name that needs escaping.
    struct Node;

    impl WriteFields for Node {
        fn write_field(&self, field: &str, _: Option<&Plan>, out: &mut Vec<u8>) {
            match field {
                "id" => json::write_str(out, "dataset:db:a \"b\""),
                "kind" => out.extend_from_slice(b"\"DATASET\""),
                _ => out.extend_from_slice(b"null"),
            }
        }
    }

    struct Hop;

    impl WriteFields for Hop {
        fn write_field(&self, field: &str, nested: Option<&Plan>, out: &mut Vec<u8>) {
            match (field, nested) {
                ("node", Some(plan)) => plan.write(&Node, out),
                ("distance", _) => json::write_int(out, 2),
                _ => out.extend_from_slice(b"null"),
            }
        }
    }

    fn written<V: WriteFields>(plan: &Plan, items: impl Iterator<Item = V>) -> serde_json::Value {
        let mut out = Vec::new();
        plan.write_list(items, &mut out);
        serde_json::from_slice(&out).unwrap()
    }

    #[test]
    fn plain_selections_are_written_as_json_text() {
        let plan =
            Plan::of::<LineageNode>(&items("{ nodes { __typename key: id kind datasetType } }"))
                .unwrap();
        assert_eq!(
            written(&plan, [Node, Node].into_iter()),
            serde_json::json!([
                {"__typename": "LineageNode", "key": "dataset:db:a \"b\"", "kind": "DATASET", "datasetType": null},
                {"__typename": "LineageNode", "key": "dataset:db:a \"b\"", "kind": "DATASET", "datasetType": null}
            ])
        );
        let plan =
            Plan::of::<Affected>(&items("{ affected { distance node { name: id } } }")).unwrap();
        assert_eq!(
            written(&plan, std::iter::once(Hop)),
            serde_json::json!([{"distance": 2, "node": {"name": "dataset:db:a \"b\""}}])
        );
        assert_eq!(
            written(&plan, std::iter::empty::<Hop>()),
            serde_json::json!([])
        );
    }

    #[test]
    fn fragments_directives_and_unknown_fields_go_the_usual_way() {
        for query in [
            "{ nodes { ... on LineageNode { id } } }",
            "{ nodes { ...F } } fragment F on LineageNode { id }",
            "{ nodes { id @include(if: true) } }",
            "{ nodes { nope } }",
            "{ nodes { id(x: 1) } }",
        ] {
            assert!(Plan::of::<LineageNode>(&items(query)).is_none(), "{query}");
        }
        assert!(Plan::of::<Affected>(&items(
            "{ affected { node { ... on LineageNode { id } } } }"
        ))
        .is_none());
    }

    #[test]
    fn every_selection_of_the_list_is_planned_or_none_is() {
        let of = |q: &str| {
            let Selection::Field(f) = &top(q).items[0].node else {
                panic!("a field");
            };
            plans::<LineageNode>(&f.node.selection_set.node, "nodes")
                .map(|p| p.iter().map(|(k, _)| k.to_string()).collect::<Vec<_>>())
        };
        assert_eq!(of("{ g { truncated } }"), Some(vec![]));
        assert_eq!(
            of("{ g { a: nodes { id } truncated b: nodes { name } } }"),
            Some(vec!["a".to_string(), "b".to_string()])
        );
        // The same key twice merges; a fragment may select the list again; a directive may
        // drop it: all the usual way.
        assert_eq!(of("{ g { nodes { id } nodes { name } } }"), None);
        assert_eq!(of("{ g { nodes { id } ... on G { truncated } } }"), None);
        assert_eq!(of("{ g { nodes @skip(if: false) { id } } }"), None);
        assert_eq!(of("{ g { nodes { id ...F } } }"), None);
    }

    #[test]
    fn written_parts_are_spliced_where_their_stand_ins_are() {
        let raw = RawParts::new();
        let a = raw.add(Bytes::from_static(b"[1,2]"));
        let b = raw.add(Bytes::from_static(b"[{\"x\":\"y\"}]"));
        let response = serde_json::json!({
            "data": {"g": {"b": b, "a": a, "t": true}, "spoof": "tributary-raw-0-0", "near": format!("{a}x")}
        });
        let spliced = raw.splice(serde_json::to_vec(&response).unwrap());
        let v: serde_json::Value = serde_json::from_slice(&spliced).unwrap();
        assert_eq!(
            v["data"]["g"],
            serde_json::json!({"b": [{"x": "y"}], "a": [1, 2], "t": true})
        );
        assert_eq!(v["data"]["spoof"], "tributary-raw-0-0");
        assert_eq!(v["data"]["near"], format!("{a}x"));
        // Nothing written: the text as it was.
        let none = RawParts::new();
        assert_eq!(none.splice(b"{\"data\":1}".to_vec()), b"{\"data\":1}");
    }
}
