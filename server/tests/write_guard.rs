//! A guard on the write path that cannot drift with the machine's speed: the number of SQL
//! statements one ingest batch sends, counted (every statement sqlx runs is a `sqlx::query`
//! tracing event), for batches of different sizes and before and after the store has history.
//! Alone in its binary, because it installs the process-wide tracing subscriber.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::{Db, TestDb};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::Layer;
use tributary::cli::bench::realistic_event;
use tributary::ingest::{prepare_event, PreparedEvent, ValidationMode, Validator};
use tributary::store::{SqlStore, Store};

static STATEMENTS: AtomicUsize = AtomicUsize::new(0);

/// Counts the statements sqlx runs.
struct CountStatements;

impl<S: tracing::Subscriber> Layer<S> for CountStatements {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        if event.metadata().target() == "sqlx::query" {
            STATEMENTS.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn prepared(range: std::ops::Range<usize>, validator: &Validator) -> Vec<PreparedEvent> {
    range
        .map(|i| {
            let e = realistic_event(i);
            let body = e.to_string().into_bytes();
            prepare_event(validator, e, body, 0).expect("a realistic event is valid")
        })
        .collect()
}

/// Statements sent by one `ingest` of these events.
async fn statements_for(store: &dyn Store, batch: &[PreparedEvent]) -> usize {
    let before = STATEMENTS.load(Ordering::Relaxed);
    store.ingest(batch).await.expect("ingest");
    STATEMENTS.load(Ordering::Relaxed) - before
}

/// The counts of one backend: `(batch size, statements)` on an empty store, then the largest
/// batch again after history was added.
async fn counts(db: Db) -> Option<Vec<(String, usize)>> {
    let db = TestDb::create(db).await?;
    let store: Arc<dyn Store> = Arc::new(SqlStore::connect(&db.url, 2).await.unwrap());
    store.migrate().await.unwrap();
    let validator = Validator::new(ValidationMode::Lenient);
    // Warm up: the first batch creates the month's partition of the log.
    statements_for(store.as_ref(), &prepared(0..1, &validator)).await;
    let mut out = Vec::new();
    let mut next = 1;
    for size in [1, 10, 100] {
        let batch = prepared(next..next + size, &validator);
        next += size;
        out.push((
            format!("batch of {size}"),
            statements_for(store.as_ref(), &batch).await,
        ));
    }
    // History: 2,000 more events, then the same size of batch again.
    for chunk in (0..20).map(|k| next + k * 100..next + (k + 1) * 100) {
        store.ingest(&prepared(chunk, &validator)).await.unwrap();
    }
    next += 2_000;
    let batch = prepared(next..next + 100, &validator);
    out.push((
        "batch of 100 after 2,000 more".into(),
        statements_for(store.as_ref(), &batch).await,
    ));
    Some(out)
}

/// The most statements a batch may send, whatever its size (with realistic events: 4 datasets,
/// a job, a run, a version and column lineage each). Raise it only with a reason in the commit.
const BUDGET: usize = 30;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_per_batch_do_not_grow_with_its_size_or_the_stores_history() {
    let subscriber = tracing_subscriber::registry().with(
        CountStatements.with_filter(
            tracing_subscriber::filter::Targets::new()
                .with_target("sqlx::query", tracing::Level::TRACE),
        ),
    );
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
    for db in [Db::Sqlite, Db::Postgres] {
        let Some(counts) = counts(db).await else {
            continue;
        };
        eprintln!("{db:?}: {counts:?}");
        let of = |name: &str| counts.iter().find(|(n, _)| n == name).unwrap().1;
        assert!(
            of("batch of 100") <= of("batch of 10"),
            "{db:?}: statements grow with the batch: {counts:?}"
        );
        assert!(
            of("batch of 100 after 2,000 more") <= of("batch of 100"),
            "{db:?}: statements grow with history: {counts:?}"
        );
        for (name, n) in &counts {
            assert!(
                *n <= BUDGET,
                "{db:?}: {name} sent {n} statements (budget {BUDGET})"
            );
        }
    }
}
