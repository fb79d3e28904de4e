//! OpenLineage events as the rest of the code sees them: parsed once, with ids resolved and times
//! in UTC. Built from JSON that already passed the core schema.

use serde_json::{Map, Value};
use uuid::Uuid;

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

/// The facets under `key`, taken out of the event (moved, not copied: an event's facets are
/// most of its bytes).
fn facets(obj: &mut Map<String, Value>, key: &str) -> Facets {
    match obj.remove(key) {
        Some(Value::Object(o)) => Facets::from_map(o),
        _ => Facets::default(),
    }
}

fn dataset(obj: &mut Map<String, Value>, io_key: &str, at: &str) -> Result<DatasetRef, ParseError> {
    let namespace = string(obj, "namespace", at)?;
    let name = string(obj, "name", at)?;
    if name.is_empty() {
        return Err(err(&format!("{at}/name"), "must not be empty"));
    }
    Ok(DatasetRef {
        namespace,
        name,
        facets: facets(obj, "facets"),
        io_facets: facets(obj, io_key),
    })
}

fn datasets(
    obj: &mut Map<String, Value>,
    key: &str,
    io_key: &str,
) -> Result<Vec<DatasetRef>, ParseError> {
    match obj.get_mut(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter_mut()
            .enumerate()
            .map(|(i, item)| {
                let at = format!("/{key}/{i}");
                item.as_object_mut()
                    .ok_or_else(|| err(&at, "must be an object"))
                    .and_then(|o| dataset(o, io_key, &at))
            })
            .collect(),
        Some(_) => Err(err(&format!("/{key}"), "must be an array")),
    }
}

impl LineageEvent {
    /// Parses an event object, taking its facets out of it.
    pub fn parse(mut event: Map<String, Value>) -> Result<Self, ParseError> {
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
                    facets: facets(run, "facets"),
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
                    facets: facets(job, "facets"),
                })
            }
        };
        let dataset = match kind {
            EventKind::Dataset => Some(dataset(object(event, "dataset", "")?, "", "/dataset")?),
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
            inputs: datasets(event, "inputs", "inputFacets")?,
            outputs: datasets(event, "outputs", "outputFacets")?,
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
