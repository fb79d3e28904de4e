//! The project's schema agrees with the official OpenLineage schema (`../shared/openlineage/spec`)
//! at the core level on every corpus event, valid and invalid.

mod common;

use serde_json::Value;
use tributary::ingest::{ValidationMode, Validator};

#[test]
fn core_verdicts_agree_with_the_official_schema_on_every_corpus_event() {
    let Some(shared) = common::shared() else {
        return;
    };
    let official_text = std::fs::read_to_string(shared.join("openlineage/spec/OpenLineage.json"))
        .expect("official schema");
    let official: Value = serde_json::from_str(&official_text).unwrap();
    assert_eq!(
        official["$id"],
        "https://openlineage.io/spec/2-0-2/OpenLineage.json"
    );
    let official = jsonschema::draft202012::options()
        .should_validate_formats(false)
        .build(&official)
        .expect("official schema compiles");
    let ours = Validator::new(ValidationMode::Lenient);

    let mut files = common::corpus_files("valid").expect("shared corpus");
    files.extend(common::corpus_files("invalid").expect("shared corpus"));
    let mut checked = 0;
    let mut refused = 0;
    for f in files {
        let event: Value = serde_json::from_slice(&std::fs::read(&f).unwrap()).unwrap();
        let official_ok = official.is_valid(&event);
        let problems = ours.core_problems(&event);
        assert_eq!(
            official_ok,
            problems.is_empty(),
            "{}: official says {official_ok}, ours says {problems:?}",
            f.display()
        );
        checked += 1;
        refused += usize::from(!official_ok);
    }
    assert!(checked >= 60, "only {checked} corpus events");
    assert_eq!(
        refused, 1,
        "exactly one corpus event (no runId) breaks the core schema"
    );
}

#[test]
fn every_valid_corpus_event_passes_the_facet_schemas_too() {
    let strict = Validator::new(ValidationMode::Strict);
    let Some(valid) = common::corpus_files("valid") else {
        return;
    };
    for f in valid {
        let mut event: Value = serde_json::from_slice(&std::fs::read(&f).unwrap()).unwrap();
        assert_eq!(strict.check(&mut event), Ok(vec![]), "{}", f.display());
    }
}

#[test]
fn every_standard_facet_has_a_schema() {
    let v = Validator::new(ValidationMode::Lenient);
    let names: Vec<&str> = v.facet_names().collect();
    for expected in [
        "dataset.schema",
        "dataset.dataSource",
        "dataset.documentation",
        "dataset.ownership",
        "dataset.symlinks",
        "dataset.columnLineage",
        "dataset.version",
        "dataset.lifecycleStateChange",
        "dataset.storage",
        "inputDataset.dataQualityMetrics",
        "inputDataset.dataQualityAssertions",
        "outputDataset.outputStatistics",
        "run.parent",
        "run.nominalTime",
        "run.errorMessage",
        "job.sql",
        "job.sourceCodeLocation",
        "job.jobType",
    ] {
        assert!(names.contains(&expected), "{expected} missing");
    }
}

/// Every facet's stored text, map by map, as `FacetState` keeps it.
fn stored_facets(e: &tributary::model::LineageEvent) -> Vec<String> {
    let mut maps = vec![];
    let mut push = |f: &tributary::model::Facets| {
        let mut state = tributary::model::FacetState::default();
        state.merge(1, f);
        maps.push(state.to_stored());
    };
    if let Some(r) = &e.run {
        push(&r.facets);
    }
    if let Some(j) = &e.job {
        push(&j.facets);
    }
    for d in e.dataset.iter().chain(&e.inputs).chain(&e.outputs) {
        push(&d.facets);
        push(&d.io_facets);
    }
    maps
}

#[test]
fn the_event_written_once_hashes_and_stores_its_facets_as_written_apart() {
    use tributary::model::canonical;
    use tributary::model::event::EventText;
    use tributary::model::LineageEvent;
    let Some(mut files) = common::corpus_files("valid") else {
        return;
    };
    files.extend(common::corpus_files("invalid").expect("shared corpus"));
    let mut compared = 0;
    for f in files {
        let event: Value = serde_json::from_slice(&std::fs::read(&f).unwrap()).unwrap();
        let Value::Object(obj) = &event else { continue };
        let text = EventText::of(obj, 0);
        assert_eq!(
            text.as_str(),
            canonical::canonical(&event),
            "{}",
            f.display()
        );
        assert_eq!(text.hash(), canonical::hash(&event), "{}", f.display());
        let (Ok(once), Ok(apart)) = (
            LineageEvent::parse_with_text(obj.clone(), Some(&text)),
            LineageEvent::parse(obj.clone()),
        ) else {
            continue;
        };
        assert_eq!(once, apart, "{}", f.display());
        assert_eq!(
            stored_facets(&once),
            stored_facets(&apart),
            "{}",
            f.display()
        );
        compared += 1;
    }
    assert!(compared >= 55, "only {compared} corpus events parsed");
}
