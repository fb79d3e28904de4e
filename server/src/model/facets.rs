//! Facets: as an event carries them (`Facets`), and as an entity accumulates them
//! (`FacetState`), merged last-writer-wins by event time so that events applied in any order
//! give the same facets. A facet `{"_deleted": true}` leaves a tombstone that also carries its
//! time. Facet values are kept as canonical JSON text: merging, storing and loading them copies
//! strings instead of building and dropping JSON trees. A text is shared, not copied, by every
//! state it is merged into (an event's facets, the batch's merged rows, the rows the writer
//! keeps): a schema facet is kilobytes, and a batch merges each many times.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::time::Micros;

/// True for the OpenLineage deletion marker `{"_deleted": true}`.
pub fn is_deletion(v: &Value) -> bool {
    v.get("_deleted").and_then(Value::as_bool) == Some(true)
}

/// The facets at one place in an event (a run, a job, a dataset's facets or its input/output
/// facets): parsed, for reading particular fields, and as canonical text, for storing.
#[derive(Debug, Clone, Default)]
pub struct Facets {
    map: Map<String, Value>,
    raw: Vec<(String, Option<Text>)>,
}

impl PartialEq for Facets {
    fn eq(&self, other: &Self) -> bool {
        self.map == other.map
    }
}

impl Facets {
    /// Facets from a JSON object's members; members that are not objects are not facets.
    pub fn from_map(map: Map<String, Value>) -> Self {
        Self::from_map_and_texts(map, None)
    }

    /// Facets from a JSON object's members and, where the caller already wrote them, each
    /// member's canonical text: `texts` holds a text and where each member's value lies in it, in
    /// the map's order (the event's canonical text, written once for its hash). Without them, or
    /// when they do not match the map, each facet is written here.
    pub fn from_map_and_texts(
        map: Map<String, Value>,
        texts: Option<(&str, &[Range<usize>])>,
    ) -> Self {
        let spans = texts.filter(|(_, spans)| spans.len() == map.len());
        let mut raw = Vec::with_capacity(map.len());
        let map: Map<String, Value> = map
            .into_iter()
            .enumerate()
            .filter(|(_, (_, v))| v.is_object())
            .map(|(i, (k, v))| {
                let text = (!is_deletion(&v)).then(|| {
                    spans
                        .and_then(|(text, spans)| {
                            RawValue::from_string(text.get(spans[i].clone())?.to_owned()).ok()
                        })
                        .map(Text::from)
                        // serde_json's maps are sorted, so the text is canonical.
                        .unwrap_or_else(|| {
                            Text::from(
                                serde_json::value::to_raw_value(&v)
                                    .expect("a JSON value serialises"),
                            )
                        })
                });
                raw.push((k.clone(), text));
                (k, v)
            })
            .collect();
        Facets { map, raw }
    }

    /// A facet by name, parsed.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.map.get(name)
    }

    /// Whether a facet is present (deletion markers included).
    pub fn contains_key(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }

    /// How many facets.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The parsed facets.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.map
    }
}

/// A facet's canonical JSON text, shared by every state it was merged into.
pub type Text = Arc<RawValue>;

/// One facet as last written: when, and what (`None` is a deletion).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FacetEntry {
    #[serde(rename = "t")]
    pub time: Micros,
    #[serde(rename = "v")]
    pub value: Option<Text>,
}

fn text(v: &Option<Text>) -> &str {
    v.as_deref().map_or("", RawValue::get)
}

impl PartialEq for FacetEntry {
    fn eq(&self, other: &Self) -> bool {
        self.time == other.time && text(&self.value) == text(&other.value)
    }
}

/// The merged facets of an entity, each with the event time that set it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FacetState(BTreeMap<String, FacetEntry>);

impl FacetState {
    /// Reads the stored form; an empty or unreadable text is an empty set.
    pub fn from_stored(text: Option<&str>) -> Self {
        text.and_then(|t| serde_json::from_str(t).ok())
            .unwrap_or_default()
    }

    /// One live facet's JSON text straight from the stored form, without reading the others
    /// (`None` for a tombstone).
    pub fn raw_in_stored<'a>(text: &'a str, name: &str) -> Option<&'a RawValue> {
        #[derive(Deserialize)]
        struct Entry<'a> {
            #[serde(borrow, rename = "v")]
            value: Option<&'a RawValue>,
        }
        let all: BTreeMap<std::borrow::Cow<'a, str>, &'a RawValue> =
            serde_json::from_str(text).ok()?;
        let entry: Entry<'a> = serde_json::from_str(all.get(name)?.get()).ok()?;
        entry.value
    }

    /// The stored form.
    pub fn to_stored(&self) -> String {
        serde_json::to_string(self).expect("facet state serialises")
    }

    /// Each facet's time alone, `{"name": t}`: what [`FacetState::with_times`] puts back over a
    /// stored form whose values are the same.
    pub fn times_to_stored(&self) -> String {
        let times: BTreeMap<&str, Micros> =
            self.0.iter().map(|(k, e)| (k.as_str(), e.time)).collect();
        serde_json::to_string(&times).expect("facet times serialise")
    }

    /// This state with the times of a [`FacetState::times_to_stored`] text over its own, facet by
    /// facet (an empty or unreadable text changes nothing).
    pub fn with_times(mut self, times: Option<&str>) -> Self {
        let times: BTreeMap<String, Micros> = times
            .and_then(|t| serde_json::from_str(t).ok())
            .unwrap_or_default();
        for (name, time) in times {
            if let Some(entry) = self.0.get_mut(&name) {
                entry.time = time;
            }
        }
        self
    }

    /// Whether both hold the same facets with the same values (or deletions), whenever each was
    /// set.
    pub fn same_values(&self, other: &FacetState) -> bool {
        self.0.len() == other.0.len()
            && self
                .0
                .iter()
                .zip(&other.0)
                .all(|((a, x), (b, y))| a == b && text(&x.value) == text(&y.value))
    }

    fn merge_one(&mut self, name: &str, time: Micros, value: &Option<Text>) -> bool {
        let wins = match self.0.get(name) {
            None => true,
            Some(old) if time != old.time => time > old.time,
            // At the same time the greater canonical text wins: never the arrival order.
            Some(old) => text(value) > text(&old.value),
        };
        if wins {
            self.0.insert(
                name.to_string(),
                FacetEntry {
                    time,
                    value: value.clone(),
                },
            );
        }
        wins
    }

    /// Merges an event's facets seen at `time`. A later time wins. Returns whether anything
    /// changed.
    pub fn merge(&mut self, time: Micros, facets: &Facets) -> bool {
        let mut changed = false;
        for (name, value) in &facets.raw {
            changed |= self.merge_one(name, time, value);
        }
        changed
    }

    /// Merges another state into this one (the same rule as `merge`, facet by facet).
    pub fn merge_state(&mut self, other: &FacetState) -> bool {
        let mut changed = false;
        for (name, e) in &other.0 {
            changed |= self.merge_one(name, e.time, &e.value);
        }
        changed
    }

    /// Puts the stored state under this one: the stored state with this one merged into it
    /// (the same rule as `merge`, facet by facet).
    pub fn merge_under(&mut self, mut stored: FacetState) {
        stored.merge_state(self);
        *self = stored;
    }

    /// A live facet by name, parsed.
    pub fn get(&self, name: &str) -> Option<Value> {
        self.raw(name)
            .and_then(|r| serde_json::from_str(r.get()).ok())
    }

    /// A string field of a live facet (`string("dataSource", "name")`).
    pub fn string(&self, facet: &str, field: &str) -> Option<String> {
        self.get(facet)?.get(field)?.as_str().map(str::to_string)
    }

    /// A live facet by name, as canonical text.
    pub fn raw(&self, name: &str) -> Option<&RawValue> {
        self.0.get(name).and_then(|e| e.value.as_deref())
    }

    /// The live facets as canonical text, sorted by name.
    pub fn raw_current(&self) -> BTreeMap<&str, &RawValue> {
        self.0
            .iter()
            .filter_map(|(k, e)| Some((k.as_str(), e.value.as_deref()?)))
            .collect()
    }

    /// The live facets, parsed, without tombstones.
    pub fn current(&self) -> Map<String, Value> {
        self.0
            .iter()
            .filter_map(|(k, e)| {
                Some((
                    k.clone(),
                    serde_json::from_str(e.value.as_deref()?.get()).ok()?,
                ))
            })
            .collect()
    }

    /// The latest time any facet was set or deleted.
    pub fn last_time(&self) -> Option<Micros> {
        self.0.values().map(|e| e.time).max()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_facets_text_is_its_canonical_text() {
        let event: serde_json::Value = serde_json::from_str(
            r#"{"s": {"z": [1, 2.5, -3e2, null], "a": "é \u0000 \" \\ / \u2028 😀", "m": {"b": {}, "a": []}},
                "gone": {"_deleted": true}}"#,
        )
        .unwrap();
        let facets = Facets::from_map(event.as_object().unwrap().clone());
        let mut state = FacetState::default();
        state.merge(1, &facets);
        let text = state.raw("s").unwrap().get();
        assert_eq!(text, crate::model::canonical::canonical(&event["s"]));
        assert!(state.raw("gone").is_none());
    }

    #[test]
    fn one_facet_is_read_from_the_stored_form() {
        let mut state = FacetState::default();
        let facets = Facets::from_map(
            serde_json::json!({"schema": {"fields": []}, "columnLineage": {"fields": {"a": {}}}})
                .as_object()
                .unwrap()
                .clone(),
        );
        state.merge(1, &facets);
        let stored = state.to_stored();
        assert_eq!(
            FacetState::raw_in_stored(&stored, "columnLineage").map(RawValue::get),
            state.raw("columnLineage").map(RawValue::get)
        );
        assert!(FacetState::raw_in_stored(&stored, "missing").is_none());
        assert!(FacetState::raw_in_stored("garbage", "schema").is_none());
        let deleted = Facets::from_map(
            serde_json::json!({"columnLineage": {"_deleted": true}})
                .as_object()
                .unwrap()
                .clone(),
        );
        state.merge(2, &deleted);
        assert!(FacetState::raw_in_stored(&state.to_stored(), "columnLineage").is_none());
    }

    use super::*;
    use serde_json::json;

    /// A stored form written at one time, with the times of a later merge of the same values
    /// put over it, is that later state: the same values, the later times.
    #[test]
    fn times_put_back_over_an_older_stored_form_give_the_newer_state() {
        let facets = |v: Value| Facets::from_map(v.as_object().unwrap().clone());
        let mut older = FacetState::default();
        older.merge(
            10,
            &facets(json!({"schema": {"fields": [1]}, "dataSource": {"n": 1}})),
        );
        let mut newer = older.clone();
        newer.merge(20, &facets(json!({"schema": {"fields": [1]}})));
        assert!(newer.same_values(&older));
        assert_ne!(newer, older);
        let back = FacetState::from_stored(Some(&older.to_stored()))
            .with_times(Some(&newer.times_to_stored()));
        assert_eq!(back, newer);
        assert_eq!(back.last_time(), Some(20));
        // What the times say nothing of keeps its own time; no times change nothing.
        assert_eq!(
            FacetState::from_stored(Some(&older.to_stored())).with_times(None),
            older
        );
        // An earlier event with another schema loses to the later same-valued one.
        let mut merged = back.clone();
        assert!(!merged.merge(15, &facets(json!({"schema": {"fields": [2]}}))));
        // Other values, or another facet, are not the same values.
        let mut other = older.clone();
        other.merge(30, &facets(json!({"schema": {"fields": [2]}})));
        assert!(!other.same_values(&older));
        let mut more = older.clone();
        more.merge(30, &facets(json!({"owner": {}})));
        assert!(!more.same_values(&older));
    }

    fn facets(v: Value) -> Facets {
        Facets::from_map(v.as_object().unwrap().clone())
    }

    #[test]
    fn the_later_event_wins_whatever_the_arrival_order() {
        let a = facets(json!({"doc": {"description": "old"}}));
        let b = facets(json!({"doc": {"description": "new"}}));
        let mut in_order = FacetState::default();
        in_order.merge(1, &a);
        in_order.merge(2, &b);
        let mut reversed = FacetState::default();
        reversed.merge(2, &b);
        reversed.merge(1, &a);
        assert_eq!(in_order, reversed);
        assert_eq!(in_order.get("doc").unwrap()["description"], "new");
    }

    #[test]
    fn a_deletion_removes_the_facet_and_an_older_write_does_not_bring_it_back() {
        let mut s = FacetState::default();
        s.merge(2, &facets(json!({"doc": {"_deleted": true}})));
        s.merge(1, &facets(json!({"doc": {"description": "x"}})));
        assert!(s.get("doc").is_none());
        assert!(s.current().is_empty());
        let stored = FacetState::from_stored(Some(&s.to_stored()));
        assert_eq!(stored, s, "tombstones survive storage");
    }

    #[test]
    fn equal_times_are_settled_by_content_not_order() {
        let a = facets(json!({"doc": {"description": "a"}}));
        let b = facets(json!({"doc": {"description": "b"}}));
        let mut x = FacetState::default();
        x.merge(5, &a);
        x.merge(5, &b);
        let mut y = FacetState::default();
        y.merge(5, &b);
        y.merge(5, &a);
        assert_eq!(x, y);
    }

    #[test]
    fn merging_states_equals_merging_their_events() {
        let a = facets(json!({"doc": {"description": "a"}, "schema": {"fields": []}}));
        let b = facets(json!({"doc": {"_deleted": true}}));
        let mut one = FacetState::default();
        one.merge(1, &a);
        one.merge(2, &b);
        let mut left = FacetState::default();
        left.merge(2, &b);
        let mut right = FacetState::default();
        right.merge(1, &a);
        left.merge_state(&right);
        assert_eq!(one, left);
    }

    #[test]
    fn non_object_members_are_not_facets() {
        let f = facets(json!({"doc": {"description": "a"}, "junk": 5}));
        assert_eq!(f.len(), 1);
    }
}
