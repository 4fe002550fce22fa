//! The admin API (`/auth/v1/admin/*`, `/invite`): only the service-role key gets in, GoTrue's shapes, and the
//! audit trail records every call with its caller.

#![allow(clippy::unwrap_used)]

use crate::helpers::{SECRET, TestApp, json_body, sign, sign_with};
use serde_json::{Value, json};
use uuid::Uuid;

fn service_key() -> String {
    kith_auth::api_keys::mint(SECRET.as_bytes(), chrono::Utc::now().timestamp())
        .unwrap()
        .service_role
}

fn anon_key() -> String {
    kith_auth::api_keys::mint(SECRET.as_bytes(), chrono::Utc::now().timestamp())
        .unwrap()
        .anon
}

async fn call(app: &TestApp, method: &str, path: &str, token: Option<&str>, body: Option<&Value>) -> reqwest::Response {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = app
        .http
        .request(method, format!("{}/auth/v1{path}", app.address))
        .header("x-supabase-api-version", "2024-01-01");
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    request.send().await.unwrap()
}

async fn audit_actions(app: &TestApp) -> Vec<(String, String, String)> {
    let mut tx = app.privileged.begin("test: read the audit trail").await.unwrap();
    let rows = tx
        .query(
            "select payload ->> 'action', payload ->> 'actor_username', payload ->> 'actor_via'
               from auth.audit_log_entries order by created_at, id",
            &[],
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect()
}

#[tokio::test]
async fn every_admin_route_refuses_everyone_but_the_service_role_key() {
    let app = TestApp::spawn().await;
    let user = app.create_user().await;
    let now = chrono::Utc::now().timestamp();
    let id = user.id;
    let routes: Vec<(&str, String, Option<Value>)> = vec![
        ("GET", "/admin/users".into(), None),
        (
            "POST",
            "/admin/users".into(),
            Some(json!({"email": "x@example.com", "password": "a-good-password"})),
        ),
        ("GET", format!("/admin/users/{id}"), None),
        (
            "PUT",
            format!("/admin/users/{id}"),
            Some(json!({"ban_duration": "24h"})),
        ),
        ("DELETE", format!("/admin/users/{id}"), None),
        (
            "POST",
            "/admin/generate_link".into(),
            Some(json!({"type": "recovery", "email": user.email})),
        ),
        ("POST", "/invite".into(), Some(json!({"email": "y@example.com"}))),
    ];
    // A user token that claims service_role, signed with the right secret: still a user's token, not the key.
    let mut user_claiming_admin = app.user_claims(user.id, &user.email, 3600);
    user_claiming_admin["role"] = json!("service_role");
    let callers: Vec<(String, u16, &str, &str)> = vec![
        (user.token.clone(), 403, "not_admin", "a user token"),
        (anon_key(), 403, "not_admin", "the anon key"),
        (
            sign(&user_claiming_admin),
            403,
            "not_admin",
            "a user token claiming service_role",
        ),
        (
            sign_with(
                &json!({"role": "service_role", "iss": "kith", "exp": now + 3600}),
                b"not-the-secret-but-just-as-long-0123456789",
            ),
            403,
            "bad_jwt",
            "a service key signed with a wrong key",
        ),
        (
            sign(&json!({"role": "supabase_admin", "iss": "kith", "exp": now + 3600})),
            403,
            "bad_jwt",
            "another admin role",
        ),
        (
            sign(&json!({"role": "service_role", "iss": "kith", "exp": now - 3600})),
            403,
            "bad_jwt",
            "an expired service key",
        ),
    ];
    for (method, path, body) in &routes {
        let response = call(&app, method, path, None, body.as_ref()).await;
        let error = json_body(response, 401).await;
        assert_eq!(error["code"], "no_authorization", "{method} {path} without a token");
        for (token, status, code, case) in &callers {
            let response = call(&app, method, path, Some(token), body.as_ref()).await;
            let error = json_body(response, *status).await;
            assert_eq!(error["code"], *code, "{method} {path} with {case}: {error}");
            if *code == "not_admin" {
                assert_eq!(error["message"], "User not allowed");
            }
        }
    }
    // Nothing happened: the user is neither banned nor deleted, and nobody was invited or created.
    let key = service_key();
    let found = json_body(
        call(&app, "GET", &format!("/admin/users/{id}"), Some(&key), None).await,
        200,
    )
    .await;
    assert!(found.get("banned_until").is_none(), "{found}");
    let list = json_body(call(&app, "GET", "/admin/users", Some(&key), None).await, 200).await;
    assert_eq!(list["users"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn admin_users_lifecycle_in_gotrue_shapes_with_an_audit_trail() {
    let app = TestApp::spawn().await;
    let key = service_key();
    let email = format!("admin-{}@example.com", Uuid::new_v4().simple());
    let created = json_body(
        call(
            &app,
            "POST",
            "/admin/users",
            Some(&key),
            Some(
                &json!({"email": email.to_uppercase(), "password": "a-good-password", "email_confirm": true,
                         "user_metadata": {"name": "Ada"}, "app_metadata": {"plan": "pro"}}),
            ),
        )
        .await,
        200,
    )
    .await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["email"], email);
    assert!(created["email_confirmed_at"].is_string());
    assert_eq!(created["user_metadata"], json!({"name": "Ada"}));
    assert_eq!(
        created["app_metadata"],
        json!({"provider": "email", "providers": ["email"], "plan": "pro"})
    );
    assert_eq!(created["identities"][0]["provider"], "email");

    // The new user signs in with the password the admin set.
    let session = app
        .auth_post(
            "/token?grant_type=password",
            &json!({"email": email, "password": "a-good-password"}),
        )
        .await;
    assert_eq!(session.status(), 200);

    // Duplicates, bad input.
    let dup = call(&app, "POST", "/admin/users", Some(&key), Some(&json!({"email": email}))).await;
    assert_eq!(json_body(dup, 422).await["code"], "email_exists");
    let none = call(
        &app,
        "POST",
        "/admin/users",
        Some(&key),
        Some(&json!({"password": "a-good-password"})),
    )
    .await;
    assert_eq!(json_body(none, 400).await["code"], "validation_failed");
    let phone = call(
        &app,
        "POST",
        "/admin/users",
        Some(&key),
        Some(&json!({"phone": "+15555550100"})),
    )
    .await;
    assert_eq!(json_body(phone, 422).await["code"], "phone_provider_disabled");
    let bad_ban = call(
        &app,
        "PUT",
        &format!("/admin/users/{id}"),
        Some(&key),
        Some(&json!({"ban_duration": "forever"})),
    )
    .await;
    let error = json_body(bad_ban, 400).await;
    assert_eq!(error["code"], "validation_failed");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .starts_with("invalid format for ban duration")
    );
    let bad_id = call(&app, "GET", "/admin/users/not-a-uuid", Some(&key), None).await;
    assert_eq!(json_body(bad_id, 404).await["code"], "validation_failed");
    let missing = call(
        &app,
        "GET",
        &format!("/admin/users/{}", Uuid::new_v4()),
        Some(&key),
        None,
    )
    .await;
    assert_eq!(json_body(missing, 404).await["code"], "user_not_found");

    // Ban: sign-in refused; "none" lifts it.
    let banned = json_body(
        call(
            &app,
            "PUT",
            &format!("/admin/users/{id}"),
            Some(&key),
            Some(&json!({"ban_duration": "24h"})),
        )
        .await,
        200,
    )
    .await;
    assert!(banned["banned_until"].is_string());
    let refused = app
        .auth_post(
            "/token?grant_type=password",
            &json!({"email": email, "password": "a-good-password"}),
        )
        .await;
    assert_eq!(json_body(refused, 400).await["code"], "user_banned");
    let lifted = json_body(
        call(
            &app,
            "PUT",
            &format!("/admin/users/{id}"),
            Some(&key),
            Some(&json!({"ban_duration": "none",
             "user_metadata": {"name": null, "team": "b"}})),
        )
        .await,
        200,
    )
    .await;
    assert!(lifted.get("banned_until").is_none(), "{lifted}");
    assert_eq!(lifted["user_metadata"], json!({"team": "b"}));

    // List: pagination headers as GoTrue sends them.
    for _ in 0..2 {
        app.create_user().await;
    }
    let response = call(&app, "GET", "/admin/users?page=1&per_page=2", Some(&key), None).await;
    assert_eq!(response.headers()["x-total-count"], "3");
    let link = response.headers()["link"].to_str().unwrap().to_owned();
    assert_eq!(
        link,
        "</auth/v1/admin/users?page=2&per_page=2>; rel=\"next\", </auth/v1/admin/users?page=2&per_page=2>; rel=\"last\""
    );
    let page = json_body(response, 200).await;
    assert_eq!(page["aud"], "authenticated");
    assert_eq!(page["users"].as_array().unwrap().len(), 2);
    let bad_page = call(&app, "GET", "/admin/users?page=x", Some(&key), None).await;
    assert_eq!(json_body(bad_page, 400).await["code"], "validation_failed");

    // Soft delete frees the address and ends sign-in; hard delete removes the row.
    let soft = call(
        &app,
        "DELETE",
        &format!("/admin/users/{id}"),
        Some(&key),
        Some(&json!({"should_soft_delete": true})),
    )
    .await;
    assert_eq!(json_body(soft, 200).await, json!({}));
    let gone = json_body(
        call(&app, "GET", &format!("/admin/users/{id}"), Some(&key), None).await,
        200,
    )
    .await;
    assert!(gone["deleted_at"].is_string());
    assert_eq!(gone["email"], "");
    let hard = call(&app, "DELETE", &format!("/admin/users/{id}"), Some(&key), None).await;
    assert_eq!(json_body(hard, 200).await, json!({}));
    let missing = call(&app, "GET", &format!("/admin/users/{id}"), Some(&key), None).await;
    assert_eq!(json_body(missing, 404).await["code"], "user_not_found");

    // Every call is in the trail, with its caller; `kith user create`'s path is audited as the CLI.
    let actions = audit_actions(&app).await;
    let admin_actions: Vec<&str> = actions
        .iter()
        .filter(|(_, actor, via)| actor == "service_role" && via == "service_role_key")
        .map(|(action, _, _)| action.as_str())
        .collect();
    for expected in [
        "user_signedup",
        "user_modified",
        "users_listed",
        "user_read",
        "user_deleted",
    ] {
        assert!(admin_actions.contains(&expected), "{expected} missing from {actions:?}");
    }
    assert!(
        actions
            .iter()
            .any(|(action, actor, via)| action == "user_signedup" && actor == "kith user create" && via == "cli")
    );
}

#[tokio::test]
async fn generated_links_and_invitations_sign_in() {
    let app = TestApp::spawn().await;
    let key = service_key();
    let user = app.create_user().await;

    // Recovery: nothing is mailed; the hashed token verifies once.
    let link = json_body(
        call(
            &app,
            "POST",
            "/admin/generate_link",
            Some(&key),
            Some(&json!({"type": "recovery", "email": user.email})),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(link["verification_type"], "recovery");
    assert_eq!(link["id"], json!(user.id));
    assert!(link["action_link"].as_str().unwrap().contains("/auth/v1/verify?token="));
    assert_eq!(link["email_otp"].as_str().unwrap().len(), 6);
    assert!(app.mails().is_empty());
    let verified = app
        .auth_post(
            "/verify",
            &json!({"type": "recovery", "token_hash": link["hashed_token"]}),
        )
        .await;
    assert!(json_body(verified, 200).await["access_token"].is_string());
    let again = app
        .auth_post(
            "/verify",
            &json!({"type": "recovery", "token_hash": link["hashed_token"]}),
        )
        .await;
    assert_eq!(json_body(again, 403).await["code"], "otp_expired");

    // A magic link for an unknown address signs it up; the email code works too.
    let address = format!("new-{}@example.com", Uuid::new_v4().simple());
    let link = json_body(
        call(
            &app,
            "POST",
            "/admin/generate_link",
            Some(&key),
            Some(&json!({"type": "magiclink", "email": address})),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(link["verification_type"], "signup");
    let verified = app
        .auth_post(
            "/verify",
            &json!({"type": "signup", "email": address, "token": link["email_otp"]}),
        )
        .await;
    assert!(json_body(verified, 200).await["access_token"].is_string());

    // Recovery for nobody, and an unknown type.
    let nobody = call(
        &app,
        "POST",
        "/admin/generate_link",
        Some(&key),
        Some(&json!({"type": "recovery", "email": "nobody@example.com"})),
    )
    .await;
    assert_eq!(json_body(nobody, 404).await["code"], "user_not_found");
    let odd = call(
        &app,
        "POST",
        "/admin/generate_link",
        Some(&key),
        Some(&json!({"type": "sms", "email": address})),
    )
    .await;
    assert_eq!(json_body(odd, 400).await["code"], "validation_failed");

    // Email change: the link moves the address.
    let new_address = format!("moved-{}@example.com", Uuid::new_v4().simple());
    let link = json_body(
        call(
            &app,
            "POST",
            "/admin/generate_link",
            Some(&key),
            Some(&json!({"type": "email_change_new", "email": user.email, "new_email": new_address})),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(link["new_email"], new_address);
    let verified = app
        .auth_post(
            "/verify",
            &json!({"type": "email_change", "token_hash": link["hashed_token"]}),
        )
        .await;
    assert_eq!(json_body(verified, 200).await["user"]["email"], new_address);

    // Invite: the user exists (unconfirmed, invited), the mail carries a link that signs in.
    let invited = format!("invited-{}@example.com", Uuid::new_v4().simple());
    let body = json_body(
        call(
            &app,
            "POST",
            "/invite",
            Some(&key),
            Some(&json!({"email": invited, "data": {"team": "sales"}})),
        )
        .await,
        200,
    )
    .await;
    assert!(body["invited_at"].is_string());
    assert!(body.get("email_confirmed_at").is_none());
    assert_eq!(body["user_metadata"], json!({"team": "sales"}));
    let mail = app.mails().pop().unwrap();
    assert_eq!(mail["type"], "invite");
    let verified = app
        .auth_post(
            "/verify",
            &json!({"type": "invite", "email": invited, "token": mail["code"]}),
        )
        .await;
    assert!(json_body(verified, 200).await["user"]["email_confirmed_at"].is_string());
    let twice = call(&app, "POST", "/invite", Some(&key), Some(&json!({"email": invited}))).await;
    assert_eq!(json_body(twice, 422).await["code"], "email_exists");
}

#[tokio::test]
async fn the_audit_trail_is_closed_to_api_roles_and_append_only() {
    let app = TestApp::spawn().await;
    let user = app.create_user().await;
    let caller = app.caller(&user.token);
    let mut tx = app.db.begin_as(&caller, kith_db::Access::ReadWrite).await.unwrap();
    assert!(tx.query("select * from auth.audit_log_entries", &[]).await.is_err());
    tx.rollback().await.unwrap();
    let anon = kith_db::Caller::anonymous();
    let mut tx = app.db.begin_as(&anon, kith_db::Access::ReadWrite).await.unwrap();
    assert!(
        tx.query(
            "insert into auth.audit_log_entries (payload) values ('{\"action\": \"forged\"}')",
            &[]
        )
        .await
        .is_err()
    );
    tx.rollback().await.unwrap();
    // Even the privileged handle cannot rewrite history.
    let mut tx = app.privileged.begin("test: tamper with the trail").await.unwrap();
    assert!(tx.query("delete from auth.audit_log_entries", &[]).await.is_err());
    tx.rollback().await.unwrap();
    let mut tx = app.privileged.begin("test: tamper with the trail").await.unwrap();
    assert!(
        tx.query("update auth.audit_log_entries set ip_address = 'x'", &[])
            .await
            .is_err()
    );
    tx.rollback().await.unwrap();
    // RLS is on and forced, with a policy per command.
    let admin = app.connect_as("postgres").await;
    let row = admin
        .query_one(
            "select relrowsecurity, relforcerowsecurity,
                    (select count(distinct cmd) from pg_policies where schemaname = 'auth' and tablename = 'audit_log_entries')
               from pg_class where oid = 'auth.audit_log_entries'::regclass",
            &[],
        )
        .await
        .unwrap();
    assert!(row.get::<_, bool>(0) && row.get::<_, bool>(1));
    assert_eq!(row.get::<_, i64>(2), 4);
}
