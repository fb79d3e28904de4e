//! The write path's one owner. Events: group commit — requests hand their events to one writer
//! task, which takes everything waiting, stores it in one transaction, and answers each request
//! when that transaction has committed. The graph then takes what the store says the commit did,
//! and reads back what that cannot say; the graph's readers wait for both
//! (`Lineage::read_settled`), so an answered event is in every later query. Both overlap with
//! storing the next batch. Deletes: commit, then the graph, then the answer.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::PreparedEvent;
use crate::lineage::Lineage;
use crate::model::graph::GraphChange;
use crate::store::{Ingested, Store, StoreError};

/// Why events could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum WriterError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The writer has shut down (the server is stopping).
    #[error("the writer has stopped")]
    Closed,
}

/// The longest the writer waits for more requests to join a batch (see `run`).
const GATHER: std::time::Duration = std::time::Duration::from_millis(3);

struct Job {
    events: Vec<PreparedEvent>,
    reply: oneshot::Sender<Result<Vec<Ingested>, WriterError>>,
}

/// A handle to the writer task. Cloning is cheap; the task ends when every handle is dropped
/// and the queue is drained.
#[derive(Clone)]
pub struct Writer {
    queue: mpsc::Sender<Job>,
    store: Arc<dyn Store>,
    lineage: Option<Arc<Lineage>>,
}

/// What a delete hides: a dataset or a job, by its stored id and its name.
#[derive(Debug, Clone, Copy)]
pub enum Deletion<'a> {
    Dataset {
        id: &'a str,
        namespace: &'a str,
        name: &'a str,
    },
    Job {
        id: &'a str,
        namespace: &'a str,
        name: &'a str,
    },
}

impl Writer {
    /// Starts the writer task. `max_batch` bounds the events per transaction.
    /// With `lineage`, the graph is refreshed after each commit, before the answer.
    pub fn start(
        store: Arc<dyn Store>,
        max_batch: usize,
        lineage: Option<Arc<Lineage>>,
    ) -> (Writer, JoinHandle<()>) {
        let (queue, rx) = mpsc::channel(4096);
        let handle = tokio::spawn(run(store.clone(), rx, max_batch.max(1), lineage.clone()));
        (
            Writer {
                queue,
                store,
                lineage,
            },
            handle,
        )
    }

    /// Soft-deletes a dataset or a job: commits it (announced to the other servers in the same
    /// transaction), then hides it in this server's graph before answering. Every delete takes
    /// this path, as every event takes `write`. Whether anything was deleted (`false` when it
    /// already was).
    pub async fn delete(&self, what: Deletion<'_>) -> Result<bool, StoreError> {
        let (deleted, change) = match what {
            Deletion::Dataset {
                id,
                namespace,
                name,
            } => (
                self.store.delete_dataset(id).await?,
                GraphChange {
                    datasets: vec![(namespace.to_string(), name.to_string())],
                    ..Default::default()
                },
            ),
            Deletion::Job {
                id,
                namespace,
                name,
            } => (
                self.store.delete_job(id).await?,
                GraphChange {
                    jobs: vec![(namespace.to_string(), name.to_string())],
                    ..Default::default()
                },
            ),
        };
        if let (true, Some(lineage)) = (deleted, &self.lineage) {
            lineage.update(change).await;
        }
        Ok(deleted)
    }

    /// Stores events; answers when they are committed (or known to be duplicates).
    pub async fn write(&self, events: Vec<PreparedEvent>) -> Result<Vec<Ingested>, WriterError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Job { events, reply })
            .await
            .map_err(|_| WriterError::Closed)?;
        answer.await.map_err(|_| WriterError::Closed)?
    }
}

async fn run(
    store: Arc<dyn Store>,
    mut rx: mpsc::Receiver<Job>,
    max_batch: usize,
    lineage: Option<Arc<Lineage>>,
) {
    // How many requests the next batch may expect: those that waited while the last batch
    // committed, and the last batch's own, whose answers are bringing their clients back.
    let mut expected = 0usize;
    // The last committed batch: taken into the graph, answered, then its read-back.
    let mut acknowledging: Option<JoinHandle<()>> = None;
    // Where a batch's time goes, for `RUST_LOG=tributary::ingest::writer=debug`: waiting for its
    // first request (the last batch's answers going out, its clients preparing their next events),
    // gathering the rest, storing, and (in the answering task) taking it into the graph.
    let mut idle_since = std::time::Instant::now();
    while let Some(first) = rx.recv().await {
        let arrived = std::time::Instant::now();
        let mut jobs = vec![first];
        let mut count = jobs[0].events.len();
        let gather_until = tokio::time::Instant::now() + GATHER;
        loop {
            while count < max_batch {
                match rx.try_recv() {
                    Ok(job) => {
                        count += job.events.len();
                        jobs.push(job);
                    }
                    Err(_) => break,
                }
            }
            // Clients answered by the last commit are sending their next events right now: give
            // them a moment to arrive, so that one commit takes them and those that waited
            // meanwhile, instead of the two groups taking turns in half-size commits. A lone
            // client (a last batch of one, nobody else waiting) never waits.
            if count >= max_batch || jobs.len() >= expected {
                break;
            }
            match tokio::time::timeout_at(gather_until, rx.recv()).await {
                Ok(Some(job)) => {
                    count += job.events.len();
                    jobs.push(job);
                }
                Ok(None) | Err(_) => break,
            }
        }
        let requests = jobs.len();
        let batch = Batch::of(jobs);
        let started = std::time::Instant::now();
        let outcome = store.ingest(&batch.events).await;
        tracing::debug!(
            events = batch.events.len(),
            requests,
            idle = ?arrived.duration_since(idle_since),
            gathering = ?started.duration_since(arrived),
            storing = ?started.elapsed(),
            "batch stored"
        );
        expected = rx.len() + requests;
        let m = crate::metrics::metrics();
        m.batch_size.observe(batch.events.len() as f64);
        m.commit_seconds.observe(started.elapsed().as_secs_f64());
        // The graph takes batches in commit order: the previous one's must be in first.
        if let Some(previous) = acknowledging.take() {
            let _ = previous.await;
        }
        idle_since = std::time::Instant::now();
        match outcome {
            // Committed. While the graph takes it and its requests are answered, the writer
            // goes on to store the next batch.
            Ok(committed) => {
                let lineage = lineage.clone();
                acknowledging = Some(tokio::spawn(async move {
                    let Some(lineage) = &lineage else {
                        batch.answer(committed.results);
                        return;
                    };
                    // Its requests are answered at once; readers of the graph that come from
                    // now on wait until it has taken the commit's delta, and read back what the
                    // delta cannot say (or left that to the graph's repair task).
                    let arriving = lineage.arriving();
                    let events = batch.answer(committed.results);
                    let started = std::time::Instant::now();
                    let rest = lineage
                        .take_committed(committed.change, committed.delta)
                        .await;
                    let delta_taken = started.elapsed();
                    if let Some(rest) = rest {
                        rest.run().await;
                    }
                    drop(arriving);
                    tracing::debug!(?delta_taken, graph = ?started.elapsed(), "batch in the graph");
                    // Freed last: nobody waits for it.
                    drop(events);
                }));
            }
            Err(e) => failed(store.as_ref(), batch, e, lineage.as_ref()).await,
        }
    }
    if let Some(previous) = acknowledging.take() {
        let _ = previous.await;
    }
    tracing::info!("writer stopped: queue drained");
}

/// The events of a batch's requests, in order, and where each request's answer goes.
struct Batch {
    events: Vec<PreparedEvent>,
    sizes: Vec<usize>,
    replies: Vec<oneshot::Sender<Result<Vec<Ingested>, WriterError>>>,
}

impl Batch {
    fn of(jobs: Vec<Job>) -> Batch {
        let mut batch = Batch {
            events: Vec::new(),
            sizes: Vec::with_capacity(jobs.len()),
            replies: Vec::with_capacity(jobs.len()),
        };
        for job in jobs {
            batch.sizes.push(job.events.len());
            batch.replies.push(job.reply);
            batch.events.extend(job.events);
        }
        batch
    }

    /// Answers each request with its events' results; hands the events back.
    fn answer(self, results: Vec<Ingested>) -> Vec<PreparedEvent> {
        count(&results);
        let mut results = results.into_iter();
        for (size, reply) in self.sizes.into_iter().zip(self.replies) {
            let _ = reply.send(Ok(results.by_ref().take(size).collect()));
        }
        self.events
    }
}

/// Counts stored and duplicate events.
fn count(results: &[Ingested]) {
    let m = crate::metrics::metrics();
    let stored = results.iter().filter(|r| **r == Ingested::Stored).count();
    m.count_events("stored", stored);
    m.count_events("duplicate", results.len() - stored);
}

/// A batch whose commit failed: every request hears why, or, when one request's events may be
/// the cause, each request is tried on its own.
#[tracing::instrument(skip_all, fields(requests = batch.replies.len()))]
async fn failed(store: &dyn Store, batch: Batch, e: StoreError, lineage: Option<&Arc<Lineage>>) {
    let Batch {
        events,
        sizes,
        mut replies,
    } = batch;
    match e {
        e if replies.len() == 1 => {
            tracing::error!(error = %crate::error::chain(&e), "batch failed");
            let _ = replies.pop().expect("one reply").send(Err(e.into()));
        }
        StoreError::Unavailable(cause) | StoreError::Disconnected(cause) => {
            // The database is away or full: every request of the batch hears it now (a 503),
            // rather than each waiting for its own attempt.
            tracing::warn!(cause = %crate::error::chain(&cause), "batch failed: database unavailable");
            for reply in replies {
                let _ = reply.send(Err(StoreError::Unavailable(cause.clone()).into()));
            }
        }
        e => {
            // One request's events must not sink the others': retry each on its own.
            tracing::warn!(error = %e, "group commit failed; retrying requests one by one");
            let mut events = events.into_iter();
            for (size, reply) in sizes.into_iter().zip(replies) {
                let mine: Vec<PreparedEvent> = events.by_ref().take(size).collect();
                let r = match store.ingest(&mine).await {
                    Ok(committed) => {
                        count(&committed.results);
                        if let Some(lineage) = lineage {
                            lineage
                                .update_committed(committed.change, committed.delta)
                                .await;
                        }
                        Ok(committed.results)
                    }
                    Err(e) => Err(WriterError::from(e)),
                };
                let _ = reply.send(r);
            }
        }
    }
}
