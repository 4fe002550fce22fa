//! Bad input on every write route of the route table: malformed JSON, wrong types, oversize fields, unknown enum
//! values, invalid uuids, time ranges ending before they start. Each answer is a precise 4xx JSON error, and the
//! database is unchanged afterwards.

#![allow(clippy::unwrap_used)]

use crate::helpers::TestApp;
use crate::support::{contact, event, org, snapshot};
use reqwest::Method;
use serde_json::{Value, json};

struct Case {
    path: String,
    body: Raw,
    status: u16,
    code: &'static str,
    field: Option<&'static str>,
}

enum Raw {
    None,
    Json(Value),
    Text(&'static str, &'static str),
}

fn case(path: impl Into<String>, body: Value, field: &'static str) -> Case {
    Case {
        path: path.into(),
        body: Raw::Json(body),
        status: 422,
        code: "validation_failed",
        field: Some(field),
    }
}

#[tokio::test]
async fn bad_input_on_every_write_route_is_a_precise_4xx_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let a = org(&app, "Acme").await;
    let (o, w) = (a.id, a.workspace_id);
    let c = contact(&app, &a, json!({"first_name": "Ada"})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let e = event(&app, &a, json!({"title": "E", "starts_at": "2026-03-02T09:00:00Z"})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let i = crate::support::call(
        &app,
        "POST",
        &format!("/api/contacts/{c}/interactions"),
        &a.owner.token,
        Some(&json!({"kind": "call"})),
        201,
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let u = a.owner.id;
    let long = "x".repeat(301);
    let very_long = "x".repeat(5001);

    let cases_for = |method: &str, path: &str| -> Vec<Case> {
        match (method, path) {
            ("PATCH", "/api/profile") => vec![case("/api/profile", json!({"timezone": "Mars/Olympus"}), "timezone")],
            ("POST", "/api/organizations") => vec![
                case("/api/organizations", json!({"name": 5}), "name"),
                case("/api/organizations", json!({"name": ""}), "name"),
                case("/api/organizations", json!({"name": long}), "name"),
                case("/api/organizations", json!({"name": "A", "slug": "Not A Slug"}), "slug"),
            ],
            ("PATCH", "/api/organizations/{org_id}") => vec![
                case(format!("/api/organizations/{o}"), json!({"name": ""}), "name"),
                case(format!("/api/organizations/{o}"), json!({"name": ["x"]}), "name"),
                case("/api/organizations/x-y", json!({"name": "x"}), "org_id"),
            ],
            ("DELETE", "/api/organizations/{org_id}") => vec![Case {
                path: "/api/organizations/1234".into(),
                body: Raw::None,
                status: 422,
                code: "validation_failed",
                field: Some("org_id"),
            }],
            ("PATCH", "/api/workspaces/{id}") => vec![
                case(format!("/api/workspaces/{w}"), json!({"name": long}), "name"),
                case("/api/workspaces/nope", json!({"name": "x"}), "id"),
            ],
            ("DELETE", "/api/workspaces/{id}") => vec![Case {
                path: "/api/workspaces/nope".into(),
                body: Raw::None,
                status: 422,
                code: "validation_failed",
                field: Some("id"),
            }],
            ("PATCH", "/api/organizations/{org_id}/members/{user_id}") => vec![
                case(
                    format!("/api/organizations/{o}/members/{u}"),
                    json!({"role": "superuser"}),
                    "role",
                ),
                case(
                    format!("/api/organizations/{o}/members/not-a-uuid"),
                    json!({"role": "viewer"}),
                    "id",
                ),
                case(
                    format!("/api/organizations/nope/members/{u}"),
                    json!({"role": "viewer"}),
                    "org_id",
                ),
            ],
            ("DELETE", "/api/organizations/{org_id}/members/{user_id}") => vec![Case {
                path: format!("/api/organizations/{o}/members/123"),
                body: Raw::None,
                status: 422,
                code: "validation_failed",
                field: Some("id"),
            }],
            ("POST", "/api/organizations/{org_id}/invitations") => vec![
                case(
                    format!("/api/organizations/{o}/invitations"),
                    json!({"email": "not-an-email"}),
                    "email",
                ),
                case(
                    format!("/api/organizations/{o}/invitations"),
                    json!({"email": "a@b.io", "role": "god"}),
                    "role",
                ),
                case(format!("/api/organizations/{o}/invitations"), json!({}), "email"),
            ],
            ("DELETE", "/api/organizations/{org_id}/invitations/{id}") => vec![Case {
                path: format!("/api/organizations/{o}/invitations/zzz"),
                body: Raw::None,
                status: 422,
                code: "validation_failed",
                field: Some("id"),
            }],
            ("POST", "/api/invitations/accept") => vec![
                case("/api/invitations/accept", json!({"token": 5}), "token"),
                case("/api/invitations/accept", json!({"token": ""}), "token"),
            ],
            ("POST", "/api/workspaces") => vec![
                case("/api/workspaces", json!({"org_id": "nope", "name": "x"}), "org_id"),
                case("/api/workspaces", json!({"org_id": o, "name": long}), "name"),
            ],
            ("POST", "/api/contacts") => vec![
                case(
                    "/api/contacts",
                    json!({"workspace_id": "nope", "first_name": "A"}),
                    "workspace_id",
                ),
                case("/api/contacts", json!({"workspace_id": w, "email": "bad"}), "email"),
                case(
                    "/api/contacts",
                    json!({"workspace_id": w, "first_name": long}),
                    "first_name",
                ),
                case(
                    "/api/contacts",
                    json!({"workspace_id": w, "first_name": "A", "tags": "vip"}),
                    "tags",
                ),
                case(
                    "/api/contacts",
                    json!({"workspace_id": w, "first_name": "A", "status": "vip"}),
                    "status",
                ),
                case("/api/contacts", json!({"workspace_id": w}), "first_name"),
                case(
                    "/api/contacts",
                    json!({"workspace_id": w, "first_name": "A", "phone": "call me"}),
                    "phone",
                ),
            ],
            ("POST", "/api/contacts/import") => vec![
                Case {
                    path: format!("/api/contacts/import?workspace_id={w}"),
                    body: Raw::Text("text/csv", "email,shoe_size\na@b.io,9\n"),
                    status: 422,
                    code: "validation_failed",
                    field: Some("body"),
                },
                Case {
                    path: format!("/api/contacts/import?workspace_id={w}"),
                    body: Raw::Text("application/json", "{}"),
                    status: 415,
                    code: "unsupported_media_type",
                    field: None,
                },
                Case {
                    path: "/api/contacts/import?workspace_id=nope".into(),
                    body: Raw::Text("text/csv", "email\na@b.io\n"),
                    status: 422,
                    code: "validation_failed",
                    field: Some("workspace_id"),
                },
            ],
            ("PATCH", "/api/contacts/{id}") => vec![
                case(format!("/api/contacts/{c}"), json!({"email": "bad"}), "email"),
                case(format!("/api/contacts/{c}"), json!({"tags": [""]}), "tags"),
                case(format!("/api/contacts/{c}"), json!({"score": 100}), "score"),
                case("/api/contacts/not-a-uuid", json!({"company": "x"}), "id"),
            ],
            ("DELETE", "/api/contacts/{id}") => vec![Case {
                path: "/api/contacts/42".into(),
                body: Raw::None,
                status: 422,
                code: "validation_failed",
                field: Some("id"),
            }],
            ("POST", "/api/contacts/{id}/interactions") => vec![
                case(
                    format!("/api/contacts/{c}/interactions"),
                    json!({"kind": "telepathy"}),
                    "kind",
                ),
                case(
                    format!("/api/contacts/{c}/interactions"),
                    json!({"kind": "note", "occurred_at": "yesterday"}),
                    "occurred_at",
                ),
                case(
                    format!("/api/contacts/{c}/interactions"),
                    json!({"kind": "note", "occurred_at": "2999-01-01T00:00:00Z"}),
                    "occurred_at",
                ),
                case(
                    format!("/api/contacts/{c}/interactions"),
                    json!({"kind": "note", "summary": "x".repeat(2001)}),
                    "summary",
                ),
            ],
            ("POST", "/api/agents/contact-intelligence") => vec![
                case(
                    "/api/agents/contact-intelligence",
                    json!({"workspace_id": "x"}),
                    "workspace_id",
                ),
                case(
                    "/api/agents/contact-intelligence",
                    json!({"workspace_id": w, "contact_id": 5}),
                    "contact_id",
                ),
            ],
            ("PATCH", "/api/interactions/{id}") => vec![
                case(
                    format!("/api/interactions/{i}"),
                    json!({"kind": "carrier_pigeon"}),
                    "kind",
                ),
                case(
                    format!("/api/interactions/{i}"),
                    json!({"occurred_at": "2200-01-01T00:00:00Z"}),
                    "occurred_at",
                ),
                case(
                    format!("/api/interactions/{i}"),
                    json!({"occurred_at": "yesterday"}),
                    "occurred_at",
                ),
                case(
                    format!("/api/interactions/{i}"),
                    json!({"summary": very_long}),
                    "summary",
                ),
                case("/api/interactions/nope", json!({"summary": "x"}), "id"),
            ],
            ("DELETE", "/api/interactions/{id}") => vec![Case {
                path: "/api/interactions/nope".into(),
                body: Raw::None,
                status: 422,
                code: "validation_failed",
                field: Some("id"),
            }],
            ("POST", "/api/calendar/subscription") => vec![case(
                "/api/calendar/subscription",
                json!({"workspace_id": "nope"}),
                "workspace_id",
            )],
            ("DELETE", "/api/calendar/subscription") => vec![Case {
                path: "/api/calendar/subscription?workspace_id=nope".into(),
                body: Raw::None,
                status: 422,
                code: "validation_failed",
                field: Some("workspace_id"),
            }],
            ("POST", "/api/calendar/events") => {
                let ev = |extra: Value| {
                    let mut body = json!({"workspace_id": w, "title": "T", "starts_at": "2026-03-02T10:00:00Z"});
                    for (k, v) in extra.as_object().unwrap() {
                        body[k] = v.clone();
                    }
                    body
                };
                vec![
                    case(
                        "/api/calendar/events",
                        ev(json!({"ends_at": "2026-03-02T09:00:00Z"})),
                        "ends_at",
                    ),
                    case("/api/calendar/events", ev(json!({"timezone": "Mars/Base"})), "timezone"),
                    case("/api/calendar/events", ev(json!({"rrule": "FREQ=SOMETIMES"})), "rrule"),
                    case("/api/calendar/events", ev(json!({"title": ""})), "title"),
                    case(
                        "/api/calendar/events",
                        ev(json!({"description": very_long})),
                        "description",
                    ),
                    case("/api/calendar/events", ev(json!({"starts_at": "noon"})), "starts_at"),
                    case(
                        "/api/calendar/events",
                        ev(json!({"starts_at": "0042-01-01T00:00:00Z"})),
                        "starts_at",
                    ),
                    case(
                        "/api/calendar/events",
                        ev(json!({"attendees": [{"email": "bad"}]})),
                        "attendees.email",
                    ),
                    case(
                        "/api/calendar/events",
                        ev(json!({"contact_ids": ["nope"]})),
                        "contact_ids[0]",
                    ),
                    Case {
                        field: None,
                        ..case(
                            "/api/calendar/events",
                            ev(json!({"attendees": [{"email": "a@b.io", "status": "maybe"}]})),
                            "",
                        )
                    },
                ]
            }
            ("PATCH", "/api/calendar/events/{id}") => vec![
                case(
                    format!("/api/calendar/events/{e}"),
                    json!({"starts_at": "nope"}),
                    "starts_at",
                ),
                case(
                    format!("/api/calendar/events/{e}"),
                    json!({"all_day": "yes"}),
                    "all_day",
                ),
                case(
                    format!("/api/calendar/events/{e}"),
                    json!({"ends_at": "2000-01-01T00:00:00Z"}),
                    "ends_at",
                ),
                case("/api/calendar/events/xyz", json!({"title": "x"}), "id"),
            ],
            ("DELETE", "/api/calendar/events/{id}") => vec![Case {
                path: "/api/calendar/events/xyz".into(),
                body: Raw::None,
                status: 422,
                code: "validation_failed",
                field: Some("id"),
            }],
            (method, path) => panic!("no bad-input cases for {method} {path}: add some"),
        }
    };

    let before = snapshot(&app).await;
    for spec in kith_crm::route_specs().iter().filter(|s| s.method != "GET") {
        let mut cases = cases_for(spec.method, spec.path);
        assert!(!cases.is_empty(), "{} {}", spec.method, spec.path);
        // Every JSON route also refuses malformed JSON, non-objects and unknown fields.
        if let Some(Raw::Json(_)) = cases.first().map(|c| &c.body) {
            let path = cases[0].path.clone();
            cases.push(Case {
                path: path.clone(),
                body: Raw::Text("application/json", "{ not json"),
                status: 400,
                code: "invalid_request",
                field: None,
            });
            cases.push(Case {
                path: path.clone(),
                body: Raw::Text("application/json", "[1, 2]"),
                status: 422,
                code: "validation_failed",
                field: Some("body"),
            });
            cases.push(Case {
                path: path.clone(),
                body: Raw::Json(json!({"definitely_not_a_field": 1})),
                status: 422,
                code: "validation_failed",
                field: None,
            });
            cases.push(Case {
                path,
                body: Raw::Text("text/plain", "hello"),
                status: 415,
                code: "unsupported_media_type",
                field: None,
            });
        }
        for c in cases {
            let mut request = app
                .http
                .request(
                    Method::from_bytes(spec.method.as_bytes()).unwrap(),
                    format!("{}{}", app.address, c.path),
                )
                .bearer_auth(&a.owner.token);
            request = match &c.body {
                Raw::None => request,
                Raw::Json(v) => request.json(v),
                Raw::Text(content_type, text) => request.header("content-type", *content_type).body(*text),
            };
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let text = response.text().await.unwrap();
            let label = format!("{} {} {}", spec.method, c.path, text);
            assert_eq!(status, c.status, "{label}");
            let body: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {label}"));
            assert_eq!(body["error"]["code"], c.code, "{label}");
            assert!(
                body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()),
                "{label}"
            );
            if let Some(field) = c.field {
                assert_eq!(body["error"]["field"], field, "{label}");
            }
        }
    }
    assert_eq!(before, snapshot(&app).await, "bad input changed the database");

    // Reads with bad query strings are precise too.
    for (path, field) in [
        ("/api/contacts?workspace_id=nope".to_owned(), "workspace_id"),
        ("/api/contacts".to_owned(), "workspace_id"),
        (format!("/api/contacts?workspace_id={w}&limit=-1"), "limit"),
        (format!("/api/contacts?workspace_id={w}&unknown=1"), "unknown"),
        (
            format!("/api/calendar/events?workspace_id={w}&from=2026-03-05&to=2026-03-01"),
            "to",
        ),
        (format!("/api/calendar/events?workspace_id={w}&from=whenever"), "from"),
        (
            format!("/api/calendar/events?workspace_id={w}&from=2026-01-01&to=2028-01-01"),
            "to",
        ),
        (
            format!("/api/agents/contact-intelligence?workspace_id={w}&limit=abc"),
            "limit",
        ),
        ("/api/workspaces?org_id=1".to_owned(), "org_id"),
        ("/api/contacts/nope".to_owned(), "id"),
        (format!("/api/contacts?workspace_id={w}&tier=boiling"), "tier"),
        (format!("/api/contacts?workspace_id={w}&sort=random"), "sort"),
        (format!("/api/contacts?workspace_id={w}&status=vip"), "status"),
        (
            format!("/api/contacts?workspace_id={w}&last_interaction_after=soon"),
            "last_interaction_after",
        ),
        (
            format!("/api/contacts?workspace_id={w}&sort=score&cursor=s5.nope"),
            "cursor",
        ),
        (format!("/api/contacts/export.csv?workspace_id={w}&tier=x"), "tier"),
        ("/api/calendar/subscription".to_owned(), "workspace_id"),
    ] {
        let response = crate::support::send(&app, "GET", &path, Some(&a.owner.token), None).await;
        let body = crate::support::body(response, 422).await;
        assert_eq!(body["error"]["field"], field, "{path}: {body}");
    }
}
