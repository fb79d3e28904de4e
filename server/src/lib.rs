//! Tributary: an OpenLineage-compatible lineage metadata service.
//!
//! Events come in through `http` (or the `import` command), are checked and parsed by `ingest`,
//! and stored by `store` as a versioned model of namespaces, datasets, jobs and runs.

// The OpenAPI components are one large `json!` literal.
#![recursion_limit = "256"]

pub mod cli;
pub mod config;
pub mod error;
pub mod graph;
pub mod graphql;
pub mod http;
pub mod ingest;
pub mod json;
pub mod kafka;
pub mod lineage;
pub mod metrics;
pub mod model;
pub mod node_data;
pub mod repro;
pub mod snapshots;
pub mod startup;
pub mod store;
pub mod telemetry;
