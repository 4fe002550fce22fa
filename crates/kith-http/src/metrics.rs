//! Prometheus metrics: the process-wide recorder, the per-request middleware, and the [`ErrorTag`] each
//! surface's error type leaves on its response so that error codes are counted per route in one place.
//!
//! Labels are bounded: `http_route` is the route template (axum's `MatchedPath`), never the raw path, and
//! [`UNMATCHED_ROUTE`] for requests no route matched; methods outside the standard set are `_OTHER`.

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use kith_db::PoolStats;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::borrow::Cow;
use std::sync::OnceLock;
use std::time::Instant;

/// Upper bounds of the request-duration buckets, in seconds (OpenTelemetry's HTTP server defaults).
pub const DURATION_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// Upper bounds of the pool-wait buckets, in seconds; the pool gives up after 5 s.
pub const POOL_WAIT_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// The `http_route` of requests that matched no route (unknown paths are never labels).
pub const UNMATCHED_ROUTE: &str = "unmatched";

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process-wide Prometheus recorder, installed on first use (tests start many apps in one process).
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full("http_server_request_duration_seconds".into()),
                DURATION_BUCKETS,
            )
            .and_then(|b| {
                b.set_buckets_for_metric(
                    Matcher::Full("db_client_connection_wait_time_seconds".into()),
                    POOL_WAIT_BUCKETS,
                )
            });
        let recorder = match builder {
            Ok(builder) => builder.build_recorder(),
            // Only an empty bucket list fails, and both lists are constants.
            Err(err) => {
                tracing::error!(error = %err, "metric buckets refused; histograms render as summaries");
                PrometheusBuilder::new().build_recorder()
            }
        };
        let handle = recorder.handle();
        if let Err(err) = metrics::set_global_recorder(recorder) {
            tracing::warn!(error = %err, "another metrics recorder is installed; /metrics stays empty");
        }
        describe();
        metrics::gauge!("kith_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
        // Present from the first scrape, so rate() and alerts see the first timeout as an increase.
        metrics::counter!("db_client_connection_timeouts_total").absolute(0);
        metrics::counter!("kith_db_errors_total", "sqlstate_class" => "08").absolute(0);
        metrics::counter!("kith_auth_failures_total", "reason" => "invalid_credentials").absolute(0);
        handle
    })
}

fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_histogram!(
        "http_server_request_duration_seconds",
        Unit::Seconds,
        "Duration of HTTP requests, by method, route template and status"
    );
    describe_gauge!("http_server_active_requests", "HTTP requests in flight");
    describe_counter!(
        "kith_auth_failures_total",
        "Requests refused for their credentials, by reason (missing_token, invalid_token, token_expired, …)"
    );
    describe_counter!(
        "kith_api_errors_total",
        "Error answers by error code and route template, across /api, /auth/v1 and /rest/v1"
    );
    describe_counter!(
        "kith_db_errors_total",
        "Database failures by SQLSTATE class (08: connection, 42: privilege or syntax, 23: constraint, …)"
    );
    describe_gauge!(
        "db_client_connection_count",
        "Request-pool connections by state (idle, used)"
    );
    describe_gauge!(
        "db_client_connection_max",
        "The most connections the request pool opens"
    );
    describe_gauge!(
        "db_client_connection_pending_requests",
        "Requests waiting for a request-pool connection"
    );
    describe_histogram!(
        "db_client_connection_wait_time_seconds",
        Unit::Seconds,
        "Time to obtain a request-pool connection (including opening one)"
    );
    describe_counter!(
        "db_client_connection_timeouts_total",
        "Requests that gave up waiting for a request-pool connection"
    );
    describe_gauge!("kith_mail_outbox_depth", "Messages in the mail outbox folder");
    describe_gauge!(
        "kith_ready",
        "1 when the database answers and its schema is current (as /ready), else 0"
    );
    describe_gauge!("kith_build_info", "Always 1; the version is a label");
}

/// Left on an error response (as a response extension) by the error type of each surface, where it renders
/// the answer; [`track`] counts it with the route template.
#[derive(Debug, Clone)]
pub struct ErrorTag {
    /// The surface's error code (`no_organization`, `PGRST301`, `invalid_credentials`, …).
    pub code: Cow<'static, str>,
    /// Why the credentials were refused, when that is what the error says.
    pub auth_failure: Option<&'static str>,
}

impl ErrorTag {
    /// Tags `response` with `code` and, for credential failures, their reason.
    pub fn attach(response: &mut Response, code: impl Into<Cow<'static, str>>, auth_failure: Option<&'static str>) {
        response.extensions_mut().insert(ErrorTag {
            code: code.into(),
            auth_failure,
        });
    }
}

/// Records `http_server_request_duration_seconds` and `http_server_active_requests` for every request, and
/// counts the [`ErrorTag`] of error answers.
pub async fn track(request: Request, next: Next) -> Response {
    let method = method_label(request.method());
    let route: Cow<'static, str> = match request.extensions().get::<MatchedPath>() {
        Some(path) => Cow::Owned(path.as_str().to_owned()),
        None => Cow::Borrowed(UNMATCHED_ROUTE),
    };
    let started = Instant::now();
    let active = metrics::gauge!("http_server_active_requests", "http_request_method" => method);
    active.increment(1.0);
    // Decrements even when the client goes away and the request future is dropped.
    let _active = ActiveGuard(active);
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    if let Some(tag) = response.extensions().get::<ErrorTag>() {
        metrics::counter!(
            "kith_api_errors_total",
            "code" => tag.code.clone(),
            "http_route" => route.clone(),
        )
        .increment(1);
        if let Some(reason) = tag.auth_failure {
            metrics::counter!("kith_auth_failures_total", "reason" => reason).increment(1);
        }
    }
    metrics::histogram!(
        "http_server_request_duration_seconds",
        "http_request_method" => method,
        "http_route" => route,
        "http_response_status_code" => status,
    )
    .record(started.elapsed().as_secs_f64());
    response
}

struct ActiveGuard(metrics::Gauge);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "_OTHER",
    }
}

/// Sets the request-pool gauges from a snapshot of the pool.
pub fn observe_pool(stats: PoolStats) {
    metrics::gauge!("db_client_connection_count", "state" => "idle").set(stats.idle as f64);
    metrics::gauge!("db_client_connection_count", "state" => "used").set(stats.used as f64);
    metrics::gauge!("db_client_connection_max").set(stats.max as f64);
    metrics::gauge!("db_client_connection_pending_requests").set(stats.pending as f64);
}

/// Sets `kith_ready`.
pub fn observe_ready(ready: bool) {
    metrics::gauge!("kith_ready").set(if ready { 1.0 } else { 0.0 });
}

/// Sets `kith_mail_outbox_depth`.
pub fn observe_outbox_depth(messages: usize) {
    metrics::gauge!("kith_mail_outbox_depth").set(messages as f64);
}

/// The Prometheus text exposition of every series.
pub fn render() -> String {
    let handle = handle();
    handle.run_upkeep();
    handle.render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_are_a_bounded_set() {
        assert_eq!(method_label(&Method::GET), "GET");
        let odd = Method::from_bytes(b"PURGE").ok();
        assert_eq!(odd.as_ref().map(method_label), Some("_OTHER"));
    }
}
