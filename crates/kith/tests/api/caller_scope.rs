//! The guarantee underneath every route: data is reachable only inside a transaction opened for a caller.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::helpers::TestApp;
use kith_db::tokio_postgres::error::SqlState;
use kith_db::{Access, Caller, Db};

#[tokio::test]
async fn the_pool_login_cannot_query_anything_outside_begin_as() {
    let app = TestApp::spawn().await;
    app.create_user().await;
    let pool_login = app.connect_as(kith_db::AUTHENTICATOR_ROLE).await;
    for sql in [
        "select * from public.profiles",
        "select * from auth.users",
        "update public.profiles set full_name = 'x'",
        "insert into auth.users (id) values (gen_random_uuid())",
        "set role postgres",
        "create table public.sneaky (id int)",
    ] {
        let err = pool_login.batch_execute(sql).await.expect_err(sql);
        assert_eq!(err.code(), Some(&SqlState::INSUFFICIENT_PRIVILEGE), "{sql}: {err}");
    }
}

#[tokio::test]
async fn begin_as_sets_role_and_claims_for_the_transaction_only() {
    let app = TestApp::spawn().await;
    let user = app.create_user().await;
    let caller = app.caller(&user.token).for_request("GET", "/api/profile");
    let mut tx = app.db.begin_as(&caller, Access::ReadOnly).await.unwrap();
    let row = tx
        .query_one(
            "select current_user::text, auth.uid(), auth.role(), auth.email(), auth.jwt() ->> 'aud',
                    current_setting('request.method'), current_setting('request.path')",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "authenticated");
    assert_eq!(row.get::<_, uuid::Uuid>(1), user.id);
    assert_eq!(row.get::<_, String>(2), "authenticated");
    assert_eq!(row.get::<_, String>(3), user.email);
    assert_eq!(row.get::<_, String>(4), "authenticated");
    assert_eq!(row.get::<_, String>(5), "GET");
    assert_eq!(row.get::<_, String>(6), "/api/profile");
    let err = tx
        .query("update public.profiles set full_name = 'x'", &[])
        .await
        .unwrap_err();
    assert_eq!(err.sql_state(), Some(&SqlState::READ_ONLY_SQL_TRANSACTION));
}

#[tokio::test]
async fn a_dropped_transaction_rolls_back_and_leaves_no_identity_on_the_connection() {
    let app = TestApp::spawn().await;
    // One connection, so the next transaction reuses it.
    let db = Db::new(
        {
            let mut config = crate::helpers::admin_config();
            config.dbname(&app.database).user(kith_db::AUTHENTICATOR_ROLE);
            config
        },
        1,
    )
    .unwrap();
    let alice = app.create_user().await;
    let bob = app.create_user().await;

    {
        let mut tx = db.begin_as(&app.caller(&alice.token), Access::ReadWrite).await.unwrap();
        tx.query("update public.profiles set full_name = 'uncommitted'", &[])
            .await
            .unwrap();
        // dropped without commit
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;

    let rows = db
        .read_as(
            &app.caller(&bob.token),
            "select current_setting('request.jwt.claims')::jsonb ->> 'sub', (select count(*) from public.profiles)",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows[0].get::<_, String>(0), bob.id.to_string());
    assert_eq!(rows[0].get::<_, i64>(1), 1, "Bob sees only his own profile");

    let rows = db
        .read_as(&app.caller(&alice.token), "select full_name from public.profiles", &[])
        .await
        .unwrap();
    assert_eq!(
        rows[0].get::<_, Option<String>>(0),
        None,
        "the dropped update was rolled back"
    );

    // An anonymous caller on the same connection has no table privileges at all.
    let err = db
        .read_as(&Caller::anonymous(), "select * from public.profiles", &[])
        .await
        .unwrap_err();
    assert_eq!(err.sql_state(), Some(&SqlState::INSUFFICIENT_PRIVILEGE));
}

#[tokio::test]
async fn a_failed_statement_rolls_back_the_whole_transaction() {
    let app = TestApp::spawn().await;
    let user = app.create_user().await;
    let mut tx = app
        .db
        .begin_as(&app.caller(&user.token), Access::ReadWrite)
        .await
        .unwrap();
    tx.query("update public.profiles set full_name = 'first'", &[])
        .await
        .unwrap();
    let err = tx
        .query("update public.profiles set timezone = $1", &[&"x".repeat(100)])
        .await
        .unwrap_err();
    assert_eq!(err.sql_state(), Some(&SqlState::CHECK_VIOLATION));
    drop(tx);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let rows = app
        .db
        .read_as(&app.caller(&user.token), "select full_name from public.profiles", &[])
        .await
        .unwrap();
    assert_eq!(rows[0].get::<_, Option<String>>(0), None);
}

#[tokio::test]
async fn privileged_access_is_a_separate_door() {
    let app = TestApp::spawn().await;
    app.create_user().await;
    app.create_user().await;
    let mut tx = app.privileged.begin("test: count every profile").await.unwrap();
    let row = tx
        .query_one("select count(*), current_user::text from public.profiles", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 2);
    assert_eq!(row.get::<_, String>(1), "service_role");
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn a_statement_timeout_travels_with_the_identity_and_lasts_one_transaction() {
    let app = TestApp::spawn().await;
    let user = app.create_user().await;
    let caller = app.caller(&user.token);
    let mut tx = app
        .db
        .begin_as(&caller, Access::ReadOnly)
        .await
        .unwrap()
        .with_statement_timeout(250);
    let row = tx
        .query_one("select current_setting('statement_timeout')", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "250ms");
    let err = tx.query("select pg_sleep(1)", &[]).await.unwrap_err();
    assert_eq!(err.sql_state(), Some(&SqlState::QUERY_CANCELED));
    drop(tx);
    let rows = app
        .db
        .read_as(&caller, "select current_setting('statement_timeout')", &[])
        .await
        .unwrap();
    assert_eq!(
        rows[0].get::<_, String>(0),
        "0",
        "the next transaction has the default again"
    );
}
