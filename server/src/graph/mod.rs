//! The lineage graph, in memory: datasets and jobs as nodes, input and output edges carrying the
//! time intervals in which they held. Pure: no SQL, no HTTP; loaded from and kept in step with
//! the store by `startup` and the writer.

pub mod index;
pub mod load;
pub mod traverse;

pub use index::{
    column_edges, ColumnEdge, EdgeSpan, GraphJob, LineageIndex, NodeData, NodeKey, NodeKind,
};
pub use load::GraphLoader;
pub use traverse::{Direction, ImpactResult, Subgraph, TraverseOptions};
