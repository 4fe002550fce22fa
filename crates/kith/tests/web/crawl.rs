//! A signed-out crawler from `/`: every internal link, asset and form action answers without a 4xx or 5xx, and
//! every page has a `<title>`, a `<main>` and an `<h1>`.

#![allow(clippy::unwrap_used)]

use crate::helpers::TestApp;
use crate::html::{attr_values, element};
use std::collections::{BTreeSet, VecDeque};

fn internal(link: &str) -> Option<String> {
    if link.starts_with("//") || link.contains("://") || link.starts_with("mailto:") || link.starts_with('#') {
        return None;
    }
    if !link.starts_with('/') {
        return None;
    }
    let link = link.split('#').next().unwrap_or(link);
    Some(link.to_owned())
}

#[tokio::test]
async fn every_link_asset_and_form_action_resolves_and_every_page_is_well_formed() {
    let app = TestApp::spawn().await;
    let mut queue: VecDeque<(String, String)> = VecDeque::from([("/".to_owned(), "start".to_owned())]);
    let mut seen: BTreeSet<String> = BTreeSet::from(["/".to_owned()]);
    let mut pages = 0;
    let mut failures = Vec::new();
    while let Some((path, from)) = queue.pop_front() {
        let response = app.http.get(format!("{}{path}", app.address)).send().await.unwrap();
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let body = response.text().await.unwrap();
        if status.is_client_error() || status.is_server_error() {
            failures.push(format!("{path} (linked from {from}): {status}"));
            continue;
        }
        if !content_type.starts_with("text/html") {
            assert!(!body.is_empty(), "{path} is empty");
            continue;
        }
        pages += 1;
        let title = element(&body, "title").unwrap_or_default();
        if title.trim().is_empty() {
            failures.push(format!("{path}: no <title>"));
        }
        if !body.contains("<main") {
            failures.push(format!("{path}: no <main>"));
        }
        if !body.contains("<h1") {
            failures.push(format!("{path}: no <h1>"));
        }
        for attr in ["href", "src", "action"] {
            for link in attr_values(&body, attr) {
                if let Some(target) = internal(&link)
                    && seen.insert(target.clone())
                {
                    queue.push_back((target, path.clone()));
                }
            }
        }
    }
    assert!(failures.is_empty(), "broken:\n{}", failures.join("\n"));
    for required in [
        "/docs",
        "/blog",
        "/support",
        "/api",
        "/integrations",
        "/changelog",
        "/privacy",
        "/terms",
        "/blog/feed.xml",
        "/docs/configuration",
    ] {
        assert!(seen.contains(required), "{required} is not linked from the site");
    }
    assert!(
        seen.iter()
            .any(|p| p.starts_with("/assets/") && p.ends_with("/site.css")),
        "no stylesheet"
    );
    assert!(pages >= 10, "only {pages} pages crawled");
}

/// The crawler signed in, as an owner (every control) and as a viewer (none): from the overview, every dashboard
/// link and form action answers without a 4xx or 5xx (a form action opened with GET leads back to its page), and
/// every page has a `<title>`, a `<main>` and an `<h1>`.
#[tokio::test]
async fn signed_in_every_dashboard_link_and_form_action_resolves() {
    use crate::world::{api, world};
    use serde_json::json;
    let app = TestApp::spawn().await;
    let mut w = world(&app).await;
    let contact = api(
        &app,
        "POST",
        "/api/contacts",
        &w.owner.token,
        Some(&json!({"workspace_id": w.workspace, "first_name": "Ada", "email": "ada@engines.io", "job_title": "CEO"})),
        201,
    )
    .await;
    let contact_id = contact["id"].as_str().unwrap();
    api(
        &app,
        "POST",
        &format!("/api/contacts/{contact_id}/interactions"),
        &w.owner.token,
        Some(&json!({"kind": "meeting"})),
        201,
    )
    .await;
    let start = chrono::Utc::now() + chrono::Duration::hours(1);
    api(
        &app,
        "POST",
        "/api/calendar/events",
        &w.owner.token,
        Some(
            &json!({"workspace_id": w.workspace, "title": "Call", "starts_at": start.to_rfc3339(),
                     "rrule": "FREQ=WEEKLY", "contact_ids": [contact_id]}),
        ),
        201,
    )
    .await;
    for (who, browser) in [("owner", &mut w.owner.browser), ("viewer", &mut w.viewer.browser)] {
        let mut queue: VecDeque<(String, String)> =
            VecDeque::from([("/dashboard/overview".to_owned(), "start".to_owned())]);
        let mut seen: BTreeSet<String> = BTreeSet::from(["/dashboard/overview".to_owned()]);
        let mut failures = Vec::new();
        let mut pages = 0;
        let mut weeks = 0;
        while let Some((path, from)) = queue.pop_front() {
            let answer = browser.get(&path).await;
            if answer.status >= 400 {
                failures.push(format!("{who}: {path} (from {from}): {}", answer.status));
                continue;
            }
            if answer.status == 303 {
                let to = answer.location.clone().unwrap_or_default();
                if !to.starts_with("/dashboard") {
                    failures.push(format!("{who}: {path} redirects out of the dashboard to {to}"));
                }
                continue;
            }
            if !answer.body.starts_with("<!doctype html>") {
                continue;
            }
            pages += 1;
            for (needle, what) in [("<title>", "title"), ("<main", "main"), ("<h1", "h1")] {
                if !answer.body.contains(needle) {
                    failures.push(format!("{who}: {path}: no <{what}>"));
                }
            }
            for attr in ["href", "action"] {
                for link in attr_values(&answer.body, attr) {
                    let Some(target) = internal(&link) else { continue };
                    // The dashboard and its assets; the public site has its own crawler. Sign-out would end
                    // the crawl's session, and the weeks go on forever: two of them are enough.
                    if !(target.starts_with("/dashboard") || target.starts_with("/assets/")) || target == "/logout" {
                        continue;
                    }
                    if target.contains("week=") {
                        if weeks >= 2 {
                            continue;
                        }
                        weeks += 1;
                    }
                    if seen.insert(target.clone()) {
                        queue.push_back((target, path.clone()));
                    }
                }
            }
        }
        assert!(failures.is_empty(), "broken:\n{}", failures.join("\n"));
        for required in [
            "/dashboard/contacts",
            "/dashboard/calendar",
            "/dashboard/settings",
            &format!("/dashboard/contacts/{contact_id}"),
        ] {
            assert!(
                seen.iter().any(|p| p.starts_with(required)),
                "{who}: {required} is not linked"
            );
        }
        assert!(pages >= 6, "{who}: only {pages} pages crawled");
        if who == "owner" {
            for action in [
                "/dashboard/contacts/import",
                "/dashboard/calendar/events",
                "/dashboard/settings/workspaces",
            ] {
                assert!(seen.contains(action), "{who}: no form posts to {action}");
            }
        }
    }
}
