//! Background re-scoring: keeps stored scores current as time passes and after writes that bypassed `/api`.
//!
//! A contact is due when it was never scored or changed outside `/api` (a trigger clears `scored_at`), or when its
//! score is over [`STALE_AFTER`] old while an interaction is still inside the scoring horizon (decay moves its
//! points, and the 14-day recency decides `hot`). Due contacts are taken in batches with `for update skip locked`,
//! so several nodes share the work without doing it twice. This serves no request: it goes through the separate
//! maintenance door of `kith-db`, never through the request pool's caller path.

use crate::intelligence::rescore_contacts;
use crate::scoring::HORIZON_DAYS;
use chrono::{Duration, Utc};
use kith_db::{Db, DbError};
use std::collections::BTreeMap;
use uuid::Uuid;

/// Scores older than this are recomputed while their contact's interactions still decay.
pub const STALE_AFTER: Duration = Duration::hours(1);
/// Contacts re-scored per transaction.
pub const BATCH: i64 = 500;

/// Re-scores one batch of due contacts; returns how many were due.
pub async fn rescore_due(db: &Db, batch: i64) -> Result<usize, DbError> {
    let mut tx = db.begin_maintenance("re-score aged contacts").await?;
    let now = Utc::now();
    let rows = tx
        .query(
            "select workspace_id, id from public.contacts
              where scored_at is null or (scored_at < $1 and last_interaction_at >= $2)
              order by scored_at nulls first
              limit $3
              for update skip locked",
            &[&(now - STALE_AFTER), &(now - Duration::days(HORIZON_DAYS + 1)), &batch],
        )
        .await?;
    let mut by_workspace: BTreeMap<Uuid, Vec<Uuid>> = BTreeMap::new();
    for row in &rows {
        by_workspace
            .entry(row.get("workspace_id"))
            .or_default()
            .push(row.get("id"));
    }
    for (workspace_id, ids) in &by_workspace {
        rescore_contacts(&mut tx, *workspace_id, Some(ids), now).await?;
    }
    tx.commit().await?;
    Ok(rows.len())
}

/// Runs [`rescore_due`] every `every` until the task is dropped, draining the backlog batch by batch.
pub fn spawn(db: Db, every: std::time::Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            loop {
                match rescore_due(&db, BATCH).await {
                    Ok(n) if n as i64 == BATCH => continue,
                    Ok(n) => {
                        if n > 0 {
                            tracing::info!(contacts = n, "re-scored aged contacts");
                        }
                        break;
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "background re-score failed; retrying at the next tick");
                        break;
                    }
                }
            }
        }
    })
}
