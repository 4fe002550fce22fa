//! The public pages.

use crate::WebState;
use crate::content::Doc;
use crate::errors::not_found_response;
use crate::render::{Chrome, page};
use crate::session::SessionHint;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// A link in a sidebar.
pub struct Link {
    href: String,
    label: String,
    current: bool,
}

#[derive(Template)]
#[template(path = "article.html")]
struct Article {
    chrome: Chrome,
    sidebar: Vec<Link>,
    sidebar_label: &'static str,
    byline: String,
    body: String,
}

/// An entry in a listing.
pub struct Item {
    href: String,
    title: String,
    meta: String,
    summary: String,
}

#[derive(Template)]
#[template(path = "listing.html")]
struct Listing {
    chrome: Chrome,
    intro: String,
    feed: Option<&'static str>,
    items: Vec<Item>,
}

#[derive(Template)]
#[template(path = "home.html")]
struct Home {
    chrome: Chrome,
    lead: String,
    body: String,
}

#[derive(Template)]
#[template(path = "api.html")]
struct ApiPage<'a> {
    chrome: Chrome,
    openapi_version: &'a str,
    api_version: &'a str,
    groups: &'a [crate::api_reference::Group],
}

/// One Atom entry.
struct Entry {
    title: String,
    href: String,
    updated: String,
    author: String,
    summary: String,
    html: String,
}

#[derive(Template)]
#[template(path = "feed.xml")]
struct Feed {
    base: String,
    updated: String,
    entries: Vec<Entry>,
}

fn article(chrome: Chrome, body: &str) -> Article {
    Article {
        chrome,
        sidebar: Vec::new(),
        sidebar_label: "",
        byline: String::new(),
        body: body.to_owned(),
    }
}

/// `GET /`.
pub async fn home(State(state): State<WebState>, hint: SessionHint) -> Response {
    let home = state.site().page("home");
    let lead = home.map_or_else(
        || {
            "A multi-tenant CRM server on PostgreSQL row-level security where every request runs as its caller."
                .to_owned()
        },
        |d| d.summary.clone(),
    );
    let template = Home {
        chrome: hint.chrome(
            home.map_or("Kith: every request runs as its caller", |d| d.title.as_str()),
            lead.clone(),
            "",
        ),
        lead,
        body: home.map(|d| d.html.clone()).unwrap_or_default(),
    };
    page(StatusCode::OK, &template)
}

fn docs_sidebar(state: &WebState, current: &str) -> Vec<Link> {
    let mut links = vec![Link {
        href: "/docs".into(),
        label: "Overview".into(),
        current: current.is_empty(),
    }];
    links.extend(state.site().docs.iter().map(|d| Link {
        href: format!("/docs/{}", d.slug),
        label: d.title.clone(),
        current: d.slug == current,
    }));
    links.push(Link {
        href: "/api".into(),
        label: "API reference".into(),
        current: false,
    });
    links
}

/// `GET /docs`.
pub async fn docs_index(State(state): State<WebState>, hint: SessionHint) -> Response {
    let items = state
        .site()
        .docs
        .iter()
        .map(|d| Item {
            href: format!("/docs/{}", d.slug),
            title: d.title.clone(),
            meta: String::new(),
            summary: d.summary.clone(),
        })
        .collect();
    let template = Listing {
        chrome: hint.chrome(
            "Documentation",
            "How to install, configure, secure and operate Kith, and how to call it.",
            "docs",
        ),
        intro: "Install, configure and operate Kith, and call it from supabase-js, the data API and the CRM API."
            .into(),
        feed: None,
        items,
    };
    page(StatusCode::OK, &template)
}

/// `GET /docs/{slug}`.
pub async fn doc(State(state): State<WebState>, hint: SessionHint, Path(slug): Path<String>) -> Response {
    let Some(doc) = state.site().doc(&slug) else {
        return not_found_response();
    };
    let mut template = article(hint.chrome(&doc.title, &doc.summary, "docs"), &doc.html);
    template.sidebar = docs_sidebar(&state, &doc.slug);
    template.sidebar_label = "Documentation";
    page(StatusCode::OK, &template)
}

fn byline(post: &Doc) -> String {
    if post.author.is_empty() {
        post.date.clone()
    } else {
        format!("{} · {}", post.date, post.author)
    }
}

/// `GET /blog`.
pub async fn blog_index(State(state): State<WebState>, hint: SessionHint) -> Response {
    let items = state
        .site()
        .posts
        .iter()
        .map(|p| Item {
            href: format!("/blog/{}", p.slug),
            title: p.title.clone(),
            meta: byline(p),
            summary: p.summary.clone(),
        })
        .collect();
    let template = Listing {
        chrome: hint.chrome(
            "Blog",
            "Notes from the Kith team on multi-tenant security, PostgreSQL and running Kith.",
            "blog",
        ),
        intro: "Notes on multi-tenant security, PostgreSQL row-level security and running Kith.".into(),
        feed: Some("/blog/feed.xml"),
        items,
    };
    page(StatusCode::OK, &template)
}

/// `GET /blog/{slug}`.
pub async fn post(State(state): State<WebState>, hint: SessionHint, Path(slug): Path<String>) -> Response {
    let Some(post) = state.site().post(&slug) else {
        return not_found_response();
    };
    let mut template = article(hint.chrome(&post.title, &post.summary, "blog"), &post.html);
    template.byline = byline(post);
    page(StatusCode::OK, &template)
}

/// `GET /blog/feed.xml`: an Atom feed of every post.
pub async fn feed(State(state): State<WebState>) -> Response {
    let base = state.settings().site_url.as_str().trim_end_matches('/').to_owned();
    let stamp = |date: &str| format!("{date}T00:00:00Z");
    let entries: Vec<Entry> = state
        .site()
        .posts
        .iter()
        .map(|p| Entry {
            title: p.title.clone(),
            href: format!("/blog/{}", p.slug),
            updated: stamp(&p.date),
            author: if p.author.is_empty() {
                "Kith".into()
            } else {
                p.author.clone()
            },
            summary: p.summary.clone(),
            html: p.html.clone(),
        })
        .collect();
    let updated = entries
        .first()
        .map_or_else(|| "1970-01-01T00:00:00Z".to_owned(), |e| e.updated.clone());
    match (Feed { base, updated, entries }).render() {
        Ok(body) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/atom+xml; charset=utf-8"),
            )],
            body,
        )
            .into_response(),
        Err(err) => {
            tracing::error!(error = %err, "feed failed to render");
            crate::errors::internal_error_response()
        }
    }
}

/// `GET /api`.
pub async fn api_reference(State(state): State<WebState>, hint: SessionHint) -> Response {
    let api = state.api();
    let template = ApiPage {
        chrome: hint.chrome(
            "API reference",
            "Every route of Kith's CRM API, with parameters, responses, error codes and a curl example.",
            "api",
        ),
        openapi_version: &api.openapi_version,
        api_version: &api.api_version,
        groups: &api.groups,
    };
    page(StatusCode::OK, &template)
}

/// `GET /changelog`.
pub async fn changelog(State(state): State<WebState>, hint: SessionHint) -> Response {
    let template = article(
        hint.chrome("Changelog", "What changed in Kith, per capability.", ""),
        &state.site().changelog,
    );
    page(StatusCode::OK, &template)
}

fn content_page(state: &WebState, hint: SessionHint, name: &str, section: &'static str) -> Response {
    let Some(doc) = state.site().page(name) else {
        return not_found_response();
    };
    page(
        StatusCode::OK,
        &article(hint.chrome(&doc.title, &doc.summary, section), &doc.html),
    )
}

/// `GET /support`.
pub async fn support(State(state): State<WebState>, hint: SessionHint) -> Response {
    content_page(&state, hint, "support", "support")
}

/// `GET /integrations`.
pub async fn integrations(State(state): State<WebState>, hint: SessionHint) -> Response {
    content_page(&state, hint, "integrations", "integrations")
}

/// `GET /privacy`.
pub async fn privacy(State(state): State<WebState>, hint: SessionHint) -> Response {
    content_page(&state, hint, "privacy", "")
}

/// `GET /terms`.
pub async fn terms(State(state): State<WebState>, hint: SessionHint) -> Response {
    content_page(&state, hint, "terms", "")
}
