//! OpenLineage wire types and the domain model. Knows nothing of SQL or HTTP.

pub mod access;
pub mod canonical;
pub mod event;
pub mod facets;
pub mod graph;
pub mod ids;
pub mod node_id;
pub mod normalize;
pub mod prepared;
pub mod run_state;
pub mod time;

pub use event::{DatasetRef, EventKind, EventType, JobRef, LineageEvent, ParseError, RunRef};
pub use facets::{FacetState, Facets};
pub use node_id::{NodeId, NodeIdKind};
pub use run_state::{RunState, RunTimeline};
