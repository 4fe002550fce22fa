//! The dashboard's isolation matrix: every form action and every page, against every kind of caller who must be
//! refused — no CSRF token, no session, no organization, another tenant, a viewer writing — with a superuser
//! snapshot of every tenant table (and the password hashes) unchanged after all of them. The matrix covers itself:
//! the signed-in crawler's form actions (ids replaced by `{id}`) must each have a row here, so a new form cannot be
//! added without joining it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::browser::Browser;
use crate::helpers::TestApp;
use crate::html::{attr_values, csrf_for};
use crate::world::{api, snapshot, world};
use serde_json::json;
use std::collections::BTreeSet;

/// Who a form acts for: the signed-in user themselves (anyone may), or something of an organization.
#[derive(Clone, Copy, PartialEq)]
enum Scope {
    Own,
    Tenant,
}

struct Form {
    pattern: &'static str,
    path: String,
    fields: Vec<(&'static str, String)>,
    scope: Scope,
}

async fn post_form(b: &mut Browser<'_>, form: &Form, csrf: &str) -> crate::browser::Answer {
    let mut all: Vec<(&str, &str)> = vec![("csrf", csrf)];
    all.extend(form.fields.iter().map(|(k, v)| (*k, v.as_str())));
    b.post(&form.path, &all).await
}

/// `/dashboard/contacts/0c…/interactions/9f…` → `/dashboard/contacts/{id}/interactions/{id}`.
fn pattern_of(path: &str) -> String {
    path.split('?')
        .next()
        .unwrap_or(path)
        .split('/')
        .map(|part| {
            if uuid::Uuid::parse_str(part).is_ok() {
                "{id}"
            } else {
                part
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test]
async fn every_dashboard_form_and_page_refuses_whoever_may_not_use_it_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let mut w = world(&app).await;
    let (org, ws) = (w.org.clone(), w.workspace.clone());
    let second = api(
        &app,
        "POST",
        "/api/workspaces",
        &w.owner.token,
        Some(&json!({"org_id": org, "name": "Second"})),
        201,
    )
    .await;
    let second = second["id"].as_str().unwrap().to_owned();
    let contact = api(
        &app,
        "POST",
        "/api/contacts",
        &w.owner.token,
        Some(&json!({"workspace_id": ws, "first_name": "Ada", "email": "ada@engines.io"})),
        201,
    )
    .await;
    let contact = contact["id"].as_str().unwrap().to_owned();
    let interaction = api(
        &app,
        "POST",
        &format!("/api/contacts/{contact}/interactions"),
        &w.owner.token,
        Some(&json!({"kind": "meeting"})),
        201,
    )
    .await;
    let interaction = interaction["id"].as_str().unwrap().to_owned();
    let start = chrono::Utc::now() + chrono::Duration::hours(3);
    let event = api(
        &app,
        "POST",
        "/api/calendar/events",
        &w.owner.token,
        Some(&json!({"workspace_id": ws, "title": "Board", "starts_at": start.to_rfc3339()})),
        201,
    )
    .await;
    let event = event["id"].as_str().unwrap().to_owned();
    let invited = api(
        &app,
        "POST",
        &format!("/api/organizations/{org}/invitations"),
        &w.owner.token,
        Some(&json!({"email": "someone@example.com", "role": "member"})),
        201,
    )
    .await;
    let invitation = invited["id"].as_str().unwrap().to_owned();
    let date = chrono::Utc::now().date_naive().to_string();
    let s = |v: &str| v.to_owned();
    let event_fields = |with_workspace: bool| {
        let mut f = vec![
            ("title", s("Forged")),
            ("date", date.clone()),
            ("start", s("09:00")),
            ("end", s("10:00")),
            ("timezone", s("UTC")),
        ];
        if with_workspace {
            f.push(("workspace_id", ws.clone()));
        }
        f
    };
    let forms = vec![
        Form {
            pattern: "/dashboard/organizations",
            path: s("/dashboard/organizations"),
            fields: vec![("name", s("Forged Org"))],
            scope: Scope::Own,
        },
        Form {
            pattern: "/dashboard/settings/profile",
            path: s("/dashboard/settings/profile"),
            fields: vec![("full_name", s("Forged")), ("timezone", s("UTC"))],
            scope: Scope::Own,
        },
        Form {
            pattern: "/dashboard/settings/password",
            path: s("/dashboard/settings/password"),
            fields: vec![
                ("current_password", s("a-good-password")),
                ("password", s("forged-password-1")),
            ],
            scope: Scope::Own,
        },
        Form {
            pattern: "/dashboard/settings/organization",
            path: s("/dashboard/settings/organization"),
            fields: vec![("org_id", org.clone()), ("name", s("Forged"))],
            scope: Scope::Tenant,
        },
        Form {
            pattern: "/dashboard/settings/members",
            path: s("/dashboard/settings/members"),
            fields: vec![
                ("org_id", org.clone()),
                ("user_id", w.owner.user_id.clone()),
                ("role", s("viewer")),
            ],
            scope: Scope::Tenant,
        },
        Form {
            pattern: "/dashboard/settings/members/remove",
            path: s("/dashboard/settings/members/remove"),
            fields: vec![("org_id", org.clone()), ("user_id", w.owner.user_id.clone())],
            scope: Scope::Tenant,
        },
        Form {
            pattern: "/dashboard/settings/invitations",
            path: s("/dashboard/settings/invitations"),
            fields: vec![
                ("org_id", org.clone()),
                ("email", s("forged@example.com")),
                ("role", s("member")),
            ],
            scope: Scope::Tenant,
        },
        Form {
            pattern: "/dashboard/settings/invitations/resend",
            path: s("/dashboard/settings/invitations/resend"),
            fields: vec![("org_id", org.clone()), ("id", invitation.clone())],
            scope: Scope::Tenant,
        },
        Form {
            pattern: "/dashboard/settings/invitations/revoke",
            path: s("/dashboard/settings/invitations/revoke"),
            fields: vec![("org_id", org.clone()), ("id", invitation.clone())],
            scope: Scope::Tenant,
        },
        Form {
            pattern: "/dashboard/settings/workspaces",
            path: s("/dashboard/settings/workspaces"),
            fields: vec![("org_id", org.clone()), ("name", s("Forged"))],
            scope: Scope::Tenant,
        },
        Form {
            pattern: "/dashboard/settings/workspaces/rename",
            path: s("/dashboard/settings/workspaces/rename"),
            fields: vec![("id", ws.clone()), ("name", s("Forged"))],
            scope: Scope::Tenant,
        },
        Form {
            pattern: "/dashboard/settings/workspaces/delete",
            path: s("/dashboard/settings/workspaces/delete"),
            fields: vec![("id", second.clone())],
            scope: Scope::Tenant,
        },
        Form {
            pattern: "/dashboard/contacts",
            path: s("/dashboard/contacts"),
            fields: vec![("workspace_id", ws.clone()), ("first_name", s("Forged"))],
            scope: Scope::Tenant,
        },
        Form {
            pattern: "/dashboard/contacts/import",
            path: s("/dashboard/contacts/import"),
            fields: vec![
                ("workspace_id", ws.clone()),
                ("step", s("import")),
                ("csv", s("first_name\nForged\n")),
            ],
            scope: Scope::Tenant,
        },
        Form {
            pattern: "/dashboard/contacts/{id}",
            path: format!("/dashboard/contacts/{contact}"),
            fields: vec![("first_name", s("Forged"))],
            scope: Scope::Tenant,
        },
        Form {
            pattern: "/dashboard/contacts/{id}/delete",
            path: format!("/dashboard/contacts/{contact}/delete"),
            fields: vec![],
            scope: Scope::Tenant,
        },
        Form {
            pattern: "/dashboard/contacts/{id}/interactions",
            path: format!("/dashboard/contacts/{contact}/interactions"),
            fields: vec![("kind", s("meeting"))],
            scope: Scope::Tenant,
        },
        Form {
            pattern: "/dashboard/contacts/{id}/interactions/{id}",
            path: format!("/dashboard/contacts/{contact}/interactions/{interaction}"),
            fields: vec![("kind", s("call"))],
            scope: Scope::Tenant,
        },
        Form {
            pattern: "/dashboard/contacts/{id}/interactions/{id}/delete",
            path: format!("/dashboard/contacts/{contact}/interactions/{interaction}/delete"),
            fields: vec![],
            scope: Scope::Tenant,
        },
        Form {
            pattern: "/dashboard/calendar/events",
            path: s("/dashboard/calendar/events"),
            fields: event_fields(true),
            scope: Scope::Tenant,
        },
        Form {
            pattern: "/dashboard/calendar/events/{id}",
            path: format!("/dashboard/calendar/events/{event}"),
            fields: event_fields(false),
            scope: Scope::Tenant,
        },
        Form {
            pattern: "/dashboard/calendar/events/{id}/delete",
            path: format!("/dashboard/calendar/events/{event}/delete"),
            fields: vec![],
            scope: Scope::Tenant,
        },
        Form {
            pattern: "/dashboard/calendar/subscription",
            path: s("/dashboard/calendar/subscription"),
            fields: vec![("workspace_id", ws.clone()), ("action", s("make"))],
            // Any member, a viewer too, manages their own subscription (another tenant's: `tests/crm/subscriptions.rs`).
            scope: Scope::Own,
        },
    ];

    // Coverage: every form the owner's pages offer has a row.
    let mut offered = BTreeSet::new();
    for page in [
        s("/dashboard/overview"),
        s("/dashboard/settings"),
        s("/dashboard/contacts"),
        s("/dashboard/contacts/import"),
        format!("/dashboard/contacts/{contact}"),
        format!("/dashboard/contacts/new?workspace_id={ws}"),
        s("/dashboard/calendar"),
        format!("/dashboard/calendar/events/{event}"),
    ] {
        let body = w.owner.browser.get(&page).await.body;
        // Posting forms only (the switchers and filters are GET forms of pages listed below).
        for chunk in body.split("<form method=\"post\"").skip(1) {
            if let Some(action) = attr_values(chunk, "action").first()
                && action.starts_with("/dashboard")
            {
                offered.insert(pattern_of(action));
            }
        }
    }
    offered.insert(s("/dashboard/organizations"));
    let rows: BTreeSet<String> = forms.iter().map(|f| f.pattern.to_owned()).collect();
    let missing: Vec<_> = offered.iter().filter(|p| !rows.contains(*p)).collect();
    assert!(missing.is_empty(), "forms without a row in the matrix: {missing:?}");
    assert!(offered.len() >= 20, "only {} forms found: {offered:?}", offered.len());

    let before = snapshot(&app).await;
    let token_of = |html: &str| csrf_for(html, "/logout").or_else(|| csrf_for(html, "/login")).unwrap();
    let viewer_csrf = token_of(&w.viewer.browser.get("/dashboard/settings").await.body);
    let stranger_csrf = token_of(&w.stranger.browser.get("/dashboard/settings").await.body);
    let loner_csrf = token_of(&w.loner.browser.get("/dashboard/settings").await.body);
    let mut anonymous = Browser::new(&app);
    let anonymous_csrf = token_of(&anonymous.get("/login").await.body);
    let mut failures = Vec::new();
    for form in &forms {
        let fields: Vec<(&str, &str)> = form.fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        // No CSRF token, even from the owner.
        let answer = w.owner.browser.post(&form.path, &fields).await;
        if answer.status != 403 {
            failures.push(format!("{} without a token: {}", form.pattern, answer.status));
        }
        // A token from another site's point of view: the same post marked cross-site.
        w.owner.browser.fetch_site = Some("cross-site");
        let owner_csrf = token_of(&w.owner.browser.get("/dashboard/settings").await.body);
        let answer = post_form(&mut w.owner.browser, form, &owner_csrf).await;
        w.owner.browser.fetch_site = Some("same-origin");
        if answer.status != 403 {
            failures.push(format!("{} cross-site: {}", form.pattern, answer.status));
        }
        // No session (a valid pre-session token): to the sign-in page.
        let answer = post_form(&mut anonymous, form, &anonymous_csrf).await;
        if answer.status != 303 || !answer.location.as_deref().unwrap_or_default().starts_with("/login") {
            failures.push(format!(
                "{} without a session: {} {:?}",
                form.pattern, answer.status, answer.location
            ));
        }
        if form.scope == Scope::Own {
            continue;
        }
        // Signed in, but in no organization / another tenant / a viewer: refused.
        for (who, browser, csrf) in [
            ("no organization", &mut w.loner.browser, &loner_csrf),
            ("another tenant", &mut w.stranger.browser, &stranger_csrf),
            ("a viewer", &mut w.viewer.browser, &viewer_csrf),
        ] {
            let answer = post_form(browser, form, csrf).await;
            let ok = matches!(answer.status, 403 | 404)
                || (answer.status == 303
                    && answer.location.as_deref() == Some("/dashboard/overview")
                    && who == "no organization");
            if !ok {
                failures.push(format!(
                    "{} as {who}: {} {:?}",
                    form.pattern, answer.status, answer.location
                ));
            }
            if answer.body.contains("ada@engines.io") {
                failures.push(format!("{} as {who} shows the owner's data", form.pattern));
            }
        }
    }
    assert!(failures.is_empty(), "not refused:\n{}", failures.join("\n"));
    assert_eq!(snapshot(&app).await, before, "a refused form changed something");

    // Pages: no session → sign-in; no organization → the first step; another tenant's ids → the 404 page.
    let pages = [
        format!("/dashboard/overview?workspace_id={ws}"),
        format!("/dashboard/contacts?workspace_id={ws}"),
        format!("/dashboard/contacts/new?workspace_id={ws}"),
        format!("/dashboard/contacts/import?workspace_id={ws}"),
        format!("/dashboard/contacts/export.csv?workspace_id={ws}"),
        format!("/dashboard/contacts/{contact}"),
        format!("/dashboard/calendar?workspace_id={ws}"),
        format!("/dashboard/calendar/events/{event}"),
        format!("/dashboard/calendar/events.ics?workspace_id={ws}"),
        format!("/dashboard/settings?org_id={org}"),
    ];
    for page in &pages {
        let answer = anonymous.get(page).await;
        if answer.status != 303
            || !answer
                .location
                .as_deref()
                .unwrap_or_default()
                .starts_with("/login?next=")
        {
            failures.push(format!("{page} without a session: {}", answer.status));
        }
        let answer = w.stranger.browser.get(page).await;
        if answer.status != 404 || answer.body.contains("ada@engines.io") || answer.body.contains("Board") {
            failures.push(format!("{page} as another tenant: {}", answer.status));
        }
        let answer = w.loner.browser.get(page).await;
        // The overview of a user in no organization is its first step, whatever the query asks.
        let first_step = answer.status == 200 && answer.body.contains(">Create organization</button>");
        let ok = answer.status == 404
            || first_step
            || (answer.status == 303 && answer.location.as_deref() == Some("/dashboard/overview"));
        if !ok || answer.body.contains("ada@engines.io") {
            failures.push(format!(
                "{page} with no organization: {} {:?}",
                answer.status, answer.location
            ));
        }
        // The viewer reads every page of their organization.
        let answer = w.viewer.browser.get(page).await;
        let expected = if page.contains("/new?") || page.contains("/import?") {
            403
        } else {
            200
        };
        if answer.status != expected {
            failures.push(format!("{page} as a viewer: {} (expected {expected})", answer.status));
        }
    }
    assert!(failures.is_empty(), "pages:\n{}", failures.join("\n"));
    assert_eq!(snapshot(&app).await, before, "a page changed something");
}
