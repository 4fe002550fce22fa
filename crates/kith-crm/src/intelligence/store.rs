//! Every SQL statement about scores, as named functions taking the transaction and the workspace (the background
//! re-score has no caller context, so these take the workspace id its `WorkspaceCtx` or its sweep resolved).

use super::{Lead, full_name};
use crate::scoring::{ContactFacts, InteractionKind, Reason, Tier, Touch};
use chrono::{DateTime, Utc};
use kith_db::tokio_postgres::Row;
use kith_db::{CallerTx, DbError};
use serde_json::{Value, json};
use std::collections::HashMap;
use uuid::Uuid;

/// What the scorer reads of the contacts `ids` of a workspace.
pub async fn facts(tx: &mut CallerTx, workspace_id: Uuid, ids: &[Uuid]) -> Result<Vec<(Uuid, ContactFacts)>, DbError> {
    let rows = tx
        .query(
            "select id, first_name, last_name, email, phone, company, job_title, status
             from public.contacts where workspace_id = $1 and id = any($2)",
            &[&workspace_id, &ids],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| {
            let facts = ContactFacts {
                first_name: row.get("first_name"),
                last_name: row.get("last_name"),
                email: row.get("email"),
                phone: row.get("phone"),
                company: row.get("company"),
                job_title: row.get("job_title"),
                status: row.get("status"),
            };
            (row.get("id"), facts)
        })
        .collect())
}

/// The interactions since `since` of the contacts `ids`, by contact (kinds the scorer does not know are skipped).
pub async fn touches(
    tx: &mut CallerTx,
    workspace_id: Uuid,
    ids: &[Uuid],
    since: DateTime<Utc>,
) -> Result<HashMap<Uuid, Vec<Touch>>, DbError> {
    let interactions = tx
        .query(
            "select contact_id, kind, occurred_at from public.interactions
             where workspace_id = $1 and contact_id = any($2) and occurred_at >= $3",
            &[&workspace_id, &ids, &since],
        )
        .await?;
    let mut touches: HashMap<Uuid, Vec<Touch>> = HashMap::new();
    for row in &interactions {
        let kind: String = row.get("kind");
        let Some(kind) = InteractionKind::parse(&kind) else {
            continue;
        };
        touches.entry(row.get("contact_id")).or_default().push(Touch {
            kind,
            occurred_at: row.get("occurred_at"),
        });
    }
    Ok(touches)
}

/// Every contact id of a workspace, in id order.
pub async fn contact_ids(tx: &mut CallerTx, workspace_id: Uuid) -> Result<Vec<Uuid>, DbError> {
    Ok(tx
        .query(
            "select id from public.contacts where workspace_id = $1 order by id",
            &[&workspace_id],
        )
        .await?
        .iter()
        .map(|row| row.get("id"))
        .collect())
}

/// Stores computed scores (with their reasons and the latest interaction) on their contacts, in one statement.
pub async fn save_scores(
    tx: &mut CallerTx,
    workspace_id: Uuid,
    leads: &[Lead],
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let ids: Vec<Uuid> = leads.iter().map(|l| l.contact_id).collect();
    let scores: Vec<i32> = leads.iter().map(|l| l.score).collect();
    let tiers: Vec<&str> = leads.iter().map(|l| l.tier.as_str()).collect();
    let reasons: Vec<Value> = leads.iter().map(|l| json!(l.reasons)).collect();
    let last: Vec<Option<DateTime<Utc>>> = leads.iter().map(|l| l.last_interaction_at).collect();
    tx.query(
        "update public.contacts c
                set score = s.score, tier = s.tier, score_reasons = s.reasons, scored_at = $7,
                    last_interaction_at = s.last_interaction_at
               from unnest($2::uuid[], $3::int[], $4::text[], $5::jsonb[], $6::timestamptz[])
                    as s(id, score, tier, reasons, last_interaction_at)
              where c.workspace_id = $1 and c.id = s.id",
        &[&workspace_id, &ids, &scores, &tiers, &reasons, &last, &now],
    )
    .await?;
    Ok(())
}

/// A stored score, as the contact row holds it.
fn stored_lead(row: &Row) -> Lead {
    let reasons: Vec<Reason> = serde_json::from_value(row.get("score_reasons")).unwrap_or_default();
    let engagement: i32 = reasons
        .iter()
        .filter(|r| r.factor.starts_with("engagement"))
        .map(|r| r.points)
        .sum();
    let first_name: Option<String> = row.get("first_name");
    let last_name: Option<String> = row.get("last_name");
    let tier: String = row.get("tier");
    Lead {
        contact_id: row.get("id"),
        name: full_name(first_name.as_deref(), last_name.as_deref()),
        email: row.get("email"),
        company: row.get("company"),
        score: row.get("score"),
        tier: Tier::parse(&tier).unwrap_or(Tier::Cold),
        fit: reasons.iter().map(|r| r.points).sum::<i32>() - engagement,
        engagement,
        reasons,
        last_interaction_at: row.get("last_interaction_at"),
        scored_at: row.get("scored_at"),
    }
}

/// The best stored scores of a workspace in `tiers` with at least `min_score`, best first: what
/// `GET /api/agents/contact-intelligence` and the dashboard's Hot leads panel both show.
pub async fn top_leads(
    tx: &mut CallerTx,
    workspace_id: Uuid,
    tiers: &[&str],
    min_score: i32,
    limit: i64,
) -> Result<Vec<Lead>, DbError> {
    // Stored scores, top N through the (workspace_id, score desc) index; the background re-score keeps them current.
    let rows = tx
        .query(
            "select id, first_name, last_name, email, company, score, tier, score_reasons, last_interaction_at,
                    scored_at
               from public.contacts
              where workspace_id = $1 and tier = any($2) and score >= $3
              order by score desc, last_interaction_at desc nulls last, id
              limit $4",
            &[&workspace_id, &tiers, &min_score, &limit],
        )
        .await?;
    Ok(rows.iter().map(stored_lead).collect())
}
