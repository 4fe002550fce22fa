//! Organizations, workspaces, members, invitations and the audit log.

#![allow(clippy::unwrap_used)]

use crate::helpers::TestApp;
use crate::support::{assert_error, call, contact, join, member, org};
use serde_json::{Value, json};
use uuid::Uuid;

#[tokio::test]
async fn creating_an_organization_makes_the_caller_owner_with_a_default_workspace() {
    let app = TestApp::spawn().await;
    let user = app.create_user().await;
    let created = call(
        &app,
        "POST",
        "/api/organizations",
        &user.token,
        Some(&json!({"name": "Acme Inc."})),
        201,
    )
    .await;
    assert_eq!(created["name"], "Acme Inc.");
    let slug = created["slug"].as_str().unwrap().to_owned();
    assert!(
        slug.starts_with("acme-inc-") && slug.len() == "acme-inc-".len() + 6,
        "{slug}"
    );
    assert_eq!(created["role"], "owner");
    // Slugs stay unique, even across organizations the caller cannot see, and a derived one tells nothing about
    // them: another "Acme Inc" gets a slug of the same shape, not `acme-inc-2`.
    let other = app.create_user().await;
    let second = call(
        &app,
        "POST",
        "/api/organizations",
        &other.token,
        Some(&json!({"name": "Acme Inc"})),
        201,
    )
    .await;
    let second_slug = second["slug"].as_str().unwrap();
    assert!(
        second_slug.starts_with("acme-inc-") && second_slug.len() == slug.len(),
        "{second_slug}"
    );
    assert_ne!(second_slug, slug);
    let taken = call(
        &app,
        "POST",
        "/api/organizations",
        &other.token,
        Some(&json!({"name": "X", "slug": slug})),
        409,
    )
    .await;
    assert_error(&taken, "conflict", None);

    let list = call(&app, "GET", "/api/organizations", &user.token, None, 200).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], created["id"]);
    assert_eq!(list[0]["role"], "owner");
    let workspaces = call(
        &app,
        "GET",
        &format!("/api/workspaces?org_id={}", created["id"].as_str().unwrap()),
        &user.token,
        None,
        200,
    )
    .await;
    assert_eq!(workspaces[0]["name"], "Default");
}

#[tokio::test]
async fn a_user_in_no_organization_gets_the_exact_403() {
    let app = TestApp::spawn().await;
    let acme = org(&app, "Acme").await;
    let loner = app.create_user().await;
    let body = call(
        &app,
        "GET",
        &format!("/api/contacts?workspace_id={}", acme.workspace_id),
        &loner.token,
        None,
        403,
    )
    .await;
    assert_error(&body, "no_organization", None);
    assert_eq!(body["error"]["message"], "Forbidden: No organization found for user");
    // Listing one's organizations is fine without any.
    let list = call(&app, "GET", "/api/organizations", &loner.token, None, 200).await;
    assert_eq!(list, json!([]));
}

#[tokio::test]
async fn members_roles_and_the_last_owner() {
    let app = TestApp::spawn().await;
    let acme = org(&app, "Acme").await;
    let admin = member(&app, &acme, "admin").await;
    let alice = member(&app, &acme, "member").await;
    let members_path = format!("/api/organizations/{}/members", acme.id);
    let members = call(&app, "GET", &members_path, &alice.token, None, 200).await;
    assert_eq!(members.as_array().unwrap().len(), 3);
    assert!(
        members
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["email"] == json!(admin.email) && m["role"] == "admin")
    );

    // An admin turns a member into a viewer, but cannot make admins or touch the owner.
    let alice_path = format!("{members_path}/{}", alice.id);
    let changed = call(
        &app,
        "PATCH",
        &alice_path,
        &admin.token,
        Some(&json!({"role": "viewer"})),
        200,
    )
    .await;
    assert_eq!(changed["role"], "viewer");
    let body = call(
        &app,
        "PATCH",
        &alice_path,
        &admin.token,
        Some(&json!({"role": "admin"})),
        403,
    )
    .await;
    assert_error(&body, "insufficient_role", None);
    let owner_path = format!("{members_path}/{}", acme.owner.id);
    call(
        &app,
        "PATCH",
        &owner_path,
        &admin.token,
        Some(&json!({"role": "member"})),
        403,
    )
    .await;
    // A member cannot change roles at all.
    call(
        &app,
        "PATCH",
        &owner_path,
        &alice.token,
        Some(&json!({"role": "viewer"})),
        403,
    )
    .await;

    // The last owner can neither step down nor leave.
    let body = call(
        &app,
        "PATCH",
        &owner_path,
        &acme.owner.token,
        Some(&json!({"role": "admin"})),
        409,
    )
    .await;
    assert_error(&body, "conflict", None);
    call(&app, "DELETE", &owner_path, &acme.owner.token, None, 409).await;
    // With a second owner, they can.
    call(
        &app,
        "PATCH",
        &format!("{members_path}/{}", admin.id),
        &acme.owner.token,
        Some(&json!({"role": "owner"})),
        200,
    )
    .await;
    call(
        &app,
        "PATCH",
        &owner_path,
        &acme.owner.token,
        Some(&json!({"role": "admin"})),
        200,
    )
    .await;

    // Removal: the removed member loses access at once.
    call(&app, "DELETE", &alice_path, &admin.token, None, 204).await;
    let body = call(
        &app,
        "GET",
        &format!("/api/contacts?workspace_id={}", acme.workspace_id),
        &alice.token,
        None,
        403,
    )
    .await;
    assert_error(&body, "no_organization", None);
}

#[tokio::test]
async fn invitations_are_single_use_bound_to_an_email_and_stored_hashed() {
    let app = TestApp::spawn().await;
    let acme = org(&app, "Acme").await;
    let bob = app.create_user().await;
    let eve = app.create_user().await;
    let invitation = call(
        &app,
        "POST",
        &format!("/api/organizations/{}/invitations", acme.id),
        &acme.owner.token,
        Some(&json!({"email": bob.email.to_uppercase(), "role": "viewer"})),
        201,
    )
    .await;
    let token = invitation["token"].as_str().unwrap().to_owned();
    assert_eq!(invitation["email"], json!(bob.email));
    // The invitee is mailed a link carrying the token.
    let mail = app.mails().into_iter().find(|m| m["type"] == "invite").unwrap();
    assert_eq!(mail["to"], json!(bob.email));
    assert!(mail["link"].as_str().unwrap().ends_with(&format!("token={token}")));
    // Someone else's account cannot use it.
    let body = call(
        &app,
        "POST",
        "/api/invitations/accept",
        &eve.token,
        Some(&json!({"token": token})),
        404,
    )
    .await;
    assert_error(&body, "not_found", None);
    let joined = call(
        &app,
        "POST",
        "/api/invitations/accept",
        &bob.token,
        Some(&json!({"token": token})),
        200,
    )
    .await;
    assert_eq!(joined["role"], "viewer");
    // Single use.
    call(
        &app,
        "POST",
        "/api/invitations/accept",
        &bob.token,
        Some(&json!({"token": token})),
        404,
    )
    .await;
    // Only the hash is stored.
    let admin = app.connect_as("postgres").await;
    let stored = admin
        .query("select encode(token_hash, 'hex') from public.invitations", &[])
        .await
        .unwrap();
    assert!(stored.iter().all(|r| r.get::<_, String>(0) != token));
    // Expired invitations do not work.
    let carol = app.create_user().await;
    let invitation = call(
        &app,
        "POST",
        &format!("/api/organizations/{}/invitations", acme.id),
        &acme.owner.token,
        Some(&json!({"email": carol.email})),
        201,
    )
    .await;
    admin
        .batch_execute(
            "update public.invitations set expires_at = now() - interval '1 minute' where accepted_at is null",
        )
        .await
        .unwrap();
    call(
        &app,
        "POST",
        "/api/invitations/accept",
        &carol.token,
        Some(&json!({"token": invitation["token"]})),
        404,
    )
    .await;
    // A viewer cannot invite; an admin cannot invite an admin.
    call(
        &app,
        "POST",
        &format!("/api/organizations/{}/invitations", acme.id),
        &bob.token,
        Some(&json!({"email": "x@y.io"})),
        403,
    )
    .await;
    let admin_user = member(&app, &acme, "admin").await;
    let body = call(
        &app,
        "POST",
        &format!("/api/organizations/{}/invitations", acme.id),
        &admin_user.token,
        Some(&json!({"email": "x@y.io", "role": "admin"})),
        403,
    )
    .await;
    assert_error(&body, "insufficient_role", None);
    // Joining twice is a conflict.
    let again = call(
        &app,
        "POST",
        &format!("/api/organizations/{}/invitations", acme.id),
        &acme.owner.token,
        Some(&json!({"email": bob.email})),
        201,
    )
    .await;
    call(
        &app,
        "POST",
        "/api/invitations/accept",
        &bob.token,
        Some(&json!({"token": again["token"]})),
        409,
    )
    .await;
    let _ = join;
}

#[tokio::test]
async fn the_audit_log_records_changes_for_admins_and_cannot_be_altered() {
    let app = TestApp::spawn().await;
    let acme = org(&app, "Acme").await;
    let alice = member(&app, &acme, "member").await;
    let created = contact(&app, &acme, json!({"first_name": "Ada", "email": "ada@acme.io"})).await;
    let id = created["id"].as_str().unwrap();
    call(
        &app,
        "PATCH",
        &format!("/api/contacts/{id}"),
        &alice.token,
        Some(&json!({"company": "Acme"})),
        200,
    )
    .await;
    call(&app, "DELETE", &format!("/api/contacts/{id}"), &alice.token, None, 204).await;

    let log = call(
        &app,
        "GET",
        &format!("/api/audit?org_id={}", acme.id),
        &acme.owner.token,
        None,
        200,
    )
    .await;
    let entries: Vec<_> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["table_name"] == "contacts")
        .collect();
    let actions: Vec<&str> = entries.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["delete", "update", "insert"]);
    assert_eq!(entries[1]["changed_fields"], json!(["company"]));
    assert_eq!(entries[1]["actor_id"], json!(alice.id));
    // Members cannot read it.
    call(
        &app,
        "GET",
        &format!("/api/audit?org_id={}", acme.id),
        &alice.token,
        None,
        403,
    )
    .await;

    // Nobody can change it, not even an owner writing SQL through the caller's role.
    let mut tx = app
        .db
        .begin_as(&app.caller(&acme.owner.token), kith_db::Access::ReadWrite)
        .await
        .unwrap();
    let updated = tx.query("update public.audit_log set action = 'insert'", &[]).await;
    assert!(updated.is_err(), "update must be refused");
    drop(tx);
    let mut tx = app
        .db
        .begin_as(&app.caller(&acme.owner.token), kith_db::Access::ReadWrite)
        .await
        .unwrap();
    assert!(tx.query("delete from public.audit_log", &[]).await.is_err());
    drop(tx);
    let mut tx = app
        .db
        .begin_as(&app.caller(&acme.owner.token), kith_db::Access::ReadWrite)
        .await
        .unwrap();
    let inserted = tx
        .query(
            "insert into public.audit_log (org_id, table_name, action) values ($1, 'x', 'insert')",
            &[&acme.id],
        )
        .await;
    assert!(inserted.is_err());
}

#[tokio::test]
async fn workspaces_are_managed_by_admins_and_one_always_remains() {
    let app = TestApp::spawn().await;
    let acme = org(&app, "Acme").await;
    let alice = member(&app, &acme, "member").await;
    let body = call(
        &app,
        "POST",
        "/api/workspaces",
        &alice.token,
        Some(&json!({"org_id": acme.id, "name": "Sales"})),
        403,
    )
    .await;
    assert_error(&body, "insufficient_role", None);
    let sales = call(
        &app,
        "POST",
        "/api/workspaces",
        &acme.owner.token,
        Some(&json!({"org_id": acme.id, "name": "Sales"})),
        201,
    )
    .await;
    let path = format!("/api/workspaces/{}", sales["id"].as_str().unwrap());
    let renamed = call(
        &app,
        "PATCH",
        &path,
        &acme.owner.token,
        Some(&json!({"name": "EMEA sales"})),
        200,
    )
    .await;
    assert_eq!(renamed["name"], "EMEA sales");
    call(&app, "DELETE", &path, &acme.owner.token, None, 204).await;
    let body = call(
        &app,
        "DELETE",
        &format!("/api/workspaces/{}", acme.workspace_id),
        &acme.owner.token,
        None,
        409,
    )
    .await;
    assert_error(&body, "conflict", None);
    // The owner renames and deletes the organization; then it is gone for its members too.
    let renamed = call(
        &app,
        "PATCH",
        &format!("/api/organizations/{}", acme.id),
        &acme.owner.token,
        Some(&json!({"name": "Acme 2"})),
        200,
    )
    .await;
    assert_eq!(renamed["name"], "Acme 2");
    call(
        &app,
        "DELETE",
        &format!("/api/organizations/{}", acme.id),
        &alice.token,
        None,
        403,
    )
    .await;
    call(
        &app,
        "DELETE",
        &format!("/api/organizations/{}", acme.id),
        &acme.owner.token,
        None,
        204,
    )
    .await;
    assert_eq!(
        call(&app, "GET", "/api/organizations", &alice.token, None, 200).await,
        json!([])
    );
}

/// Row-level security alone isolates tenants: SQL run as another tenant's caller, without any route's checks,
/// sees and changes nothing of theirs.
#[tokio::test]
async fn postgres_alone_hides_other_tenants_rows() {
    let app = TestApp::spawn().await;
    let a = org(&app, "A").await;
    let b = org(&app, "B").await;
    let ada = contact(&app, &a, json!({"first_name": "Ada"})).await;
    let ada_id: uuid::Uuid = ada["id"].as_str().unwrap().parse().unwrap();
    let caller = app.caller(&b.owner.token);
    let mut tx = app.db.begin_as(&caller, kith_db::Access::ReadWrite).await.unwrap();
    for table in [
        "organizations",
        "workspaces",
        "user_organizations",
        "contacts",
        "interactions",
        "calendar_events",
        "audit_log",
        "invitations",
    ] {
        let rows = tx
            .query(&format!("select to_jsonb(t)::text from public.{table} t"), &[])
            .await
            .unwrap();
        for row in rows {
            let text: String = row.get(0);
            assert!(!text.contains(&a.id.to_string()), "{table} leaks A: {text}");
        }
    }
    let updated = tx
        .query(
            "update public.contacts set first_name = 'Eve' where id = $1 returning id",
            &[&ada_id],
        )
        .await
        .unwrap();
    assert!(updated.is_empty());
    let deleted = tx
        .query("delete from public.contacts where id = $1 returning id", &[&ada_id])
        .await
        .unwrap();
    assert!(deleted.is_empty());
    let inserted = tx
        .query(
            "insert into public.contacts (org_id, workspace_id, first_name) values ($1, $2, 'Eve')",
            &[&a.id, &a.workspace_id],
        )
        .await;
    assert!(inserted.is_err(), "inserting into another tenant's workspace must fail");
    drop(tx);
    // Nor can they make themselves a member.
    let mut tx = app.db.begin_as(&caller, kith_db::Access::ReadWrite).await.unwrap();
    let joined = tx
        .query(
            "insert into public.user_organizations (org_id, user_id, role) values ($1, $2, 'owner')",
            &[&a.id, &b.owner.id],
        )
        .await;
    assert!(joined.is_err());
    drop(tx);
    let read = call(
        &app,
        "GET",
        &format!("/api/contacts/{ada_id}"),
        &a.owner.token,
        None,
        200,
    )
    .await;
    assert_eq!(read["first_name"], "Ada");
}

/// Every table in `public` has RLS enabled and forced and a policy for each command; every security-definer
/// function pins its search_path; `authenticated` can execute no function in `private` that was not granted on
/// purpose.
#[tokio::test]
async fn the_schema_follows_the_rls_rules() {
    let app = TestApp::spawn().await;
    let admin = app.connect_as("postgres").await;
    let tables = admin
        .query(
            "select c.relname, c.relrowsecurity, c.relforcerowsecurity,
                    array(select distinct p.cmd from pg_policies p
                          where p.schemaname = 'public' and p.tablename = c.relname order by 1) as cmds
             from pg_class c join pg_namespace n on n.oid = c.relnamespace
             where n.nspname = 'public' and c.relkind = 'r'",
            &[],
        )
        .await
        .unwrap();
    assert!(tables.len() >= 10);
    for row in &tables {
        let name: String = row.get(0);
        assert!(row.get::<_, bool>(1), "{name}: RLS not enabled");
        assert!(row.get::<_, bool>(2), "{name}: RLS not forced");
        let cmds: Vec<String> = row.get(3);
        assert!(
            cmds.contains(&"ALL".to_owned())
                || ["SELECT", "INSERT", "UPDATE", "DELETE"]
                    .iter()
                    .all(|c| cmds.contains(&(*c).to_owned())),
            "{name}: a policy per command, got {cmds:?}"
        );
    }
    let unpinned = admin
        .query(
            "select p.proname from pg_proc p join pg_namespace n on n.oid = p.pronamespace
             where p.prosecdef and n.nspname in ('public', 'private', 'auth')
               and not coalesce(p.proconfig, '{}') @> array['search_path=\"\"']",
            &[],
        )
        .await
        .unwrap();
    let names: Vec<String> = unpinned.iter().map(|r| r.get(0)).collect();
    assert!(
        names.is_empty(),
        "security-definer functions without a pinned search_path: {names:?}"
    );
}

#[tokio::test]
async fn a_deleted_organizations_id_cannot_be_taken_and_created_by_cannot_be_forged() {
    let app = TestApp::spawn().await;
    let acme = org(&app, "Acme").await;
    let anon_key = kith_auth::api_keys::mint(crate::helpers::SECRET.as_bytes(), chrono::Utc::now().timestamp())
        .unwrap()
        .anon;
    let rest = |method: reqwest::Method, path: &str, token: &str, body: Value| {
        app.http
            .request(method, format!("{}/rest/v1/{path}", app.address))
            .header("apikey", &anon_key)
            .bearer_auth(token)
            .header("prefer", "return=representation")
            .json(&body)
            .send()
    };

    // A member stamps contacts as themselves, whatever `created_by` the request claims.
    let colleague = Uuid::new_v4();
    let created = rest(
        reqwest::Method::POST,
        "contacts",
        &acme.owner.token,
        json!({"org_id": acme.id, "workspace_id": acme.workspace_id, "first_name": "Ada", "created_by": colleague}),
    )
    .await
    .unwrap();
    assert_eq!(created.status(), 201, "{}", created.text().await.unwrap());
    let rows: Value = created.json().await.unwrap();
    assert_eq!(rows[0]["created_by"], json!(acme.owner.id));

    // Deleting the organization keeps its audit history; its id cannot come back under a new owner.
    call(
        &app,
        "DELETE",
        &format!("/api/organizations/{}", acme.id),
        &acme.owner.token,
        None,
        204,
    )
    .await;
    let thief = app.create_user().await;
    let reuse = rest(
        reqwest::Method::POST,
        "organizations",
        &thief.token,
        json!({"id": acme.id, "name": "Not Acme", "slug": "not-acme"}),
    )
    .await
    .unwrap();
    assert_eq!(reuse.status(), 409, "{}", reuse.text().await.unwrap());
}
