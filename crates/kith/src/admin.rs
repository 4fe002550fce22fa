//! The admin listener (`KITH_ADMIN_BIND`): `/metrics` in Prometheus text format, `/health` and `/ready`, on an
//! address of its own so that metrics never reach the public port. It has no other routes and no middleware
//! beyond what it needs: it is for the operator's scraper and probes, not for clients.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use kith_http::AppState;
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// What the admin routes read when scraped.
#[derive(Clone)]
struct Admin {
    state: AppState,
    /// The mail outbox folder, when mail goes there rather than to SMTP.
    outbox: Option<Arc<PathBuf>>,
}

/// The admin router: `/metrics`, `/health`, `/ready`; everything else is 404.
pub fn router(state: AppState, outbox: Option<PathBuf>) -> Router {
    kith_http::metrics::handle();
    Router::new()
        .route("/metrics", get(metrics))
        .route("/health", get(health))
        .route("/ready", get(ready))
        .with_state(Admin {
            state,
            outbox: outbox.map(Arc::new),
        })
}

/// Binds `address` and serves the admin router until `stop` resolves; returns the bound address.
pub async fn spawn(
    address: std::net::SocketAddr,
    router: Router,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<std::net::SocketAddr> {
    use anyhow::Context;
    let listener = TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address} (KITH_ADMIN_BIND; `off` disables the admin listener)"))?;
    let bound = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, router).with_graceful_shutdown(stop).await {
            tracing::error!(error = %err, "the admin listener failed");
        }
    });
    // Histograms keep their samples until rendered; upkeep bounds them between scrapes.
    tokio::spawn(async {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            kith_http::metrics::handle().run_upkeep();
        }
    });
    Ok(bound)
}

async fn metrics(State(admin): State<Admin>) -> Response {
    kith_http::metrics::observe_pool(admin.state.db.pool_stats());
    let ready = kith_http::ops::readiness(&admin.state).await.is_ok();
    kith_http::metrics::observe_ready(ready);
    if let Some(dir) = &admin.outbox {
        kith_http::metrics::observe_outbox_depth(outbox_depth(dir).await);
    }
    let mut response = kith_http::metrics::render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

/// Messages (`*.json` files) waiting in the outbox folder; a folder not yet created holds none.
async fn outbox_depth(dir: &std::path::Path) -> usize {
    let Ok(mut entries) = tokio::fs::read_dir(dir).await else {
        return 0;
    };
    let mut count = 0;
    while let Ok(Some(entry)) = entries.next_entry().await {
        if entry.path().extension().is_some_and(|e| e == "json") {
            count += 1;
        }
    }
    count
}

async fn health() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

async fn ready(State(admin): State<Admin>) -> Response {
    let result = kith_http::ops::readiness(&admin.state).await;
    kith_http::metrics::observe_ready(result.is_ok());
    match result {
        Ok(version) => Json(json!({"status": "ready", "schema_version": version})).into_response(),
        Err(err) => err.into_response(),
    }
}
