//! Kafka in: with `kafka_brokers` set, the server consumes OpenLineage events (one JSON event per
//! message, as OpenLineage's Kafka transports send them) as a member of a consumer group, through
//! the same writer as HTTP ingest (group commit, graph, replica announcements).
//!
//! At least once, never lossy: messages are taken in batches; a batch's events are committed to
//! the store, and its dead letters delivered, before its offsets are committed to Kafka. A crash
//! in between delivers the batch again, and idempotent ingest makes the second delivery change
//! nothing. Messages of a partition are applied in order (one batch after the other).
//!
//! A message that is not JSON, not an event, or refused by validation goes to the dead-letter
//! topic with its original bytes and key, and headers naming the error and where it came from
//! (`tributary.error`, `tributary.source.topic`, `.partition`, `.offset`). One bad message never
//! stops the consumer. The client is librdkafka (the `rdkafka` crate, bundled build): the
//! reference Kafka client, with every compression codec and the TLS and SASL settings users know.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer, ConsumerContext, StreamConsumer};
use rdkafka::message::{Header, Message, OwnedHeaders, OwnedMessage};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::statistics::Statistics;
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use serde_json::Value;

use crate::ingest::{prepare_event, Validator, Writer};
use crate::model::time::now_micros;

/// The most messages taken into one batch.
const MAX_BATCH: usize = 500;
/// How long a batch waits for more messages once it has one.
const GATHER: Duration = Duration::from_millis(5);
/// How often librdkafka reports its statistics (the consumer lag among them), unless the
/// `statistics.interval.ms` property says otherwise.
const STATISTICS_INTERVAL_MS: &str = "5000";
/// The least time between two summary lines in the log.
const SUMMARY_EVERY: Duration = Duration::from_secs(60);

/// Where and how to consume.
#[derive(Debug, Clone, PartialEq)]
pub struct KafkaConfig {
    /// Comma-separated `host:port` list.
    pub brokers: String,
    pub topic: String,
    pub group: String,
    pub dlq_topic: String,
    /// librdkafka client properties passed through (TLS, SASL, timeouts…).
    pub properties: BTreeMap<String, String>,
}

impl KafkaConfig {
    fn client(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.brokers);
        for (k, v) in &self.properties {
            c.set(k, v);
        }
        c
    }
}

/// What the consumer is doing, for `/readyz`.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsumerStatus {
    /// `consuming`, or `retrying` while the broker or the store refuses.
    pub state: &'static str,
    pub topic: String,
    pub group: String,
    /// Messages stored and dead-lettered since the start.
    pub stored: u64,
    pub dead_lettered: u64,
    /// When offsets were last committed (RFC 3339).
    pub last_commit: Option<String>,
    /// Messages in the assigned partitions not yet committed, as of librdkafka's last report;
    /// unknown until then.
    pub lag: Option<i64>,
    /// Why it is retrying.
    pub error: Option<String>,
}

static STATUS: Mutex<Option<ConsumerStatus>> = Mutex::new(None);

/// The consumer's state, when this server consumes from Kafka.
pub fn status() -> Option<ConsumerStatus> {
    STATUS.lock().expect("consumer status").clone()
}

fn set_status(change: impl FnOnce(&mut ConsumerStatus)) {
    if let Some(s) = STATUS.lock().expect("consumer status").as_mut() {
        change(s);
    }
}

/// What the summary line says: messages stored, dead-lettered, and the lag.
type Summary = (u64, u64, i64);

/// The consumer's librdkafka context: it turns the client's statistics into the lag gauges
/// (`tributary_kafka_consumer_lag{topic,partition}`) and a summary line in the log.
struct LagReporter {
    /// The partitions that have a lag gauge, so that a partition given away loses its gauge.
    reported: Mutex<Vec<(String, i32)>>,
    /// When the last summary line was logged and what it said.
    logged: Mutex<Option<(std::time::Instant, Summary)>>,
}

impl ClientContext for LagReporter {
    fn stats(&self, statistics: Statistics) {
        let gauge = &crate::metrics::metrics().kafka_consumer_lag;
        let mut now = Vec::new();
        let mut total = 0;
        for (topic, t) in &statistics.topics {
            // Partition -1 is librdkafka's internal "unassigned" queue; a partition another
            // member holds reports a lag of -1.
            for p in t.partitions.values() {
                if p.partition >= 0 && p.consumer_lag >= 0 {
                    let partition = p.partition.to_string();
                    gauge
                        .with_label_values(&[topic.as_str(), partition.as_str()])
                        .set(p.consumer_lag);
                    total += p.consumer_lag;
                    now.push((topic.clone(), p.partition));
                }
            }
        }
        let mut reported = self.reported.lock().expect("lag partitions");
        for (topic, partition) in reported.iter() {
            if !now.contains(&(topic.clone(), *partition)) {
                let _ = gauge.remove_label_values(&[topic.as_str(), &partition.to_string()]);
            }
        }
        let known = !now.is_empty();
        *reported = now;
        drop(reported);
        let mut counts = (0, 0);
        set_status(|s| {
            s.lag = known.then_some(total);
            counts = (s.stored, s.dead_lettered);
        });
        let summary = (counts.0, counts.1, total);
        let mut logged = self.logged.lock().expect("lag log");
        let due = match *logged {
            None => true,
            Some((at, last)) => last != summary && at.elapsed() >= SUMMARY_EVERY,
        };
        if due {
            tracing::info!(
                stored = summary.0,
                dead_lettered = summary.1,
                lag = if known { Some(total) } else { None },
                "Kafka consumer"
            );
            *logged = Some((std::time::Instant::now(), summary));
        }
    }
}

impl ConsumerContext for LagReporter {}

/// A message that is not an event, and why.
struct DeadLetter {
    message: OwnedMessage,
    error: String,
}

/// The running consumer: `stop` lets it finish (store and commit) the batch in hand and leave
/// the group.
pub struct KafkaConsumer {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl KafkaConsumer {
    /// Stops taking messages, finishes the batch in hand (its events stored, its offsets
    /// committed) and waits for that, 30 s at most: what is left uncommitted is delivered again
    /// later, which changes nothing.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        if tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .is_err()
        {
            tracing::warn!("the Kafka consumer did not finish its batch within 30 s of shutdown");
        }
    }
}

/// Starts the consumer task.
pub fn start(
    config: &KafkaConfig,
    validator: Arc<Validator>,
    writer: Writer,
) -> anyhow::Result<KafkaConsumer> {
    let mut consumer_config = config.client();
    if !config.properties.contains_key("auto.offset.reset") {
        // A new group reads the topic from its beginning.
        consumer_config.set("auto.offset.reset", "earliest");
    }
    // Set last, over any passed-through property: offsets are committed by hand, after the
    // events are stored, or nothing would be at least once.
    consumer_config
        .set("group.id", &config.group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false");
    if !config.properties.contains_key("statistics.interval.ms") {
        consumer_config.set("statistics.interval.ms", STATISTICS_INTERVAL_MS);
    }
    let consumer: StreamConsumer<LagReporter> =
        consumer_config.create_with_context(LagReporter {
            reported: Mutex::new(Vec::new()),
            logged: Mutex::new(None),
        })?;
    consumer.subscribe(&[&config.topic])?;
    // The producer's statistics would only be logged whole by the default context.
    let producer: FutureProducer = config.client().remove("statistics.interval.ms").create()?;
    let config = config.clone();
    *STATUS.lock().expect("consumer status") = Some(ConsumerStatus {
        state: "consuming",
        topic: config.topic.clone(),
        group: config.group.clone(),
        stored: 0,
        dead_lettered: 0,
        last_commit: None,
        lag: None,
        error: None,
    });
    tracing::info!(brokers = %config.brokers, topic = %config.topic, group = %config.group, dlq = %config.dlq_topic, "consuming OpenLineage events from Kafka");
    let (stop, mut stopping) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(async move {
        loop {
            let batch = tokio::select! {
                _ = stopping.changed() => break,
                batch = next_batch(&consumer) => batch,
            };
            apply(&config, &validator, &writer, &producer, &consumer, batch).await;
            if *stopping.borrow() {
                break;
            }
        }
        consumer.unsubscribe();
        set_status(|s| s.state = "stopped");
        tracing::info!("Kafka consumer stopped; every batch it took is stored and committed");
    });
    Ok(KafkaConsumer { stop, task })
}

/// Waits for a message, then takes those that follow it at once (up to `MAX_BATCH`).
async fn next_batch(consumer: &StreamConsumer<LagReporter>) -> Vec<OwnedMessage> {
    let mut batch = Vec::new();
    loop {
        match consumer.recv().await {
            Ok(m) => {
                batch.push(m.detach());
                break;
            }
            Err(e) => {
                tracing::warn!(error = %e, "Kafka consumer error; retrying");
                set_status(|s| {
                    s.state = "retrying";
                    s.error = Some(e.to_string());
                });
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
    while batch.len() < MAX_BATCH {
        match tokio::time::timeout(GATHER, consumer.recv()).await {
            Ok(Ok(m)) => batch.push(m.detach()),
            _ => break,
        }
    }
    batch
}

/// Stores a batch's events and dead-letters the rest, retrying until both are done, then
/// commits the batch's offsets.
async fn apply(
    config: &KafkaConfig,
    validator: &Validator,
    writer: &Writer,
    producer: &FutureProducer,
    consumer: &StreamConsumer<LagReporter>,
    batch: Vec<OwnedMessage>,
) {
    let metrics = crate::metrics::metrics();
    let started = std::time::Instant::now();
    let mut events = Vec::with_capacity(batch.len());
    let mut good = Vec::with_capacity(batch.len());
    let mut dead = Vec::new();
    let mut offsets: BTreeMap<(String, i32), i64> = BTreeMap::new();
    for message in batch {
        let next = offsets
            .entry((message.topic().to_string(), message.partition()))
            .or_insert(0);
        *next = (*next).max(message.offset() + 1);
        match event_of(validator, message.payload().unwrap_or_default()) {
            Ok(event) => {
                events.push(event);
                good.push(message);
            }
            Err(error) => dead.push(DeadLetter { message, error }),
        }
    }
    let mut wait = Duration::from_millis(100);
    for letter in &dead {
        while let Err(e) = dead_letter(config, producer, letter).await {
            tracing::warn!(error = %e, "cannot deliver a dead letter; retrying");
            set_status(|s| {
                s.state = "retrying";
                s.error = Some(format!("cannot deliver a dead letter: {e}"));
            });
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(5));
        }
        tracing::info!(topic = letter.message.topic(), partition = letter.message.partition(), offset = letter.message.offset(), error = %letter.error, "message dead-lettered");
    }
    metrics
        .kafka_messages
        .with_label_values(&["dead_lettered"])
        .inc_by(dead.len() as u64);
    let n = events.len();
    if n > 0 {
        let mut wait = Duration::from_millis(100);
        let mut first = Some(events);
        loop {
            // The writer takes the events; a retry prepares them again from their messages
            // rather than every attempt copying the batch.
            let events = first.take().unwrap_or_else(|| {
                good.iter()
                    .filter_map(|m| event_of(validator, m.payload().unwrap_or_default()).ok())
                    .collect()
            });
            match writer.write(events).await {
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, events = n, "cannot store events from Kafka; retrying (offsets stay uncommitted)");
                    set_status(|s| {
                        s.state = "retrying";
                        s.error = Some(format!("cannot store events: {e}"));
                    });
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(5));
                }
            }
        }
        metrics
            .kafka_messages
            .with_label_values(&["stored"])
            .inc_by(n as u64);
    }
    let mut list = TopicPartitionList::new();
    for ((topic, partition), next) in &offsets {
        if let Err(e) = list.add_partition_offset(topic, *partition, Offset::Offset(*next)) {
            tracing::warn!(error = %e, "cannot name an offset to commit");
        }
    }
    // After a rebalance the partition may belong to another server: it reads the batch again,
    // and storing it again changes nothing.
    let committed = consumer.commit(&list, CommitMode::Sync);
    metrics
        .kafka_commit_seconds
        .observe(started.elapsed().as_secs_f64());
    if let Err(e) = &committed {
        tracing::warn!(error = %e, "cannot commit Kafka offsets; the batch will be delivered again");
    }
    set_status(|s| {
        s.state = "consuming";
        s.error = None;
        s.stored += n as u64;
        s.dead_lettered += dead.len() as u64;
        if committed.is_ok() {
            s.last_commit = Some(chrono::Utc::now().to_rfc3339());
        }
    });
}

/// The event a message holds, prepared as HTTP ingest prepares it, or why it is none.
fn event_of(validator: &Validator, payload: &[u8]) -> Result<crate::ingest::PreparedEvent, String> {
    let value: Value = crate::json::text(payload)
        .and_then(|text| serde_json::from_str(text).map_err(|e| e.to_string()))
        .map_err(|e| format!("the message is not valid JSON: {e}"))?;
    prepare_event(validator, value, payload.to_vec(), now_micros()).map_err(|r| r.summary())
}

/// Sends a message's bytes and key to the dead-letter topic, with the error and its origin.
async fn dead_letter(
    config: &KafkaConfig,
    producer: &FutureProducer,
    letter: &DeadLetter,
) -> Result<(), rdkafka::error::KafkaError> {
    let m = &letter.message;
    let (partition, offset) = (m.partition().to_string(), m.offset().to_string());
    let headers = OwnedHeaders::new()
        .insert(Header {
            key: "tributary.error",
            value: Some(letter.error.as_str()),
        })
        .insert(Header {
            key: "tributary.source.topic",
            value: Some(m.topic()),
        })
        .insert(Header {
            key: "tributary.source.partition",
            value: Some(partition.as_str()),
        })
        .insert(Header {
            key: "tributary.source.offset",
            value: Some(offset.as_str()),
        });
    let mut record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(&config.dlq_topic)
        .payload(m.payload().unwrap_or_default())
        .headers(headers);
    if let Some(key) = m.key() {
        record = record.key(key);
    }
    producer
        .send(record, Duration::from_secs(10))
        .await
        .map(|_| ())
        .map_err(|(e, _)| e)
}
