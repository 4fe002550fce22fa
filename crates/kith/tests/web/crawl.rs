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
