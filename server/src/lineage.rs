//! Keeps the in-memory lineage graph in step with the store: loaded whole at startup, then
//! refreshed by the writer after each commit for the jobs and datasets the batch touched, before
//! the batch is acknowledged (so a 2xx means the graph shows the event too).

use std::collections::BTreeSet;
use std::sync::{Arc, RwLock, RwLockReadGuard};

use crate::graph::{column_edges, LineageIndex};
use crate::ingest::PreparedEvent;
use crate::store::{Store, StoreError};

/// The graph and where it comes from.
pub struct Lineage {
    store: Arc<dyn Store>,
    index: RwLock<LineageIndex>,
}

impl Lineage {
    /// Loads the whole graph from the store.
    #[tracing::instrument(skip_all)]
    pub async fn load(store: Arc<dyn Store>) -> Result<Self, StoreError> {
        let started = std::time::Instant::now();
        let datasets = store.graph_datasets(None).await?;
        let jobs = store.graph_jobs(None).await?;
        let columns = store.graph_columns(None).await?;
        let mut index = LineageIndex::build(datasets, &jobs);
        for (key, facet) in columns {
            index.set_column_lineage(&key, column_edges(&facet));
        }
        let (nodes, edges) = index.size();
        tracing::info!(nodes, edges, elapsed = ?started.elapsed(), "lineage graph loaded");
        Ok(Lineage {
            store,
            index: RwLock::new(index),
        })
    }

    /// The graph, for reading.
    pub fn read(&self) -> RwLockReadGuard<'_, LineageIndex> {
        self.index.read().expect("lineage index lock")
    }

    /// Reloads what a batch of events touched.
    pub async fn refresh(&self, events: &[PreparedEvent]) -> Result<(), StoreError> {
        let mut jobs = BTreeSet::new();
        let mut datasets = BTreeSet::new();
        for p in events {
            let e = &p.event;
            if let Some(j) = &e.job {
                jobs.insert((j.namespace.clone(), j.name.clone()));
            }
            for d in e.inputs.iter().chain(&e.outputs).chain(&e.dataset) {
                datasets.insert((d.namespace.clone(), d.name.clone()));
            }
        }
        let jobs: Vec<(String, String)> = jobs.into_iter().collect();
        let datasets: Vec<(String, String)> = datasets.into_iter().collect();
        let job_rows = self.store.graph_jobs(Some(&jobs)).await?;
        let dataset_rows = self.store.graph_datasets(Some(&datasets)).await?;
        let columns = self.store.graph_columns(Some(&datasets)).await?;
        let mut index = self.index.write().expect("lineage index lock");
        for (key, ty, deleted) in dataset_rows {
            index.upsert_node(key, ty, deleted);
        }
        for job in &job_rows {
            index.replace_job(job);
        }
        for (key, facet) in columns {
            index.set_column_lineage(&key, column_edges(&facet));
        }
        Ok(())
    }
}
