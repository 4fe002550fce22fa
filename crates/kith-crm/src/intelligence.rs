//! `/api/agents/contact-intelligence`: hot leads with explained scores (docs/SCORING.md).
//!
//! `GET` scores the workspace's contacts as of now, without writing; `POST` (and every change to a contact or its
//! interactions) recomputes and stores `score`, `tier` and the reasons on the contacts.

use crate::context::{OrgRole, WorkspaceCtx, workspace_ctx};
use crate::input::{self, ApiQuery};
use crate::scoring::{self, ContactFacts, InteractionKind, Reason, Touch};
use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Duration, Utc};
use kith_db::{Access, CallerTx};
use kith_http::{ApiError, ApiJson, ApiResult, AppState, AuthUser};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::HashMap;
use uuid::Uuid;

/// One scored contact, as the API returns it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Lead {
    contact_id: Uuid,
    name: String,
    email: Option<String>,
    company: Option<String>,
    score: i32,
    tier: &'static str,
    fit: i32,
    engagement: i32,
    reasons: Vec<Reason>,
    last_interaction_at: Option<DateTime<Utc>>,
}

/// Scores the workspace's contacts (or one) at `now`, best first.
async fn compute(
    tx: &mut CallerTx,
    ctx: &WorkspaceCtx,
    contact_id: Option<Uuid>,
    now: DateTime<Utc>,
) -> ApiResult<Vec<Lead>> {
    let contacts = tx
        .query(
            "select id, first_name, last_name, email, phone, company, job_title, status
             from public.contacts where workspace_id = $1 and ($2::uuid is null or id = $2)",
            &[&ctx.workspace_id, &contact_id],
        )
        .await?;
    let since = now - Duration::days(scoring::HORIZON_DAYS);
    let interactions = tx
        .query(
            "select contact_id, kind, occurred_at from public.interactions
             where workspace_id = $1 and ($2::uuid is null or contact_id = $2) and occurred_at >= $3",
            &[&ctx.workspace_id, &contact_id, &since],
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
    let mut leads: Vec<Lead> = contacts
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
            let name = [facts.first_name.as_deref(), facts.last_name.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            Lead {
                contact_id: id,
                name,
                email: facts.email,
                company: facts.company,
                score: score.score,
                tier: score.tier.as_str(),
                fit: score.fit,
                engagement: score.engagement,
                reasons: score.reasons,
                last_interaction_at: score.last_interaction_at,
            }
        })
        .collect();
    leads.sort_by(|a, b| {
        b.score
            .cmp(&a.score)
            .then_with(|| b.last_interaction_at.cmp(&a.last_interaction_at))
            .then_with(|| a.contact_id.cmp(&b.contact_id))
    });
    Ok(leads)
}

/// Recomputes and stores the scores of the workspace's contacts (or one), in the caller's transaction.
pub async fn rescore(tx: &mut CallerTx, ctx: &WorkspaceCtx, contact_id: Option<Uuid>) -> ApiResult<Vec<Lead>> {
    let now = Utc::now();
    let leads = compute(tx, ctx, contact_id, now).await?;
    if leads.is_empty() {
        return Ok(leads);
    }
    let ids: Vec<Uuid> = leads.iter().map(|l| l.contact_id).collect();
    let scores: Vec<i32> = leads.iter().map(|l| l.score).collect();
    let tiers: Vec<&str> = leads.iter().map(|l| l.tier).collect();
    let reasons: Vec<Value> = leads.iter().map(|l| json!(l.reasons)).collect();
    let last: Vec<Option<DateTime<Utc>>> = leads.iter().map(|l| l.last_interaction_at).collect();
    tx.query(
        "update public.contacts c
            set score = s.score, tier = s.tier, score_reasons = s.reasons, scored_at = $7,
                last_interaction_at = s.last_interaction_at
           from unnest($2::uuid[], $3::int[], $4::text[], $5::jsonb[], $6::timestamptz[])
                as s(id, score, tier, reasons, last_interaction_at)
          where c.workspace_id = $1 and c.id = s.id",
        &[&ctx.workspace_id, &ids, &scores, &tiers, &reasons, &last, &now],
    )
    .await?;
    Ok(leads)
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
fn tiers(raw: Option<&str>) -> Result<Vec<&str>, ApiError> {
    let raw = raw.unwrap_or(DEFAULT_TIERS);
    let mut tiers = Vec::new();
    for tier in raw.split(',').map(str::trim) {
        match tier {
            "hot" | "warm" | "cold" => tiers.push(tier),
            _ => {
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
    let now = Utc::now();
    let leads = compute(&mut tx, &ctx, None, now).await?;
    tx.commit().await?;
    let leads: Vec<Lead> = leads
        .into_iter()
        .filter(|l| i64::from(l.score) >= min_score && tiers.contains(&l.tier))
        .take(limit as usize)
        .collect();
    Ok(Json(json!({
        "workspace_id": workspace_id,
        "generated_at": now,
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

/// `POST /api/agents/contact-intelligence {workspace_id, contact_id?}`: recomputes, stores and returns the scores.
pub async fn rescore_route(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(body): ApiJson<RescoreRequest>,
) -> ApiResult<Json<Value>> {
    let mut tx = state.db.begin_as(&user.caller, Access::ReadWrite).await?;
    let ctx = workspace_ctx(&mut tx, &user, body.workspace_id, OrgRole::Member).await?;
    let leads = rescore(&mut tx, &ctx, body.contact_id).await?;
    if body.contact_id.is_some() && leads.is_empty() {
        return Err(ApiError::not_found());
    }
    tx.commit().await?;
    Ok(Json(json!({
        "workspace_id": body.workspace_id,
        "generated_at": Utc::now(),
        "scores": leads,
    })))
}
