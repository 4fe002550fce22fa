//! Auth mail goes out only after the transaction that stored its token has committed: a commit that fails mails
//! nothing, and a slow mail server holds no pooled connection and no open transaction.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::helpers::{TestApp, json_body};
use serde_json::json;
use std::time::Duration;

/// Makes every later COMMIT that stored a one-time token for `email` fail (a deferred constraint trigger, which
/// fires at commit time, after the handler has done all its work).
async fn refuse_commits_for(app: &TestApp, email: &str) {
    let owner = app.connect_as("postgres").await;
    owner
        .batch_execute(&format!(
            "create function public.test_refuse_commit() returns trigger language plpgsql as
               $$ begin raise exception 'refused at commit'; end $$;
             create constraint trigger test_refuse_commit after insert on auth.one_time_tokens
               deferrable initially deferred for each row
               when (new.relates_to = '{email}') execute function public.test_refuse_commit();"
        ))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_mail_whose_commit_fails_is_never_sent() {
    let app = TestApp::spawn().await;
    let doomed = app.create_user().await;
    let other = app.create_user().await;
    refuse_commits_for(&app, &doomed.email).await;

    // The trigger refuses only the doomed address: the other one is mailed as usual.
    json_body(app.auth_post("/recover", &json!({"email": other.email})).await, 200).await;
    assert_eq!(app.mails().len(), 1);

    for (path, body) in [
        ("/recover", json!({"email": doomed.email})),
        ("/otp", json!({"email": doomed.email, "create_user": false})),
    ] {
        let response = app.auth_post(path, &body).await;
        assert_eq!(response.status(), 500, "{path}");
    }
    assert_eq!(app.mails().len(), 1, "a token that was never stored must not be mailed");

    // And nothing of the failed requests was kept.
    let owner = app.connect_as("postgres").await;
    let row = owner
        .query_one(
            "select recovery_sent_at is null, (select count(*) from auth.one_time_tokens t where t.user_id = u.id)
               from auth.users u where id = $1",
            &[&doomed.id],
        )
        .await
        .unwrap();
    assert!(row.get::<_, bool>(0));
    assert_eq!(row.get::<_, i64>(1), 0);
}

#[tokio::test]
async fn a_silent_mail_server_holds_no_database_connection() {
    // An SMTP server that accepts connections and never says a word: lettre waits for its greeting.
    let smtp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = smtp.local_addr().unwrap().port();
    let app = TestApp::spawn_with(|auth| auth.smtp_url = Some(format!("smtp://127.0.0.1:{port}").into())).await;
    let user = app.create_user().await;

    let request = {
        let http = app.http.clone();
        let url = format!("{}/auth/v1/recover", app.address);
        let email = user.email.clone();
        tokio::spawn(async move {
            http.post(url)
                .header("x-supabase-api-version", "2024-01-01")
                .json(&json!({ "email": email }))
                .send()
                .await
                .unwrap()
        })
    };
    // The mailer has connected: the send is under way.
    let (connection, _) = tokio::time::timeout(Duration::from_secs(20), smtp.accept())
        .await
        .expect("the mailer never connected")
        .unwrap();

    // Meanwhile no pooled connection is in use and no transaction is open in the database.
    assert_eq!(app.db.pool_stats().used, 0);
    let owner = app.connect_as("postgres").await;
    let open: i64 = owner
        .query_one(
            "select count(*) from pg_stat_activity
              where datname = current_database() and state like 'idle in transaction%'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(open, 0);
    // The token the mail carries is already committed.
    let stored: i64 = owner
        .query_one(
            "select count(*) from auth.one_time_tokens where user_id = $1 and token_type = 'recovery_token'",
            &[&user.id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, 1);

    // The server hangs up: the delivery fails with GoTrue's answer.
    drop(connection);
    drop(smtp);
    let response = tokio::time::timeout(Duration::from_secs(30), request)
        .await
        .expect("the request did not finish")
        .unwrap();
    let body = json_body(response, 500).await;
    assert_eq!(body["code"], "unexpected_failure");
    assert_eq!(body["message"], "Error sending email");
}
