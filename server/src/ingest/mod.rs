//! Ingest: from request bytes to events ready for the store. `validate` checks JSON against the
//! project's schema, `prepare` turns a valid event into a `PreparedEvent`, and `writer` groups
//! concurrent events into one transaction.

pub mod lakefs;
pub mod limits;
pub mod prepare;
pub mod validate;
pub mod writer;

pub use crate::model::prepared::{PreparedEvent, Problem};
pub use prepare::{prepare_event, prepare_logged, Rejection};
pub use validate::{ValidationMode, Validator};
pub use writer::{Deletion, Writer, WriterError};
