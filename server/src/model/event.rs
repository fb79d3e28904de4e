//! OpenLineage events as the rest of the code sees them: parsed once, with ids resolved and times
//! in UTC. Built from JSON that already passed the core schema.

use std::ops::Range;

use serde_json::{Map, Value};
use uuid::Uuid;

use super::canonical;
use super::facets::Facets;
use super::ids;
use super::time::{self, Micros};

/// Which of the three OpenLineage event kinds this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Run,
    Job,
    Dataset,
}

impl EventKind {
    /// Decides the kind from the keys present, as the official schema does: `run` makes a
    /// RunEvent; otherwise `dataset` a DatasetEvent; anything else a JobEvent (a stray
    /// `eventType` on a JobEvent is ignored).
    pub fn of(event: &Map<String, Value>) -> Self {
        if event.contains_key("run") {
            EventKind::Run
        } else if event.contains_key("dataset") {
            EventKind::Dataset
        } else {
            EventKind::Job
        }
    }

    /// The name used in the store and in schema definitions.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Run => "RunEvent",
            EventKind::Job => "JobEvent",
            EventKind::Dataset => "DatasetEvent",
        }
    }
}

/// A run event's `eventType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventType {
    Start,
    Running,
    Complete,
    Abort,
    Fail,
    Other,
}

impl EventType {
    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "START" => EventType::Start,
            "RUNNING" => EventType::Running,
            "COMPLETE" => EventType::Complete,
            "ABORT" => EventType::Abort,
            "FAIL" => EventType::Fail,
            "OTHER" => EventType::Other,
            _ => return None,
        })
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Start => "START",
            EventType::Running => "RUNNING",
            EventType::Complete => "COMPLETE",
            EventType::Abort => "ABORT",
            EventType::Fail => "FAIL",
            EventType::Other => "OTHER",
        }
    }
}

/// The run of a RunEvent.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRef {
    /// The runId as sent.
    pub run_id: String,
    /// The runId as a UUID (a non-UUID runId maps to a stable UUID).
    pub uuid: Uuid,
    pub facets: Facets,
}

/// A job named by an event.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRef {
    pub namespace: String,
    pub name: String,
    pub facets: Facets,
}

/// A dataset named by an event, with its dataset facets and its input or output facets.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetRef {
    pub namespace: String,
    pub name: String,
    pub facets: Facets,
    pub io_facets: Facets,
}

/// One OpenLineage event, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct LineageEvent {
    pub kind: EventKind,
    pub event_type: Option<EventType>,
    pub event_time: Micros,
    pub producer: String,
    pub schema_url: String,
    pub run: Option<RunRef>,
    pub job: Option<JobRef>,
    pub dataset: Option<DatasetRef>,
    pub inputs: Vec<DatasetRef>,
    pub outputs: Vec<DatasetRef>,
}

/// A problem the schema cannot express, with the JSON pointer of where it is.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ParseError {
    pub path: String,
    pub message: String,
}

fn err(path: &str, message: impl Into<String>) -> ParseError {
    ParseError {
        path: path.to_string(),
        message: message.into(),
    }
}

fn string(obj: &Map<String, Value>, key: &str, at: &str) -> Result<String, ParseError> {
    match obj.get(key) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(err(&format!("{at}/{key}"), "must be a string")),
        None => Err(err(&format!("{at}/{key}"), "is required")),
    }
}

fn object<'a>(
    obj: &'a mut Map<String, Value>,
    key: &str,
    at: &str,
) -> Result<&'a mut Map<String, Value>, ParseError> {
    match obj.get_mut(key) {
        Some(Value::Object(o)) => Ok(o),
        Some(_) => Err(err(&format!("{at}/{key}"), "must be an object")),
        None => Err(err(&format!("{at}/{key}"), "is required")),
    }
}

/// Where a map of facets sits in an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Place {
    Run,
    Job,
    Dataset,
    /// An input's (or output's) dataset facets.
    Facets(List, usize),
    /// An input's `inputFacets` (or an output's `outputFacets`).
    IoFacets(List, usize),
}

/// An event's list of inputs or of outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum List {
    Inputs,
    Outputs,
}

impl List {
    /// The list's key in an event and the key of its entries' own facets.
    fn keys(self) -> (&'static str, &'static str) {
        match self {
            List::Inputs => ("inputs", "inputFacets"),
            List::Outputs => ("outputs", "outputFacets"),
        }
    }
}

/// An event's canonical text, written once: the event's hash is taken over it, and each facet's
/// stored text is a slice of it, so no facet is written a second time.
pub struct EventText {
    text: String,
    /// For each map of facets, where each of its members' values lies in `text`, in the map's
    /// order (a map, not a list: an event may hold thousands of inputs and outputs).
    places: Places,
}

impl EventText {
    /// Writes an event object's canonical text (`size` is a guess of its length).
    pub fn of(event: &Map<String, Value>, size: usize) -> Self {
        let mut out = Vec::with_capacity(size);
        let mut places = Places::default();
        canonical::write_object(event, &mut out, |key, v, out| match (key, v) {
            ("run", Value::Object(o)) => holder(o, &[("facets", Place::Run)], out, &mut places),
            ("job", Value::Object(o)) => holder(o, &[("facets", Place::Job)], out, &mut places),
            ("dataset", Value::Object(o)) => {
                holder(o, &[("facets", Place::Dataset)], out, &mut places)
            }
            ("inputs" | "outputs", Value::Array(items)) => {
                let list = if key == "inputs" {
                    List::Inputs
                } else {
                    List::Outputs
                };
                canonical::write_array(items, out, |i, item, out| match item {
                    Value::Object(o) => {
                        let places_of = [
                            ("facets", Place::Facets(list, i)),
                            (list.keys().1, Place::IoFacets(list, i)),
                        ];
                        holder(o, &places_of, out, &mut places)
                    }
                    other => canonical::write(other, out),
                });
            }
            _ => canonical::write(v, out),
        });
        EventText {
            text: String::from_utf8(out).expect("canonical JSON is UTF-8"),
            places,
        }
    }

    /// SHA-256 of the canonical text: the event's hash.
    pub fn hash(&self) -> [u8; 32] {
        canonical::sha256(self.text.as_bytes())
    }

    /// The canonical text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    fn at(&self, place: Place) -> Option<(&str, &[Range<usize>])> {
        self.places
            .get(&place)
            .map(|spans| (self.text.as_str(), spans.as_slice()))
    }
}

/// Where each map of facets' members lie in an event's canonical text.
type Places = foldhash::HashMap<Place, Vec<Range<usize>>>;

/// Writes an object holding maps of facets under `keys`, noting where each facet's value lies.
fn holder(
    obj: &Map<String, Value>,
    keys: &[(&str, Place)],
    out: &mut Vec<u8>,
    places: &mut Places,
) {
    canonical::write_object(obj, out, |key, v, out| {
        match (keys.iter().find(|(k, _)| *k == key), v) {
            (Some((_, place)), Value::Object(facets)) => {
                let mut spans = Vec::with_capacity(facets.len());
                canonical::write_object(facets, out, |_, v, out| {
                    let start = out.len();
                    canonical::write(v, out);
                    spans.push(start..out.len());
                });
                places.insert(*place, spans);
            }
            _ => canonical::write(v, out),
        }
    })
}

/// The facets under `key`, taken out of the event (moved, not copied: an event's facets are
/// most of its bytes), with their texts where the event's canonical text has them.
fn facets(obj: &mut Map<String, Value>, key: &str, texts: Spans) -> Facets {
    match obj.remove(key) {
        Some(Value::Object(o)) => Facets::from_map_and_texts(o, texts),
        _ => Facets::default(),
    }
}

/// A map of facets' place in the event's canonical text, when the parse has that text.
type Spans<'a> = Option<(&'a str, &'a [Range<usize>])>;

fn spans(text: Option<&EventText>, place: Place) -> Spans<'_> {
    text.and_then(|t| t.at(place))
}

/// A dataset: `texts` for its facets, and for its facets under `io_key`.
fn dataset<'a>(
    obj: &mut Map<String, Value>,
    io_key: &str,
    at: &str,
    texts: (Spans<'a>, Spans<'a>),
) -> Result<DatasetRef, ParseError> {
    let namespace = string(obj, "namespace", at)?;
    let name = string(obj, "name", at)?;
    if name.is_empty() {
        return Err(err(&format!("{at}/name"), "must not be empty"));
    }
    Ok(DatasetRef {
        namespace,
        name,
        facets: facets(obj, "facets", texts.0),
        io_facets: facets(obj, io_key, texts.1),
    })
}

fn datasets(
    obj: &mut Map<String, Value>,
    list: List,
    text: Option<&EventText>,
) -> Result<Vec<DatasetRef>, ParseError> {
    let (key, io_key) = list.keys();
    match obj.get_mut(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter_mut()
            .enumerate()
            .map(|(i, item)| {
                let at = format!("/{key}/{i}");
                let texts = (
                    spans(text, Place::Facets(list, i)),
                    spans(text, Place::IoFacets(list, i)),
                );
                item.as_object_mut()
                    .ok_or_else(|| err(&at, "must be an object"))
                    .and_then(|o| dataset(o, io_key, &at, texts))
            })
            .collect(),
        Some(_) => Err(err(&format!("/{key}"), "must be an array")),
    }
}

impl LineageEvent {
    /// Parses an event object, taking its facets out of it.
    pub fn parse(event: Map<String, Value>) -> Result<Self, ParseError> {
        Self::parse_with_text(event, None)
    }

    /// Parses an event object, taking its facets' texts from `text`, the canonical text of the
    /// same object (written before anything was taken out of it).
    pub fn parse_with_text(
        mut event: Map<String, Value>,
        text: Option<&EventText>,
    ) -> Result<Self, ParseError> {
        let event = &mut event;
        let kind = EventKind::of(event);
        let time_text = string(event, "eventTime", "")?;
        let event_time = time::parse_event_time(&time_text)
            .map(time::to_micros)
            .ok_or_else(|| {
                err(
                    "/eventTime",
                    format!("'{time_text}' is not an ISO 8601 date-time"),
                )
            })?;
        let event_type = match event.get("eventType") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(EventType::parse(s).ok_or_else(|| {
                err(
                    "/eventType",
                    format!("'{s}' is not one of START, RUNNING, COMPLETE, ABORT, FAIL, OTHER"),
                )
            })?),
            Some(_) => return Err(err("/eventType", "must be a string")),
        };
        let producer = string(event, "producer", "")?;
        let schema_url = string(event, "schemaURL", "").unwrap_or_default();

        let run = match kind {
            EventKind::Run => {
                let run = object(event, "run", "")?;
                let run_id = string(run, "runId", "/run")?;
                if run_id.trim().is_empty() {
                    return Err(err("/run/runId", "must not be empty"));
                }
                Some(RunRef {
                    uuid: ids::run_uuid(&run_id),
                    run_id,
                    facets: facets(run, "facets", spans(text, Place::Run)),
                })
            }
            _ => None,
        };
        let job = match kind {
            EventKind::Dataset => None,
            _ => {
                let job = object(event, "job", "")?;
                let namespace = string(job, "namespace", "/job")?;
                let name = string(job, "name", "/job")?;
                if name.is_empty() {
                    return Err(err("/job/name", "must not be empty"));
                }
                Some(JobRef {
                    namespace,
                    name,
                    facets: facets(job, "facets", spans(text, Place::Job)),
                })
            }
        };
        let dataset = match kind {
            EventKind::Dataset => Some(dataset(
                object(event, "dataset", "")?,
                "",
                "/dataset",
                (spans(text, Place::Dataset), None),
            )?),
            _ => None,
        };
        Ok(LineageEvent {
            kind,
            event_type: if kind == EventKind::Run {
                event_type
            } else {
                None
            },
            event_time,
            producer,
            schema_url,
            run,
            job,
            dataset,
            inputs: datasets(event, List::Inputs, text)?,
            outputs: datasets(event, List::Outputs, text)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<LineageEvent, ParseError> {
        let Value::Object(v) = v else {
            panic!("an object")
        };
        LineageEvent::parse(v)
    }

    fn stored(f: &Facets) -> String {
        let mut state = crate::model::FacetState::default();
        state.merge(1, f);
        state.to_stored()
    }

    fn with_schema(field: &str) -> Map<String, Value> {
        let Value::Object(o) = json!({
            "eventType": "COMPLETE", "eventTime": "2024-01-01T00:00:00Z", "producer": "p",
            "run": {"runId": "r", "facets": {"x": {"n": 1}}}, "job": {"namespace": "ns", "name": "j"},
            "inputs": [{"namespace": "db", "name": "a",
                        "facets": {"schema": {"fields": [{"name": field}]}, "z": {"k": [1]}},
                        "inputFacets": {"q": {"rows": 2}}}],
            "outputs": [{"namespace": "db", "name": "b", "outputFacets": {"s": {"r": 3}}}]
        }) else {
            unreachable!()
        };
        o
    }

    #[test]
    fn facets_take_their_text_from_the_events_text() {
        // The text of another event of the same shape shows where the stored texts come from.
        let other = EventText::of(&with_schema("from the text"), 0);
        let e = LineageEvent::parse_with_text(with_schema("parsed"), Some(&other)).unwrap();
        assert!(stored(&e.inputs[0].facets).contains("from the text"));
        assert_eq!(
            e.inputs[0].facets.get("schema").unwrap()["fields"][0]["name"],
            "parsed"
        );
        let own = EventText::of(&with_schema("parsed"), 0);
        let e = LineageEvent::parse_with_text(with_schema("parsed"), Some(&own)).unwrap();
        let apart = LineageEvent::parse(with_schema("parsed")).unwrap();
        for (a, b) in [
            (
                &e.run.as_ref().unwrap().facets,
                &apart.run.as_ref().unwrap().facets,
            ),
            (&e.inputs[0].facets, &apart.inputs[0].facets),
            (&e.inputs[0].io_facets, &apart.inputs[0].io_facets),
            (&e.outputs[0].io_facets, &apart.outputs[0].io_facets),
        ] {
            assert_eq!(stored(a), stored(b));
        }
    }

    #[test]
    fn a_map_that_lost_a_facet_since_its_text_was_written_is_written_again() {
        let text = EventText::of(&with_schema("f"), 0);
        let mut event = with_schema("f");
        event["inputs"][0]["facets"]
            .as_object_mut()
            .unwrap()
            .remove("schema");
        let e = LineageEvent::parse_with_text(event, Some(&text)).unwrap();
        assert_eq!(
            stored(&e.inputs[0].facets),
            r#"{"z":{"t":1,"v":{"k":[1]}}}"#
        );
        assert!(stored(&e.inputs[0].io_facets).contains(r#"{"rows":2}"#));
    }

    #[test]
    fn a_run_event_is_parsed_with_its_datasets() {
        let e = parse(json!({
            "eventType": "START", "eventTime": "2024-01-01T00:00:00Z", "producer": "p", "schemaURL": "s",
            "run": {"runId": "not-a-uuid"}, "job": {"namespace": "ns", "name": "j"},
            "inputs": [{"namespace": "db", "name": "a", "inputFacets": {"dataQualityMetrics": {"rowCount": 1}}}],
            "outputs": [{"namespace": "db", "name": "b", "facets": {"schema": {"fields": []}}}]
        }))
        .unwrap();
        assert_eq!(e.kind, EventKind::Run);
        assert_eq!(e.event_type, Some(EventType::Start));
        assert_eq!(e.run.as_ref().unwrap().uuid, ids::run_uuid("not-a-uuid"));
        assert_eq!(e.inputs[0].io_facets.len(), 1);
        assert!(e.outputs[0].facets.contains_key("schema"));
    }

    #[test]
    fn a_job_event_has_no_run() {
        let e = parse(
            json!({"eventTime": "2024-01-01T00:00:00Z", "producer": "p", "schemaURL": "s",
            "job": {"namespace": "ns", "name": "j"}, "inputs": [], "outputs": []}),
        )
        .unwrap();
        assert_eq!(e.kind, EventKind::Job);
        assert!(e.run.is_none());
    }

    #[test]
    fn an_unreadable_event_time_names_its_path() {
        let e = parse(
            json!({"eventTime": "soon", "producer": "p", "schemaURL": "s",
            "dataset": {"namespace": "ns", "name": "d"}}),
        )
        .unwrap_err();
        assert_eq!(e.path, "/eventTime");
    }
}
