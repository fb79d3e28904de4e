//! Facet sets merged last-writer-wins by event time, so events applied in any order give the
//! same facets. A facet `{"_deleted": true}` leaves a tombstone that also carries its time.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::canonical::canonical;
use super::time::Micros;

/// One facet as last written: when, and what (`Null` is a deletion).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FacetEntry {
    #[serde(rename = "t")]
    pub time: Micros,
    #[serde(rename = "v")]
    pub value: Value,
}

/// The merged facets of an entity, each with the event time that set it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FacetState(BTreeMap<String, FacetEntry>);

/// True for the OpenLineage deletion marker `{"_deleted": true}`.
pub fn is_deletion(v: &Value) -> bool {
    v.get("_deleted").and_then(Value::as_bool) == Some(true)
}

impl FacetState {
    /// Reads the stored form; an empty or unreadable text is an empty set.
    pub fn from_stored(text: Option<&str>) -> Self {
        text.and_then(|t| serde_json::from_str(t).ok())
            .unwrap_or_default()
    }

    /// The stored form.
    pub fn to_stored(&self) -> String {
        serde_json::to_string(self).expect("facet state serialises")
    }

    /// Merges facets seen at `time`. A later time wins; at the same time the greater canonical
    /// text wins, so the result never depends on arrival order. Returns whether anything changed.
    pub fn merge(&mut self, time: Micros, facets: &Map<String, Value>) -> bool {
        let mut changed = false;
        for (name, value) in facets {
            let value = if is_deletion(value) {
                Value::Null
            } else {
                value.clone()
            };
            let wins = match self.0.get(name) {
                None => true,
                Some(old) if time != old.time => time > old.time,
                Some(old) => canonical(&value) > canonical(&old.value),
            };
            if wins {
                changed = true;
                self.0.insert(name.clone(), FacetEntry { time, value });
            }
        }
        changed
    }

    /// The merged set of another state into this one (same rule as `merge`).
    pub fn merge_state(&mut self, other: &FacetState) -> bool {
        let mut changed = false;
        for (name, e) in &other.0 {
            let mut one = Map::new();
            one.insert(
                name.clone(),
                if e.value.is_null() {
                    deletion()
                } else {
                    e.value.clone()
                },
            );
            changed |= self.merge(e.time, &one);
        }
        changed
    }

    /// A live facet by name.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name).map(|e| &e.value).filter(|v| !v.is_null())
    }

    /// The live facets, without tombstones.
    pub fn current(&self) -> Map<String, Value> {
        self.0
            .iter()
            .filter(|(_, e)| !e.value.is_null())
            .map(|(k, e)| (k.clone(), e.value.clone()))
            .collect()
    }

    /// The latest time any facet was set or deleted.
    pub fn last_time(&self) -> Option<Micros> {
        self.0.values().map(|e| e.time).max()
    }
}

fn deletion() -> Value {
    serde_json::json!({ "_deleted": true })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn facets(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
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
}
