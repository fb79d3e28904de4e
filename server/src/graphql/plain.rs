//! Large lists of plain objects without a resolver per item.
//!
//! async-graphql resolves every field of every list item as a boxed future of its own; for a
//! lineage answer of 10,000 nodes and as many edges that machinery costs more than the walk.
//! `Plain<T>` is a list whose items are plain data: when the selection on its items is plain
//! fields (aliases and nested plain objects too, no fragments, directives or arguments), the
//! answer is built in one pass from a plan read once from the query; anything else goes the
//! usual way. The schema does not change: `Plain<T>` is `[T!]!` to clients.

use std::borrow::Cow;

use async_graphql::parser::types::{Field, Selection, SelectionSet};
use async_graphql::registry::Registry;
use async_graphql::resolver_utils::resolve_list;
use async_graphql::{ContextSelectionSet, Name, OutputType, Positioned, ServerResult, Value};

/// What to answer for each item: per response key, the field and the plan of its selection.
#[derive(Debug, Default)]
pub struct Plan(Vec<(Name, String, Option<Plan>)>);

impl Plan {
    /// The plan of a selection on `T`, or `None` when it is not plain.
    pub fn of<T: PlainObject>(selection: &SelectionSet) -> Option<Plan> {
        let mut plan = Vec::with_capacity(selection.items.len());
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
            plan.push((f.response_key().node.clone(), name.to_string(), nested));
        }
        Some(Plan(plan))
    }

    /// One item's answer.
    pub fn answer<T: PlainObject>(&self, item: &T) -> Value {
        Value::Object(
            self.0
                .iter()
                .map(|(key, name, nested)| {
                    let value = if name == "__typename" {
                        Value::String(T::TYPE_NAME.to_string())
                    } else {
                        item.value(name, nested.as_ref())
                    };
                    (key.clone(), value)
                })
                .collect(),
        )
    }
}

/// An object whose fields are data: each answered from the item itself.
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
    /// A field's value (`nested` is that field's plan, for an object field).
    fn value(&self, field: &str, nested: Option<&Plan>) -> Value;
}

/// A list of plain objects, answered in one pass (see the module).
pub struct Plain<T>(pub Vec<T>);

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
        // (The schema has no extensions that would watch each item being resolved.)
        if let Some(plan) = Plan::of::<T>(&ctx.item.node) {
            return Ok(Value::List(
                self.0.iter().map(|item| plan.answer(item)).collect(),
            ));
        }
        resolve_list(ctx, field, &self.0, Some(self.0.len())).await
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::parser::parse_query;
    use async_graphql::parser::types::{DocumentOperations, Selection};
    use async_graphql::ID;

    use super::*;
    use crate::graphql::{Affected, LineageNode, NodeKind};

    /// The selection on the items of the first field of `query`'s operation.
    fn items(query: &str) -> SelectionSet {
        let doc = parse_query(query).unwrap();
        let DocumentOperations::Single(op) = doc.operations else {
            panic!("one operation");
        };
        let Selection::Field(f) = &op.node.selection_set.node.items[0].node else {
            panic!("a field");
        };
        f.node.selection_set.node.clone()
    }

    fn node() -> LineageNode {
        LineageNode {
            id: ID("dataset:db:orders".into()),
            kind: NodeKind::Dataset,
            namespace: "db".into(),
            name: "orders".into(),
            dataset_type: None,
        }
    }

    #[test]
    fn plain_selections_are_answered_in_one_pass() {
        let plan =
            Plan::of::<LineageNode>(&items("{ nodes { __typename key: id kind datasetType } }"))
                .unwrap();
        let answer = plan.answer(&node());
        assert_eq!(
            answer.into_json().unwrap(),
            serde_json::json!({"__typename": "LineageNode", "key": "dataset:db:orders", "kind": "DATASET", "datasetType": null})
        );
        let affected = Affected {
            node: node(),
            distance: 2,
            path: vec![ID("a".into()), ID("b".into())],
        };
        let plan =
            Plan::of::<Affected>(&items("{ affected { node { name } distance path } }")).unwrap();
        assert_eq!(
            plan.answer(&affected).into_json().unwrap(),
            serde_json::json!({"node": {"name": "orders"}, "distance": 2, "path": ["a", "b"]})
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
}
