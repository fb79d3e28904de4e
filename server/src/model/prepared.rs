//! What ingest hands the store: an event that passed validation (its hash, bytes, parsed form
//! and the warnings it was accepted with), and the problem shape both speak.

use serde::Serialize;

use crate::model::time::Micros;
use crate::model::LineageEvent;

/// One problem with an event: where (a JSON pointer) and what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub path: String,
    pub detail: String,
}

impl Problem {
    pub fn new(path: impl Into<String>, detail: impl Into<String>) -> Self {
        Problem {
            path: path.into(),
            detail: detail.into(),
        }
    }
}

/// An event that passed validation, ready to be stored.
#[derive(Debug, Clone)]
pub struct PreparedEvent {
    /// SHA-256 of the event's canonical JSON (sorted keys, no whitespace): re-sending the same
    /// event, however formatted, gives the same hash.
    pub hash: [u8; 32],
    /// The bytes as received, compressed as the raw log keeps them (LZ4, their length
    /// prepended): done where the event is prepared, beside other events' preparation, rather
    /// than in the writer's one task, which every batch waits for. Empty for an event the log
    /// holds already, prepared to be replayed into the model (`ingest::prepare_logged`).
    pub body: Vec<u8>,
    /// How many bytes were received.
    pub body_len: usize,
    /// The parsed event, without the facets that were flagged as malformed.
    pub event: LineageEvent,
    /// Malformed standard facets that were accepted but not used.
    pub warnings: Vec<Problem>,
    /// When the event arrived.
    pub received_at: Micros,
}
