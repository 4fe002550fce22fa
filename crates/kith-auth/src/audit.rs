//! `auth.audit_log_entries`: GoTrue's audit trail. Every admin call, and the MFA events, append one entry naming
//! the caller (the service-role key, a user, or the operator's CLI) and the address it came from.

use kith_db::{CallerTx, DbError};
use serde_json::{Value, json};
use std::net::IpAddr;
use uuid::Uuid;

/// Who made a change.
#[derive(Debug, Clone)]
pub struct Actor {
    /// The acting user, if a user acted (an admin key or the CLI is no user).
    pub id: Option<Uuid>,
    /// How Supabase names the actor: the user's email, or the admin role (`service_role`).
    pub username: String,
    /// The credential used: `service_role_key`, `user_token`, `cli`.
    pub via: &'static str,
    /// The client's address, when the change came over HTTP.
    pub ip: Option<IpAddr>,
}

impl Actor {
    /// The operator running a `kith` command on the server.
    pub fn cli(command: &str) -> Self {
        Actor {
            id: None,
            username: command.to_owned(),
            via: "cli",
            ip: None,
        }
    }

    /// A caller presenting the service-role key.
    pub fn service_role(ip: Option<IpAddr>) -> Self {
        Actor {
            id: None,
            username: "service_role".to_owned(),
            via: "service_role_key",
            ip,
        }
    }

    /// A signed-in user acting on their own account.
    pub fn user(id: Uuid, email: Option<&str>, ip: Option<IpAddr>) -> Self {
        Actor {
            id: Some(id),
            username: email.unwrap_or_default().to_owned(),
            via: "user_token",
            ip,
        }
    }
}

/// GoTrue's `log_type` of an action.
fn log_type(action: &str) -> &'static str {
    match action {
        "user_signedup" | "user_invited" | "user_deleted" => "team",
        "user_modified" | "user_recovery_requested" | "user_confirmation_requested" => "user",
        "factor_in_progress"
        | "factor_unenrolled"
        | "challenge_created"
        | "verification_attempted"
        | "factor_deleted"
        | "mfa_code_login" => "factor",
        _ => "account",
    }
}

/// Appends one entry in `tx` (so it commits or rolls back with the change it records).
pub async fn record(tx: &mut CallerTx, actor: &Actor, action: &str, traits: Value) -> Result<(), DbError> {
    let payload = json!({
        "actor_id": actor.id.map_or_else(|| Uuid::nil().to_string(), |id| id.to_string()),
        "actor_username": actor.username,
        "actor_via": actor.via,
        "actor_via_sso": false,
        "action": action,
        "log_type": log_type(action),
        "traits": traits,
    });
    let ip = actor.ip.map(|ip| ip.to_string()).unwrap_or_default();
    tx.query(
        "insert into auth.audit_log_entries (instance_id, payload, ip_address)
         values ('00000000-0000-0000-0000-000000000000', $1::jsonb::json, $2)",
        &[&payload, &ip],
    )
    .await?;
    Ok(())
}
