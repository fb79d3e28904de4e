//! Group commit. Requests hand their events to one writer task, which takes everything waiting,
//! stores it in one transaction, and answers each request when that transaction has committed.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::PreparedEvent;
use crate::lineage::Lineage;
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

struct Job {
    events: Vec<PreparedEvent>,
    reply: oneshot::Sender<Result<Vec<Ingested>, WriterError>>,
}

/// A handle to the writer task. Cloning is cheap; the task ends when every handle is dropped
/// and the queue is drained.
#[derive(Clone)]
pub struct Writer {
    queue: mpsc::Sender<Job>,
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
        let handle = tokio::spawn(run(store, rx, max_batch.max(1), lineage));
        (Writer { queue }, handle)
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
    while let Some(first) = rx.recv().await {
        let mut jobs = vec![first];
        let mut count = jobs[0].events.len();
        while count < max_batch {
            match rx.try_recv() {
                Ok(job) => {
                    count += job.events.len();
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        commit(store.as_ref(), jobs, lineage.as_ref()).await;
    }
    tracing::info!("writer stopped: queue drained");
}

#[tracing::instrument(skip_all, fields(jobs = jobs.len()))]
async fn commit(store: &dyn Store, jobs: Vec<Job>, lineage: Option<&Arc<Lineage>>) {
    let mut sizes = Vec::with_capacity(jobs.len());
    let mut replies = Vec::with_capacity(jobs.len());
    let mut all = Vec::new();
    for job in jobs {
        sizes.push(job.events.len());
        replies.push(job.reply);
        all.extend(job.events);
    }
    let outcome = store.ingest(&all).await;
    if let (Ok(_), Some(lineage)) = (&outcome, lineage) {
        // Committed: the graph takes it now, or its repair task as soon as it can.
        lineage.refresh(&all).await;
    }
    match outcome {
        Ok(results) => {
            let mut results = results.into_iter();
            for (size, reply) in sizes.into_iter().zip(replies) {
                let _ = reply.send(Ok(results.by_ref().take(size).collect()));
            }
        }
        Err(e) if replies.len() == 1 => {
            tracing::error!(error = %e, "batch failed");
            let _ = replies.pop().expect("one reply").send(Err(e.into()));
        }
        Err(StoreError::Unavailable(cause) | StoreError::Disconnected(cause)) => {
            // The database is away or full: every request of the batch hears it now (a 503),
            // rather than each waiting for its own attempt.
            tracing::warn!(cause = %cause, "batch failed: database unavailable");
            for reply in replies {
                let _ = reply.send(Err(StoreError::Unavailable(cause.clone()).into()));
            }
        }
        Err(e) => {
            // One request's events must not sink the others': retry each on its own.
            tracing::warn!(error = %e, "group commit failed; retrying requests one by one");
            let mut events = all.into_iter();
            for (size, reply) in sizes.into_iter().zip(replies) {
                let mine: Vec<PreparedEvent> = events.by_ref().take(size).collect();
                let r = store.ingest(&mine).await.map_err(WriterError::from);
                if let (Ok(_), Some(lineage)) = (&r, lineage) {
                    lineage.refresh(&mine).await;
                }
                let _ = reply.send(r);
            }
        }
    }
}
