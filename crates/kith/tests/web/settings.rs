//! `/dashboard/settings`: profile, password, organization, members, invitations, workspaces and the API key, each
//! form through the same `/api` rules; a viewer sees it all without controls, and a forged post is refused with
//! nothing changed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::helpers::TestApp;
use crate::html::csrf_for;
use crate::world::{PASSWORD, api, email, invitation_token, snapshot, world};
use serde_json::json;

fn section<'a>(html: &'a str, heading_id: &str) -> &'a str {
    let start = html
        .find(&format!("aria-labelledby=\"{heading_id}\""))
        .unwrap_or_else(|| panic!("no section {heading_id}"));
    let rest = &html[start..];
    &rest[..rest.find("</section>").unwrap()]
}

#[tokio::test]
async fn an_owner_manages_profile_organization_members_invitations_and_workspaces() {
    let app = TestApp::spawn().await;
    let mut w = world(&app).await;
    let page = w.owner.browser.get("/dashboard/settings").await;
    assert_eq!(page.status, 200, "{}", page.body);
    for heading in [
        "Profile",
        "Password",
        "Organization",
        "Members",
        "Invitations",
        "Workspaces",
        "API access",
    ] {
        assert!(page.body.contains(&format!(">{heading}</h2>")), "{heading}");
    }
    assert!(page.body.contains("aria-current=\"page\">Settings</a>"));
    let members = section(&page.body, "members-title");
    assert!(
        members.contains(&w.viewer.email) && members.contains("viewer"),
        "{members}"
    );
    let api_access = section(&page.body, "api-title");
    assert!(api_access.contains("/rest/v1"), "{api_access}");
    // The anon key shown works as an anon key.
    let key = api_access.split("<code class=\"key\">").nth(1).unwrap();
    let key = &key[..key.find('<').unwrap()];
    let health = app
        .http
        .get(format!("{}/auth/v1/settings", app.address))
        .header("apikey", key)
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);

    // Profile: a bad zone is shown next to the form and changes nothing; a good one is saved.
    let before = snapshot(&app).await;
    let bad = w
        .owner
        .browser
        .submit(
            "/dashboard/settings",
            "/dashboard/settings/profile",
            &[("full_name", "Ada"), ("timezone", "Mars/Olympus")],
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    let profile = section(&bad.body, "profile-title");
    assert!(
        profile.contains("role=\"alert\"") && profile.contains("IANA"),
        "{profile}"
    );
    assert!(
        profile.contains("aria-invalid=\"true\""),
        "the field is marked: {profile}"
    );
    assert_eq!(snapshot(&app).await, before);
    let saved = w
        .owner
        .browser
        .submit(
            "/dashboard/settings",
            "/dashboard/settings/profile",
            &[("full_name", "Ada Lovelace"), ("timezone", "Europe/Berlin")],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let profile = api(&app, "GET", "/api/profile", &w.owner.token, None, 200).await;
    assert_eq!(
        (profile["full_name"].as_str(), profile["timezone"].as_str()),
        (Some("Ada Lovelace"), Some("Europe/Berlin"))
    );
    let shown = w.owner.browser.get(saved.location.as_deref().unwrap()).await;
    assert!(shown.body.contains("Your profile was saved."));
    assert!(shown.body.contains("<option selected>Europe/Berlin</option>"));

    // Organization name (owners).
    let renamed = w
        .owner
        .browser
        .submit(
            "/dashboard/settings",
            "/dashboard/settings/organization",
            &[("org_id", &w.org), ("name", "Acme Renamed")],
        )
        .await;
    assert_eq!(renamed.status, 303, "{}", renamed.body);
    let orgs = api(&app, "GET", "/api/organizations", &w.owner.token, None, 200).await;
    assert_eq!(orgs[0]["name"], "Acme Renamed");

    // Invitations: send (mailed), send again (a new link; the old one stops working), revoke.
    let invitee = email("invitee");
    let sent = w
        .owner
        .browser
        .submit(
            "/dashboard/settings",
            "/dashboard/settings/invitations",
            &[("org_id", &w.org), ("email", &invitee), ("role", "member")],
        )
        .await;
    assert_eq!(sent.status, 303, "{}", sent.body);
    let first_token = invitation_token(&app, &invitee);
    let bad_address = w
        .owner
        .browser
        .submit(
            "/dashboard/settings",
            "/dashboard/settings/invitations",
            &[("org_id", &w.org), ("email", "not-an-address"), ("role", "member")],
        )
        .await;
    assert_eq!(bad_address.status, 422);
    assert!(section(&bad_address.body, "invitations-title").contains("role=\"alert\""));
    let pending = api(
        &app,
        "GET",
        &format!("/api/organizations/{}/invitations", w.org),
        &w.owner.token,
        None,
        200,
    )
    .await;
    let first = pending
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["email"] == invitee.as_str())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let resent = w
        .owner
        .browser
        .submit(
            "/dashboard/settings",
            "/dashboard/settings/invitations/resend",
            &[("org_id", &w.org), ("id", &first)],
        )
        .await;
    assert_eq!(resent.status, 303, "{}", resent.body);
    let second_token = invitation_token(&app, &invitee);
    assert_ne!(first_token, second_token, "a new link");
    let pending = api(
        &app,
        "GET",
        &format!("/api/organizations/{}/invitations", w.org),
        &w.owner.token,
        None,
        200,
    )
    .await;
    let for_invitee: Vec<_> = pending
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["email"] == invitee.as_str())
        .collect();
    assert_eq!(for_invitee.len(), 1, "the old invitation is revoked: {pending}");
    let second = for_invitee[0]["id"].as_str().unwrap().to_owned();
    let page = w.owner.browser.get("/dashboard/settings").await;
    assert!(section(&page.body, "invitations-title").contains(&invitee));
    let revoked = w
        .owner
        .browser
        .submit(
            "/dashboard/settings",
            "/dashboard/settings/invitations/revoke",
            &[("org_id", &w.org), ("id", &second)],
        )
        .await;
    assert_eq!(revoked.status, 303);
    let pending = api(
        &app,
        "GET",
        &format!("/api/organizations/{}/invitations", w.org),
        &w.owner.token,
        None,
        200,
    )
    .await;
    assert!(
        !pending.to_string().contains(&invitee)
            || pending
                .as_array()
                .unwrap()
                .iter()
                .all(|i| i["email"] != invitee.as_str())
    );

    // Members: the viewer becomes a member, then is removed.
    let changed = w
        .owner
        .browser
        .submit(
            "/dashboard/settings",
            "/dashboard/settings/members",
            &[("org_id", &w.org), ("user_id", &w.viewer.user_id), ("role", "member")],
        )
        .await;
    assert_eq!(changed.status, 303, "{}", changed.body);
    let members = api(
        &app,
        "GET",
        &format!("/api/organizations/{}/members", w.org),
        &w.owner.token,
        None,
        200,
    )
    .await;
    assert!(
        members
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["user_id"] == w.viewer.user_id.as_str() && m["role"] == "member")
    );
    // The last owner cannot leave: the API's 409, next to the members.
    let last = w
        .owner
        .browser
        .submit(
            "/dashboard/settings",
            "/dashboard/settings/members/remove",
            &[("org_id", &w.org), ("user_id", &w.owner.user_id)],
        )
        .await;
    assert_eq!(last.status, 409, "{}", last.body);
    assert!(section(&last.body, "members-title").contains("at least one owner"));
    let removed = w
        .owner
        .browser
        .submit(
            "/dashboard/settings",
            "/dashboard/settings/members/remove",
            &[("org_id", &w.org), ("user_id", &w.viewer.user_id)],
        )
        .await;
    assert_eq!(removed.status, 303);
    let members = api(
        &app,
        "GET",
        &format!("/api/organizations/{}/members", w.org),
        &w.owner.token,
        None,
        200,
    )
    .await;
    assert_eq!(members.as_array().unwrap().len(), 1);

    // Workspaces: create, rename, delete; the last one stays (409).
    let created = w
        .owner
        .browser
        .submit(
            "/dashboard/settings",
            "/dashboard/settings/workspaces",
            &[("org_id", &w.org), ("name", "Second")],
        )
        .await;
    assert_eq!(created.status, 303);
    let workspaces = api(
        &app,
        "GET",
        &format!("/api/workspaces?org_id={}", w.org),
        &w.owner.token,
        None,
        200,
    )
    .await;
    let second = workspaces
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "Second")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let renamed = w
        .owner
        .browser
        .submit(
            "/dashboard/settings",
            "/dashboard/settings/workspaces/rename",
            &[("id", &second), ("name", "Renamed")],
        )
        .await;
    assert_eq!(renamed.status, 303);
    let deleted = w
        .owner
        .browser
        .submit(
            "/dashboard/settings",
            "/dashboard/settings/workspaces/delete",
            &[("id", &second)],
        )
        .await;
    assert_eq!(deleted.status, 303);
    let last = w
        .owner
        .browser
        .submit(
            "/dashboard/settings",
            "/dashboard/settings/workspaces/delete",
            &[("id", &w.workspace)],
        )
        .await;
    assert_eq!(last.status, 409, "{}", last.body);
    let workspaces = api(
        &app,
        "GET",
        &format!("/api/workspaces?org_id={}", w.org),
        &w.owner.token,
        None,
        200,
    )
    .await;
    assert_eq!(workspaces.as_array().unwrap().len(), 1);
    assert_eq!(workspaces[0]["id"], w.workspace.as_str());
}

#[tokio::test]
async fn a_password_change_checks_the_current_password_and_keeps_this_browser_signed_in() {
    let app = TestApp::spawn().await;
    let mut w = world(&app).await;
    let before = snapshot(&app).await;
    let wrong = w
        .owner
        .browser
        .submit(
            "/dashboard/settings",
            "/dashboard/settings/password",
            &[
                ("current_password", "not-my-password"),
                ("password", "a-new-password-2"),
            ],
        )
        .await;
    assert!(wrong.status >= 400 && wrong.status < 500, "{}", wrong.status);
    assert!(
        section(&wrong.body, "password-title").contains("role=\"alert\""),
        "{}",
        wrong.body
    );
    assert_eq!(snapshot(&app).await, before);
    let weak = w
        .owner
        .browser
        .submit(
            "/dashboard/settings",
            "/dashboard/settings/password",
            &[("current_password", PASSWORD), ("password", "short")],
        )
        .await;
    assert_eq!(weak.status, 422);
    let old_session = w.owner.browser.session().unwrap();
    let changed = w
        .owner
        .browser
        .submit(
            "/dashboard/settings",
            "/dashboard/settings/password",
            &[("current_password", PASSWORD), ("password", "a-new-password-2")],
        )
        .await;
    assert_eq!(changed.status, 303, "{}", changed.body);
    assert_ne!(
        w.owner.browser.session().unwrap(),
        old_session,
        "a new session for this browser"
    );
    let page = w.owner.browser.get("/dashboard/settings?done=password").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Your password was changed."));
    let refused = app
        .auth_post(
            "/token?grant_type=password",
            &json!({"email": w.owner.email, "password": PASSWORD}),
        )
        .await;
    assert_eq!(refused.status(), 400);
    app.sign_in_token(&w.owner.email, "a-new-password-2").await;
}

#[tokio::test]
async fn a_viewer_sees_settings_without_controls_and_forged_posts_change_nothing() {
    let app = TestApp::spawn().await;
    let mut w = world(&app).await;
    let page = w.viewer.browser.get("/dashboard/settings").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains(&w.owner.email), "members are listed");
    for absent in [
        "/dashboard/settings/organization",
        "/dashboard/settings/members\"",
        "/dashboard/settings/invitations",
        "/dashboard/settings/workspaces",
        "Anon key",
        ">Invitations</h2>",
    ] {
        assert!(!page.body.contains(absent), "a viewer's page has {absent}");
    }
    // Their own profile and password stay theirs to change, and leaving is theirs to choose.
    assert!(page.body.contains("/dashboard/settings/profile") && page.body.contains("/dashboard/settings/password"));
    assert!(page.body.contains("Leave organization"));

    let csrf = csrf_for(&page.body, "/dashboard/settings/profile").unwrap();
    let before = snapshot(&app).await;
    let forged: [(&str, Vec<(&str, &str)>); 8] = [
        ("organization", vec![("org_id", &w.org), ("name", "Taken over")]),
        (
            "members",
            vec![("org_id", &w.org), ("user_id", &w.viewer.user_id), ("role", "owner")],
        ),
        (
            "members/remove",
            vec![("org_id", &w.org), ("user_id", &w.owner.user_id)],
        ),
        (
            "invitations",
            vec![("org_id", &w.org), ("email", "friend@example.com"), ("role", "owner")],
        ),
        ("workspaces", vec![("org_id", &w.org), ("name", "Mine")]),
        ("workspaces/rename", vec![("id", &w.workspace), ("name", "Mine")]),
        ("workspaces/delete", vec![("id", &w.workspace)]),
        ("invitations/revoke", vec![("org_id", &w.org), ("id", &w.workspace)]),
    ];
    for (action, fields) in forged {
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend(fields);
        let answer = w
            .viewer
            .browser
            .post(&format!("/dashboard/settings/{action}"), &all)
            .await;
        assert_eq!(answer.status, 403, "{action}: {}", answer.body);
    }
    assert_eq!(snapshot(&app).await, before, "nothing changed");
    let _ = api(&app, "GET", "/api/profile", &w.viewer.token, None, 200).await;
}
