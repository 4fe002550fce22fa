//! `/dashboard/contacts` and `/dashboard/contacts/{id}`: new contact with field errors, the contact page with its
//! timeline and score breakdown, search, CSV import with preview, mapping and per-row report, export; and the
//! refusals (viewer, other tenant, no organization, no session, no CSRF token) with nothing changed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::helpers::TestApp;
use crate::html::csrf_for;
use crate::world::{api, snapshot, world};
use serde_json::json;

fn section<'a>(html: &'a str, heading_id: &str) -> &'a str {
    let start = html
        .find(&format!("aria-labelledby=\"{heading_id}\""))
        .unwrap_or_else(|| panic!("no section {heading_id}"));
    let rest = &html[start..];
    &rest[..rest.find("</section>").unwrap()]
}

#[tokio::test]
async fn contacts_are_created_logged_searched_imported_and_exported_through_the_pages() {
    let app = TestApp::spawn().await;
    let mut w = world(&app).await;
    let b = &mut w.owner.browser;
    let empty = b.get("/dashboard/contacts").await;
    assert_eq!(empty.status, 200, "{}", empty.body);
    assert!(empty.body.contains("No contacts in this workspace yet."));
    assert!(empty.body.contains("data-shortcut-search") && empty.body.contains("data-shortcut-new"));

    // Field-level errors, then a contact.
    let new_page = format!("/dashboard/contacts/new?workspace_id={}", w.workspace);
    let before = snapshot(&app).await;
    let bad = b
        .submit(
            &new_page,
            "/dashboard/contacts",
            &[
                ("workspace_id", &w.workspace),
                ("first_name", "Ada"),
                ("email", "not-an-email"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.body.contains("id=\"c-email\" name=\"email\" type=\"email\" autocomplete=\"email\" value=\"not-an-email\" aria-invalid=\"true\""), "{}", bad.body);
    assert!(bad.body.contains("id=\"c-email-error\""));
    assert_eq!(snapshot(&app).await, before, "nothing written");
    let created = b
        .submit(
            &new_page,
            "/dashboard/contacts",
            &[
                ("workspace_id", &w.workspace),
                ("first_name", "Ada"),
                ("last_name", "Lovelace"),
                ("email", "ada@engines.io"),
                ("company", "Analytical Engines"),
                ("job_title", "VP Sales"),
                ("tags", "vip, london"),
            ],
        )
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    let contact_path = created.location.clone().unwrap();
    let contact_id = contact_path.rsplit('/').next().unwrap().to_owned();
    let stored = api(
        &app,
        "GET",
        &format!("/api/contacts/{contact_id}"),
        &w.owner.token,
        None,
        200,
    )
    .await;
    assert_eq!(stored["tags"], json!(["vip", "london"]));

    // Log interactions (a bad kind is refused beside the form), then the timeline and the score's reasons.
    let logged = b
        .submit(
            &contact_path,
            &format!("{contact_path}/interactions"),
            &[("kind", "meeting"), ("summary", "Demo went well")],
        )
        .await;
    assert_eq!(logged.status, 303, "{}", logged.body);
    let bad_kind = b
        .submit(
            &contact_path,
            &format!("{contact_path}/interactions"),
            &[("kind", "telepathy")],
        )
        .await;
    assert_eq!(bad_kind.status, 422);
    assert!(section(&bad_kind.body, "timeline-title").contains("role=\"alert\""));
    let future = b
        .submit(
            &contact_path,
            &format!("{contact_path}/interactions"),
            &[("kind", "call"), ("occurred_at", "2199-01-01T10:00")],
        )
        .await;
    assert_eq!(future.status, 422, "{}", future.body);
    let page = b.get(&contact_path).await;
    assert_eq!(page.status, 200);
    let timeline = section(&page.body, "timeline-title");
    assert!(
        timeline.contains("meeting") && timeline.contains("Demo went well"),
        "{timeline}"
    );
    assert_eq!(timeline.matches("<li id=\"interaction-").count(), 1);
    let score = section(&page.body, "score-title");
    assert!(
        score.contains("<svg") && score.contains("bar-engagement") && score.contains("bar-fit"),
        "{score}"
    );
    assert!(score.contains("meeting"), "{score}");

    // Edit, with a field error first.
    let bad_edit = b
        .submit(
            &contact_path,
            &contact_path,
            &[("first_name", "Ada"), ("email", "ada@"), ("status", "lead")],
        )
        .await;
    assert_eq!(bad_edit.status, 422);
    assert!(bad_edit.body.contains("id=\"c-email-error\""));
    let edited = b
        .submit(
            &contact_path,
            &contact_path,
            &[
                ("first_name", "Ada"),
                ("last_name", "King"),
                ("email", "ada@engines.io"),
                ("status", "customer"),
            ],
        )
        .await;
    assert_eq!(edited.status, 303, "{}", edited.body);
    let stored = api(
        &app,
        "GET",
        &format!("/api/contacts/{contact_id}"),
        &w.owner.token,
        None,
        200,
    )
    .await;
    assert_eq!(
        (stored["last_name"].as_str(), stored["status"].as_str()),
        (Some("King"), Some("customer"))
    );
    assert_eq!(stored["company"], json!(null), "an emptied field is cleared");

    // Import: preview with guessed columns, then a per-row report.
    let csv = "First Name,E-mail,Organisation,Favourite colour\nGrace,grace@navy.mil,Navy,blue\nBad,not-an-email,X,red\nAlan,alan@bletchley.uk,GCHQ,green\n";
    let import_page = format!("/dashboard/contacts/import?workspace_id={}", w.workspace);
    let preview = b
        .submit(
            &import_page,
            "/dashboard/contacts/import",
            &[("workspace_id", &w.workspace), ("csv", csv)],
        )
        .await;
    assert_eq!(preview.status, 200, "{}", preview.body);
    let table = section(&preview.body, "preview-title");
    assert!(table.contains("<option value=\"first_name\" selected>"), "{table}");
    assert!(
        table.contains("<option value=\"email\" selected>") && table.contains("<option value=\"company\" selected>")
    );
    assert!(table.contains("grace@navy.mil"));
    let csrf = csrf_for(&preview.body, "/dashboard/contacts/import").unwrap();
    let report = b
        .post(
            "/dashboard/contacts/import",
            &[
                ("csrf", &csrf),
                ("workspace_id", &w.workspace),
                ("step", "import"),
                ("csv", csv),
                ("map_0", "first_name"),
                ("map_1", "email"),
                ("map_2", "company"),
                ("map_3", ""),
            ],
        )
        .await;
    assert_eq!(report.status, 200, "{}", report.body);
    let r = section(&report.body, "report-title");
    assert!(
        r.contains("<strong>2</strong> created") && r.contains("<strong>1</strong> refused"),
        "{r}"
    );
    assert!(r.contains("<td>3</td><td>email</td>"), "the bad row is named: {r}");
    let listed = api(
        &app,
        "GET",
        &format!("/api/contacts?workspace_id={}", w.workspace),
        &w.owner.token,
        None,
        200,
    )
    .await;
    assert_eq!(listed["contacts"].as_array().unwrap().len(), 3);

    // Search and export.
    let found = b.get(&format!("/dashboard/contacts?q={}", "grace")).await;
    assert!(found.body.contains("grace@navy.mil") && !found.body.contains("ada@engines.io"));
    let none = b.get("/dashboard/contacts?q=zzzz").await;
    assert!(none.body.contains("No contact matches"));
    let export = b.get("/dashboard/contacts/export.csv").await;
    assert_eq!(export.status, 200);
    assert!(export.body.contains("alan@bletchley.uk") && export.body.contains("ada@engines.io"));

    // Filters and order, passed to the API; the export follows the filter.
    let customers = b.get("/dashboard/contacts?status=customer").await;
    assert!(customers.body.contains("ada@engines.io") && !customers.body.contains("grace@navy.mil"));
    assert!(customers.body.contains("<option value=\"customer\" selected>"));
    let active = b.get("/dashboard/contacts?activity=7d").await;
    assert!(active.body.contains("ada@engines.io") && !active.body.contains("alan@bletchley.uk"));
    let quiet = b.get("/dashboard/contacts?activity=quiet30").await;
    assert!(!quiet.body.contains("ada@engines.io") && quiet.body.contains("alan@bletchley.uk"));
    let by_name = b.get("/dashboard/contacts?sort=name").await;
    let (ada, alan, grace) = (
        by_name.body.find("ada@engines.io").unwrap(),
        by_name.body.find("alan@bletchley.uk").unwrap(),
        by_name.body.find("grace@navy.mil").unwrap(),
    );
    assert!(ada < alan && alan < grace, "sorted by name");
    let bad_tier = b.get("/dashboard/contacts?tier=lukewarm").await;
    assert_eq!(bad_tier.status, 200);
    assert!(
        bad_tier.body.contains("role=\"alert\"") && bad_tier.body.contains("tier"),
        "the API names the filter"
    );
    assert!(customers.body.contains("/dashboard/contacts/export.csv?workspace_id="));
    let export = b.get("/dashboard/contacts/export.csv?status=customer").await;
    assert!(export.body.contains("ada@engines.io") && !export.body.contains("grace@navy.mil"));

    // An interaction edited, then deleted.
    let listed = api(
        &app,
        "GET",
        &format!("/api/contacts/{contact_id}/interactions"),
        &w.owner.token,
        None,
        200,
    )
    .await;
    let interaction = listed[0]["id"].as_str().unwrap().to_owned();
    let action = format!("{contact_path}/interactions/{interaction}");
    let edited = b
        .submit(
            &contact_path,
            &action,
            &[("kind", "call"), ("occurred_at", ""), ("summary", "Called back")],
        )
        .await;
    assert_eq!(edited.status, 303, "{}", edited.body);
    let listed = api(
        &app,
        "GET",
        &format!("/api/contacts/{contact_id}/interactions"),
        &w.owner.token,
        None,
        200,
    )
    .await;
    assert_eq!(
        (listed[0]["kind"].as_str(), listed[0]["summary"].as_str()),
        (Some("call"), Some("Called back"))
    );
    let removed = b.submit(&contact_path, &format!("{action}/delete"), &[]).await;
    assert_eq!(removed.status, 303);
    let listed = api(
        &app,
        "GET",
        &format!("/api/contacts/{contact_id}/interactions"),
        &w.owner.token,
        None,
        200,
    )
    .await;
    assert_eq!(listed, json!([]));

    // Delete.
    let deleted = b.submit(&contact_path, &format!("{contact_path}/delete"), &[]).await;
    assert_eq!(deleted.status, 303);
    api(
        &app,
        "GET",
        &format!("/api/contacts/{contact_id}"),
        &w.owner.token,
        None,
        404,
    )
    .await;
}

#[tokio::test]
async fn viewers_strangers_and_forged_posts_change_no_contact() {
    let app = TestApp::spawn().await;
    let mut w = world(&app).await;
    let contact = api(
        &app,
        "POST",
        "/api/contacts",
        &w.owner.token,
        Some(&json!({"workspace_id": w.workspace, "first_name": "Ada", "email": "ada@engines.io"})),
        201,
    )
    .await;
    let id = contact["id"].as_str().unwrap().to_owned();
    let path = format!("/dashboard/contacts/{id}");
    let logged = api(
        &app,
        "POST",
        &format!("/api/contacts/{id}/interactions"),
        &w.owner.token,
        Some(&json!({"kind": "meeting", "summary": "First meeting"})),
        201,
    )
    .await;
    let interaction = format!("{path}/interactions/{}", logged["id"].as_str().unwrap());

    // The viewer reads, without controls.
    let seen = w.viewer.browser.get(&path).await;
    assert_eq!(seen.status, 200, "{}", seen.body);
    assert!(seen.body.contains("Ada"));
    for absent in [
        "Log interaction",
        "Edit contact",
        "Delete contact",
        "/interactions\"",
        "/delete\"",
    ] {
        assert!(!seen.body.contains(absent), "a viewer's page has {absent}");
    }
    let list = w.viewer.browser.get("/dashboard/contacts").await;
    assert!(!list.body.contains("New contact") && !list.body.contains("Import CSV"));
    assert_eq!(w.viewer.browser.get("/dashboard/contacts/new").await.status, 403);
    assert_eq!(w.viewer.browser.get("/dashboard/contacts/import").await.status, 403);

    // Forged writes: the viewer's own valid CSRF token, the API's 403, nothing changed.
    let csrf = csrf_for(
        &w.viewer.browser.get("/dashboard/settings").await.body,
        "/dashboard/settings/profile",
    )
    .unwrap();
    let before = snapshot(&app).await;
    let forged: Vec<(String, Vec<(&str, &str)>)> = vec![
        (
            "/dashboard/contacts".into(),
            vec![("workspace_id", &w.workspace), ("first_name", "Forged")],
        ),
        (path.clone(), vec![("first_name", "Forged")]),
        (format!("{path}/delete"), vec![]),
        (format!("{path}/interactions"), vec![("kind", "meeting")]),
        (interaction.clone(), vec![("kind", "call"), ("summary", "Forged")]),
        (format!("{interaction}/delete"), vec![]),
        (
            "/dashboard/contacts/import".into(),
            vec![
                ("workspace_id", &w.workspace),
                ("step", "import"),
                ("csv", "first_name\nForged\n"),
            ],
        ),
    ];
    for (action, fields) in &forged {
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend(fields.iter().copied());
        let answer = w.viewer.browser.post(action, &all).await;
        assert_eq!(answer.status, 403, "{action}: {}", answer.body);
    }
    // Without the CSRF token, even the owner changes nothing.
    for (action, fields) in &forged {
        let answer = w.owner.browser.post(action, fields).await;
        assert_eq!(answer.status, 403, "{action} without a token");
    }
    assert_eq!(snapshot(&app).await, before, "nothing changed");

    // Another tenant: the 404 page for the contact, its forms and the workspace.
    let theirs = w.stranger.browser.get(&path).await;
    assert_eq!(theirs.status, 404);
    assert!(!theirs.body.contains("ada@engines.io"));
    assert_eq!(
        w.stranger
            .browser
            .get(&format!("/dashboard/contacts?workspace_id={}", w.workspace))
            .await
            .status,
        404
    );
    assert_eq!(
        w.stranger.browser.get("/dashboard/contacts/not-a-uuid").await.status,
        404
    );
    let stranger_csrf = csrf_for(
        &w.stranger.browser.get("/dashboard/settings").await.body,
        "/dashboard/settings/profile",
    )
    .unwrap();
    for (action, fields) in &forged {
        let mut all = vec![("csrf", stranger_csrf.as_str())];
        all.extend(fields.iter().copied());
        let answer = w.stranger.browser.post(action, &all).await;
        assert!(
            answer.status == 404 || answer.status == 403,
            "{action}: {}",
            answer.status
        );
        assert!(!answer.body.contains("ada@engines.io"));
    }
    assert_eq!(snapshot(&app).await, before, "nothing changed");

    // No organization: back to the first step. No session: to the sign-in page.
    let loner = w.loner.browser.get("/dashboard/contacts").await;
    assert_eq!(
        (loner.status, loner.location.as_deref()),
        (303, Some("/dashboard/overview"))
    );
    let loner = w.loner.browser.get(&path).await;
    assert_eq!(
        (loner.status, loner.location.as_deref()),
        (303, Some("/dashboard/overview"))
    );
    let mut anonymous = crate::browser::Browser::new(&app);
    let out = anonymous.get(&path).await;
    assert_eq!(out.status, 303);
    assert!(out.location.unwrap().starts_with("/login?next="));
}
