//! The public site's contracts: page and asset headers, the 404 page, JSON 404s under the services, the API
//! reference rendered from the served OpenAPI document, the feed, and the configuration page listing every
//! setting the settings code reads.

#![allow(clippy::unwrap_used)]

use crate::helpers::TestApp;
use crate::html::attr_values;
use serde_json::Value;

#[tokio::test]
async fn pages_carry_a_strict_csp_and_no_cache() {
    let app = TestApp::spawn().await;
    for path in ["/", "/docs", "/api", "/nope"] {
        let response = app.http.get(format!("{}{path}", app.address)).send().await.unwrap();
        let headers = response.headers();
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert_eq!(headers["cache-control"], "no-cache", "{path}");
        assert!(headers["content-type"].to_str().unwrap().starts_with("text/html"));
        let body = response.text().await.unwrap();
        assert!(
            !body.contains("<script>") && !body.contains(" style=\""),
            "{path} has inline script or style"
        );
    }
}

#[tokio::test]
async fn assets_are_versioned_immutable_and_revalidate_by_etag() {
    let app = TestApp::spawn().await;
    let home = app.http.get(&app.address).send().await.unwrap().text().await.unwrap();
    let css = attr_values(&home, "href")
        .into_iter()
        .find(|h| h.ends_with("/site.css"))
        .unwrap();
    let response = app.http.get(format!("{}{css}", app.address)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    assert!(css.contains(etag.trim_matches('"')), "{css} vs {etag}");
    let body = response.text().await.unwrap();
    assert!(body.contains("prefers-color-scheme: dark"));
    let again = app
        .http
        .get(format!("{}{css}", app.address))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    let stale = app
        .http
        .get(format!("{}/assets/0000000000000000/site.css", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 404);
}

#[tokio::test]
async fn unknown_pages_get_the_html_404_and_the_services_keep_json_404s() {
    let app = TestApp::spawn().await;
    let page = app
        .http
        .get(format!("{}/no/such/page", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 404);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let body = page.text().await.unwrap();
    assert!(body.contains("<h1>Page not found</h1>") && body.contains("<main"));
    for path in [
        "/api/no-such-route",
        "/auth/v1/no-such-route",
        "/rest/v1/no_such_table",
        "/health/x",
        "/ready/x",
    ] {
        let response = app.http.get(format!("{}{path}", app.address)).send().await.unwrap();
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json"),
            "{path}"
        );
        assert!(response.status().is_client_error(), "{path}: {}", response.status());
    }
    let health: Value = app
        .http
        .get(format!("{}/health", app.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
}

#[tokio::test]
async fn the_api_reference_lists_every_operation_of_the_served_document() {
    let app = TestApp::spawn().await;
    let doc: Value = app
        .http
        .get(format!("{}/api/openapi.json", app.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let page = app.http.get(format!("{}/api", app.address)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let mut operations = 0;
    for (path, methods) in doc["paths"].as_object().unwrap() {
        for method in methods.as_object().unwrap().keys() {
            operations += 1;
            let upper = method.to_ascii_uppercase();
            assert!(
                html.contains(&format!(
                    "<span class=\"method {method}\">{upper}</span> <code>{path}</code>"
                )),
                "{upper} {path} missing from /api"
            );
        }
    }
    assert!(operations > 10);
    assert_eq!(html.matches("<pre tabindex=\"0\"><code>curl ").count(), operations);
}

#[tokio::test]
async fn the_blog_has_an_atom_feed_of_every_post() {
    let app = TestApp::spawn().await;
    let blog = app
        .http
        .get(format!("{}/blog", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let posts: Vec<String> = attr_values(&blog, "href")
        .into_iter()
        .filter(|h| h.starts_with("/blog/") && h != "/blog/feed.xml")
        .collect();
    assert!(!posts.is_empty());
    let feed = app
        .http
        .get(format!("{}/blog/feed.xml", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(feed.headers()["content-type"], "application/atom+xml; charset=utf-8");
    let xml = feed.text().await.unwrap();
    assert!(xml.starts_with("<?xml") && xml.contains("<feed xmlns=\"http://www.w3.org/2005/Atom\">"));
    for post in &posts {
        assert!(
            xml.contains(&format!("{}{post}", app.address)),
            "{post} not in the feed"
        );
    }
    assert!(
        !xml.contains("<content type=\"html\"><p>"),
        "entry content must be escaped"
    );
}

/// Every environment name the settings code reads (`env = "…"` in the CLI, `"KITH_…"` in settings.rs).
fn settings_names() -> Vec<String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut names = Vec::new();
    for file in ["cli.rs", "settings.rs"] {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        let mut rest = text.as_str();
        while let Some(i) = rest.find('"') {
            let after = &rest[i + 1..];
            let Some(end) = after.find('"') else { break };
            let word = &after[..end];
            if (word.starts_with("KITH_") || word == "DATABASE_URL")
                && word
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
                && !names.iter().any(|n| n == word)
            {
                names.push(word.to_owned());
            }
            rest = &after[end + 1..];
        }
    }
    names
}

#[tokio::test]
async fn the_configuration_page_lists_every_setting() {
    let names = settings_names();
    assert!(names.len() > 20, "{names:?}");
    let app = TestApp::spawn().await;
    let html = app
        .http
        .get(format!("{}/docs/configuration", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // Internal-only names (the user-create password) are not settings.
    let missing: Vec<_> = names
        .iter()
        .filter(|n| *n != "KITH_USER_PASSWORD" && !html.contains(&format!("<code>{n}</code>")))
        .collect();
    assert!(
        missing.is_empty(),
        "settings missing from /docs/configuration: {missing:?}"
    );
}
