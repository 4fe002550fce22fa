//! `/metrics` on the admin listener: the series and labels after real requests (a 401, a 403 `no_organization`,
//! a 200, an unknown path), and never on the public port. Tests share one process-wide recorder, so every check
//! compares a scrape before and after this test's own requests.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::helpers::{SECRET, TestApp};
use kith_db::Access;
use kith_db::identity::JwtVerifier;
use kith_http::AppState;
use std::collections::BTreeMap;
use std::sync::Arc;

/// One sample: name, labels, value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// A parsed scrape (text format 0.0.4): the samples and the `# TYPE` of each family.
struct Scrape {
    samples: Vec<Sample>,
    types: BTreeMap<String, String>,
    text: String,
}

impl Scrape {
    fn parse(text: &str) -> Scrape {
        let mut samples = Vec::new();
        let mut types = BTreeMap::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap();
                types.insert(name.to_owned(), kind.to_owned());
                continue;
            }
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let (series, value) = line.rsplit_once(' ').unwrap();
            let (name, labels) = match series.split_once('{') {
                None => (series.to_owned(), BTreeMap::new()),
                Some((name, rest)) => {
                    let body = rest.strip_suffix('}').unwrap();
                    let mut labels = BTreeMap::new();
                    // Label values here never contain `",`; good enough for Kith's own series.
                    for pair in body.split("\",").filter(|p| !p.is_empty()) {
                        let (key, value) = pair.split_once("=\"").unwrap();
                        labels.insert(key.to_owned(), value.trim_end_matches('"').to_owned());
                    }
                    (name.to_owned(), labels)
                }
            };
            let value = match value {
                "+Inf" => f64::INFINITY,
                v => v.parse().unwrap(),
            };
            samples.push(Sample { name, labels, value });
        }
        Scrape {
            samples,
            types,
            text: text.to_owned(),
        }
    }

    /// The value of the series `name` whose labels include all of `labels`, summed over the rest; 0 if absent.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .filter(|s| {
                s.name == name
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|s| s.value)
            .sum()
    }

    fn has(&self, name: &str, labels: &[(&str, &str)]) -> bool {
        self.samples.iter().any(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
    }
}

async fn spawn_admin(app: &TestApp) -> String {
    let state = AppState {
        db: app.db.clone(),
        verifier: Arc::new(JwtVerifier::hs256(SECRET.as_bytes()).with_issuer(app.issuer.clone())),
    };
    let router = kith::admin::router(state, Some(app.outbox.path().to_path_buf()));
    let bound = kith::admin::spawn("127.0.0.1:0".parse().unwrap(), router, std::future::pending())
        .await
        .unwrap();
    format!("http://{bound}")
}

async fn scrape(app: &TestApp, admin: &str) -> Scrape {
    let response = app.http.get(format!("{admin}/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    Scrape::parse(&response.text().await.unwrap())
}

#[tokio::test]
async fn metrics_count_requests_by_route_template_and_errors_by_code() {
    let app = TestApp::spawn().await;
    let admin = spawn_admin(&app).await;
    let user = app.create_user().await;
    let before = scrape(&app, &admin).await;

    // A 401 (no token), a 403 no_organization (the user belongs to no organization), a 200, an unknown path.
    assert_eq!(app.get("/api/profile", None).await.status(), 401);
    let workspace = uuid::Uuid::new_v4();
    let forbidden = app
        .get(&format!("/api/contacts?workspace_id={workspace}"), Some(&user.token))
        .await;
    assert_eq!(forbidden.status(), 403);
    assert_eq!(app.get("/api/profile", Some(&user.token)).await.status(), 200);
    let secret_path = format!("/no/such/route/{}", uuid::Uuid::new_v4().simple());
    assert_eq!(app.get(&secret_path, None).await.status(), 404);
    // A statement the database refuses (division by zero, SQLSTATE 22012) as the signed-in caller.
    let mut tx = app
        .db
        .begin_as(&app.caller(&user.token), Access::ReadOnly)
        .await
        .unwrap();
    assert!(tx.query("select 1 / 0", &[]).await.is_err());
    drop(tx);

    let after = scrape(&app, &admin).await;
    let grew = |name: &str, labels: &[(&str, &str)]| after.value(name, labels) - before.value(name, labels);

    // The request histogram, labelled with the route template and status; real buckets, not a summary.
    assert_eq!(
        after
            .types
            .get("http_server_request_duration_seconds")
            .map(String::as_str),
        Some("histogram")
    );
    let profile_401 = [
        ("http_request_method", "GET"),
        ("http_route", "/api/profile"),
        ("http_response_status_code", "401"),
    ];
    assert!(grew("http_server_request_duration_seconds_count", &profile_401) >= 1.0);
    assert!(after.has(
        "http_server_request_duration_seconds_bucket",
        &[("http_route", "/api/profile"), ("le", "0.005")]
    ));
    assert!(after.has(
        "http_server_request_duration_seconds_bucket",
        &[("http_route", "/api/profile"), ("le", "+Inf")]
    ));
    let profile_200 = [("http_route", "/api/profile"), ("http_response_status_code", "200")];
    assert!(grew("http_server_request_duration_seconds_count", &profile_200) >= 1.0);
    let contacts_403 = [("http_route", "/api/contacts"), ("http_response_status_code", "403")];
    assert!(grew("http_server_request_duration_seconds_count", &contacts_403) >= 1.0);
    // Unknown paths share one label; the raw path never becomes one.
    assert!(
        grew(
            "http_server_request_duration_seconds_count",
            &[("http_route", "unmatched")]
        ) >= 1.0
    );
    assert!(!after.text.contains("/no/such/route"));

    // Error codes per route, and credential failures by reason.
    assert!(
        grew(
            "kith_api_errors_total",
            &[("code", "no_organization"), ("http_route", "/api/contacts")]
        ) >= 1.0
    );
    assert!(
        grew(
            "kith_api_errors_total",
            &[("code", "missing_token"), ("http_route", "/api/profile")]
        ) >= 1.0
    );
    assert!(grew("kith_auth_failures_total", &[("reason", "missing_token")]) >= 1.0);
    assert!(grew("kith_db_errors_total", &[("sqlstate_class", "22")]) >= 1.0);
    assert_eq!(
        after.types.get("kith_api_errors_total").map(String::as_str),
        Some("counter")
    );

    // The pool, readiness and build series.
    assert_eq!(after.value("db_client_connection_max", &[]), 8.0);
    assert!(after.has("db_client_connection_count", &[("state", "idle")]));
    assert!(after.has("db_client_connection_count", &[("state", "used")]));
    assert!(after.has("db_client_connection_pending_requests", &[]));
    assert!(after.has("db_client_connection_timeouts_total", &[]));
    assert_eq!(
        after
            .types
            .get("db_client_connection_wait_time_seconds")
            .map(String::as_str),
        Some("histogram")
    );
    assert!(after.value("db_client_connection_wait_time_seconds_count", &[]) >= 1.0);
    assert_eq!(after.value("kith_ready", &[]), 1.0);
    assert_eq!(
        after.value("kith_build_info", &[("version", env!("CARGO_PKG_VERSION"))]),
        1.0
    );
    assert!(after.has("kith_mail_outbox_depth", &[]));
    assert!(after.has("http_server_active_requests", &[]));
}

#[tokio::test]
async fn metrics_are_only_on_the_admin_listener() {
    let app = TestApp::spawn().await;
    let admin = spawn_admin(&app).await;
    // The public port has no /metrics.
    let public = app.get("/metrics", None).await;
    assert_eq!(public.status(), 404);
    // The admin port answers health and readiness too, and nothing else.
    for (path, status) in [
        ("/metrics", 200),
        ("/health", 200),
        ("/ready", 200),
        ("/api/profile", 404),
    ] {
        let response = app.http.get(format!("{admin}{path}")).send().await.unwrap();
        assert_eq!(response.status(), status, "{path}");
    }
    let ready: serde_json::Value = app
        .http
        .get(format!("{admin}/ready"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["status"], "ready");
}
