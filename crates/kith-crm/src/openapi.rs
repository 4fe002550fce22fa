//! `GET /api/openapi.json`: an OpenAPI 3.1 document generated from [`crate::route_specs`], so it lists every
//! `/api` route by construction. Request, query and response schemas come from the Rust types the handlers parse
//! and answer with (utoipa's `ToSchema`/`IntoParams` derives); error answers are listed per status with the codes
//! a route can answer, and links let a stateful client chain organization → workspace → contact/event.

use crate::{RouteSpec, Scope, contacts, intelligence, route_specs};
use axum::Json;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use utoipa::openapi::RefOr;
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::openapi::schema::Schema;
use uuid::Uuid;

/// A named schema.
pub type Named = (String, RefOr<Schema>);

/// A type's schema: its name, its own schema and the named schemas it refers to.
pub type SchemaFn = fn() -> (String, RefOr<Schema>, Vec<Named>);

/// A query type's parameters.
pub type ParamsFn = fn() -> Vec<Parameter>;

/// The request body a route reads.
#[derive(Debug, Clone, Copy)]
pub enum Body {
    /// None.
    None,
    /// JSON of a type (`ApiJson<T>`), with fields this route requires although the type has them optional
    /// (a type shared by create and update).
    Json(SchemaFn, &'static [&'static str]),
    /// A CSV file.
    Csv,
}

/// A route's success answer.
#[derive(Debug, Clone, Copy)]
pub enum Reply {
    /// 204 without a body.
    NoContent,
    /// This status with a JSON value of a type.
    Json(u16, SchemaFn),
    /// 200 with a JSON list of a type.
    JsonList(SchemaFn),
    /// 200 with a text body of this media type.
    Text(&'static str),
}

/// [`SchemaFn`] of `T`.
pub fn schema_of<T: utoipa::ToSchema>() -> (String, RefOr<Schema>, Vec<Named>) {
    let mut refs = Vec::new();
    T::schemas(&mut refs);
    (T::name().into_owned(), T::schema(), refs)
}

/// [`ParamsFn`] of `Q`.
pub fn params_of<Q: utoipa::IntoParams>() -> Vec<Parameter> {
    Q::into_params(|| Some(ParameterIn::Query))
}

// Answers the handlers build as JSON values; described here and held to the live server by the schemathesis step.

/// An OpenAPI 3.1 document.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct Document {
    openapi: String,
    #[schema(value_type = Object)]
    info: Value,
    #[schema(value_type = Object)]
    paths: Value,
}

/// An invitation (its token is never shown again after it is created).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct Invitation {
    id: Uuid,
    org_id: Uuid,
    email: String,
    role: crate::context::OrgRole,
    expires_at: DateTime<Utc>,
    accepted_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

/// A new invitation with its token, shown this once.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct NewInvitationReply {
    id: Uuid,
    org_id: Uuid,
    email: String,
    role: crate::context::OrgRole,
    expires_at: DateTime<Utc>,
    accepted_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    /// Pass it to `POST /api/invitations/accept`.
    token: String,
}

/// One audit log entry.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct AuditEntry {
    id: i64,
    org_id: Uuid,
    workspace_id: Option<Uuid>,
    actor_id: Option<Uuid>,
    table_name: String,
    row_id: Option<Uuid>,
    action: String,
    changed_fields: Vec<String>,
    at: DateTime<Utc>,
}

/// A page of the audit log.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct AuditPage {
    entries: Vec<AuditEntry>,
    /// `before` for the next page; `null` on the last.
    next_before: Option<i64>,
}

/// A page of contacts.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ContactPage {
    contacts: Vec<contacts::Contact>,
    /// `cursor` for the next page; `null` on the last.
    next_cursor: Option<String>,
}

/// What an import did.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ImportReport {
    created: i64,
    duplicates: i64,
    errors: Vec<crate::contacts::RowError>,
}

/// Hot leads with explained scores.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct HotLeads {
    workspace_id: Uuid,
    generated_at: DateTime<Utc>,
    hot_leads: Vec<intelligence::Lead>,
}

/// What a re-score did: counts, not every contact.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct Rescore {
    workspace_id: Uuid,
    generated_at: DateTime<Utc>,
    /// Contacts scored.
    rescored: u64,
    /// How many of them are in each tier.
    tiers: TierCounts,
    duration_ms: u64,
}

/// Contacts per tier.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct TierCounts {
    hot: u64,
    warm: u64,
    cold: u64,
}

/// An event, or one occurrence of a recurring event in a listing.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct EventReply {
    id: Uuid,
    workspace_id: Uuid,
    title: String,
    description: Option<String>,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    all_day: bool,
    timezone: String,
    location: Option<String>,
    attendees: Vec<crate::calendar::Attendee>,
    contact_ids: Vec<Uuid>,
    rrule: Option<String>,
    /// In a listing, the start of this occurrence of a recurring event; otherwise `null`.
    occurrence_start: Option<DateTime<Utc>>,
    /// For a changed occurrence of a series (`PATCH …?occurrence=`): the series; otherwise `null`.
    series_id: Option<Uuid>,
    /// For a changed occurrence: the start of the occurrence it replaces; otherwise `null`.
    recurrence_id: Option<DateTime<Utc>>,
}

/// Every error status `spec` can answer, with the `error.code`s it answers them with.
pub fn errors(spec: &RouteSpec) -> BTreeMap<u16, Vec<&'static str>> {
    let mut errors = BTreeMap::new();
    if spec.scope == Scope::Public {
        return errors;
    }
    errors.insert(401, vec!["missing_token", "invalid_token", "token_expired"]);
    if matches!(spec.scope, Scope::Org | Scope::Workspace | Scope::Item) {
        errors.insert(
            403,
            vec![
                "no_organization",
                "workspace_forbidden",
                "insufficient_role",
                "mfa_required",
            ],
        );
    }
    // Not visible to the caller (never "someone else's"); a user's own profile or invitation may be missing too.
    errors.insert(404, vec!["not_found"]);
    match spec.body {
        Body::Json(..) => {
            errors.insert(400, vec!["invalid_request"]);
            errors.insert(413, vec!["payload_too_large"]);
            errors.insert(415, vec!["unsupported_media_type"]);
        }
        Body::Csv => {
            errors.insert(413, vec!["payload_too_large"]);
            errors.insert(415, vec!["unsupported_media_type"]);
        }
        Body::None => {}
    }
    if spec.method != "GET" {
        errors.insert(409, vec!["conflict"]);
    }
    if spec.path.contains('{') || spec.query.is_some() || !matches!(spec.body, Body::None) {
        errors.insert(422, vec!["validation_failed"]);
    }
    errors.insert(503, vec!["unavailable", "timeout"]);
    errors
}

fn error_response(status: u16, codes: &[&str]) -> Value {
    let mut response = json!({
        "description": format!("Error: {}", codes.join(", ")),
        "content": {"application/json": {"schema": {
            "type": "object",
            "required": ["error"],
            "additionalProperties": false,
            "properties": {"error": {
                "type": "object",
                "required": ["code", "message"],
                "additionalProperties": false,
                "properties": {
                    "code": {"type": "string", "enum": codes},
                    "message": {"type": "string"},
                    "field": {"type": "string", "description": "The offending field, on 422"}
                }
            }}
        }}},
    });
    match status {
        401 => {
            response["headers"] = json!({"WWW-Authenticate": {
                "required": true, "description": "RFC 6750 challenge", "schema": {"type": "string"}
            }});
        }
        503 => {
            response["headers"] = json!({"Retry-After": {
                "required": true, "description": "Seconds to wait", "schema": {"type": "string"}
            }});
        }
        _ => {}
    }
    response
}

fn operation_id(method: &str, path: &str) -> String {
    format!(
        "{}_{}",
        method.to_ascii_lowercase(),
        path.trim_start_matches("/api/")
            .replace(['/', '.', '-'], "_")
            .replace(['{', '}'], "")
    )
}

/// Links from a created item to what it lets a client do next: `(name, operation, parameters, request body)`.
type Link = (&'static str, (&'static str, &'static str), Value, Option<Value>);

fn links(method: &str, path: &str) -> Vec<Link> {
    let org = || json!({"org_id": "$response.body#/id"});
    let id = || json!({"id": "$response.body#/id"});
    let ws = || json!({"workspace_id": "$response.body#/id"});
    let item = || json!({"id": "$response.body#/id", "workspace_id": "$response.body#/workspace_id"});
    match (method, path) {
        ("POST", "/api/organizations") => vec![
            (
                "RenameOrganization",
                ("PATCH", "/api/organizations/{org_id}"),
                org(),
                None,
            ),
            ("Members", ("GET", "/api/organizations/{org_id}/members"), org(), None),
            (
                "Invitations",
                ("GET", "/api/organizations/{org_id}/invitations"),
                org(),
                None,
            ),
            (
                "Invite",
                ("POST", "/api/organizations/{org_id}/invitations"),
                org(),
                None,
            ),
            ("Workspaces", ("GET", "/api/workspaces"), org(), None),
            ("Audit", ("GET", "/api/audit"), org(), None),
            (
                "CreateWorkspace",
                ("POST", "/api/workspaces"),
                json!({}),
                Some(json!({"org_id": "$response.body#/id", "name": "Linked"})),
            ),
            (
                "DeleteOrganization",
                ("DELETE", "/api/organizations/{org_id}"),
                org(),
                None,
            ),
        ],
        ("POST", "/api/workspaces") => vec![
            ("RenameWorkspace", ("PATCH", "/api/workspaces/{id}"), id(), None),
            ("Contacts", ("GET", "/api/contacts"), ws(), None),
            ("ExportContacts", ("GET", "/api/contacts/export.csv"), ws(), None),
            ("HotLeads", ("GET", "/api/agents/contact-intelligence"), ws(), None),
            ("Events", ("GET", "/api/calendar/events"), ws(), None),
            ("EventsCalendar", ("GET", "/api/calendar/events.ics"), ws(), None),
            (
                "CreateContact",
                ("POST", "/api/contacts"),
                json!({}),
                Some(json!({"workspace_id": "$response.body#/id", "first_name": "Linked"})),
            ),
            (
                "CreateEvent",
                ("POST", "/api/calendar/events"),
                json!({}),
                Some(json!({
                    "workspace_id": "$response.body#/id",
                    "title": "Linked",
                    "starts_at": "2026-01-05T09:00:00Z"
                })),
            ),
            (
                "Rescore",
                ("POST", "/api/agents/contact-intelligence"),
                json!({}),
                Some(json!({"workspace_id": "$response.body#/id"})),
            ),
            ("DeleteWorkspace", ("DELETE", "/api/workspaces/{id}"), id(), None),
        ],
        ("POST", "/api/contacts") => vec![
            ("Contact", ("GET", "/api/contacts/{id}"), item(), None),
            (
                "UpdateContact",
                ("PATCH", "/api/contacts/{id}"),
                id(),
                Some(json!({"workspace_id": "$response.body#/workspace_id", "company": "Linked"})),
            ),
            ("Interactions", ("GET", "/api/contacts/{id}/interactions"), item(), None),
            (
                "RecordInteraction",
                ("POST", "/api/contacts/{id}/interactions"),
                id(),
                Some(json!({"workspace_id": "$response.body#/workspace_id", "kind": "call"})),
            ),
            ("DeleteContact", ("DELETE", "/api/contacts/{id}"), item(), None),
        ],
        ("POST", "/api/organizations/{org_id}/invitations") => vec![
            (
                "RevokeInvitation",
                ("DELETE", "/api/organizations/{org_id}/invitations/{id}"),
                json!({"org_id": "$request.path.org_id", "id": "$response.body#/id"}),
                None,
            ),
            (
                "AcceptInvitation",
                ("POST", "/api/invitations/accept"),
                json!({}),
                Some(json!({"token": "$response.body#/token"})),
            ),
        ],
        ("POST", "/api/calendar/events") => vec![
            (
                "UpdateEvent",
                ("PATCH", "/api/calendar/events/{id}"),
                id(),
                Some(json!({"workspace_id": "$response.body#/workspace_id", "location": "Linked"})),
            ),
            ("DeleteEvent", ("DELETE", "/api/calendar/events/{id}"), item(), None),
        ],
        _ => vec![],
    }
}

/// Whitespace as Rust's `str::trim` sees it (Unicode White_Space), which is not quite regex `\s`.
const WHITESPACE: &str = r"[\t\n\x0b\x0c\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]";
/// A character that is neither whitespace nor a control character.
const VISIBLE: &str = r"[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]";
/// Text fields whose values may span lines (tabs and line breaks allowed inside).
const MULTILINE_FIELDS: [&str; 2] = ["summary", "description"];

/// The pattern of a text field `input::text` checks: trimmed first, then at most `max` characters and no control
/// characters (but tabs and line breaks in multi-line fields); empty after trimming means absent, so a `required`
/// one needs a visible character. JSON Schema's `maxLength` counts the untrimmed value, so the limit moves here.
fn trimmed_text_pattern(max: u64, required: bool, multiline: bool) -> String {
    let inner = if multiline {
        r"[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]"
    } else {
        r"[^\x00-\x1f\x7f-\x9f]"
    };
    let rest = max.saturating_sub(1);
    let core = format!("{VISIBLE}{inner}{{0,{rest}}}");
    if required {
        format!("^{WHITESPACE}*{core}{WHITESPACE}*$")
    } else {
        format!("^{WHITESPACE}*(?:{core})?{WHITESPACE}*$")
    }
}

/// Rewrites each text property with a `maxLength` (and no pattern of its own) as the trimmed-text rule the
/// handlers apply to it (see [`trimmed_text_pattern`]).
fn trimmed_text(name: &str, schema: &mut Value) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    if object.contains_key("pattern") {
        return;
    }
    let Some(max) = object.get("maxLength").and_then(Value::as_u64) else {
        return;
    };
    let required = object.get("minLength").and_then(Value::as_u64).unwrap_or(0) > 0;
    object.remove("maxLength");
    object.remove("minLength");
    let pattern = trimmed_text_pattern(max, required, MULTILINE_FIELDS.contains(&name));
    object.insert("pattern".into(), json!(pattern));
}

fn json_content(schema: &Value) -> Value {
    json!({"application/json": {"schema": schema}})
}

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

/// A schema with [`trimmed_text`] applied to its properties.
fn text_rules(mut schema: Value) -> Value {
    // `get_mut`, not indexing: `IndexMut` would add `"properties": null` to schemas that have none.
    if let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) {
        for (name, property) in properties {
            trimmed_text(name, property);
        }
    }
    schema
}

/// Registers a type's schemas and answers a reference to it.
fn register(schemas: &mut Map<String, Value>, of: SchemaFn) -> Value {
    let (name, schema, refs) = of();
    for (ref_name, ref_schema) in refs {
        schemas.insert(ref_name, text_rules(json!(ref_schema)));
    }
    schemas.insert(name.clone(), text_rules(json!(schema)));
    schema_ref(&name)
}

fn path_parameters(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}}))
        .collect()
}

fn tag(path: &str) -> &str {
    path.trim_start_matches("/api/").split('/').next().unwrap_or("api")
}

fn operation(spec: &RouteSpec, schemas: &mut Map<String, Value>) -> Value {
    let mut parameters = path_parameters(spec.path);
    if let Some(query) = spec.query {
        for param in query() {
            let mut param = json!(param);
            let name = param["name"].as_str().unwrap_or_default().to_owned();
            if let Some(schema) = param.get_mut("schema") {
                trimmed_text(&name, schema);
            }
            parameters.push(param);
        }
    }
    let mut responses = Map::new();
    let (status, mut success) = match spec.reply {
        Reply::NoContent => (204, json!({"description": "Done"})),
        Reply::Json(status, of) => (
            status,
            json!({"description": "Success", "content": json_content(&register(schemas, of))}),
        ),
        Reply::JsonList(of) => (
            200,
            json!({"description": "Success", "content": json_content(&json!({"type": "array", "items": register(schemas, of)}))}),
        ),
        Reply::Text(media) => (
            200,
            json!({"description": "Success", "content": {media: {"schema": {"type": "string"}}}}),
        ),
    };
    if (spec.method, spec.path) == ("GET", "/api/calendar/events") {
        success["headers"] = json!({crate::calendar::TRUNCATED_HEADER: {
            "description": "`true` when the listing was cut off (too many occurrences, or expansion took too long)",
            "required": false,
            "schema": {"type": "string", "enum": ["true"]}
        }});
    }
    let mut links_out = Map::new();
    for (name, (method, path), parameters, body) in links(spec.method, spec.path) {
        let mut link = json!({"operationId": operation_id(method, path), "parameters": parameters});
        if let Some(body) = body {
            link["requestBody"] = body;
        }
        links_out.insert(name.into(), link);
    }
    if !links_out.is_empty() {
        success["links"] = Value::Object(links_out);
    }
    responses.insert(status.to_string(), success);
    for (status, codes) in errors(spec) {
        responses.insert(status.to_string(), error_response(status, &codes));
    }
    let mut operation = json!({
        "summary": spec.summary,
        "operationId": operation_id(spec.method, spec.path),
        "tags": [tag(spec.path)],
        "parameters": parameters,
        "responses": responses,
    });
    if spec.scope == Scope::Public {
        operation["security"] = json!([]);
    }
    if let Some(role) = spec.min_role {
        operation["x-kith-min-role"] = json!(role.as_str());
    }
    match spec.body {
        Body::Json(of, required) => {
            let mut schema = register(schemas, of);
            if !required.is_empty() {
                let present: Map<String, Value> = required
                    .iter()
                    .map(|field| ((*field).to_owned(), json!({"not": {"type": "null"}})))
                    .collect();
                schema = json!({"allOf": [schema, {"required": required, "properties": present}]});
            }
            operation["requestBody"] = json!({"required": true, "content": json_content(&schema)});
        }
        Body::Csv => {
            operation["requestBody"] = json!({"required": true, "content": {"text/csv": {"schema": {
                "type": "string",
                "description": "A header row naming columns of first_name, last_name, email, phone, company, job_title, tags, status; then one contact per row"
            }}}});
        }
        Body::None => {}
    }
    operation
}

/// The document.
pub fn build() -> Value {
    let mut paths = Map::new();
    let mut schemas = Map::new();
    for spec in route_specs() {
        let op = operation(&spec, &mut schemas);
        let entry = paths.entry(spec.path.to_owned()).or_insert_with(|| json!({}));
        entry[spec.method.to_ascii_lowercase()] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Kith CRM API", "version": env!("CARGO_PKG_VERSION")},
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
            "schemas": schemas,
        },
    })
}

/// `GET /api/openapi.json`.
pub async fn document() -> Json<Value> {
    Json(build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_documented() {
        let doc = build();
        for spec in route_specs() {
            let op = &doc["paths"][spec.path][spec.method.to_ascii_lowercase()];
            assert!(op.is_object(), "{} {} missing", spec.method, spec.path);
        }
    }

    /// Every route documents its request (body and query, from the handler's types), its success answer with a
    /// schema, and each error status it can answer with the codes it answers them with.
    #[test]
    fn every_route_has_schemas_and_error_statuses() {
        let doc = build();
        let schemas = &doc["components"]["schemas"];
        let resolve = |schema: &Value| -> Value {
            match schema["$ref"].as_str() {
                Some(r) => schemas[r.trim_start_matches("#/components/schemas/")].clone(),
                None => schema.clone(),
            }
        };
        for spec in route_specs() {
            let label = format!("{} {}", spec.method, spec.path);
            let op = &doc["paths"][spec.path][spec.method.to_ascii_lowercase()];
            let Some(responses) = op["responses"].as_object() else {
                panic!("{label}: no responses")
            };
            // The success answer: a schema for every body, none for 204.
            let Some((status, success)) = responses.iter().find(|(s, _)| s.starts_with('2')) else {
                panic!("{label}: no 2xx")
            };
            match spec.reply {
                Reply::NoContent => assert_eq!(status, "204", "{label}"),
                _ => {
                    let Some(content) = success["content"].as_object() else {
                        panic!("{label}: no content")
                    };
                    for (media, body) in content {
                        assert!(body["schema"].is_object(), "{label} {media}: no schema");
                    }
                }
            }
            // Request bodies: JSON ones are objects that refuse unknown fields, as `deny_unknown_fields` does.
            match spec.body {
                Body::Json(..) => {
                    let schema = &op["requestBody"]["content"]["application/json"]["schema"];
                    let schema = schema["allOf"].get(0).map_or_else(|| resolve(schema), &resolve);
                    assert_eq!(schema["type"], "object", "{label}");
                    assert_eq!(schema["additionalProperties"], false, "{label}");
                    assert!(schema["properties"].is_object(), "{label}");
                }
                Body::Csv => assert!(
                    op["requestBody"]["content"]["text/csv"]["schema"].is_object(),
                    "{label}"
                ),
                Body::None => assert!(op["requestBody"].is_null(), "{label}"),
            }
            // Query parameters come from the type the handler parses them into.
            if let Some(query) = spec.query {
                for param in query() {
                    let name = json!(param)["name"].clone();
                    let listed = op["parameters"]
                        .as_array()
                        .is_some_and(|ps| ps.iter().any(|p| p["name"] == name && p["in"] == "query"));
                    assert!(listed, "{label}: query parameter {name} missing");
                }
            }
            // Each error status, with its codes in the error body's schema.
            let expected = errors(&spec);
            if spec.scope != Scope::Public {
                for status in [401, 404, 503] {
                    assert!(expected.contains_key(&status), "{label}: {status}");
                }
            }
            if matches!(spec.body, Body::Json(..)) {
                for status in [400, 413, 415, 422] {
                    assert!(expected.contains_key(&status), "{label}: {status}");
                }
            }
            for (status, codes) in expected {
                let schema = &responses[&status.to_string()]["content"]["application/json"]["schema"];
                let documented = &schema["properties"]["error"]["properties"]["code"]["enum"];
                assert_eq!(documented, &json!(codes), "{label} {status}");
            }
        }
        // Every schema is an object with no null members (indexing a Value mutably would add them).
        for (name, schema) in schemas.as_object().into_iter().flatten() {
            assert!(schema.is_object(), "{name}");
            assert!(!schema.to_string().contains(":null"), "{name}: {schema}");
        }
        // This week's additions are described.
        let params = &doc["paths"]["/api/agents/contact-intelligence"]["get"]["parameters"];
        assert!(
            params
                .as_array()
                .is_some_and(|ps| ps.iter().any(|p| p["name"] == "tier"))
        );
        let listing = &doc["paths"]["/api/calendar/events"]["get"]["responses"]["200"];
        assert!(listing["headers"]["x-kith-truncated"].is_object());
    }

    /// The trimmed-text pattern accepts what `input::text` accepts and refuses what it refuses.
    #[test]
    fn trimmed_text_patterns_match_the_input_rules() {
        // The pattern is ECMA-262; this subset reads the same in the `regex` crate's syntax, except `\x0b`-style
        // escapes and `\u` escapes, which it spells `\x{..}`.
        let to_rust = |p: String| {
            let mut out = String::new();
            let mut chars = p.chars().peekable();
            while let Some(c) = chars.next() {
                if c == '\\' && chars.peek() == Some(&'u') {
                    chars.next();
                    let hex: String = (0..4).filter_map(|_| chars.next()).collect();
                    out.push_str(&format!("\\x{{{hex}}}"));
                } else {
                    out.push(c);
                }
            }
            out
        };
        let ok = |pattern: &str, value: &str| regex::Regex::new(pattern).is_ok_and(|re| re.is_match(value));
        let required = to_rust(trimmed_text_pattern(5, true, false));
        let optional = to_rust(trimmed_text_pattern(5, false, false));
        let multiline = to_rust(trimmed_text_pattern(5, false, true));
        for (pattern, value, expected) in [
            (&required, "abcde", true),
            (&required, "  abcde \t\n", true),
            (&required, "ab de", true),
            (&required, "abcdef", false),
            (&required, "   ", false),
            (&required, "", false),
            (&required, "a\tb", false),
            (&required, "a\u{7}", false),
            (&required, "\u{1c}abc", false),
            (&optional, "", true),
            (&optional, " \u{3000} ", true),
            (&optional, " abcdef ", false),
            (&multiline, "a\nb\tc", true),
            (&multiline, "a\u{b}b", false),
        ] {
            assert_eq!(ok(pattern, value), expected, "{pattern} {value:?}");
        }
    }

    /// `deny_unknown_fields` and serde's defaults reach the schemas: required lists, `additionalProperties: false`,
    /// and PATCH fields that tell an absent field from `null` stay optional and nullable.
    #[test]
    fn serde_attributes_reach_the_schemas() {
        let doc = build();
        let schemas = &doc["components"]["schemas"];
        assert_eq!(schemas["NewWorkspace"]["required"], json!(["org_id", "name"]));
        assert_eq!(schemas["NewWorkspace"]["additionalProperties"], false);
        assert_eq!(schemas["NewContact"]["required"], json!(["workspace_id"]));
        assert!(
            schemas["ContactPatch"]["required"].is_null(),
            "{}",
            schemas["ContactPatch"]
        );
        let first_name = &schemas["ContactPatch"]["properties"]["first_name"];
        assert!(first_name.to_string().contains("null"), "{first_name}");
        let event =
            &doc["paths"]["/api/calendar/events"]["post"]["requestBody"]["content"]["application/json"]["schema"];
        assert_eq!(
            event["allOf"][1]["required"],
            json!(["workspace_id", "title", "starts_at"])
        );
        let export = &doc["paths"]["/api/contacts/export.csv"]["get"]["parameters"][0];
        assert_eq!(export["name"], "workspace_id");
        assert_eq!(export["required"], true, "{export}");
    }
}
