//! From a decoded JSON value to a `PreparedEvent`: validate, hash, parse.

use serde_json::Value;

use super::{PreparedEvent, Problem, Validator};
use crate::model::event::EventText;
use crate::model::time::Micros;
use crate::model::LineageEvent;

/// Why an event was refused: every problem found, each with its JSON pointer.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection(pub Vec<Problem>);

impl Rejection {
    /// One line naming every problem, for batch answers and import reports.
    pub fn summary(&self) -> String {
        self.0
            .iter()
            .map(|p| {
                if p.path.is_empty() {
                    p.detail.clone()
                } else {
                    format!("{}: {}", p.path, p.detail)
                }
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Validates and parses one event. `body` is the event's bytes as received; they are stored
/// verbatim (compressed here, once the event is known to be accepted).
pub fn prepare_event(
    validator: &Validator,
    value: Value,
    body: Vec<u8>,
    received_at: Micros,
) -> Result<PreparedEvent, Rejection> {
    let mut prepared = prepare_logged(validator, value, body.len(), received_at)?;
    prepared.body = lz4_flex::compress_prepend_size(&body);
    Ok(prepared)
}

/// Validates and parses an event the raw log holds already (`rebuild` replays it into the model
/// and stores no body): as [`prepare_event`], without the body, which is not compressed again.
/// `body_len` is the stored body's length.
pub fn prepare_logged(
    validator: &Validator,
    mut value: Value,
    body_len: usize,
    received_at: Micros,
) -> Result<PreparedEvent, Rejection> {
    if !value.is_object() {
        let what = match value {
            Value::Array(_) => "an array (send arrays to /api/v1/lineage/batch)",
            Value::String(_) => "a string",
            Value::Number(_) => "a number",
            Value::Bool(_) => "a boolean",
            Value::Null => "null",
            Value::Object(_) => unreachable!(),
        };
        return Err(Rejection(vec![Problem::new(
            "",
            format!("an event must be a JSON object, not {what}"),
        )]));
    }
    let unfit = super::limits::check(&value);
    if !unfit.is_empty() {
        return Err(Rejection(unfit));
    }
    let Value::Object(obj) = &value else {
        unreachable!("checked above")
    };
    // The canonical text is written once, for the hash and for each facet's stored text.
    let text = EventText::of(obj, body_len);
    let hash = text.hash();
    let warnings = validator.check(&mut value).map_err(Rejection)?;
    let Value::Object(obj) = value else {
        unreachable!("checked above")
    };
    // A facet refused with a warning is gone from the event; the text's places are still right
    // for the maps it was not in (a map whose members no longer match is written again).
    let event = LineageEvent::parse_with_text(obj, Some(&text))
        .map_err(|e| Rejection(vec![Problem::new(e.path, e.message)]))?;
    Ok(PreparedEvent {
        hash,
        body: Vec::new(),
        body_len,
        event,
        warnings,
        received_at,
    })
}
