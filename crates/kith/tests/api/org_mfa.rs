//! An organization that requires MFA: its members' `aal1` sessions read nothing of it, `aal2` sessions read it,
//! and other organizations are unaffected (the rule lives in `private.org_ids_with_role`, which every policy on
//! organization data asks).

#![allow(clippy::unwrap_used)]

use crate::helpers::{TestApp, TestUser, sign};
use kith_db::Access;
use serde_json::json;
use uuid::Uuid;

fn token(app: &TestApp, user: &TestUser, aal: &str) -> String {
    let mut claims = app.user_claims(user.id, &user.email, 3600);
    claims["aal"] = json!(aal);
    sign(&claims)
}

/// Rows the caller sees in each organization table, for `org`.
async fn visible(app: &TestApp, token: &str, org: Uuid) -> [i64; 4] {
    let caller = app.caller(token);
    let mut tx = app.db.begin_as(&caller, Access::ReadOnly).await.unwrap();
    let row = tx
        .query_one(
            "select (select count(*) from public.organizations where id = $1),
                    (select count(*) from public.workspaces where org_id = $1),
                    (select count(*) from public.user_organizations where org_id = $1),
                    (select count(*) from public.audit_log where org_id = $1)",
            &[&org],
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    [row.get(0), row.get(1), row.get(2), row.get(3)]
}

async fn create_org(app: &TestApp, token: &str, name: &str) -> Uuid {
    let caller = app.caller(token);
    let mut tx = app.db.begin_as(&caller, Access::ReadWrite).await.unwrap();
    // No RETURNING: the creator becomes a member (and may read the row) only in the after-insert trigger.
    let id = Uuid::new_v4();
    tx.query(
        "insert into public.organizations (id, name) values ($1, $2)",
        &[&id, &name],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    id
}

async fn requires_mfa(app: &TestApp, token: &str, org: Uuid) -> bool {
    let caller = app.caller(token);
    let mut tx = app.db.begin_as(&caller, Access::ReadOnly).await.unwrap();
    let required: bool = tx
        .query_one("select private.org_requires_mfa($1)", &[&org])
        .await
        .unwrap()
        .get(0);
    tx.commit().await.unwrap();
    required
}

#[tokio::test]
async fn an_org_that_requires_mfa_is_invisible_to_aal1_sessions_of_its_members() {
    let app = TestApp::spawn().await;
    let owner = app.create_user().await;
    let outsider = app.create_user().await;
    let aal1 = token(&app, &owner, "aal1");
    let aal2 = token(&app, &owner, "aal2");
    let strict = create_org(&app, &aal1, "Strict Ltd").await;
    let relaxed = create_org(&app, &aal1, "Relaxed Ltd").await;
    let before = visible(&app, &aal1, strict).await;
    assert_eq!(&before[..3], &[1, 1, 1]);
    assert!(!requires_mfa(&app, &aal1, strict).await);

    // The owner turns the requirement on (an update as any owner session, through RLS).
    let caller = app.caller(&aal1);
    let mut tx = app.db.begin_as(&caller, Access::ReadWrite).await.unwrap();
    let changed = tx
        .query(
            "update public.organizations set require_mfa = true where id = $1 returning id",
            &[&strict],
        )
        .await
        .unwrap()
        .len();
    tx.commit().await.unwrap();
    assert_eq!(changed, 1);

    // aal1 reads nothing of it, cannot switch it off, cannot add to it; aal2 reads all of it.
    assert_eq!(visible(&app, &aal1, strict).await, [0, 0, 0, 0]);
    let seen = visible(&app, &aal2, strict).await;
    assert_eq!(&seen[..3], &before[..3]);
    assert!(seen[3] > before[3], "the change is in the organization's audit log");
    let mut tx = app.db.begin_as(&caller, Access::ReadWrite).await.unwrap();
    let off = tx
        .query(
            "update public.organizations set require_mfa = false where id = $1 returning id",
            &[&strict],
        )
        .await
        .unwrap()
        .len();
    assert_eq!(off, 0);
    let workspace = tx
        .query(
            "insert into public.workspaces (org_id, name) values ($1, 'sneaky')",
            &[&strict],
        )
        .await;
    assert!(workspace.is_err());
    tx.rollback().await.unwrap();
    // The other organization is unaffected, and the API can tell "MFA required" from "not found".
    assert_eq!(&visible(&app, &aal1, relaxed).await[..3], &[1, 1, 1]);
    assert!(requires_mfa(&app, &aal1, strict).await);
    assert!(!requires_mfa(&app, &aal2, strict).await);
    assert!(!requires_mfa(&app, &aal1, relaxed).await);
    // An outsider learns nothing, whatever their level.
    let outsider_aal1 = token(&app, &outsider, "aal1");
    assert!(!requires_mfa(&app, &outsider_aal1, strict).await);
    assert_eq!(
        visible(&app, &token(&app, &outsider, "aal2"), strict).await,
        [0, 0, 0, 0]
    );

    // The /api says why: 403 mfa_required for the strict organization's workspace at aal1, data at aal2.
    let strict_workspace: Uuid = {
        let mut tx = app.db.begin_as(&app.caller(&aal2), Access::ReadOnly).await.unwrap();
        let row = tx
            .query_one("select id from public.workspaces where org_id = $1", &[&strict])
            .await
            .unwrap();
        tx.commit().await.unwrap();
        row.get("id")
    };
    let contacts = format!("/api/contacts?workspace_id={strict_workspace}");
    let refused = app.get(&contacts, Some(&aal1)).await;
    assert_eq!(refused.status(), 403);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "mfa_required", "{body}");
    assert_eq!(app.get(&contacts, Some(&aal2)).await.status(), 200);
    let refused = app.get(&contacts, Some(&outsider_aal1)).await;
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(
        body["error"]["code"], "no_organization",
        "an outsider learns nothing: {body}"
    );

    // aal2 switches it off again; aal1 sees the organization once more.
    let caller2 = app.caller(&aal2);
    let mut tx = app.db.begin_as(&caller2, Access::ReadWrite).await.unwrap();
    let off = tx
        .query(
            "update public.organizations set require_mfa = false where id = $1 returning id",
            &[&strict],
        )
        .await
        .unwrap()
        .len();
    tx.commit().await.unwrap();
    assert_eq!(off, 1);
    assert_eq!(&visible(&app, &aal1, strict).await[..3], &[1, 1, 1]);
}
