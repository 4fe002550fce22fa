//! `/api/agents/contact-intelligence`: hot leads with explained scores (docs/SCORING.md).
//!
//! Scores are stored on the contacts: every change through `/api` recomputes them in its own transaction, a write
//! through the data API marks the contact for re-scoring (a trigger clears `scored_at`), and the background job in
//! [`crate::rescore_job`] re-scores marked contacts and those whose interactions are still decaying. `GET` reads
//! the stored scores through the `(workspace_id, score desc)` index; `POST` re-scores on demand. The SQL is in
//! [`store`].

pub mod store;

pub use store::top_leads;

use crate::context::{OrgRole, WorkspaceCtx, open_workspace};
use crate::input::{self, ApiQuery};
use crate::scoring::{self, Reason, Tier};
use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Duration, Utc};
use kith_db::{Access, CallerTx, DbError};
use kith_http::{ApiError, ApiJson, ApiResult, AppState, AuthUser};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
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

pub(crate) fn full_name(first: Option<&str>, last: Option<&str>) -> String {
    [first, last].into_iter().flatten().collect::<Vec<_>>().join(" ")
}

/// Scores the contacts `ids` of a workspace at `now`.
async fn compute(
    tx: &mut CallerTx,
    workspace_id: Uuid,
    ids: &[Uuid],
    now: DateTime<Utc>,
) -> Result<Vec<Lead>, DbError> {
    let contacts = store::facts(tx, workspace_id, ids).await?;
    let since = now - Duration::days(scoring::HORIZON_DAYS);
    let touches = store::touches(tx, workspace_id, ids, since).await?;
    Ok(contacts
        .into_iter()
        .map(|(id, facts)| {
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
            all = store::contact_ids(tx, workspace_id).await?;
            &all
        }
    };
    let mut done = Rescored::default();
    for batch in ids.chunks(BATCH) {
        let leads = compute(tx, workspace_id, batch, now).await?;
        if leads.is_empty() {
            continue;
        }
        store::save_scores(tx, workspace_id, &leads, now).await?;
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
    let (mut tx, ctx) = open_workspace(&state.db, &user, workspace_id, Access::ReadOnly, OrgRole::Viewer).await?;
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
    let (mut tx, ctx) = open_workspace(&state.db, &user, body.workspace_id, Access::ReadWrite, OrgRole::Member).await?;
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
