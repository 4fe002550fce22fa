//! A property test: random sequences of membership changes and contact operations by random users across three
//! organizations, checked after every step against a model of who belongs where with which role. Nobody ever
//! reads or changes a row of an organization they do not belong to, including right after role changes and
//! removals.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::helpers::{TestApp, TestUser};
use crate::support::{Org, call, join, org, send};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};
use std::collections::HashMap;

const ORGS: usize = 3;
const USERS: usize = 4;
const ROLES: [&str; 3] = ["viewer", "member", "admin"];

#[derive(Debug, Clone)]
enum Op {
    /// The org's owner invites the user with a role; the user accepts.
    Join { user: usize, org: usize, role: usize },
    /// The org's owner changes the user's role.
    ChangeRole { user: usize, org: usize, role: usize },
    /// The org's owner removes the user.
    Remove { user: usize, org: usize },
    /// The user creates a contact in the org's workspace.
    Create { user: usize, org: usize },
    /// The user lists the org's contacts.
    List { user: usize, org: usize },
    /// The user reads the n-th contact ever created (any org).
    Read { user: usize, contact: usize },
    /// The user renames the n-th contact ever created (any org).
    Update { user: usize, contact: usize },
}

fn op() -> impl Strategy<Value = Op> {
    let (u, o, r) = (0..USERS, 0..ORGS, 0..ROLES.len());
    prop_oneof![
        3 => (u.clone(), o.clone(), r.clone()).prop_map(|(user, org, role)| Op::Join { user, org, role }),
        2 => (u.clone(), o.clone(), r).prop_map(|(user, org, role)| Op::ChangeRole { user, org, role }),
        1 => (u.clone(), o.clone()).prop_map(|(user, org)| Op::Remove { user, org }),
        3 => (u.clone(), o.clone()).prop_map(|(user, org)| Op::Create { user, org }),
        2 => (u.clone(), o).prop_map(|(user, org)| Op::List { user, org }),
        2 => (u.clone(), 0..40_usize).prop_map(|(user, contact)| Op::Read { user, contact }),
        2 => (u, 0..40_usize).prop_map(|(user, contact)| Op::Update { user, contact }),
    ]
}

/// The model: role of (user, org), and each contact's org.
#[derive(Default)]
struct Model {
    roles: HashMap<(usize, usize), &'static str>,
    contacts: Vec<(String, usize)>,
}

impl Model {
    fn role(&self, user: usize, org: usize) -> Option<&'static str> {
        self.roles.get(&(user, org)).copied()
    }
    fn in_any_org(&self, user: usize) -> bool {
        (0..ORGS).any(|o| self.role(user, o).is_some())
    }
    fn can_write(&self, user: usize, org: usize) -> bool {
        matches!(self.role(user, org), Some("member" | "admin"))
    }
}

async fn status_of(app: &TestApp, method: &str, path: &str, token: &str, body: Option<&Value>) -> (u16, Value) {
    let response = send(app, method, path, Some(token), body).await;
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The status a refused user must get: 403 (`no_organization` or `workspace_forbidden`) on a workspace route; on
/// an item route 403 `no_organization` for a user in no organization, else 404.
fn refusal(model: &Model, user: usize, workspace_route: bool) -> u16 {
    if workspace_route || !model.in_any_org(user) {
        403
    } else {
        404
    }
}

async fn check(ops: Vec<Op>) {
    let app = TestApp::spawn().await;
    let mut orgs: Vec<Org> = Vec::new();
    for i in 0..ORGS {
        orgs.push(org(&app, &format!("Org {i}")).await);
    }
    let mut users: Vec<TestUser> = Vec::new();
    for _ in 0..USERS {
        users.push(app.create_user().await);
    }
    let mut model = Model::default();
    for op in ops {
        match op {
            Op::Join { user, org, role } => {
                if model.role(user, org).is_none() {
                    join(&app, &orgs[org], &users[user], ROLES[role]).await;
                    model.roles.insert((user, org), ROLES[role]);
                }
            }
            Op::ChangeRole { user, org, role } => {
                let path = format!("/api/organizations/{}/members/{}", orgs[org].id, users[user].id);
                let (status, _) = status_of(
                    &app,
                    "PATCH",
                    &path,
                    &orgs[org].owner.token,
                    Some(&json!({"role": ROLES[role]})),
                )
                .await;
                if model.role(user, org).is_some() {
                    assert_eq!(status, 200, "{op:?}");
                    model.roles.insert((user, org), ROLES[role]);
                } else {
                    assert_eq!(status, 404, "{op:?}");
                }
            }
            Op::Remove { user, org } => {
                let path = format!("/api/organizations/{}/members/{}", orgs[org].id, users[user].id);
                let (status, _) = status_of(&app, "DELETE", &path, &orgs[org].owner.token, None).await;
                let expected = if model.roles.remove(&(user, org)).is_some() {
                    204
                } else {
                    404
                };
                assert_eq!(status, expected, "{op:?}");
            }
            Op::Create { user, org } => {
                let body = json!({"workspace_id": orgs[org].workspace_id, "first_name": "P"});
                let (status, body) = status_of(&app, "POST", "/api/contacts", &users[user].token, Some(&body)).await;
                if model.can_write(user, org) {
                    assert_eq!(status, 201, "{op:?}: {body}");
                    model.contacts.push((body["id"].as_str().unwrap().to_owned(), org));
                } else {
                    let expected = if model.role(user, org).is_some() {
                        403
                    } else {
                        refusal(&model, user, true)
                    };
                    assert_eq!(status, expected, "{op:?}: {body}");
                }
            }
            Op::List { user, org } => {
                let path = format!("/api/contacts?workspace_id={}&limit=200", orgs[org].workspace_id);
                let (status, body) = status_of(&app, "GET", &path, &users[user].token, None).await;
                if model.role(user, org).is_some() {
                    assert_eq!(status, 200, "{op:?}");
                    let mut got: Vec<String> = body["contacts"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|c| c["id"].as_str().unwrap().to_owned())
                        .collect();
                    let mut expected: Vec<String> = model
                        .contacts
                        .iter()
                        .filter(|(_, o)| *o == org)
                        .map(|(id, _)| id.clone())
                        .collect();
                    got.sort();
                    expected.sort();
                    assert_eq!(got, expected, "{op:?}: exactly this org's contacts");
                } else {
                    assert_eq!(status, refusal(&model, user, true), "{op:?}");
                }
            }
            Op::Read { user, contact } | Op::Update { user, contact } => {
                let Some((id, org)) = model.contacts.get(contact).cloned() else {
                    continue;
                };
                let update = matches!(op, Op::Update { .. });
                let path = format!("/api/contacts/{id}");
                let (status, _) = if update {
                    status_of(
                        &app,
                        "PATCH",
                        &path,
                        &users[user].token,
                        Some(&json!({"last_name": "Renamed"})),
                    )
                    .await
                } else {
                    status_of(&app, "GET", &path, &users[user].token, None).await
                };
                let expected = match model.role(user, org) {
                    Some(_) if !update => 200,
                    Some(_) if model.can_write(user, org) => 200,
                    Some(_) => 403,
                    None => refusal(&model, user, false),
                };
                assert_eq!(status, expected, "{op:?}");
            }
        }
    }
    // Finally, the database agrees with the model on every membership.
    let admin = app.connect_as("postgres").await;
    for (u, user) in users.iter().enumerate() {
        for (o, org) in orgs.iter().enumerate() {
            let row = admin
                .query_opt(
                    "select role::text from public.user_organizations where user_id = $1 and org_id = $2",
                    &[&user.id, &org.id],
                )
                .await
                .unwrap();
            assert_eq!(row.map(|r| r.get::<_, String>(0)), model.role(u, o).map(str::to_owned));
        }
    }
}

#[test]
fn random_operations_never_cross_tenants() {
    let cases: u32 = std::env::var("KITH_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6);
    let mut runner = TestRunner::new(Config {
        cases,
        max_shrink_iters: 20,
        ..Config::default()
    });
    runner
        .run(&prop::collection::vec(op(), 10..40), |ops| {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(check(ops));
            Ok(())
        })
        .unwrap();
    let _ = call;
}
