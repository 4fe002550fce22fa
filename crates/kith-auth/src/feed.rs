//! Calendar feeds: a calendar app polls a subscription URL without signing in, so the URL's random token stands
//! in for a session. Only the auth service may look a token up (its hash is in `public.calendar_subscriptions`,
//! which callers see only for themselves); it answers the subscription's user as a [`Caller`] built the one way
//! callers are built, a short-lived token verified by the shared verifier, so row-level security keeps deciding
//! what the feed holds: a user who left the organization, or one whose organization requires a second factor
//! (a feed is `aal1`), reads nothing.

use crate::error::{AuthError, AuthResult};
use crate::service::AuthState;
use crate::store;
use kith_db::Caller;
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Lifetime of the access token minted for one feed request; it never leaves the server.
const FEED_TOKEN_SECS: i64 = 60;

/// Who reads a calendar feed, and which workspace it covers.
#[derive(Debug, Clone)]
pub struct FeedReader {
    /// The subscription's user, as the caller to read as.
    pub caller: Caller,
    /// The workspace the subscription is for.
    pub workspace_id: Uuid,
}

/// Whether `token` has the shape subscription tokens are made in (64 lowercase hex digits): anything else is
/// refused without a database round trip.
fn well_formed(token: &str) -> bool {
    token.len() == 64 && token.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl AuthState {
    /// The reader of the calendar subscription whose URL carries `token`, or `None` when there is none (never
    /// made, regenerated, revoked) or its user is banned.
    pub async fn calendar_feed_reader(&self, token: &str) -> AuthResult<Option<FeedReader>> {
        if !well_formed(token) {
            return Ok(None);
        }
        let hash = Sha256::digest(token.as_bytes()).to_vec();
        let mut tx = self.tx("read a calendar feed's subscription").await?;
        let row = tx
            .query_opt(
                "select s.user_id, s.workspace_id from public.calendar_subscriptions s
                   join auth.users u on u.id = s.user_id
                  where s.token_hash = $1 and (u.banned_until is null or u.banned_until <= now())
                    and u.deleted_at is null",
                &[&hash],
            )
            .await?;
        let Some(row) = row else {
            tx.commit().await?;
            return Ok(None);
        };
        let (user_id, workspace_id): (Uuid, Uuid) = (row.get("user_id"), row.get("workspace_id"));
        let Some(user) = store::user_by_id(&mut tx, user_id).await? else {
            tx.commit().await?;
            return Ok(None);
        };
        tx.commit().await?;
        let now = chrono::Utc::now().timestamp();
        // No auth session stands behind a feed: one factor, and nothing to refresh or sign out of.
        let claims = json!({
            "iss": self.settings().issuer(), "sub": user.id, "aud": user.aud, "exp": now + FEED_TOKEN_SECS,
            "iat": now, "email": user.email.clone().unwrap_or_default(), "phone": "",
            "app_metadata": user.app_metadata, "user_metadata": user.user_metadata, "role": user.role,
            "aal": "aal1", "amr": [{"method": "calendar_feed", "timestamp": now}], "is_anonymous": user.is_anonymous,
        });
        let token = self.signer().sign(&claims).map_err(|err| AuthError::unexpected(&err))?;
        let caller = self
            .verifier()
            .verify(&token)
            .map_err(|err| AuthError::unexpected(&err))?;
        Ok(Some(FeedReader { caller, workspace_id }))
    }
}

#[cfg(test)]
mod tests {
    use super::well_formed;

    #[test]
    fn only_the_shape_tokens_are_made_in_reaches_the_database() {
        assert!(well_formed(&"0a".repeat(32)));
        assert!(!well_formed(&"0A".repeat(32)));
        assert!(!well_formed(&"0a".repeat(31)));
        assert!(!well_formed(&format!("{}é", "0a".repeat(31))));
        assert!(!well_formed(""));
    }
}
