//! `/api/agents/contact-intelligence`: hot leads with explained scores (docs/SCORING.md).
//!
//! Scores are stored on the contacts: every change through `/api` recomputes them in its own transaction, a write
//! through the data API marks the contact for re-scoring (a trigger clears `scored_at`), and the background job in
//! [`crate::rescore_job`] re-scores marked contacts and those whose interactions are still decaying. `GET` reads
//! the stored scores through the `(workspace_id, score desc)` index; `POST` re-scores on demand.

use crate::context::{OrgRole, WorkspaceCtx, workspace_ctx};
use crate::input::{self, ApiQuery};
use crate::scoring::{self, ContactFacts, InteractionKind, Reason, Tier, Touch};
use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Duration, Utc};
use kith_db::tokio_postgres::Row;
use kith_db::{Access, CallerTx, DbError};
use kith_http::{ApiError, ApiJson, ApiResult, AppState, AuthUser};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Instant;
use uuid::Uuid;

/// One scored contact, as the API returns it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Lead {
    /// The contact.
    pub contact_id: Uuid,
    /// First and last name.
    pub name: String,
    /// Email.
    pub email: Option<String>,
    /// Company.
    pub company: Option<String>,
    /// 0–100.
    pub score: i32,
    /// Hot, warm or cold.
    pub tier: Tier,
    /// Points from who they are.
    pub fit: i32,
    /// Points from interactions.
    pub engagement: i32,
    /// Why, biggest first.
    pub reasons: Vec<Reason>,
    /// The latest interaction.
    pub last_interaction_at: Option<DateTime<Utc>>,

    /// When the score was stored (not serialized: the route answers the oldest as `generated_at`).
    #[serde(skip)]
    pub scored_at: Option<DateTime<Utc>>,
}

/// Contacts scored in one statement's worth of work: large workspaces are re-scored in batches of this many, so
/// memory follows the batch, not the workspace.
const BATCH: usize = 1000;

fn full_name(first: Option<&str>, last: Option<&str>) -> String {
    [first, last].into_iter().flatten().collect::<Vec<_>>().join(" ")
}

/// Scores the contacts `ids` of a workspace at `now`.
async fn compute(
    tx: &mut CallerTx,
    workspace_id: Uuid,
    ids: &[Uuid],
    now: DateTime<Utc>,
) -> Result<Vec<Lead>, DbError> {
    let contacts = tx
        .query(
            "select id, first_name, last_name, email, phone, company, job_title, status
             from public.contacts where workspace_id = $1 and id = any($2)",
            &[&workspace_id, &ids],
        )
        .await?;
    let since = now - Duration::days(scoring::HORIZON_DAYS);
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
    Ok(contacts
        .iter()
        .map(|row| {
            let id: Uuid = row.get("id");
            let facts = ContactFacts {
                first_name: row.get("first_name"),
                last_name: row.get("last_name"),
                email: row.get("email"),
                phone: row.get("phone"),
                company: row.get("company"),
                job_title: row.get("job_title"),
                status: row.get("status"),
            };
            let score = scoring::score(&facts, touches.get(&id).map_or(&[][..], Vec::as_slice), now);
            Lead {
                contact_id: id,
                name: full_name(facts.first_name.as_deref(), facts.last_name.as_deref()),
                email: facts.email,
                company: facts.company,
                score: score.score,
                tier: score.tier,
                fit: score.fit,
                engagement: score.engagement,
                reasons: score.reasons,
                last_interaction_at: score.last_interaction_at,
                scored_at: Some(now),
            }
        })
        .collect())
}

/// What a re-score did.
#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct Rescored {
    /// Contacts scored.
    pub rescored: usize,
    /// Of them hot.
    pub hot: usize,
    /// Warm.
    pub warm: usize,
    /// Cold.
    pub cold: usize,
}

/// Recomputes and stores the scores of a workspace's contacts `ids` (every contact when `None`) at `now`, in
/// batches, inside `tx`.
pub(crate) async fn rescore_contacts(
    tx: &mut CallerTx,
    workspace_id: Uuid,
    ids: Option<&[Uuid]>,
    now: DateTime<Utc>,
) -> Result<Rescored, DbError> {
    let all: Vec<Uuid>;
    let ids = match ids {
        Some(ids) => ids,
        None => {
            all = tx
                .query(
                    "select id from public.contacts where workspace_id = $1 order by id",
                    &[&workspace_id],
                )
                .await?
                .iter()
                .map(|row| row.get("id"))
                .collect();
            &all
        }
    };
    let mut done = Rescored::default();
    for batch in ids.chunks(BATCH) {
        let leads = compute(tx, workspace_id, batch, now).await?;
        if leads.is_empty() {
            continue;
        }
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
        for lead in &leads {
            done.rescored += 1;
            match lead.tier {
                Tier::Hot => done.hot += 1,
                Tier::Warm => done.warm += 1,
                Tier::Cold => done.cold += 1,
            }
        }
    }
    Ok(done)
}

/// Recomputes and stores the scores of the workspace's contacts (or one), in the caller's transaction.
pub async fn rescore(tx: &mut CallerTx, ctx: &WorkspaceCtx, contact_id: Option<Uuid>) -> ApiResult<Rescored> {
    let one = contact_id.map(|id| [id]);
    Ok(rescore_contacts(tx, ctx.workspace_id, one.as_ref().map(|ids| &ids[..]), Utc::now()).await?)
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

/// `GET /api/agents/contact-intelligence` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HotLeadsQuery {
    #[param(value_type = Uuid, required = true)]
    workspace_id: Option<String>,
    /// Leads to return (default 10).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    limit: Option<String>,
    /// Only leads scoring at least this (default 0).
    #[param(value_type = Option<i64>, minimum = 0, maximum = 100)]
    min_score: Option<String>,
    /// Comma-separated tiers to list, of `hot`, `warm` and `cold` (default `hot,warm`).
    #[param(pattern = r"^\s*(hot|warm|cold)\s*(,\s*(hot|warm|cold)\s*)*$", example = "hot,warm")]
    tier: Option<String>,
}

/// The tiers a Hot Leads panel shows unless asked otherwise: a cold contact is not a lead to call.
const DEFAULT_TIERS: &str = "hot,warm";

/// A comma-separated list of tiers (`hot`, `warm`, `cold`).
fn tiers(raw: Option<&str>) -> Result<Vec<&'static str>, ApiError> {
    let raw = raw.unwrap_or(DEFAULT_TIERS);
    let mut tiers = Vec::new();
    for tier in raw.split(',').map(str::trim) {
        match Tier::parse(tier) {
            Some(tier) => tiers.push(tier.as_str()),
            None => {
                return Err(ApiError::validation(
                    "tier",
                    "must be a comma-separated list of hot, warm and cold",
                ));
            }
        }
    }
    Ok(tiers)
}

/// `GET /api/agents/contact-intelligence?workspace_id=&limit=&min_score=&tier=`: the best-scored contacts of the
/// asked tiers (default hot and warm).
pub async fn hot_leads(
    State(state): State<AppState>,
    user: AuthUser,
    ApiQuery(query): ApiQuery<HotLeadsQuery>,
) -> ApiResult<Json<Value>> {
    let workspace_id = input::uuid("workspace_id", query.workspace_id.as_deref())?;
    let limit = input::int("limit", query.limit.as_deref(), 10, 1, 100)?;
    let min_score = input::int("min_score", query.min_score.as_deref(), 0, 0, 100)?;
    let tiers = tiers(query.tier.as_deref())?;
    let mut tx = state.db.begin_as(&user.caller, Access::ReadOnly).await?;
    let ctx = workspace_ctx(&mut tx, &user, workspace_id, OrgRole::Viewer).await?;
    let leads = top_leads(&mut tx, ctx.workspace_id, &tiers, min_score as i32, limit).await?;
    tx.commit().await?;
    // As fresh as the oldest score shown.
    let generated_at = leads
        .iter()
        .filter_map(|lead| lead.scored_at)
        .min()
        .unwrap_or_else(Utc::now);
    Ok(Json(json!({
        "workspace_id": workspace_id,
        "generated_at": generated_at,
        "hot_leads": leads,
    })))
}

/// `POST /api/agents/contact-intelligence` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RescoreRequest {
    workspace_id: Uuid,
    contact_id: Option<Uuid>,
}

/// `POST /api/agents/contact-intelligence {workspace_id, contact_id?}`: recomputes and stores the scores, in
/// batches, and answers a summary (counts per tier, duration), not every contact.
pub async fn rescore_route(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(body): ApiJson<RescoreRequest>,
) -> ApiResult<Json<Value>> {
    let started = Instant::now();
    let mut tx = state.db.begin_as(&user.caller, Access::ReadWrite).await?;
    let ctx = workspace_ctx(&mut tx, &user, body.workspace_id, OrgRole::Member).await?;
    let now = Utc::now();
    let one = body.contact_id.map(|id| [id]);
    let done = rescore_contacts(&mut tx, ctx.workspace_id, one.as_ref().map(|ids| &ids[..]), now).await?;
    if body.contact_id.is_some() && done.rescored == 0 {
        return Err(ApiError::not_found());
    }
    tx.commit().await?;
    Ok(Json(json!({
        "workspace_id": body.workspace_id,
        "generated_at": now,
        "rescored": done.rescored,
        "tiers": {"hot": done.hot, "warm": done.warm, "cold": done.cold},
        "duration_ms": started.elapsed().as_millis(),
    })))
}
