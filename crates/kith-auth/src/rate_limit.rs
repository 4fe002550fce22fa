//! Rate limits shared by every node: fixed-window counters in `auth.rate_limits`, one upsert per check.

use crate::error::AuthError;
use kith_db::PrivilegedDb;
use std::time::Duration;

/// Counts one request against `key` and refuses it (429 with `Retry-After`) beyond `limit` per `window`.
pub async fn check(db: &PrivilegedDb, key: &str, limit: u32, window: Duration) -> Result<(), AuthError> {
    let window_secs = window.as_secs().max(1) as f64;
    let mut tx = db.begin("rate limit").await?;
    let row = tx
        .query_one(
            "insert into auth.rate_limits as r (key, window_start, hits)
             values ($1, to_timestamp(floor(extract(epoch from now())::float8 / $2::float8) * $2::float8), 1)
             on conflict (key) do update set
               hits = case when r.window_start = excluded.window_start then r.hits + 1 else 1 end,
               window_start = excluded.window_start
             returning hits, ceil(extract(epoch from (r.window_start + make_interval(secs => $2::float8)) - now()))::float8",
            &[&key, &window_secs],
        )
        .await?;
    tx.commit().await?;
    let hits: i32 = row.get(0);
    let retry_after: f64 = row.get(1);
    if hits as u32 > limit {
        tracing::info!(bucket = key.split(':').next().unwrap_or_default(), "rate limit reached");
        return Err(AuthError::rate_limited(retry_after.max(1.0) as u64));
    }
    Ok(())
}
