//! Configuration: defaults, then an optional TOML file, then `TRIBUTARY_*` environment
//! variables, then command-line flags (each overriding the one before).

use std::path::Path;

use serde::Deserialize;

use crate::ingest::ValidationMode;
use crate::model::access::AuthMode;

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Everything the server needs to start.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Address to listen on (`TRIBUTARY_BIND`).
    pub bind: String,
    /// `sqlite://PATH` or `postgres://…` (`TRIBUTARY_DATABASE_URL`).
    pub database_url: String,
    /// What to do with malformed standard facets (`TRIBUTARY_VALIDATION`).
    pub validation: ValidationMode,
    /// Largest accepted request body, compressed or not (`TRIBUTARY_MAX_BODY_BYTES`).
    pub max_body_bytes: usize,
    /// Most events per group-commit transaction (`TRIBUTARY_BATCH_MAX_EVENTS`).
    pub batch_max_events: usize,
    /// Database connections (`TRIBUTARY_DB_MAX_CONNECTIONS`).
    pub db_max_connections: u32,
    /// HTTP worker threads (`TRIBUTARY_WORKERS`); 0 means one per core.
    pub workers: usize,
    /// REST reads served at once (`TRIBUTARY_MAX_CONCURRENT_READS`); more wait their turn
    /// (2 s at most, then 503). 0, the default, means one for every two cores (at least one).
    pub max_concurrent_reads: usize,
    /// Kafka brokers to consume OpenLineage events from (`TRIBUTARY_KAFKA_BROKERS`,
    /// comma-separated `host:port`); unset: no consumer.
    pub kafka_brokers: Option<String>,
    /// The topic events arrive on (`TRIBUTARY_KAFKA_TOPIC`, default `openlineage.events`).
    pub kafka_topic: String,
    /// The consumer group (`TRIBUTARY_KAFKA_GROUP`, default `tributary`).
    pub kafka_group: String,
    /// Where messages that are not events go (`TRIBUTARY_KAFKA_DLQ_TOPIC`, default
    /// `<topic>.dlq`).
    pub kafka_dlq_topic: Option<String>,
    /// librdkafka client properties (`[kafka.properties]` in the TOML file): TLS, SASL, ….
    pub kafka_properties: std::collections::BTreeMap<String, String>,
    /// Memory for lineage nodes' rendered REST data, in MiB (`TRIBUTARY_NODE_DATA_CACHE_MB`,
    /// default 256; 0 renders every answer from the store).
    pub node_data_cache_mb: usize,
    /// `text` or `json` (`TRIBUTARY_LOG_FORMAT`).
    pub log_format: LogFormat,
    /// When set, the server runs retention on a schedule, removing raw events and run details
    /// older than this (microseconds; `TRIBUTARY_RETENTION_OLDER_THAN`, e.g. `90d`).
    pub retention_older_than: Option<i64>,
    /// How often scheduled retention runs (`TRIBUTARY_RETENTION_INTERVAL`, default `1d`).
    pub retention_interval: i64,
    /// Which requests need an API key (`TRIBUTARY_AUTH`: `off`, `writes`, `all`). Unset: `off`
    /// on a loopback address while no key exists, else `writes` (see `startup::auth_mode`).
    pub auth: Option<AuthMode>,
    /// Web origins allowed to call the API from a browser (`TRIBUTARY_CORS_ORIGINS`,
    /// comma-separated, e.g. `https://lineage.example.com`). Empty: no cross-origin calls.
    pub cors_origins: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: "127.0.0.1:5000".into(),
            database_url: "sqlite://tributary.db".into(),
            validation: ValidationMode::Lenient,
            max_body_bytes: 32 * 1024 * 1024,
            batch_max_events: 1000,
            db_max_connections: 8,
            workers: 0,
            max_concurrent_reads: 0,
            node_data_cache_mb: 256,
            kafka_brokers: None,
            kafka_topic: "openlineage.events".into(),
            kafka_group: "tributary".into(),
            kafka_dlq_topic: None,
            kafka_properties: Default::default(),
            log_format: LogFormat::Text,
            retention_older_than: None,
            retention_interval: 86_400_000_000,
            auth: None,
            cors_origins: Vec::new(),
        }
    }
}

/// The TOML file's shape: every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    bind: Option<String>,
    database_url: Option<String>,
    validation: Option<ValidationMode>,
    max_body_bytes: Option<usize>,
    batch_max_events: Option<usize>,
    db_max_connections: Option<u32>,
    workers: Option<usize>,
    max_concurrent_reads: Option<usize>,
    node_data_cache_mb: Option<usize>,
    kafka_brokers: Option<String>,
    kafka_topic: Option<String>,
    kafka_group: Option<String>,
    kafka_dlq_topic: Option<String>,
    kafka: Option<KafkaFile>,
    log_format: Option<LogFormat>,
    retention_older_than: Option<String>,
    retention_interval: Option<String>,
    auth: Option<AuthMode>,
    cors_origins: Option<Vec<String>>,
}

/// The TOML file's `[kafka]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct KafkaFile {
    properties: Option<std::collections::BTreeMap<String, String>>,
}

/// A configuration that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("config file {path}: {source}")]
    Parse {
        path: String,
        source: toml::de::Error,
    },
    #[error("{var}: {message}")]
    Env { var: String, message: String },
}

fn env_parse<T: std::str::FromStr>(
    var: &str,
    get: &impl Fn(&str) -> Option<String>,
) -> Result<Option<T>, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match get(var) {
        None => Ok(None),
        Some(v) => v
            .trim()
            .parse()
            .map(Some)
            .map_err(|e: T::Err| ConfigError::Env {
                var: var.into(),
                message: e.to_string(),
            }),
    }
}

/// An allowed origin is `scheme://host[:port]`, exactly as browsers send it (or `*`).
fn check_origin(origin: &str) -> Result<(), ConfigError> {
    let well_formed = origin == "*"
        || origin.split_once("://").is_some_and(|(scheme, rest)| {
            matches!(scheme, "http" | "https") && !rest.is_empty() && !rest.contains('/')
        });
    if well_formed {
        Ok(())
    } else {
        Err(ConfigError::Env {
            var: "cors_origins".into(),
            message: format!(
                "'{origin}' is not an origin: write scheme://host[:port], e.g. https://lineage.example.com"
            ),
        })
    }
}

impl Config {
    /// The Kafka consumer's settings, when brokers are configured.
    pub fn kafka(&self) -> Option<crate::kafka::KafkaConfig> {
        let brokers = self.kafka_brokers.clone()?;
        Some(crate::kafka::KafkaConfig {
            brokers,
            topic: self.kafka_topic.clone(),
            group: self.kafka_group.clone(),
            dlq_topic: self
                .kafka_dlq_topic
                .clone()
                .unwrap_or_else(|| format!("{}.dlq", self.kafka_topic)),
            properties: self.kafka_properties.clone(),
        })
    }

    /// Loads from an optional file (else `TRIBUTARY_CONFIG`) and the process environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_with(file, &|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
    }

    /// Loads with an explicit environment (for tests).
    pub fn load_with(
        file: Option<&Path>,
        env: &impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut c = Config::default();
        let path = file
            .map(|p| p.to_string_lossy().into_owned())
            .or_else(|| env("TRIBUTARY_CONFIG"));
        if let Some(path) = path {
            let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
                path: path.clone(),
                source,
            })?;
            let f: FileConfig = toml::from_str(&text).map_err(|source| ConfigError::Parse {
                path: path.clone(),
                source,
            })?;
            c.bind = f.bind.unwrap_or(c.bind);
            c.database_url = f.database_url.unwrap_or(c.database_url);
            c.validation = f.validation.unwrap_or(c.validation);
            c.max_body_bytes = f.max_body_bytes.unwrap_or(c.max_body_bytes);
            c.batch_max_events = f.batch_max_events.unwrap_or(c.batch_max_events);
            c.db_max_connections = f.db_max_connections.unwrap_or(c.db_max_connections);
            c.workers = f.workers.unwrap_or(c.workers);
            c.max_concurrent_reads = f.max_concurrent_reads.unwrap_or(c.max_concurrent_reads);
            c.node_data_cache_mb = f.node_data_cache_mb.unwrap_or(c.node_data_cache_mb);
            c.kafka_brokers = f.kafka_brokers.or(c.kafka_brokers);
            c.kafka_topic = f.kafka_topic.unwrap_or(c.kafka_topic);
            c.kafka_group = f.kafka_group.unwrap_or(c.kafka_group);
            c.kafka_dlq_topic = f.kafka_dlq_topic.or(c.kafka_dlq_topic);
            if let Some(props) = f.kafka.and_then(|k| k.properties) {
                c.kafka_properties = props;
            }
            c.log_format = f.log_format.unwrap_or(c.log_format);
            c.auth = f.auth.or(c.auth);
            c.cors_origins = f.cors_origins.unwrap_or(c.cors_origins);
            let duration = |key: &str, v: &str| {
                crate::model::time::parse_duration(v).map_err(|message| ConfigError::Env {
                    var: format!("{key} in {path}"),
                    message,
                })
            };
            if let Some(v) = &f.retention_older_than {
                c.retention_older_than = Some(duration("retention_older_than", v)?);
            }
            if let Some(v) = &f.retention_interval {
                c.retention_interval = duration("retention_interval", v)?;
            }
        }
        if let Some(v) = env("TRIBUTARY_BIND") {
            c.bind = v;
        }
        if let Some(v) = env("TRIBUTARY_DATABASE_URL") {
            c.database_url = v;
        }
        c.validation = env_parse("TRIBUTARY_VALIDATION", env)?.unwrap_or(c.validation);
        c.max_body_bytes = env_parse("TRIBUTARY_MAX_BODY_BYTES", env)?.unwrap_or(c.max_body_bytes);
        c.batch_max_events =
            env_parse("TRIBUTARY_BATCH_MAX_EVENTS", env)?.unwrap_or(c.batch_max_events);
        c.db_max_connections =
            env_parse("TRIBUTARY_DB_MAX_CONNECTIONS", env)?.unwrap_or(c.db_max_connections);
        c.workers = env_parse("TRIBUTARY_WORKERS", env)?.unwrap_or(c.workers);
        c.max_concurrent_reads =
            env_parse("TRIBUTARY_MAX_CONCURRENT_READS", env)?.unwrap_or(c.max_concurrent_reads);
        c.node_data_cache_mb =
            env_parse("TRIBUTARY_NODE_DATA_CACHE_MB", env)?.unwrap_or(c.node_data_cache_mb);
        if let Some(v) = env("TRIBUTARY_KAFKA_BROKERS") {
            c.kafka_brokers = Some(v).filter(|v| !v.trim().is_empty());
        }
        if let Some(v) = env("TRIBUTARY_KAFKA_TOPIC") {
            c.kafka_topic = v;
        }
        if let Some(v) = env("TRIBUTARY_KAFKA_GROUP") {
            c.kafka_group = v;
        }
        if let Some(v) = env("TRIBUTARY_KAFKA_DLQ_TOPIC") {
            c.kafka_dlq_topic = Some(v);
        }
        if let Some(mode) = env_parse("TRIBUTARY_AUTH", env)? {
            c.auth = Some(mode);
        }
        if let Some(v) = env("TRIBUTARY_CORS_ORIGINS") {
            c.cors_origins = v
                .split(',')
                .map(|o| o.trim().to_string())
                .filter(|o| !o.is_empty())
                .collect();
        }
        for origin in &c.cors_origins {
            check_origin(origin)?;
        }
        let duration = |var: &str| -> Result<Option<i64>, ConfigError> {
            env(var)
                .map(|v| {
                    crate::model::time::parse_duration(&v).map_err(|message| ConfigError::Env {
                        var: var.into(),
                        message,
                    })
                })
                .transpose()
        };
        if let Some(d) = duration("TRIBUTARY_RETENTION_OLDER_THAN")? {
            c.retention_older_than = Some(d);
        }
        if let Some(d) = duration("TRIBUTARY_RETENTION_INTERVAL")? {
            c.retention_interval = d;
        }
        if c.retention_interval <= 0 {
            return Err(ConfigError::Env {
                var: "retention_interval".into(),
                message: "must be longer than zero".into(),
            });
        }
        c.log_format = match env("TRIBUTARY_LOG_FORMAT").as_deref() {
            None => c.log_format,
            Some("json") => LogFormat::Json,
            Some("text") => LogFormat::Text,
            Some(other) => {
                return Err(ConfigError::Env {
                    var: "TRIBUTARY_LOG_FORMAT".into(),
                    message: format!("'{other}' is not text or json"),
                })
            }
        };
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn the_environment_overrides_the_file_which_overrides_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.toml");
        std::fs::write(
            &path,
            "bind = \"0.0.0.0:6000\"\nvalidation = \"strict\"\nmax_body_bytes = 10\n",
        )
        .unwrap();
        let env: HashMap<&str, &str> = [("TRIBUTARY_MAX_BODY_BYTES", "20")].into();
        let c = Config::load_with(Some(&path), &|k| env.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(c.bind, "0.0.0.0:6000");
        assert_eq!(c.validation, ValidationMode::Strict);
        assert_eq!(c.max_body_bytes, 20);
        assert_eq!(c.database_url, "sqlite://tributary.db");
    }

    #[test]
    fn auth_and_origins_come_from_the_file_or_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.toml");
        std::fs::write(
            &path,
            "auth = \"all\"\ncors_origins = [\"https://a.example\"]\n",
        )
        .unwrap();
        let c = Config::load_with(Some(&path), &|_| None).unwrap();
        assert_eq!(c.auth, Some(AuthMode::All));
        assert_eq!(c.cors_origins, vec!["https://a.example".to_string()]);
        let env: HashMap<&str, &str> = [
            ("TRIBUTARY_AUTH", "writes"),
            (
                "TRIBUTARY_CORS_ORIGINS",
                "https://b.example, http://localhost:5173",
            ),
        ]
        .into();
        let c = Config::load_with(Some(&path), &|k| env.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(c.auth, Some(AuthMode::Writes));
        assert_eq!(c.cors_origins.len(), 2);
        let bad = |k: &str, v: &str| {
            let (k, v) = (k.to_string(), v.to_string());
            Config::load_with(None, &move |q| (q == k).then(|| v.clone()))
                .unwrap_err()
                .to_string()
        };
        assert!(bad("TRIBUTARY_AUTH", "on").contains("off, writes or all"));
        assert!(bad("TRIBUTARY_CORS_ORIGINS", "https://a.example/path").contains("not an origin"));
    }

    #[test]
    fn kafka_comes_from_the_file_and_the_environment() {
        assert_eq!(Config::default().kafka(), None, "no brokers, no consumer");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.toml");
        std::fs::write(
            &path,
            "kafka_brokers = \"k1:9092,k2:9092\"\nkafka_group = \"lineage\"\n\
             [kafka.properties]\n\"security.protocol\" = \"SASL_SSL\"\n",
        )
        .unwrap();
        let env: HashMap<&str, &str> = [("TRIBUTARY_KAFKA_TOPIC", "ol")].into();
        let c = Config::load_with(Some(&path), &|k| env.get(k).map(|v| v.to_string())).unwrap();
        let k = c.kafka().expect("brokers configured");
        assert_eq!(k.brokers, "k1:9092,k2:9092");
        assert_eq!((k.topic.as_str(), k.group.as_str()), ("ol", "lineage"));
        assert_eq!(k.dlq_topic, "ol.dlq");
        assert_eq!(
            k.properties.get("security.protocol").map(String::as_str),
            Some("SASL_SSL")
        );
        std::fs::write(&path, "[kafka]\nnope = 1\n").unwrap();
        assert!(Config::load_with(Some(&path), &|_| None).is_err());
    }

    #[test]
    fn a_bad_environment_value_names_the_variable() {
        let err = Config::load_with(None, &|k| {
            (k == "TRIBUTARY_VALIDATION").then(|| "loose".to_string())
        })
        .unwrap_err();
        assert!(err.to_string().contains("TRIBUTARY_VALIDATION"));
    }
}
