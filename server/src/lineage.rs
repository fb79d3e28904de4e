//! Keeps the in-memory lineage graph in step with the store: loaded whole at startup, then
//! refreshed by the writer after each commit for the jobs and datasets the batch touched, before
//! the batch is acknowledged (so a 2xx means the graph shows the event too), and on Postgres
//! following what other servers on the same database commit.

use std::sync::{Arc, RwLock, RwLockReadGuard};

use crate::graph::{column_edges, LineageIndex};
use crate::ingest::PreparedEvent;
use crate::store::{GraphChange, GraphNotice, Store, StoreError};

/// The graph and where it comes from.
pub struct Lineage {
    store: Arc<dyn Store>,
    index: RwLock<LineageIndex>,
}

/// Column edges over time from a dataset's `columnLineage` facets over time.
fn column_history(
    history: Vec<(crate::model::time::Micros, serde_json::Value)>,
) -> Vec<(crate::model::time::Micros, Vec<crate::graph::ColumnEdge>)> {
    history
        .into_iter()
        .map(|(from, facet)| (from, column_edges(&facet)))
        .collect()
}

impl Lineage {
    /// Loads the whole graph from the store.
    pub async fn load(store: Arc<dyn Store>) -> Result<Self, StoreError> {
        let started = std::time::Instant::now();
        let mut index = store.load_graph().await?;
        let graph = started.elapsed();
        let columns = store.graph_columns(None).await?;
        for (key, history) in columns {
            index.set_column_history(&key, column_history(history));
        }
        let column_lineage = started.elapsed() - graph;
        index.prepare();
        let (nodes, edges) = index.size();
        tracing::info!(
            nodes,
            edges,
            elapsed = ?started.elapsed(),
            ?graph,
            ?column_lineage,
            adjacency = ?(started.elapsed() - graph - column_lineage),
            "lineage graph loaded"
        );
        Ok(Lineage {
            store,
            index: RwLock::new(index),
        })
    }

    /// The store the graph is loaded from.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The graph, for reading.
    pub fn read(&self) -> RwLockReadGuard<'_, LineageIndex> {
        self.index.read().expect("lineage index lock")
    }

    /// Reloads what a batch of events touched.
    pub async fn refresh(&self, events: &[PreparedEvent]) -> Result<(), StoreError> {
        self.apply_change(&GraphChange::of(events)).await
    }

    /// Reloads the named jobs and datasets.
    pub async fn apply_change(&self, change: &GraphChange) -> Result<(), StoreError> {
        let job_rows = self.store.graph_jobs(Some(&change.jobs)).await?;
        let dataset_rows = self.store.graph_datasets(Some(&change.datasets)).await?;
        let columns = self.store.graph_columns(Some(&change.datasets)).await?;
        let mut index = self.index.write().expect("lineage index lock");
        for (key, ty, deleted) in dataset_rows {
            index.upsert_node(key, ty, deleted);
        }
        for job in &job_rows {
            index.replace_job(job);
        }
        for (key, history) in columns {
            index.set_column_history(&key, column_history(history));
        }
        Ok(())
    }

    /// Reloads the whole graph and swaps it in.
    pub async fn resync(&self) -> Result<(), StoreError> {
        let fresh = Self::load(self.store.clone()).await?;
        let index = fresh.index.into_inner().expect("lineage index lock");
        *self.index.write().expect("lineage index lock") = index;
        Ok(())
    }

    /// Follows changes committed by other servers on the same database (Postgres LISTEN/NOTIFY),
    /// so several replicas answer the same graph.
    pub fn follow(self: &Arc<Self>) {
        let me = self.clone();
        tokio::spawn(async move {
            let Some(mut notices) = me.store.graph_notices().await else {
                return;
            };
            while let Some(notice) = notices.recv().await {
                let r = match &notice {
                    GraphNotice::Changed(change) => me.apply_change(change).await,
                    GraphNotice::Resync => me.resync().await,
                };
                if let Err(e) = r {
                    tracing::warn!(error = %e, "could not apply a graph change from another server");
                }
            }
        });
    }
}
