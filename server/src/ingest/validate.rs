//! Validation against the project's own JSON Schema (`schema/`), compiled once. The core schema
//! decides whether an event is accepted at all; the facet schema decides whether each standard
//! facet is usable. A malformed facet is flagged (lenient) or refused (strict).

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::Problem;
use crate::model::EventKind;

/// The core schema: event envelope and run/job/dataset skeleton.
pub const CORE_SCHEMA: &str = include_str!("../../../schema/openlineage-core.schema.json");
/// The schemas of the standard facets, keyed `location.facetKey`.
pub const FACET_SCHEMA: &str = include_str!("../../../schema/openlineage-facets.schema.json");

/// At most this many problems are reported for one event.
const MAX_PROBLEMS: usize = 50;

/// What to do with a malformed standard facet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ValidationMode {
    /// Keep the event, do not use the facet, answer with a warning.
    #[default]
    Lenient,
    /// Refuse the event with 400.
    Strict,
}

impl std::str::FromStr for ValidationMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "lenient" | "default" => Ok(ValidationMode::Lenient),
            "strict" => Ok(ValidationMode::Strict),
            other => Err(format!(
                "unknown validation mode '{other}' (use lenient or strict)"
            )),
        }
    }
}

/// The compiled validators.
pub struct Validator {
    run: jsonschema::Validator,
    job: jsonschema::Validator,
    dataset: jsonschema::Validator,
    facets: HashMap<String, jsonschema::Validator>,
    mode: ValidationMode,
}

fn compile(defs: &Value, def: &str) -> jsonschema::Validator {
    let schema = serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": format!("#/$defs/{def}"),
        "$defs": defs,
    });
    jsonschema::draft202012::options()
        .should_validate_formats(false)
        .build(&schema)
        .unwrap_or_else(|e| panic!("schema definition {def} does not compile: {e}"))
}

/// Where facets sit in an event, and the location prefix of their definitions.
fn facet_maps(event: &Map<String, Value>, kind: EventKind) -> Vec<(String, &'static str)> {
    let mut maps = Vec::new();
    if kind == EventKind::Run {
        maps.push(("/run/facets".to_string(), "run"));
    }
    if kind != EventKind::Dataset {
        maps.push(("/job/facets".to_string(), "job"));
    }
    for (list, io_key, io_loc) in [
        ("inputs", "inputFacets", "inputDataset"),
        ("outputs", "outputFacets", "outputDataset"),
    ] {
        let n = event
            .get(list)
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        for i in 0..n {
            maps.push((format!("/{list}/{i}/facets"), "dataset"));
            maps.push((format!("/{list}/{i}/{io_key}"), io_loc));
        }
    }
    if kind == EventKind::Dataset {
        maps.push(("/dataset/facets".to_string(), "dataset"));
    }
    maps
}

fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

impl Validator {
    /// Compiles the project's schemas.
    pub fn new(mode: ValidationMode) -> Self {
        let core: Value = serde_json::from_str(CORE_SCHEMA).expect("core schema is JSON");
        let facets: Value = serde_json::from_str(FACET_SCHEMA).expect("facet schema is JSON");
        let core_defs = &core["$defs"];
        let facet_defs = &facets["$defs"];
        let compiled = facet_defs
            .as_object()
            .expect("facet schema has $defs")
            .keys()
            .filter(|k| k.contains('.'))
            .map(|k| (k.clone(), compile(facet_defs, k)))
            .collect();
        Validator {
            run: compile(core_defs, "RunEvent"),
            job: compile(core_defs, "JobEvent"),
            dataset: compile(core_defs, "DatasetEvent"),
            facets: compiled,
            mode,
        }
    }

    /// The mode this validator was built with.
    pub fn mode(&self) -> ValidationMode {
        self.mode
    }

    /// Names of the standard facets that are checked, as `location.facetKey`.
    pub fn facet_names(&self) -> impl Iterator<Item = &str> {
        self.facets.keys().map(String::as_str)
    }

    /// Checks only the core structure. An empty answer means the event is acceptable.
    pub fn core_problems(&self, event: &Value) -> Vec<Problem> {
        let kind = match event.as_object() {
            Some(o) => EventKind::of(o),
            None => return vec![Problem::new("", "an event must be a JSON object")],
        };
        let validator = match kind {
            EventKind::Run => &self.run,
            EventKind::Job => &self.job,
            EventKind::Dataset => &self.dataset,
        };
        // Nearly every event is valid: the yes-or-no check stops at nothing and builds no
        // errors; only a refused event is walked again for what is wrong and where.
        if validator.is_valid(event) {
            return Vec::new();
        }
        validator
            .iter_errors(event)
            .take(MAX_PROBLEMS)
            .map(|e| Problem::new(e.instance_path.to_string(), e.to_string()))
            .collect()
    }

    /// Validates an event. Refuses it (with every problem) when its core structure is wrong, or
    /// when a standard facet is malformed in strict mode. Otherwise removes the malformed facets
    /// from `event` (so nothing is derived from them) and answers them as warnings.
    pub fn check(&self, event: &mut Value) -> Result<Vec<Problem>, Vec<Problem>> {
        let problems = self.core_problems(event);
        if !problems.is_empty() {
            return Err(problems);
        }
        let obj = event.as_object().expect("core schema requires an object");
        let kind = EventKind::of(obj);
        let mut warnings = Vec::new();
        let mut bad: Vec<(String, String)> = Vec::new();
        for (pointer, location) in facet_maps(obj, kind) {
            let Some(Value::Object(map)) = event.pointer(&pointer) else {
                continue;
            };
            for (key, facet) in map {
                let Some(v) = self.facets.get(&format!("{location}.{key}")) else {
                    continue;
                };
                if v.is_valid(facet) {
                    continue;
                }
                let at = format!("{pointer}/{}", escape(key));
                let before = warnings.len();
                for e in v.iter_errors(facet).take(MAX_PROBLEMS) {
                    warnings.push(Problem::new(
                        format!("{at}{}", e.instance_path),
                        format!("{key} facet: {e}"),
                    ));
                }
                if warnings.len() > before {
                    bad.push((pointer.clone(), key.clone()));
                }
            }
        }
        if !warnings.is_empty() && self.mode == ValidationMode::Strict {
            return Err(warnings);
        }
        for (pointer, key) in bad {
            if let Some(Value::Object(map)) = event.pointer_mut(&pointer) {
                map.remove(&key);
            }
        }
        Ok(warnings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event() -> Value {
        json!({
            "eventType": "COMPLETE", "eventTime": "2024-01-01T00:00:00Z", "producer": "p",
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
            "run": {"runId": "41fb5137-f0fd-4ee5-ba5c-56f8571d1bd7"},
            "job": {"namespace": "ns", "name": "j"},
            "outputs": [{"namespace": "db", "name": "t", "outputFacets": {"outputStatistics": {"rowCount": "wrong"}}}]
        })
    }

    #[test]
    fn a_missing_run_id_is_refused_with_its_path() {
        let v = Validator::new(ValidationMode::Lenient);
        let mut e = event();
        e["run"] = json!({});
        let problems = v.check(&mut e).unwrap_err();
        assert!(
            problems
                .iter()
                .any(|p| p.path == "/run" && p.detail.contains("runId")),
            "{problems:?}"
        );
    }

    #[test]
    fn a_malformed_facet_is_flagged_and_removed_in_lenient_mode() {
        let v = Validator::new(ValidationMode::Lenient);
        let mut e = event();
        let warnings = v.check(&mut e).unwrap();
        assert_eq!(warnings.len(), 1);
        assert_eq!(
            warnings[0].path,
            "/outputs/0/outputFacets/outputStatistics/rowCount"
        );
        assert!(e["outputs"][0]["outputFacets"]
            .get("outputStatistics")
            .is_none());
    }

    #[test]
    fn a_malformed_facet_is_refused_in_strict_mode() {
        let v = Validator::new(ValidationMode::Strict);
        let problems = v.check(&mut event()).unwrap_err();
        assert_eq!(
            problems[0].path,
            "/outputs/0/outputFacets/outputStatistics/rowCount"
        );
    }

    #[test]
    fn unknown_facets_are_kept_untouched() {
        let v = Validator::new(ValidationMode::Strict);
        let mut e = event();
        e["outputs"][0]["outputFacets"] = json!({"custom": {"anything": [1, 2]}});
        assert!(v.check(&mut e).unwrap().is_empty());
        assert_eq!(e["outputs"][0]["outputFacets"]["custom"]["anything"][1], 2);
    }
}
