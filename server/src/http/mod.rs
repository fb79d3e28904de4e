//! HTTP: routes, handlers and error mapping. The only module (with `graphql/`) that knows HTTP.

pub mod access;
mod audit;
mod body;
mod column_lineage;
pub mod error;
mod events;
mod graphql;
pub mod guard;
mod health;
mod ingest;
mod lakefs;
pub(crate) mod lineage;
mod marquez;
pub mod openapi;
mod repro;
mod shapes;
mod stats;
mod web_ui;

use std::sync::Arc;

use actix_web::web;

use crate::ingest::{Validator, Writer};
use crate::store::Store;

pub use error::ApiError;

/// What every handler shares; built once in `Application::build`.
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub validator: Arc<Validator>,
    pub writer: Writer,
    pub lineage: Arc<crate::lineage::Lineage>,
    pub max_body_bytes: usize,
    /// REST reads (GET under /api/) allowed to run at once (`max_concurrent_reads`); the others
    /// wait their turn (at most `guard::READ_QUEUE_TIMEOUT`, then 503), so a read load cannot
    /// take the CPU from ingest.
    pub read_permits: Arc<tokio::sync::Semaphore>,
    /// Until when (microseconds) REST reads are answered `503` at once, because a read just
    /// waited the whole acquire timeout for a database connection: while the database is away,
    /// reads fail fast instead of queueing behind one another.
    pub db_away_until: std::sync::atomic::AtomicI64,
    /// Which requests need a key, and the origins allowed to call from a browser.
    pub access: access::Access,
}

/// Registers every route.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .route("/metrics", web::get().to(health::metrics))
        .route("/graphiql", web::get().to(graphql::graphiql))
        .service(
            web::scope("/api/v1")
                .route("/lineage", web::post().to(ingest::post_event))
                .route("/lineage/batch", web::post().to(ingest::post_batch))
                .route("/integrations/lakefs", web::post().to(lakefs::webhook))
                .route("/events/lineage", web::get().to(events::list))
                .route("/events", web::get().to(events::list))
                .route(
                    "/openapi.json",
                    web::get()
                        .to(|| async { actix_web::HttpResponse::Ok().json(openapi::document()) }),
                )
                .route("/stats/{what}", web::get().to(stats::stats))
                .route("/lineage", web::get().to(lineage::lineage))
                .route(
                    "/column-lineage",
                    web::get().to(column_lineage::column_lineage),
                )
                .route("/graphql", web::post().to(graphql::execute))
                .route("/audit", web::get().to(audit::list))
                .configure(repro::routes)
                .configure(marquez::routes),
        )
        .default_service(web::to(web_ui::serve));
}
