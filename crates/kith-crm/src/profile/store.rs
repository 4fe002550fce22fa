//! Every SQL statement about profiles, as named functions taking the caller's transaction (or the pool and the
//! caller, for the one-round-trip read) and the user they are about.

use super::{Profile, ValidPatch};
use kith_db::{Caller, CallerTx, Db};
use kith_http::{ApiError, ApiResult};
use uuid::Uuid;

const COLUMNS: &str = "id, email, full_name, avatar_url, timezone, created_at, updated_at";

/// The caller's time zone from their profile (UTC when unset or unknown).
pub async fn timezone(tx: &mut CallerTx, user_id: Uuid) -> Result<chrono_tz::Tz, kith_db::DbError> {
    let row = tx
        .query_opt("select timezone from public.profiles where id = $1", &[&user_id])
        .await?;
    let name: Option<String> = row.and_then(|row| row.get("timezone"));
    Ok(name.and_then(|n| n.parse().ok()).unwrap_or(chrono_tz::UTC))
}

/// The profile of `user_id`, read as `caller` in one round trip, or 404.
pub async fn get(db: &Db, caller: &Caller, user_id: Uuid) -> ApiResult<Profile> {
    // The id is named explicitly for the planner; RLS alone decides visibility.
    let rows = db
        .read_as(
            caller,
            &format!("select {COLUMNS} from public.profiles where id = $1"),
            &[&user_id],
        )
        .await?;
    rows.into_iter()
        .next()
        .map(Profile::from)
        .ok_or_else(ApiError::not_found)
}

/// Applies a checked patch to the profile of `user_id` and returns it, or 404.
pub(crate) async fn update(tx: &mut CallerTx, user_id: Uuid, patch: &ValidPatch) -> ApiResult<Profile> {
    let row = tx
        .query_opt(
            &format!(
                "update public.profiles set
                   full_name = case when $2 then $3 else full_name end,
                   avatar_url = case when $4 then $5 else avatar_url end,
                   timezone = coalesce($6, timezone)
                 where id = $1
                 returning {COLUMNS}"
            ),
            &[
                &user_id,
                &patch.full_name.is_some(),
                &patch.full_name.clone().flatten(),
                &patch.avatar_url.is_some(),
                &patch.avatar_url.clone().flatten(),
                &patch.timezone,
            ],
        )
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(Profile::from(row))
}
