//! `Application::build`: everything costly is built once here (pool, migrations, validators,
//! writer) and shared by every worker. Tests use the same path with port 0.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_cors::Cors;
use actix_web::dev::Server;
use actix_web::http::header;
use actix_web::middleware::{Condition, DefaultHeaders};
use actix_web::{web, App, HttpServer};
use tokio::task::JoinHandle;
use tracing_actix_web::TracingLogger;

use crate::config::Config;
use crate::http::{self, ApiError, AppState};
use crate::ingest::{Validator, Writer};
use crate::lineage::Lineage;
use crate::model::access::{AuditEntry, AuthMode};
use crate::store::{SqlStore, Store};

/// A built, bound server that has not started answering yet.
pub struct Application {
    port: u16,
    server: Server,
    writer_task: JoinHandle<()>,
    kafka: Option<crate::kafka::KafkaConsumer>,
}

/// Connects to the configured database and applies migrations.
pub async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    let store = SqlStore::connect(&config.database_url, config.db_max_connections).await?;
    store.migrate().await?;
    Ok(Arc::new(store))
}

impl Application {
    /// Opens the store, compiles the validators, starts the writer and binds the listener.
    pub async fn build(config: &Config) -> anyhow::Result<Self> {
        let store = open_store(config).await?;
        let validator = Arc::new(Validator::new(config.validation));
        let lineage = Arc::new(
            Lineage::load(store.clone())
                .await?
                .with_node_data_bytes(config.node_data_cache_mb << 20),
        );
        lineage.follow();
        let (writer, writer_task) = Writer::start(
            store.clone(),
            config.batch_max_events,
            Some(lineage.clone()),
        );
        if let Some(older_than) = config.retention_older_than {
            schedule_retention(lineage.clone(), older_than, config.retention_interval);
        }
        let kafka = match config.kafka() {
            Some(k) => Some(crate::kafka::start(&k, validator.clone(), writer.clone())?),
            None => None,
        };
        let (mode, why) = auth_mode(config, store.as_ref()).await?;
        if mode == AuthMode::Off && !is_loopback(&config.bind) {
            tracing::warn!(auth = %mode, bind = %config.bind,
                "authentication is off on an address beyond loopback: anyone who reaches the port may ingest, change and delete");
        } else {
            tracing::info!(auth = %mode, reason = why, "authentication");
        }
        let access = http::access::Access {
            mode,
            origins: config.cors_origins.clone(),
        };
        let listener = TcpListener::bind(&config.bind)
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.bind))?;
        let port = listener.local_addr()?.port();
        let schema = web::Data::new(crate::graphql::schema(Some(lineage.clone())));
        let state = web::Data::new(AppState {
            store,
            validator,
            writer,
            lineage,
            max_body_bytes: config.max_body_bytes,
            db_away_until: std::sync::atomic::AtomicI64::new(0),
            access,
            read_permits: Arc::new(tokio::sync::Semaphore::new(
                match config.max_concurrent_reads {
                    0 => std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1)),
                    n => n,
                },
            )),
        });
        if config.node_data_cache_mb > 0 {
            http::lineage::warm_node_data(state.clone().into_inner());
        }
        let origins = config.cors_origins.clone();
        let mut server = HttpServer::new(move || {
            App::new()
                .wrap(actix_web::middleware::from_fn(http::guard::shield))
                .wrap(Condition::new(!origins.is_empty(), cors(&origins)))
                .wrap(DefaultHeaders::new().add((header::X_CONTENT_TYPE_OPTIONS, "nosniff")))
                // Big answers travel compressed when the client accepts gzip.
                .wrap(actix_web::middleware::Compress::default())
                .wrap(TracingLogger::default())
                .app_data(state.clone())
                .app_data(schema.clone())
                .app_data(
                    web::QueryConfig::default()
                        .error_handler(|e, _| ApiError::bad("", e.to_string()).into()),
                )
                .app_data(
                    web::PathConfig::default()
                        .error_handler(|e, _| ApiError::bad("", e.to_string()).into()),
                )
                .configure(http::routes)
        })
        .listen(listener)?
        .shutdown_timeout(30);
        if config.workers > 0 {
            server = server.workers(config.workers);
        }
        tracing::info!(port, database = %redact(&config.database_url), "listening");
        Ok(Application {
            port,
            server: server.run(),
            writer_task,
            kafka,
        })
    }

    /// The port the server listens on (useful with port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGINT/SIGTERM; then stops accepting, finishes in-flight requests, and
    /// waits for the writer to commit what it was handed.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.server.await?;
        // The consumer holds a handle on the writer: it finishes its batch and lets go first.
        if let Some(kafka) = self.kafka {
            kafka.stop().await;
        }
        match tokio::time::timeout(Duration::from_secs(60), self.writer_task).await {
            Ok(r) => r?,
            Err(_) => tracing::warn!("writer did not finish within 60 s of shutdown"),
        }
        Ok(())
    }
}

/// The authentication mode and why: as configured, else `writes` when the server listens beyond
/// loopback or an API key exists, else `off` (the zero-setup default on a laptop).
pub async fn auth_mode(
    config: &Config,
    store: &dyn Store,
) -> anyhow::Result<(AuthMode, &'static str)> {
    if let Some(mode) = config.auth {
        return Ok((mode, "configured (auth / TRIBUTARY_AUTH)"));
    }
    if !is_loopback(&config.bind) {
        return Ok((AuthMode::Writes, "the server listens beyond loopback"));
    }
    if store.has_keys().await? {
        return Ok((AuthMode::Writes, "API keys exist"));
    }
    Ok((
        AuthMode::Off,
        "loopback address and no API keys (create one, or set auth, to require keys)",
    ))
}

/// Whether a bind address (`host:port`) is on loopback only.
pub fn is_loopback(bind: &str) -> bool {
    let host = bind.rsplit_once(':').map_or(bind, |(host, _)| host);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Cross-origin calls from the allowed origins: preflights answered, the headers clients send
/// (a key, JSON, gzip) allowed.
fn cors(origins: &[String]) -> Cors {
    let mut cors = Cors::default()
        .allowed_methods(["GET", "HEAD", "POST", "PUT", "DELETE"])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::CONTENT_ENCODING,
            header::ACCEPT,
        ])
        .max_age(3600);
    for origin in origins {
        cors = if origin == "*" {
            cors.allow_any_origin()
        } else {
            cors.allowed_origin(origin)
        };
    }
    cors
}

/// A database URL without its password, for logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}{}:***{}", &url[..s + 3], user, &url[at..])
        }
        _ => url.to_string(),
    }
}

/// Runs retention every `interval`, removing what is older than `older_than` (see
/// `Store::retention`); the first run is one interval after startup.
fn schedule_retention(lineage: Arc<Lineage>, older_than: i64, interval: i64) {
    let store = lineage.store().clone();
    let period = std::time::Duration::from_micros(interval.max(1) as u64);
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        loop {
            ticks.tick().await;
            let cutoff = crate::model::time::now_micros() - older_than;
            match store.retention(cutoff, false).await {
                Ok(r) => {
                    // Jobs that lost runs: their latest run may be another one now.
                    let jobs = r.jobs.clone();
                    lineage
                        .update(crate::model::graph::GraphChange {
                            jobs,
                            ..Default::default()
                        })
                        .await;
                    let entry = AuditEntry::by(
                        "scheduler",
                        "retention.run",
                        format!("older than {}", crate::model::time::iso(cutoff)),
                    );
                    crate::store::record_audit(store.as_ref(), &entry).await;
                    tracing::info!(
                    cutoff = %r.cutoff,
                    events = r.events,
                    runs = r.runs,
                    versions = r.versions,
                    partitions = r.partitions.len(),
                    "retention ran"
                    )
                }
                Err(e) => {
                    tracing::error!(error = %e, "retention failed; trying again next interval")
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::is_loopback;

    #[test]
    fn loopback_binds_are_told_apart() {
        for bind in [
            "127.0.0.1:5000",
            "localhost:5000",
            "[::1]:5000",
            "127.0.0.2:0",
        ] {
            assert!(is_loopback(bind), "{bind}");
        }
        for bind in [
            "0.0.0.0:5000",
            "[::]:5000",
            "10.1.2.3:5000",
            "lineage.internal:5000",
        ] {
            assert!(!is_loopback(bind), "{bind}");
        }
    }
}
