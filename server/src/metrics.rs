//! Prometheus metrics, served as text at `GET /metrics`. One registry for the process, built on
//! first use; the HTTP layer, the writer and the graph record into it. The exporter is the
//! `prometheus` crate (TiKV's, the most used Rust client), without its protobuf format.

use std::sync::LazyLock;

use prometheus::{
    Encoder, Gauge, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

/// Every metric the server exports.
pub struct Metrics {
    registry: Registry,
    /// Requests by route pattern and status.
    pub http_requests: IntCounterVec,
    /// Request durations by route pattern, in seconds.
    pub http_duration: HistogramVec,
    /// Events by what became of them: `stored`, `duplicate`, `rejected`.
    pub events_ingested: IntCounterVec,
    /// Events per group commit.
    pub batch_size: Histogram,
    /// Seconds a group commit took in the store.
    pub commit_seconds: Histogram,
    /// Nodes and edges of the in-memory graph.
    pub graph_nodes: IntGauge,
    pub graph_edges: IntGauge,
    /// Seconds the last whole load of the graph took.
    pub graph_load_seconds: Gauge,
    /// 1 while the graph is behind the store (repairing), else 0.
    pub graph_behind: IntGauge,
    /// Graph changes from other servers applied.
    pub replica_changes: IntCounter,
    /// Lineage nodes whose REST data is held rendered, and its bytes.
    pub node_data_nodes: IntGauge,
    pub node_data_bytes: IntGauge,
    pub node_data_warming: IntGauge,
    /// REST lineage node data looked up, by result: `hit` (rendered in memory) or `miss` (read
    /// from the store).
    pub node_data_lookups: IntCounterVec,
    /// Kafka messages by what became of them: `stored` (an event, committed) or `dead_lettered`.
    pub kafka_messages: IntCounterVec,
    /// Seconds from a Kafka batch taken to its offsets committed (events stored first).
    pub kafka_commit_seconds: Histogram,
    /// Messages not yet committed, by topic and partition this server consumes.
    pub kafka_consumer_lag: IntGaugeVec,
    /// Database connections by pool (`read`, `write`) and state (`idle`, `in_use`).
    pub db_connections: IntGaugeVec,
    /// The most connections each pool may open.
    pub db_connections_max: IntGaugeVec,
}

fn register<T: prometheus::core::Collector + Clone + 'static>(registry: &Registry, c: T) -> T {
    registry
        .register(Box::new(c.clone()))
        .expect("metric names are unique");
    c
}

impl Metrics {
    fn new() -> Metrics {
        let r = Registry::new();
        let seconds = vec![
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ];
        Metrics {
            http_requests: register(
                &r,
                IntCounterVec::new(
                    Opts::new("tributary_http_requests_total", "HTTP requests answered"),
                    &["route", "status"],
                )
                .expect("valid metric"),
            ),
            http_duration: register(
                &r,
                HistogramVec::new(
                    HistogramOpts::new(
                        "tributary_http_request_duration_seconds",
                        "Time to answer an HTTP request",
                    )
                    .buckets(seconds.clone()),
                    &["route"],
                )
                .expect("valid metric"),
            ),
            events_ingested: register(
                &r,
                IntCounterVec::new(
                    Opts::new(
                        "tributary_events_ingested_total",
                        "Events received, by result: stored, duplicate, rejected",
                    ),
                    &["result"],
                )
                .expect("valid metric"),
            ),
            batch_size: register(
                &r,
                Histogram::with_opts(
                    HistogramOpts::new("tributary_ingest_batch_size", "Events per group commit")
                        .buckets(vec![
                            1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0,
                        ]),
                )
                .expect("valid metric"),
            ),
            commit_seconds: register(
                &r,
                Histogram::with_opts(
                    HistogramOpts::new(
                        "tributary_ingest_commit_seconds",
                        "Time a group commit took in the store",
                    )
                    .buckets(seconds.clone()),
                )
                .expect("valid metric"),
            ),
            graph_nodes: register(
                &r,
                IntGauge::new(
                    "tributary_graph_nodes",
                    "Nodes of the in-memory lineage graph",
                )
                .expect("valid metric"),
            ),
            graph_edges: register(
                &r,
                IntGauge::new(
                    "tributary_graph_edges",
                    "Edges of the in-memory lineage graph",
                )
                .expect("valid metric"),
            ),
            graph_load_seconds: register(
                &r,
                Gauge::new(
                    "tributary_graph_load_seconds",
                    "Time the last whole load of the graph took",
                )
                .expect("valid metric"),
            ),
            graph_behind: register(
                &r,
                IntGauge::new(
                    "tributary_graph_behind",
                    "1 while the graph is catching up with commits it could not read back",
                )
                .expect("valid metric"),
            ),
            replica_changes: register(
                &r,
                IntCounter::new(
                    "tributary_replica_changes_applied_total",
                    "Graph changes committed by other servers and applied here",
                )
                .expect("valid metric"),
            ),
            node_data_nodes: register(
                &r,
                IntGauge::new(
                    "tributary_node_data_cache_nodes",
                    "Lineage nodes whose REST data is held rendered in memory",
                )
                .expect("valid metric"),
            ),
            node_data_bytes: register(
                &r,
                IntGauge::new(
                    "tributary_node_data_cache_bytes",
                    "Bytes of lineage node data held rendered in memory",
                )
                .expect("valid metric"),
            ),
            node_data_warming: register(
                &r,
                IntGauge::new(
                    "tributary_node_data_warming",
                    "1 while the node data of the graph is being rendered after a start",
                )
                .expect("valid metric"),
            ),
            node_data_lookups: register(
                &r,
                IntCounterVec::new(
                    Opts::new(
                        "tributary_node_data_lookups_total",
                        "Lineage node data looked up for REST answers, by result: hit, miss",
                    ),
                    &["result"],
                )
                .expect("valid metric"),
            ),
            kafka_messages: register(
                &r,
                IntCounterVec::new(
                    Opts::new(
                        "tributary_kafka_messages_total",
                        "Kafka messages consumed, by result: stored, dead_lettered",
                    ),
                    &["result"],
                )
                .expect("valid metric"),
            ),
            kafka_commit_seconds: register(
                &r,
                Histogram::with_opts(
                    HistogramOpts::new(
                        "tributary_kafka_commit_seconds",
                        "Time from a Kafka batch taken to its offsets committed, events stored first",
                    )
                    .buckets(seconds),
                )
                .expect("valid metric"),
            ),
            kafka_consumer_lag: register(
                &r,
                IntGaugeVec::new(
                    Opts::new(
                        "tributary_kafka_consumer_lag",
                        "Kafka messages not yet committed, by topic and partition this server consumes (librdkafka's last statistics)",
                    ),
                    &["topic", "partition"],
                )
                .expect("valid metric"),
            ),
            db_connections: register(
                &r,
                IntGaugeVec::new(
                    Opts::new(
                        "tributary_db_connections",
                        "Open database connections, by pool (read, write) and state (idle, in_use)",
                    ),
                    &["pool", "state"],
                )
                .expect("valid metric"),
            ),
            db_connections_max: register(
                &r,
                IntGaugeVec::new(
                    Opts::new(
                        "tributary_db_connections_max",
                        "The most connections a pool may open",
                    ),
                    &["pool"],
                )
                .expect("valid metric"),
            ),
            registry: r,
        }
    }

    /// Counts `n` events with a result (`stored`, `duplicate`, `rejected`).
    pub fn count_events(&self, result: &str, n: usize) {
        self.events_ingested
            .with_label_values(&[result])
            .inc_by(n as u64);
    }

    /// Everything, in Prometheus' text format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("text encoding cannot fail");
        String::from_utf8(out).expect("the text format is UTF-8")
    }
}

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);
    &METRICS
}
