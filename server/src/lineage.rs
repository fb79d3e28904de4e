//! Keeps the in-memory lineage graph in step with the store: loaded whole at startup, then
//! refreshed by the writer after each commit for the jobs and datasets the batch touched (the
//! commit's delta, then what must be read back from the store; the batch is acknowledged before
//! either, and client queries read through `read_settled`, which waits for both, so a 2xx means
//! the next query shows the event),
//! and on Postgres following what other servers on the same database commit. It also keeps each
//! node's rendered REST data (`node_data`), forgetting what every change names.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};
use std::time::Duration;

use crate::graph::{GraphLoader, LineageIndex};
use crate::model::graph::{GraphChange, GraphDelta};
use crate::model::graph::{HistoryFrom, NodeKey};
use crate::node_data::NodeDataCache;
use crate::store::{GraphNotice, Store, StoreError};

/// The graph and where it comes from.
pub struct Lineage {
    store: Arc<dyn Store>,
    index: RwLock<LineageIndex>,
    /// What is committed but not yet in the graph, because reading it back failed; a repair
    /// task applies it in the background.
    behind: Mutex<Behind>,
    /// While a whole reload runs: the changes applied meanwhile, to apply again after the swap.
    resyncing: Mutex<Option<GraphChange>>,
    /// One whole reload at a time.
    resync_lock: tokio::sync::Mutex<()>,
    /// One change taken into the graph at a time, a read-back held from its read to its
    /// splice: a read-back that read the store before a commit must not land after that
    /// commit's delta (it would take the commit's versions out again).
    apply_lock: tokio::sync::Mutex<()>,
    /// Each node's data as REST lineage answers carry it, rendered.
    node_data: NodeDataCache,
    /// Read-backs of acknowledged commits: how many were begun, and (watched) how many have
    /// ended, in order. A reader of the graph waits for those begun before it (`settled`).
    read_backs_begun: AtomicU64,
    read_backs_ended: tokio::sync::watch::Sender<u64>,
}

/// What a commit left to read back from the store after its delta was taken into the graph
/// ([`Lineage::take_committed`]). Readers of the graph wait for it until it has run, or been
/// dropped: either way it counts as ended.
#[must_use = "readers of the graph wait until it has run or been dropped"]
pub struct ReadBack {
    lineage: Arc<Lineage>,
    change: GraphChange,
    seq: u64,
}

impl ReadBack {
    /// Reads the rest back into the graph (or leaves it to the repair task, as `update` does).
    pub async fn run(mut self) {
        let change = std::mem::take(&mut self.change);
        self.lineage.read_back(change).await;
    }
}

impl Drop for ReadBack {
    fn drop(&mut self) {
        self.lineage.end_wait(self.seq);
    }
}

/// A commit acknowledged before the graph has taken it ([`Lineage::arriving`]): readers of the
/// graph that come while it is alive wait for it, as for a read-back, until it is dropped.
#[must_use = "readers of the graph wait until it is dropped"]
pub struct Arriving {
    lineage: Arc<Lineage>,
    seq: u64,
}

impl Drop for Arriving {
    fn drop(&mut self) {
        self.lineage.end_wait(self.seq);
    }
}

/// Memory for rendered node data unless configured (`node_data_cache_mb`).
const NODE_DATA_BYTES: usize = 256 << 20;

/// Committed changes the graph has not taken yet.
#[derive(Default)]
struct Behind {
    change: GraphChange,
    /// Reload the whole graph (a replica notice said so, or partial repairs kept failing).
    resync: bool,
    /// When the graph first fell behind (microseconds); `None` when it is in step.
    since: Option<crate::model::time::Micros>,
    /// Whether a repair task is running.
    repairing: bool,
}

/// Whether the graph holds everything the store has committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GraphHealth {
    InStep,
    /// Behind since a time (microseconds), repairing in the background.
    Behind {
        since: crate::model::time::Micros,
        jobs: usize,
        datasets: usize,
        resync: bool,
    },
}

/// How many times a change is tried at once before it is left to the repair task.
const ATTEMPTS: u32 = 3;

impl Lineage {
    /// Loads the whole graph from the store.
    pub async fn load(store: Arc<dyn Store>) -> Result<Self, StoreError> {
        let started = std::time::Instant::now();
        let mut loader = GraphLoader::new();
        store.load_graph(&mut loader).await?;
        let mut index = loader.finish();
        let graph = started.elapsed();
        let columns = store.graph_columns(None).await?;
        for (key, since, until, history) in columns {
            index.set_column_history_between(&key, since, until, history);
        }
        let column_lineage = started.elapsed() - graph;
        index.prepare();
        let (nodes, edges) = index.size();
        crate::metrics::metrics()
            .graph_load_seconds
            .set(started.elapsed().as_secs_f64());
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
            behind: Mutex::new(Behind::default()),
            resyncing: Mutex::new(None),
            resync_lock: tokio::sync::Mutex::new(()),
            apply_lock: tokio::sync::Mutex::new(()),
            node_data: NodeDataCache::new(NODE_DATA_BYTES),
            read_backs_begun: AtomicU64::new(0),
            read_backs_ended: tokio::sync::watch::Sender::new(0),
        })
    }

    /// The same, keeping at most `bytes` of rendered node data.
    pub fn with_node_data_bytes(mut self, bytes: usize) -> Self {
        self.node_data = NodeDataCache::new(bytes);
        self
    }

    /// Each node's rendered REST data, kept in step with the store by `update`.
    pub fn node_data(&self) -> &NodeDataCache {
        &self.node_data
    }

    /// The store the graph is loaded from.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The graph, for reading, as it is now (a commit already acknowledged may still be
    /// reading back part of itself: see `read_settled`).
    pub fn read(&self) -> RwLockReadGuard<'_, LineageIndex> {
        self.index.read().expect("lineage index lock")
    }

    /// The graph, for reading, once it shows every commit acknowledged before this call: what
    /// a client's query reads, so that an answered event is in its answer.
    pub async fn read_settled(&self) -> RwLockReadGuard<'_, LineageIndex> {
        self.settled().await;
        self.read()
    }

    /// Waits until every read-back begun before this call has ended.
    pub async fn settled(&self) {
        let begun = self.read_backs_begun.load(Ordering::Acquire);
        let mut ended = self.read_backs_ended.subscribe();
        // The sender lives as long as `self`, so waiting cannot fail.
        let _ = ended.wait_for(|ended| *ended >= begun).await;
    }

    /// Brings committed changes to the named jobs and datasets into the graph. It never fails:
    /// when reading them back fails a few times (the database went away after the commit), the
    /// change is kept and a background task applies it as soon as it can; meanwhile `health`
    /// says the graph is behind. The named nodes' rendered data is forgotten at once.
    pub async fn update(self: &Arc<Self>, change: GraphChange) {
        self.forget(&change);
        self.read_back(change).await;
    }

    /// Brings a commit of this server's writer into the graph: what its delta says, without
    /// reading the store; the rest (see [`LineageIndex::apply_delta`]) read back as `update`
    /// does. A graph that is behind, or a commit without a delta, reads all of it back.
    pub async fn update_committed(
        self: &Arc<Self>,
        change: GraphChange,
        delta: Option<GraphDelta>,
    ) {
        if let Some(rest) = self.take_committed(change, delta).await {
            rest.run().await;
        }
    }

    /// `update_committed` in two steps, so that a commit can be answered between them: takes
    /// the delta into the graph and hands back what must still be read back from the store.
    /// Until that has run, [`Lineage::read_settled`] (every client's read of the graph) waits
    /// for it. Commits are taken in commit order, each after the last one's read-back.
    pub async fn take_committed(
        self: &Arc<Self>,
        change: GraphChange,
        delta: Option<GraphDelta>,
    ) -> Option<ReadBack> {
        let Some(delta) = delta else {
            self.update(change).await;
            return None;
        };
        if self.health() != GraphHealth::InStep {
            self.update(change).await;
            return None;
        }
        self.forget(&change);
        let rest = {
            let _turn = self.apply_lock.lock().await;
            let mut index = self.index.write().expect("lineage index lock");
            if let Some(missed) = self.resyncing.lock().expect("resync record").as_mut() {
                // A reload is reading the store meanwhile: it may have read before this commit.
                missed.merge(change);
            }
            index.apply_delta(delta)
        };
        tracing::debug!(
            jobs = rest.jobs.len(),
            datasets = rest.datasets.len(),
            "commit taken into the graph; read back the rest"
        );
        if rest.jobs.is_empty() && rest.datasets.is_empty() {
            return None;
        }
        Some(self.begin_read_back(rest))
    }

    /// A read-back of `change`, counted as begun: readers that come from now on wait for it.
    fn begin_read_back(self: &Arc<Self>, change: GraphChange) -> ReadBack {
        ReadBack {
            lineage: self.clone(),
            change,
            seq: self.begin_wait(),
        }
    }

    /// Counts a commit as on its way into the graph, so that its requests can be answered
    /// before it is taken (`take_committed`, then its read-back): readers that come from now on
    /// wait until the answer is dropped, after both.
    pub fn arriving(self: &Arc<Self>) -> Arriving {
        Arriving {
            lineage: self.clone(),
            seq: self.begin_wait(),
        }
    }

    /// Something readers from now on wait for: its number.
    fn begin_wait(&self) -> u64 {
        self.read_backs_begun.fetch_add(1, Ordering::AcqRel) + 1
    }

    /// It has ended. They end in the order they began (the writer takes commits in order, each
    /// after the last one's read-back; a commit's read-back begins and ends within its
    /// `Arriving`), so the highest number ended says they all have up to it.
    fn end_wait(&self, seq: u64) {
        self.read_backs_ended
            .send_modify(|ended| *ended = (*ended).max(seq));
    }

    /// Forgets the rendered data of what a change names.
    fn forget(&self, change: &GraphChange) {
        let keys: Vec<NodeKey> = change
            .jobs
            .iter()
            .map(|(ns, name)| NodeKey::job(ns, name))
            .chain(
                change
                    .datasets
                    .iter()
                    .map(|(ns, name)| NodeKey::dataset(ns, name)),
            )
            .collect();
        self.node_data.forget(&keys);
    }

    /// Reads a change back into the graph; when that fails a few times, the repair task takes
    /// it over.
    async fn read_back(self: &Arc<Self>, change: GraphChange) {
        let mut wait = Duration::from_millis(20);
        for attempt in 1..=ATTEMPTS {
            match self.apply_change(&change).await {
                Ok(()) => return,
                Err(e) if attempt == ATTEMPTS || e.is_transient() => {
                    tracing::warn!(error = %e, "graph update failed; repairing in the background");
                    break;
                }
                Err(_) => {
                    tokio::time::sleep(wait).await;
                    wait *= 5;
                }
            }
        }
        self.fall_behind(change, false);
    }

    /// Whether the graph holds everything committed.
    pub fn health(&self) -> GraphHealth {
        let behind = self.behind.lock().expect("lineage repair state");
        match behind.since {
            None => GraphHealth::InStep,
            Some(since) => GraphHealth::Behind {
                since,
                jobs: behind.change.jobs.len(),
                datasets: behind.change.datasets.len(),
                resync: behind.resync,
            },
        }
    }

    /// Records a change the graph could not take and makes sure a repair task runs.
    fn fall_behind(self: &Arc<Self>, change: GraphChange, resync: bool) {
        let mut behind = self.behind.lock().expect("lineage repair state");
        behind.change.merge(change);
        behind.resync |= resync;
        behind
            .since
            .get_or_insert_with(crate::model::time::now_micros);
        if behind.repairing {
            return;
        }
        behind.repairing = true;
        let me = self.clone();
        tokio::spawn(async move { me.repair().await });
    }

    /// Applies what the graph is behind on until it is in step, waiting longer after each
    /// failure (up to 5 s); after a few failed partial repairs it reloads the whole graph.
    async fn repair(self: Arc<Self>) {
        let mut wait = Duration::from_millis(200);
        let mut failures = 0u32;
        loop {
            tokio::time::sleep(wait).await;
            let (change, resync) = {
                let mut behind = self.behind.lock().expect("lineage repair state");
                (std::mem::take(&mut behind.change), behind.resync)
            };
            let outcome = if resync {
                self.resync().await
            } else {
                self.apply_change(&change).await
            };
            let mut behind = self.behind.lock().expect("lineage repair state");
            match outcome {
                Ok(()) => {
                    if resync {
                        behind.resync = false;
                    }
                    if behind.change.jobs.is_empty()
                        && behind.change.datasets.is_empty()
                        && !behind.resync
                    {
                        tracing::info!("lineage graph repaired: in step with the store again");
                        behind.since = None;
                        behind.repairing = false;
                        return;
                    }
                    wait = Duration::from_millis(200);
                }
                Err(e) => {
                    failures += 1;
                    tracing::warn!(error = %e, failures, "lineage graph repair failed; will retry");
                    behind.change.merge(change);
                    if failures >= 5 {
                        behind.resync = true;
                    }
                    wait = (wait * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    /// Reads back the named jobs and datasets: of each history, only what changed (from the
    /// change's cuts on, up to its ends where it gives them), or all of it where the change does
    /// not say.
    pub async fn apply_change(&self, change: &GraphChange) -> Result<(), StoreError> {
        let _turn = self.apply_lock.lock().await;
        let jobs: Vec<HistoryFrom> = change
            .jobs
            .iter()
            .map(|k| {
                (
                    k.0.clone(),
                    k.1.clone(),
                    change.cuts.job(k),
                    change.cuts.job_end(k),
                )
            })
            .collect();
        let columns: Vec<HistoryFrom> = change
            .datasets
            .iter()
            .filter_map(|k| {
                let since = change.cuts.columns(k)?;
                Some((k.0.clone(), k.1.clone(), since, change.cuts.column_end(k)))
            })
            .collect();
        // The three reads are independent: each on its own connection, at the same time.
        let (job_rows, dataset_rows, columns) = tokio::try_join!(
            async {
                if jobs.is_empty() {
                    Ok(Vec::new())
                } else {
                    self.store.graph_jobs(&jobs).await
                }
            },
            self.store.graph_datasets(Some(&change.datasets)),
            async {
                if columns.is_empty() {
                    Ok(Vec::new())
                } else {
                    self.store.graph_columns(Some(&columns)).await
                }
            },
        )?;
        let mut index = self.index.write().expect("lineage index lock");
        if let Some(missed) = self.resyncing.lock().expect("resync record").as_mut() {
            // A reload is reading the store meanwhile: it may have read before this commit.
            missed.merge(change.clone());
        }
        for (key, ty, deleted) in dataset_rows {
            index.upsert_node(key, ty, deleted);
        }
        for job in &job_rows {
            index.replace_job(job);
        }
        for (key, since, until, history) in columns {
            index.set_column_history_between(&key, since, until, history);
        }
        Ok(())
    }

    /// Reloads the whole graph and swaps it in. Changes applied while the reload read the
    /// store are applied again to the new graph, so none is lost to the swap.
    pub async fn resync(&self) -> Result<(), StoreError> {
        let _one_at_a_time = self.resync_lock.lock().await;
        // What changed is not known: every node's data may have.
        self.node_data.forget_all();
        *self.resyncing.lock().expect("resync record") = Some(GraphChange::default());
        let fresh = match Self::load(self.store.clone()).await {
            Ok(fresh) => fresh,
            Err(e) => {
                *self.resyncing.lock().expect("resync record") = None;
                return Err(e);
            }
        };
        let index = fresh.index.into_inner().expect("lineage index lock");
        let missed = {
            let mut live = self.index.write().expect("lineage index lock");
            *live = index;
            self.resyncing.lock().expect("resync record").take()
        };
        match missed {
            Some(m) if !(m.jobs.is_empty() && m.datasets.is_empty()) => self.apply_change(&m).await,
            _ => Ok(()),
        }
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
                match notice {
                    GraphNotice::Changed(change) => {
                        me.update(*change).await;
                        crate::metrics::metrics().replica_changes.inc();
                    }
                    GraphNotice::Resync => {
                        if let Err(e) = me.resync().await {
                            tracing::warn!(error = %e, "could not reload the graph; repairing in the background");
                            me.fall_behind(GraphChange::default(), true);
                        }
                    }
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SqlStore;

    async fn empty_graph() -> (Arc<Lineage>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = SqlStore::connect(&url, 1).await.unwrap();
        store.migrate().await.unwrap();
        let store: Arc<dyn Store> = Arc::new(store);
        (Arc::new(Lineage::load(store).await.unwrap()), dir)
    }

    /// A read-back as `take_committed` hands one out, of nothing.
    fn begin(lineage: &Arc<Lineage>) -> ReadBack {
        lineage.begin_read_back(GraphChange::default())
    }

    /// Whether `settled` returns within a moment (it cannot while a read-back it waits for is
    /// alive, however long the moment).
    async fn settles(wait: &mut std::pin::Pin<Box<impl std::future::Future<Output = ()>>>) -> bool {
        tokio::time::timeout(Duration::from_millis(50), wait.as_mut())
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn readers_wait_for_read_backs_begun_before_them_and_no_later_ones() {
        let (lineage, _dir) = empty_graph().await;
        // Nothing pending: at once.
        assert!(settles(&mut Box::pin(lineage.settled())).await);

        let first = begin(&lineage);
        let mut reader = Box::pin(lineage.settled());
        assert!(
            !settles(&mut reader).await,
            "a pending read-back is waited for"
        );
        // One begun after the reader came is not its concern.
        let second = begin(&lineage);
        first.run().await;
        assert!(
            settles(&mut reader).await,
            "ends when the read-backs before it have"
        );

        // A later reader waits for the second; dropped unrun, it counts as ended.
        let mut later = Box::pin(lineage.settled());
        assert!(!settles(&mut later).await);
        drop(second);
        assert!(settles(&mut later).await);
        assert_eq!(lineage.read_settled().await.size(), (0, 0));
    }

    #[tokio::test]
    async fn readers_wait_for_a_commit_answered_before_the_graph_took_it() {
        let (lineage, _dir) = empty_graph().await;
        let arriving = lineage.arriving();
        let mut reader = Box::pin(lineage.settled());
        assert!(
            !settles(&mut reader).await,
            "the answered commit is waited for"
        );
        // Its read-back begins once its delta is in: waited for too.
        let read_back = begin(&lineage);
        assert!(!settles(&mut reader).await);
        read_back.run().await;
        drop(arriving);
        assert!(settles(&mut reader).await);
    }
}
