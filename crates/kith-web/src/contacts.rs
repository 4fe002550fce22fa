//! `/dashboard/contacts` (search, cursor pages, new contact with field errors, CSV import with a preview, column
//! mapping and a per-row report, CSV export) and `/dashboard/contacts/{id}` (details and edit, the timeline with
//! "Log interaction", the score breakdown as an SVG bar chart, upcoming events with the contact).
//!
//! Reads: the workspace is checked in the caller's transaction (`current.rs`); the list is `GET /api/contacts`
//! itself, the contact page one read-only transaction over `kith_crm::pages` and the calendar's own `window`.
//! Writes: the `/api` handlers, in process (`api.rs`). Another tenant's contact id answers the 404 page.

use crate::WebState;
use crate::api;
use crate::auth_pages::{form, see_other};
use crate::current::{self, Current, refused_write};
use crate::errors::{error_page, forbidden_response, internal_error_response, not_found_response};
use crate::render::{Chrome, page};
use crate::session::Visitor;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Duration, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use kith_auth::browser::BrowserSession;
use kith_crm::context::{Item, OrgRole, item_ctx};
use kith_crm::pages;
use kith_crm::scoring::InteractionKind;
use kith_db::Access;
use kith_http::{ApiError, AuthUser};
use serde_json::{Value, json};
use std::collections::HashMap;
use uuid::Uuid;

/// Contacts per list page.
const PAGE_SIZE: u32 = 50;
/// Interactions shown on a contact's timeline.
const TIMELINE: i64 = 200;
/// Days ahead of "Upcoming events".
const UPCOMING_DAYS: i64 = 30;
/// Rows of the import preview.
const PREVIEW_ROWS: usize = 5;
/// Largest CSV the import form takes (the `/api` route takes larger files sent directly).
const MAX_IMPORT_BYTES: usize = 2 * 1024 * 1024;
/// Columns the import maps to, as `/api/contacts/import` names them.
const COLUMNS: [(&str, &str); 8] = [
    ("first_name", "First name"),
    ("last_name", "Last name"),
    ("email", "Email"),
    ("phone", "Phone"),
    ("company", "Company"),
    ("job_title", "Job title"),
    ("tags", "Tags (separated by ;)"),
    ("status", "Status"),
];
const STATUSES: [&str; 4] = ["lead", "opportunity", "customer", "inactive"];

fn chrome(visitor: &mut Visitor, session: &BrowserSession, title: &str) -> Chrome {
    let mut chrome = Chrome::new(title, "Your contacts.", "");
    chrome.csrf = visitor.csrf();
    chrome.user_email = Some(session.email.clone());
    chrome.dashboard = "contacts";
    chrome
}

fn query_map(query: Option<&str>) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        out.entry(k.into_owned()).or_insert_with(|| v.into_owned());
    }
    out
}

fn enc(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// Opens a read-only caller transaction and resolves the page's workspace.
async fn workspace(
    state: &WebState,
    visitor: &Visitor,
    session: &BrowserSession,
    query: Option<&str>,
) -> Result<Option<Current>, ApiError> {
    let mut tx = state.db().begin_as(&session.caller, Access::ReadOnly).await?;
    let found = current::resolve(&mut tx, session, current::asked(query), visitor.workspace.as_deref()).await?;
    tx.commit().await?;
    Ok(found)
}

fn display_name(first: Option<&str>, last: Option<&str>, email: Option<&str>) -> String {
    let name = [first, last].into_iter().flatten().collect::<Vec<_>>().join(" ");
    if name.trim().is_empty() {
        email.unwrap_or("Unnamed contact").to_owned()
    } else {
        name
    }
}

// ---------------------------------------------------------------------------------------------------------------
// The list

struct ListRow {
    id: String,
    name: String,
    email: String,
    company: String,
    tier: String,
    score: i64,
    last: String,
}

/// The list's filter and order, as the page's form sends them; passed on to `/api/contacts` (and its export)
/// under the API's own names, so the API checks them.
#[derive(Default)]
struct Filter {
    q: String,
    tier: String,
    tag: String,
    status: String,
    /// `7d`, `30d` (an interaction since), `quiet30`, `quiet90` (none since), or empty.
    activity: String,
    sort: String,
}

impl Filter {
    fn from_params(params: &HashMap<String, String>) -> Self {
        let get = |name: &str| params.get(name).map(|v| v.trim().to_owned()).unwrap_or_default();
        Filter {
            q: get("q"),
            tier: get("tier"),
            tag: get("tag"),
            status: get("status"),
            activity: get("activity"),
            sort: get("sort"),
        }
    }

    /// The API's query parameters for this filter (`&name=value`…).
    fn api_query(&self, today: chrono::NaiveDate) -> String {
        let mut out = String::new();
        for (name, value) in [
            ("q", &self.q),
            ("tier", &self.tier),
            ("tag", &self.tag),
            ("status", &self.status),
            ("sort", &self.sort),
        ] {
            if !value.is_empty() {
                out.push_str(&format!("&{name}={}", enc(value)));
            }
        }
        let since = |days: i64| today - Duration::days(days);
        match self.activity.as_str() {
            "7d" => out.push_str(&format!("&last_interaction_after={}", since(7))),
            "30d" => out.push_str(&format!("&last_interaction_after={}", since(30))),
            "quiet30" => out.push_str(&format!("&last_interaction_before={}", since(30))),
            "quiet90" => out.push_str(&format!("&last_interaction_before={}", since(90))),
            _ => {}
        }
        out
    }

    /// This page's own query parameters for this filter (for links to other pages of it).
    fn page_query(&self) -> String {
        let mut out = String::new();
        for (name, value) in [
            ("q", &self.q),
            ("tier", &self.tier),
            ("tag", &self.tag),
            ("status", &self.status),
            ("activity", &self.activity),
            ("sort", &self.sort),
        ] {
            if !value.is_empty() {
                out.push_str(&format!("&{name}={}", enc(value)));
            }
        }
        out
    }

    fn is_empty(&self) -> bool {
        self.page_query().is_empty()
    }

    /// Options of a select: (value, label, selected).
    fn options(&self, which: &str) -> Vec<(&'static str, &'static str, bool)> {
        let (current, list): (&str, &[(&'static str, &'static str)]) = match which {
            "tier" => (
                &self.tier,
                &[("", "Any tier"), ("hot", "Hot"), ("warm", "Warm"), ("cold", "Cold")],
            ),
            "status" => (
                &self.status,
                &[
                    ("", "Any status"),
                    ("lead", "Lead"),
                    ("opportunity", "Opportunity"),
                    ("customer", "Customer"),
                    ("inactive", "Inactive"),
                ],
            ),
            "activity" => (
                &self.activity,
                &[
                    ("", "Any time"),
                    ("7d", "In the last 7 days"),
                    ("30d", "In the last 30 days"),
                    ("quiet30", "Not in 30 days"),
                    ("quiet90", "Not in 90 days"),
                ],
            ),
            _ => (
                &self.sort,
                &[
                    ("", "Newest first"),
                    ("name", "Name"),
                    ("score", "Score"),
                    ("last_interaction", "Last interaction"),
                ],
            ),
        };
        list.iter().map(|(v, l)| (*v, *l, *v == current)).collect()
    }
}

#[derive(Template)]
#[template(path = "contacts.html")]
struct ListPage {
    chrome: Chrome,
    workspace_label: String,
    workspace_id: Uuid,
    filter: Filter,
    /// The filter as this page's query string (`&…`), for the pager and the export.
    filter_query: String,
    error: Option<String>,
    rows: Vec<ListRow>,
    next: Option<String>,
    first_page: bool,
    can_write: bool,
}

/// `GET /dashboard/contacts[?q=&tier=&tag=&status=&activity=&sort=&cursor=&workspace_id=]`.
pub async fn list(state: &WebState, visitor: &mut Visitor, session: &BrowserSession, query: Option<&str>) -> Response {
    let current = match workspace(state, visitor, session, query).await {
        Ok(Some(current)) => current,
        Ok(None) => return not_found_response(),
        Err(err) => return current::refused(&err),
    };
    let params = query_map(query);
    let filter = Filter::from_params(&params);
    let cursor = params.get("cursor").cloned().unwrap_or_default();
    let today = Utc::now().with_timezone(&current.tz).date_naive();
    let mut path = format!(
        "/api/contacts?workspace_id={}&limit={PAGE_SIZE}{}",
        current.ctx.workspace_id,
        filter.api_query(today)
    );
    if !cursor.is_empty() {
        path.push_str(&format!("&cursor={}", enc(&cursor)));
    }
    let mut error = None;
    let answer = match api::call(state, session, Method::GET, &path, None).await {
        Ok(answer) => answer,
        // A filter or cursor the API refuses: say which, list nothing.
        Err(refusal) if refusal.status == StatusCode::UNPROCESSABLE_ENTITY => {
            error = Some(format!(
                "{}: {}",
                refusal
                    .field
                    .clone()
                    .unwrap_or_else(|| "filter".into())
                    .replace('_', " "),
                refusal.message
            ));
            json!({"contacts": []})
        }
        Err(refusal) => return refused_write(&refusal).unwrap_or_else(internal_error_response),
    };
    let rows = answer["contacts"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|c| ListRow {
                    id: c["id"].as_str().unwrap_or_default().to_owned(),
                    name: display_name(c["first_name"].as_str(), c["last_name"].as_str(), c["email"].as_str()),
                    email: c["email"].as_str().unwrap_or_default().to_owned(),
                    company: c["company"].as_str().unwrap_or_default().to_owned(),
                    tier: c["tier"].as_str().unwrap_or_default().to_owned(),
                    score: c["score"].as_i64().unwrap_or(0),
                    last: c["last_interaction_at"]
                        .as_str()
                        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                        .map(|t| t.with_timezone(&current.tz).format("%Y-%m-%d").to_string())
                        .unwrap_or_else(|| "never".into()),
                })
                .collect()
        })
        .unwrap_or_default();
    let filter_query = filter.page_query();
    let next = answer["next_cursor"].as_str().map(|cursor| {
        format!(
            "/dashboard/contacts?workspace_id={}{filter_query}&cursor={}",
            current.ctx.workspace_id,
            enc(cursor)
        )
    });
    let template = ListPage {
        chrome: chrome(visitor, session, "Contacts"),
        workspace_label: current.label.clone(),
        workspace_id: current.ctx.workspace_id,
        filter,
        filter_query,
        error,
        rows,
        next,
        first_page: cursor.is_empty(),
        can_write: current.can_write(),
    };
    page(StatusCode::OK, &template)
}

// ---------------------------------------------------------------------------------------------------------------
// New contact and edit

/// A contact form's values and its field errors.
#[derive(Default)]
struct ContactForm {
    first_name: String,
    last_name: String,
    email: String,
    phone: String,
    company: String,
    job_title: String,
    tags: String,
    status: String,
    /// (field, message) of the API's refusal.
    error: Option<(String, String)>,
}

impl ContactForm {
    fn from_fields(fields: &HashMap<String, String>) -> Self {
        let get = |name: &str| fields.get(name).cloned().unwrap_or_default();
        ContactForm {
            first_name: get("first_name"),
            last_name: get("last_name"),
            email: get("email"),
            phone: get("phone"),
            company: get("company"),
            job_title: get("job_title"),
            tags: get("tags"),
            status: get("status"),
            error: None,
        }
    }

    /// The JSON `/api/contacts` takes: empty fields are absent (create) or cleared (edit: `null`).
    fn json(&self, clear_empty: bool) -> Value {
        let mut body = serde_json::Map::new();
        for (name, value) in [
            ("first_name", &self.first_name),
            ("last_name", &self.last_name),
            ("email", &self.email),
            ("phone", &self.phone),
            ("company", &self.company),
            ("job_title", &self.job_title),
        ] {
            if !value.trim().is_empty() {
                body.insert(name.into(), json!(value));
            } else if clear_empty {
                body.insert(name.into(), Value::Null);
            }
        }
        let tags: Vec<&str> = self
            .tags
            .split([',', ';'])
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .collect();
        body.insert("tags".into(), json!(tags));
        if !self.status.trim().is_empty() {
            body.insert("status".into(), json!(self.status.trim()));
        }
        Value::Object(body)
    }

    /// The text inputs: (name, label, autocomplete, value).
    fn inputs(&self) -> Vec<(&'static str, &'static str, &'static str, &str)> {
        vec![
            ("first_name", "First name", "given-name", &self.first_name),
            ("last_name", "Last name", "family-name", &self.last_name),
            ("email", "Email", "email", &self.email),
            ("phone", "Phone", "tel", &self.phone),
            ("company", "Company", "organization", &self.company),
            ("job_title", "Job title", "organization-title", &self.job_title),
            ("tags", "Tags", "off", &self.tags),
        ]
    }

    fn statuses(&self) -> [&'static str; 4] {
        STATUSES
    }

    fn error_for(&self, field: &str) -> Option<&str> {
        self.error
            .as_ref()
            .filter(|(f, _)| f == field || (field == "tags" && f.starts_with("tags")))
            .map(|(_, m)| m.as_str())
    }

    /// An error that names no field of the form.
    fn general_error(&self) -> Option<&str> {
        const FIELDS: [&str; 8] = [
            "first_name",
            "last_name",
            "email",
            "phone",
            "company",
            "job_title",
            "tags",
            "status",
        ];
        self.error
            .as_ref()
            .filter(|(f, _)| !FIELDS.iter().any(|known| f == known || f.starts_with("tags")))
            .map(|(_, m)| m.as_str())
    }
}

#[derive(Template)]
#[template(path = "contact_form.html")]
struct NewContactPage {
    chrome: Chrome,
    workspace_label: String,
    workspace_id: Uuid,
    form: ContactForm,
}

/// `GET /dashboard/contacts/new`.
pub async fn new_form(
    state: &WebState,
    visitor: &mut Visitor,
    session: &BrowserSession,
    query: Option<&str>,
) -> Response {
    let current = match workspace(state, visitor, session, query).await {
        Ok(Some(current)) => current,
        Ok(None) => return not_found_response(),
        Err(err) => return current::refused(&err),
    };
    if !current.can_write() {
        return forbidden_role();
    }
    let template = NewContactPage {
        chrome: chrome(visitor, session, "New contact"),
        workspace_label: current.label,
        workspace_id: current.ctx.workspace_id,
        form: ContactForm {
            status: "lead".into(),
            ..ContactForm::default()
        },
    };
    page(StatusCode::OK, &template)
}

fn forbidden_role() -> Response {
    error_page(
        StatusCode::FORBIDDEN,
        "Not allowed",
        "Your role in this organization can read its contacts but not change them.",
    )
}

/// The form's fields, its CSRF token checked, and the signed-in session; or the answer to send instead.
fn checked(visitor: &Visitor, body: &Bytes) -> Result<(HashMap<String, String>, BrowserSession), Box<Response>> {
    let fields = form(body);
    if !visitor.csrf_ok(fields.get("csrf").map(String::as_str)) {
        return Err(Box::new(forbidden_response()));
    }
    match visitor.session.clone() {
        Some(session) => Ok((fields, session)),
        None => Err(Box::new(see_other("/login?next=%2Fdashboard%2Fcontacts"))),
    }
}

/// `POST /dashboard/contacts`: `POST /api/contacts`, then the new contact's page; field errors beside the form.
pub async fn create(State(state): State<WebState>, mut visitor: Visitor, body: Bytes) -> Response {
    let (fields, session) = match checked(&visitor, &body) {
        Ok(ok) => ok,
        Err(response) => return visitor.finish(*response),
    };
    let workspace_raw = fields.get("workspace_id").cloned().unwrap_or_default();
    let Ok(workspace_id) = Uuid::parse_str(workspace_raw.trim()) else {
        return visitor.finish(not_found_response());
    };
    let mut contact = ContactForm::from_fields(&fields);
    let mut body = contact.json(false);
    body["workspace_id"] = json!(workspace_id);
    match api::call(&state, &session, Method::POST, "/api/contacts", Some(&body)).await {
        Ok(created) => {
            let id = created["id"].as_str().unwrap_or_default();
            visitor.finish(see_other(&format!("/dashboard/contacts/{id}")))
        }
        Err(refusal) => {
            if let Some(response) = refused_write(&refusal) {
                return visitor.finish(response);
            }
            let current = match workspace(
                &state,
                &visitor,
                &session,
                Some(&format!("workspace_id={workspace_id}")),
            )
            .await
            {
                Ok(Some(current)) => current,
                Ok(None) => return visitor.finish(not_found_response()),
                Err(err) => return visitor.finish(current::refused(&err)),
            };
            contact.error = Some((refusal.field.clone().unwrap_or_default(), sentence(&refusal.message)));
            let template = NewContactPage {
                chrome: chrome(&mut visitor, &session, "New contact"),
                workspace_label: current.label,
                workspace_id,
                form: contact,
            };
            let response = page(refusal.status, &template);
            visitor.finish(response)
        }
    }
}

fn sentence(message: &str) -> String {
    let mut text = message.trim().to_owned();
    if let Some(first) = text.get(0..1) {
        let upper = first.to_uppercase();
        text.replace_range(0..1, &upper);
    }
    if !text.is_empty() && !text.ends_with('.') {
        text.push('.');
    }
    text
}

// ---------------------------------------------------------------------------------------------------------------
// The contact page

struct TimelineRow {
    id: Uuid,
    /// As stored (`email_replied`), for the edit form.
    kind_value: String,
    kind: String,
    when: String,
    /// `datetime-local` value in the user's zone, for the edit form.
    when_local: String,
    summary: String,
}

struct ReasonBar {
    y: usize,
    width: i64,
    points: i32,
    detail: String,
    engagement: bool,
}

struct Upcoming {
    when: String,
    title: String,
}

#[derive(Template)]
#[template(path = "contact.html")]
struct ContactPage {
    chrome: Chrome,
    workspace_label: String,
    workspace_id: Uuid,
    id: Uuid,
    name: String,
    contact: pages::ContactDetail,
    form: ContactForm,
    can_write: bool,
    fit: i32,
    engagement: i32,
    bars: Vec<ReasonBar>,
    chart_height: usize,
    timeline: Vec<TimelineRow>,
    upcoming: Vec<Upcoming>,
    kinds: Vec<&'static str>,
    now_local: String,
    timezone: String,
    /// (field, message) of a refused interaction.
    interaction_error: Option<(String, String)>,
    notice: Option<&'static str>,
}

/// Loads the contact page; `None` when the contact is not the caller's to see.
async fn load_contact(
    state: &WebState,
    visitor: &mut Visitor,
    session: &BrowserSession,
    id: Uuid,
) -> Result<Option<ContactPage>, ApiError> {
    let user = AuthUser {
        caller: session.caller.clone(),
        user_id: session.user_id,
    };
    let mut tx = state.db().begin_as(&session.caller, Access::ReadOnly).await?;
    let ctx = match item_ctx(&mut tx, &user, Item::Contact, id, OrgRole::Viewer).await {
        Ok(ctx) => ctx,
        Err(err) if err.status() == StatusCode::NOT_FOUND => return Ok(None),
        Err(err) => return Err(err),
    };
    let Some(contact) = pages::contact_detail(&mut tx, &ctx, id).await? else {
        return Ok(None);
    };
    let timeline = pages::timeline(&mut tx, &ctx, id, TIMELINE).await?;
    let tz = kith_crm::profile::timezone(&mut tx, user.user_id).await?;
    let label = kith_crm::workspaces::reachable(&mut tx, user.user_id)
        .await?
        .into_iter()
        .find(|w| w.id == ctx.workspace_id)
        .map(|w| format!("{} — {}", w.org_name, w.name))
        .unwrap_or_default();
    let from = Utc::now();
    let to = from + Duration::days(UPCOMING_DAYS);
    let events: Vec<_> = kith_crm::calendar::window(&mut tx, &ctx, from, to)
        .await?
        .into_iter()
        .filter(|e| e.contact_ids.contains(&id))
        .collect();
    tx.commit().await?;
    let listed = kith_crm::calendar::expand(events, from, to).await?;

    let engagement: i32 = contact
        .reasons
        .iter()
        .filter(|r| r.factor.starts_with("engagement"))
        .map(|r| r.points)
        .sum();
    let fit = contact.reasons.iter().map(|r| r.points).sum::<i32>() - engagement;
    let bars = contact
        .reasons
        .iter()
        .enumerate()
        .map(|(i, r)| ReasonBar {
            y: i * 28,
            width: i64::from(r.points.clamp(0, 50)) * 6,
            points: r.points,
            detail: r.detail.clone(),
            engagement: r.factor.starts_with("engagement"),
        })
        .collect::<Vec<_>>();
    let chart_height = bars.len() * 28;
    let name = display_name(
        contact.first_name.as_deref(),
        contact.last_name.as_deref(),
        contact.email.as_deref(),
    );
    let form = ContactForm {
        first_name: contact.first_name.clone().unwrap_or_default(),
        last_name: contact.last_name.clone().unwrap_or_default(),
        email: contact.email.clone().unwrap_or_default(),
        phone: contact.phone.clone().unwrap_or_default(),
        company: contact.company.clone().unwrap_or_default(),
        job_title: contact.job_title.clone().unwrap_or_default(),
        tags: contact.tags.join(", "),
        status: contact.status.clone(),
        error: None,
    };
    Ok(Some(ContactPage {
        chrome: chrome(visitor, session, &name),
        workspace_label: label,
        workspace_id: ctx.workspace_id,
        id,
        name,
        contact,
        form,
        can_write: ctx.role >= OrgRole::Member,
        fit,
        engagement,
        bars,
        chart_height,
        timeline: timeline
            .into_iter()
            .map(|t| TimelineRow {
                id: t.id,
                kind_value: t.kind.clone(),
                when_local: t.occurred_at.with_timezone(&tz).format("%Y-%m-%dT%H:%M").to_string(),
                kind: t.kind.replace('_', " "),
                when: t
                    .occurred_at
                    .with_timezone(&tz)
                    .format("%a %-d %b %Y, %H:%M")
                    .to_string(),
                summary: t.summary.unwrap_or_default(),
            })
            .collect(),
        upcoming: listed
            .occurrences
            .iter()
            .map(|o| Upcoming {
                when: if o.event.all_day {
                    format!("{} (all day)", o.starts_at.with_timezone(&tz).format("%a %-d %b"))
                } else {
                    o.starts_at.with_timezone(&tz).format("%a %-d %b, %H:%M").to_string()
                },
                title: o.event.title.clone(),
            })
            .collect(),
        kinds: InteractionKind::ALL.iter().map(|k| k.as_str()).collect(),
        now_local: Utc::now().with_timezone(&tz).format("%Y-%m-%dT%H:%M").to_string(),
        timezone: tz.name().to_owned(),
        interaction_error: None,
        notice: None,
    }))
}

/// `GET /dashboard/contacts/{id}`.
pub async fn show(
    state: &WebState,
    visitor: &mut Visitor,
    session: &BrowserSession,
    raw_id: &str,
    query: Option<&str>,
) -> Response {
    let Ok(id) = Uuid::parse_str(raw_id) else {
        return not_found_response();
    };
    match load_contact(state, visitor, session, id).await {
        Ok(Some(mut template)) => {
            template.notice = match query_map(query).get("done").map(String::as_str) {
                Some("saved") => Some("The contact was saved."),
                Some("logged") => Some("The interaction was logged and the score updated."),
                Some("interaction") => Some("The interaction was changed and the score updated."),
                _ => None,
            };
            page(StatusCode::OK, &template)
        }
        Ok(None) => not_found_response(),
        Err(err) => current::refused(&err),
    }
}

/// `datetime-local` in `tz` → RFC 3339.
fn local_time(raw: &str, tz: Tz) -> Option<String> {
    let naive = NaiveDateTime::parse_from_str(raw.trim(), "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(raw.trim(), "%Y-%m-%dT%H:%M:%S"))
        .ok()?;
    tz.from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc).to_rfc3339())
}

/// `POST /dashboard/contacts/{id}` (edit), `/dashboard/contacts/{id}/delete`, `/dashboard/contacts/{id}/interactions`
/// (log one), `/dashboard/contacts/{id}/interactions/{interaction}` (edit) and `…/{interaction}/delete`.
pub async fn item_action(
    State(state): State<WebState>,
    mut visitor: Visitor,
    Path(rest): Path<String>,
    body: Bytes,
) -> Response {
    let (fields, session) = match checked(&visitor, &body) {
        Ok(ok) => ok,
        Err(response) => return visitor.finish(*response),
    };
    let (raw_id, action) = rest.split_once('/').unwrap_or((rest.as_str(), ""));
    let Ok(id) = Uuid::parse_str(raw_id) else {
        return visitor.finish(not_found_response());
    };
    let result = match action {
        "" => {
            let contact = ContactForm::from_fields(&fields);
            api::call(
                &state,
                &session,
                Method::PATCH,
                &format!("/api/contacts/{id}"),
                Some(&contact.json(true)),
            )
            .await
            .map(|_| format!("/dashboard/contacts/{id}?done=saved"))
        }
        "delete" => api::call(&state, &session, Method::DELETE, &format!("/api/contacts/{id}"), None)
            .await
            .map(|_| "/dashboard/contacts".to_owned()),
        "interactions" => {
            let tz = match tz_of(&state, &session).await {
                Ok(tz) => tz,
                Err(err) => return visitor.finish(current::refused(&err)),
            };
            let when = fields.get("occurred_at").map(String::as_str).unwrap_or_default();
            let mut body = json!({"kind": fields.get("kind").cloned().unwrap_or_default()});
            let summary = fields.get("summary").map(|s| s.trim()).unwrap_or_default();
            if !summary.is_empty() {
                body["summary"] = json!(summary);
            }
            if !when.trim().is_empty() {
                match local_time(when, tz) {
                    Some(at) => body["occurred_at"] = json!(at),
                    None => body["occurred_at"] = json!(when),
                }
            }
            api::call(
                &state,
                &session,
                Method::POST,
                &format!("/api/contacts/{id}/interactions"),
                Some(&body),
            )
            .await
            .map(|_| format!("/dashboard/contacts/{id}?done=logged"))
        }
        other => match other
            .strip_prefix("interactions/")
            .map(|r| r.split_once('/').unwrap_or((r, "")))
        {
            Some((raw_interaction, verb)) => {
                let Ok(interaction) = Uuid::parse_str(raw_interaction) else {
                    return visitor.finish(not_found_response());
                };
                let path = format!("/api/interactions/{interaction}");
                let done = format!("/dashboard/contacts/{id}?done=interaction");
                match verb {
                    "delete" => api::call(&state, &session, Method::DELETE, &path, None)
                        .await
                        .map(|_| done),
                    "" => {
                        let tz = match tz_of(&state, &session).await {
                            Ok(tz) => tz,
                            Err(err) => return visitor.finish(current::refused(&err)),
                        };
                        let summary = fields.get("summary").map(|s| s.trim()).unwrap_or_default();
                        let mut body = json!({
                            "kind": fields.get("kind").cloned().unwrap_or_default(),
                            "summary": if summary.is_empty() { Value::Null } else { json!(summary) },
                        });
                        let when = fields.get("occurred_at").map(String::as_str).unwrap_or_default();
                        if !when.trim().is_empty() {
                            body["occurred_at"] = json!(local_time(when, tz).unwrap_or_else(|| when.to_owned()));
                        }
                        api::call(&state, &session, Method::PATCH, &path, Some(&body))
                            .await
                            .map(|_| done)
                    }
                    _ => return visitor.finish(not_found_response()),
                }
            }
            None => return visitor.finish(not_found_response()),
        },
    };
    match result {
        Ok(location) => visitor.finish(see_other(&location)),
        Err(refusal) => {
            if let Some(response) = refused_write(&refusal) {
                return visitor.finish(response);
            }
            let response = match load_contact(&state, &mut visitor, &session, id).await {
                Ok(Some(mut template)) => {
                    let error = (refusal.field.clone().unwrap_or_default(), sentence(&refusal.message));
                    if action.starts_with("interactions") {
                        template.interaction_error = Some(error);
                    } else {
                        template.form = ContactForm::from_fields(&fields);
                        template.form.error = Some(error);
                    }
                    page(refusal.status, &template)
                }
                Ok(None) => not_found_response(),
                Err(err) => current::refused(&err),
            };
            visitor.finish(response)
        }
    }
}

async fn tz_of(state: &WebState, session: &BrowserSession) -> Result<Tz, ApiError> {
    let mut tx = state.db().begin_as(&session.caller, Access::ReadOnly).await?;
    let tz = kith_crm::profile::timezone(&mut tx, session.user_id).await?;
    tx.commit().await?;
    Ok(tz)
}

// ---------------------------------------------------------------------------------------------------------------
// Import and export

struct Mapping {
    index: usize,
    header: String,
    /// (column, label, selected)
    choices: Vec<(&'static str, &'static str, bool)>,
}

struct ReportRow {
    row: i64,
    field: String,
    message: String,
}

#[derive(Template)]
#[template(path = "import.html")]
struct ImportPage {
    chrome: Chrome,
    workspace_label: String,
    workspace_id: Uuid,
    csv: String,
    error: Option<String>,
    /// Step 2: the preview.
    preview: Vec<Vec<String>>,
    mapping: Vec<Mapping>,
    /// Step 3: the report.
    report: Option<(i64, i64)>,
    report_rows: Vec<ReportRow>,
}

/// `GET /dashboard/contacts/import`.
pub async fn import_form(
    state: &WebState,
    visitor: &mut Visitor,
    session: &BrowserSession,
    query: Option<&str>,
) -> Response {
    let current = match workspace(state, visitor, session, query).await {
        Ok(Some(current)) => current,
        Ok(None) => return not_found_response(),
        Err(err) => return current::refused(&err),
    };
    if !current.can_write() {
        return forbidden_role();
    }
    let template = ImportPage {
        chrome: chrome(visitor, session, "Import contacts"),
        workspace_label: current.label,
        workspace_id: current.ctx.workspace_id,
        csv: String::new(),
        error: None,
        preview: Vec::new(),
        mapping: Vec::new(),
        report: None,
        report_rows: Vec::new(),
    };
    page(StatusCode::OK, &template)
}

/// The column a header most likely means (`First Name`, `e-mail`, …), if any.
fn guess(header: &str) -> Option<&'static str> {
    let key: String = header
        .trim()
        .trim_start_matches('\u{feff}')
        .to_lowercase()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    Some(match key.as_str() {
        "firstname" | "first" | "givenname" | "forename" => "first_name",
        "lastname" | "last" | "surname" | "familyname" => "last_name",
        "email" | "emailaddress" | "mail" => "email",
        "phone" | "phonenumber" | "mobile" | "telephone" | "tel" => "phone",
        "company" | "organization" | "organisation" | "account" | "companyname" => "company",
        "jobtitle" | "title" | "position" | "role" => "job_title",
        "tags" | "tag" | "labels" => "tags",
        "status" | "stage" => "status",
        _ => return None,
    })
}

/// Header and rows of a CSV text (at most `limit` rows), or why it cannot be read.
fn read_csv(text: &str, limit: usize) -> Result<(Vec<String>, Vec<Vec<String>>), String> {
    let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| format!("The first line must be a header row: {e}"))?
        .iter()
        .map(str::to_owned)
        .collect();
    if header.iter().all(|h| h.trim().is_empty()) {
        return Err("The CSV needs a header row naming its columns.".into());
    }
    let mut rows = Vec::new();
    for record in reader.records().take(limit) {
        let record = record.map_err(|e| format!("The CSV cannot be read: {e}"))?;
        rows.push(record.iter().map(str::to_owned).collect());
    }
    Ok((header, rows))
}

/// The CSV rewritten with the chosen columns under their `/api` names (unmapped columns dropped).
fn remap(text: &str, mapping: &[Option<&'static str>]) -> Result<String, String> {
    let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(text.as_bytes());
    let mut writer = csv::Writer::from_writer(Vec::new());
    let header: Vec<&str> = mapping.iter().flatten().copied().collect();
    writer.write_record(&header).map_err(|e| e.to_string())?;
    for record in reader.records() {
        let record = record.map_err(|e| format!("The CSV cannot be read: {e}"))?;
        let cells: Vec<&str> = mapping
            .iter()
            .enumerate()
            .filter(|(_, m)| m.is_some())
            .map(|(i, _)| record.get(i).unwrap_or(""))
            .collect();
        writer.write_record(&cells).map_err(|e| e.to_string())?;
    }
    let bytes = writer.into_inner().map_err(|e| e.to_string())?;
    String::from_utf8(bytes).map_err(|e| e.to_string())
}

/// `POST /dashboard/contacts/import`: without a mapping, the preview and mapping; with one, the import through
/// `POST /api/contacts/import` and its per-row report.
pub async fn import(State(state): State<WebState>, mut visitor: Visitor, body: Bytes) -> Response {
    let (fields, session) = match checked(&visitor, &body) {
        Ok(ok) => ok,
        Err(response) => return visitor.finish(*response),
    };
    let raw_workspace = fields.get("workspace_id").cloned().unwrap_or_default();
    let current = match workspace(
        &state,
        &visitor,
        &session,
        Some(&format!("workspace_id={}", enc(&raw_workspace))),
    )
    .await
    {
        Ok(Some(current)) => current,
        Ok(None) => return visitor.finish(not_found_response()),
        Err(err) => return visitor.finish(current::refused(&err)),
    };
    if !current.can_write() {
        return visitor.finish(forbidden_role());
    }
    let csv_text = fields.get("csv").cloned().unwrap_or_default();
    let mut template = ImportPage {
        chrome: chrome(&mut visitor, &session, "Import contacts"),
        workspace_label: current.label.clone(),
        workspace_id: current.ctx.workspace_id,
        csv: csv_text.clone(),
        error: None,
        preview: Vec::new(),
        mapping: Vec::new(),
        report: None,
        report_rows: Vec::new(),
    };
    if csv_text.len() > MAX_IMPORT_BYTES {
        template.csv.clear();
        template.error = Some(format!(
            "Paste at most {} MB here; send larger files to POST /api/contacts/import.",
            MAX_IMPORT_BYTES / 1024 / 1024
        ));
        return visitor.finish(page(StatusCode::UNPROCESSABLE_ENTITY, &template));
    }
    let (header, rows) = match read_csv(&csv_text, PREVIEW_ROWS) {
        Ok(read) => read,
        Err(message) => {
            template.error = Some(message);
            return visitor.finish(page(StatusCode::UNPROCESSABLE_ENTITY, &template));
        }
    };
    let chosen: Vec<Option<&'static str>> = (0..header.len())
        .map(|i| match fields.get(&format!("map_{i}")).map(String::as_str) {
            Some(name) => COLUMNS.iter().find(|(c, _)| *c == name).map(|(c, _)| *c),
            None => guess(&header[i]),
        })
        .collect();
    if fields.get("step").map(String::as_str) != Some("import") {
        template.preview = rows;
        template.mapping = header
            .iter()
            .enumerate()
            .map(|(index, h)| Mapping {
                index,
                header: h.clone(),
                choices: COLUMNS
                    .iter()
                    .map(|(c, l)| (*c, *l, chosen[index] == Some(*c)))
                    .collect(),
            })
            .collect();
        return visitor.finish(page(StatusCode::OK, &template));
    }
    let mapped: Vec<&str> = chosen.iter().flatten().copied().collect();
    let duplicate = mapped.iter().enumerate().find(|(i, c)| mapped[..*i].contains(c));
    let problem = if mapped.is_empty() {
        Some("Map at least one column to a contact field.".to_owned())
    } else {
        duplicate.map(|(_, c)| format!("Two columns are mapped to {c}; map each field once."))
    };
    let csv_body = match problem.map_or_else(|| remap(&csv_text, &chosen), Err) {
        Ok(body) => body,
        Err(message) => {
            template.error = Some(message);
            return visitor.finish(page(StatusCode::UNPROCESSABLE_ENTITY, &template));
        }
    };
    let path = format!("/api/contacts/import?workspace_id={}", current.ctx.workspace_id);
    match api::call_raw(
        &state,
        &session,
        Method::POST,
        &path,
        Some(("text/csv", csv_body.into_bytes())),
    )
    .await
    {
        Ok((_, bytes)) => {
            let report: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            template.csv.clear();
            template.report = Some((
                report["created"].as_i64().unwrap_or(0),
                report["duplicates"].as_i64().unwrap_or(0),
            ));
            template.report_rows = report["errors"]
                .as_array()
                .map(|errors| {
                    errors
                        .iter()
                        .map(|e| ReportRow {
                            row: e["row"].as_i64().unwrap_or(0),
                            field: e["field"].as_str().unwrap_or_default().replace('_', " "),
                            message: e["message"].as_str().unwrap_or_default().to_owned(),
                        })
                        .collect()
                })
                .unwrap_or_default();
            visitor.finish(page(StatusCode::OK, &template))
        }
        Err(refusal) => {
            if let Some(response) = refused_write(&refusal) {
                return visitor.finish(response);
            }
            template.error = Some(sentence(&refusal.message));
            visitor.finish(page(refusal.status, &template))
        }
    }
}

/// `GET /dashboard/contacts/export.csv[?workspace_id=&<the list's filter>]`: `GET /api/contacts/export.csv` with the
/// same filter and order, as a download.
pub async fn export(state: &WebState, visitor: &Visitor, session: &BrowserSession, query: Option<&str>) -> Response {
    let current = match workspace(state, visitor, session, query).await {
        Ok(Some(current)) => current,
        Ok(None) => return not_found_response(),
        Err(err) => return current::refused(&err),
    };
    let filter = Filter::from_params(&query_map(query));
    let today = Utc::now().with_timezone(&current.tz).date_naive();
    let path = format!(
        "/api/contacts/export.csv?workspace_id={}{}",
        current.ctx.workspace_id,
        filter.api_query(today)
    );
    match api::download(state, session, &path, "text/csv; charset=utf-8", "contacts.csv").await {
        Ok(file) => file,
        Err(refusal) => refused_write(&refusal).unwrap_or_else(internal_error_response),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_guessed_and_columns_remapped() {
        assert_eq!(guess("First Name"), Some("first_name"));
        assert_eq!(guess("\u{feff}E-mail"), Some("email"));
        assert_eq!(guess("Favourite colour"), None);
        let csv = "Name,E-mail,Colour\nAda,ada@x.io,red\n";
        let out = remap(csv, &[Some("first_name"), Some("email"), None]).unwrap_or_default();
        assert_eq!(out, "first_name,email\nAda,ada@x.io\n");
        assert!(read_csv("a,b\n1\n", 5).is_err(), "ragged rows");
        let (header, rows) = read_csv("a,b\n1,2\n3,4\n5,6\n", 2).unwrap_or_default();
        assert_eq!((header.len(), rows.len()), (2, 2));
    }

    #[test]
    fn local_times_are_read_in_the_users_zone() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap_or(chrono_tz::UTC);
        assert_eq!(
            local_time("2026-07-01T09:30", berlin).as_deref(),
            Some("2026-07-01T07:30:00+00:00")
        );
        assert_eq!(local_time("yesterday", berlin), None);
    }
}
