//! `/api/contacts/{id}/interactions` (list, record) and `/api/interactions/{id}` (edit, delete). Every change
//! re-scores the contact in the same transaction.

use super::model::{Interaction, ValidInteraction};
use super::store;
use crate::context::{Item, ItemQuery, OrgRole, open_item, remove_item, same_workspace};
use crate::input::{self, ApiQuery, present};
use crate::scoring::InteractionKind;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Json, response::IntoResponse};
use chrono::Utc;
use kith_db::Access;
use kith_http::{ApiJson, ApiResult, AppState, AuthUser};
use serde::Deserialize;
use uuid::Uuid;

/// Most interactions one listing returns.
const MAX_LISTED: i64 = 500;

/// `GET /api/contacts/{id}/interactions`: newest first (at most 500).
pub async fn list_interactions(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<ItemQuery>,
) -> ApiResult<Json<Vec<Interaction>>> {
    let id = input::path_id(&id)?;
    let (mut tx, ctx) = open_item(&state.db, &user, Item::Contact, id, Access::ReadOnly, OrgRole::Viewer).await?;
    same_workspace(&ctx, query.workspace_id.as_deref())?;
    let interactions = store::list_interactions(&mut tx, &ctx, id, MAX_LISTED).await?;
    tx.commit().await?;
    Ok(Json(interactions))
}

/// `POST /api/contacts/{id}/interactions` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewInteraction {
    workspace_id: Option<Uuid>,
    kind: InteractionKind,
    /// When it happened (RFC 3339, not in the future; default now).
    #[schema(format = DateTime)]
    occurred_at: Option<String>,
    #[schema(max_length = 2000)]
    summary: Option<String>,
}

/// `POST /api/contacts/{id}/interactions`: 201; the contact is re-scored in the same transaction.
pub async fn add_interaction(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NewInteraction>,
) -> ApiResult<impl IntoResponse> {
    let id = input::path_id(&id)?;
    let valid = ValidInteraction::check(body.kind, body.occurred_at.as_deref(), body.summary, Utc::now())?;
    let (mut tx, ctx) = open_item(&state.db, &user, Item::Contact, id, Access::ReadWrite, OrgRole::Member).await?;
    same_workspace(&ctx, body.workspace_id.map(|w| w.to_string()).as_deref())?;
    let created = store::create_interaction(&mut tx, &ctx, id, &valid).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// `PATCH /api/interactions/{id}` body: absent fields stay, a `null` summary clears it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InteractionPatch {
    workspace_id: Option<Uuid>,
    kind: Option<InteractionKind>,
    /// When it happened (RFC 3339, not in the future).
    #[schema(format = DateTime)]
    occurred_at: Option<String>,
    #[schema(max_length = 2000)]
    #[serde(default, deserialize_with = "present")]
    summary: Option<Option<String>>,
}

/// `PATCH /api/interactions/{id}`: the interaction, changed; its contact is re-scored in the same transaction.
pub async fn update_interaction(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<InteractionPatch>,
) -> ApiResult<Json<Interaction>> {
    let id = input::path_id(&id)?;
    let now = Utc::now();
    // Check what was given before touching the database; the merge with the stored values is checked again.
    let occurred_at = patch
        .occurred_at
        .as_deref()
        .map(|raw| input::time("occurred_at", raw))
        .transpose()?;
    let (mut tx, ctx) = open_item(
        &state.db,
        &user,
        Item::Interaction,
        id,
        Access::ReadWrite,
        OrgRole::Member,
    )
    .await?;
    same_workspace(&ctx, patch.workspace_id.map(|w| w.to_string()).as_deref())?;
    let current = store::get_interaction(&mut tx, &ctx, id).await?;
    let kind = match patch.kind {
        Some(kind) => kind,
        None => InteractionKind::parse(&current.kind).ok_or_else(|| {
            kith_http::ApiError::internal(&format!("unknown interaction kind {:?} in the database", current.kind))
        })?,
    };
    let valid = ValidInteraction::checked(
        kind,
        occurred_at.unwrap_or(current.occurred_at),
        patch.summary.unwrap_or(current.summary),
        now,
    )?;
    let updated = store::update_interaction(&mut tx, &ctx, id, &valid).await?;
    tx.commit().await?;
    Ok(Json(updated))
}

/// `DELETE /api/interactions/{id}`: 204; its contact is re-scored in the same transaction.
pub async fn remove_interaction(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<ItemQuery>,
) -> ApiResult<StatusCode> {
    remove_item(
        &state.db,
        &user,
        Item::Interaction,
        &id,
        query.workspace_id.as_deref(),
        store::delete_interaction,
    )
    .await
}
