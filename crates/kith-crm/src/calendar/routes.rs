//! `/api/calendar/events` and `/api/calendar/events/{id}`: list a window (recurrences expanded), create, update,
//! delete, and the `.ics` export. Each handler parses its input, opens the caller's transaction, resolves the
//! context and calls [`super::store`].

use super::model::{Event, EventInput, NewSubscription, Subscription, ValidEvent, to_json};
use super::recurrence::{Occurrence, expand, has_occurrence};
use super::{ics, store};
use crate::context::{Item, ItemQuery, OrgRole, open_item, open_workspace, remove_item, same_workspace};
use crate::input::{self, ApiQuery};
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::{Json, response::IntoResponse};
use chrono::{DateTime, Duration, Utc};
use kith_db::Access;
use kith_http::{ApiError, ApiJson, ApiResult, AppState, AuthUser};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

/// Longest window a query may ask for.
const MAX_WINDOW_DAYS: i64 = 366;
/// Set on a listing that was cut off by the expansion bounds.
pub const TRUNCATED_HEADER: &str = "x-kith-truncated";

/// `GET /api/calendar/events` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WindowQuery {
    #[param(value_type = Uuid, required = true)]
    workspace_id: Option<String>,
    /// Window start: an RFC 3339 time or a `YYYY-MM-DD` date (default now).
    from: Option<String>,
    /// Window end, after `from`, at most 366 days later (default `from` + 7 days).
    to: Option<String>,
}

/// `GET /api/calendar/events?workspace_id=&from=&to=`: events overlapping the window (default now → +7 days),
/// one entry per occurrence for recurring events, sorted by start.
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    ApiQuery(query): ApiQuery<WindowQuery>,
) -> ApiResult<axum::response::Response> {
    let workspace_id = input::uuid("workspace_id", query.workspace_id.as_deref())?;
    let from = match query.from.as_deref() {
        Some(raw) => input::time_or_date("from", raw)?,
        None => Utc::now(),
    };
    let to = match query.to.as_deref() {
        Some(raw) => input::time_or_date("to", raw)?,
        None => from + Duration::days(7),
    };
    if to <= from {
        return Err(ApiError::validation("to", "must be after from"));
    }
    if to - from > Duration::days(MAX_WINDOW_DAYS) {
        return Err(ApiError::validation(
            "to",
            format!("the window may span at most {MAX_WINDOW_DAYS} days"),
        ));
    }
    let (mut tx, ctx) = open_workspace(&state.db, &user, workspace_id, Access::ReadOnly, OrgRole::Viewer).await?;
    let events = store::window(&mut tx, &ctx, from, to).await?;
    tx.commit().await?;
    let listed = expand(events, from, to).await?;
    let json: Vec<Value> = listed.occurrences.iter().map(Occurrence::to_json).collect();
    let mut response = Json(json).into_response();
    if listed.truncated {
        response
            .headers_mut()
            .insert(TRUNCATED_HEADER, header::HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// `POST /api/calendar/events`: 201 with the event.
pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(body): ApiJson<EventInput>,
) -> ApiResult<impl IntoResponse> {
    let workspace_id = body
        .workspace_id
        .ok_or_else(|| ApiError::validation("workspace_id", "is required"))?;
    let valid = ValidEvent::check(body, None)?;
    let (mut tx, ctx) = open_workspace(&state.db, &user, workspace_id, Access::ReadWrite, OrgRole::Member).await?;
    let e = store::create(&mut tx, &ctx, &valid).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(to_json(&e, None))))
}

/// Query of `PATCH` and `DELETE /api/calendar/events/{id}`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OccurrenceQuery {
    /// The workspace the caller expects the event in.
    #[param(value_type = Option<Uuid>)]
    workspace_id: Option<String>,
    /// Only this occurrence of a repeating event (its `occurrence_start` in a listing, RFC 3339), not the series.
    #[param(value_type = Option<String>, format = DateTime)]
    occurrence: Option<String>,
}

/// The occurrence `raw` names, checked against the stored series: 422 `occurrence` when the event does not
/// repeat or has no occurrence starting then. Expansion is CPU work: it runs on a blocking thread.
async fn occurrence_of(series: &Event, raw: &str) -> ApiResult<DateTime<Utc>> {
    let start = input::time("occurrence", raw)?;
    // A changed occurrence never repeats (a constraint), so this also covers one.
    if series.rrule.is_none() {
        return Err(ApiError::validation(
            "occurrence",
            "this event does not repeat: change or delete the event itself",
        ));
    }
    let series = series.clone();
    let found = tokio::task::spawn_blocking(move || has_occurrence(&series, start))
        .await
        .map_err(|e| ApiError::internal(&e))?;
    if !found {
        return Err(ApiError::validation(
            "occurrence",
            "is not the start of an occurrence of this event",
        ));
    }
    Ok(start)
}

/// `PATCH /api/calendar/events/{id}[?occurrence=]`: changes the event (a series: every occurrence), or with
/// `occurrence` only that occurrence of a series, which is then answered as an event of its own (`series_id`,
/// `recurrence_id`) and listed in its place.
pub async fn update(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<OccurrenceQuery>,
    ApiJson(body): ApiJson<EventInput>,
) -> ApiResult<Json<Value>> {
    let id = input::path_id(&id)?;
    let (mut tx, ctx) = open_item(&state.db, &user, Item::Event, id, Access::ReadWrite, OrgRole::Member).await?;
    same_workspace(&ctx, query.workspace_id.as_deref())?;
    same_workspace(&ctx, body.workspace_id.map(|w| w.to_string()).as_deref())?;
    let current = store::get(&mut tx, &ctx, id).await?;
    let relink = body.contact_ids.is_some();
    let one_occurrence = query.occurrence.is_some() || current.exceptions.replaces.is_some();
    if one_occurrence && matches!(body.rrule, Some(Some(_))) {
        return Err(ApiError::validation(
            "rrule",
            "one occurrence cannot repeat: change the series instead",
        ));
    }
    let Some(raw) = query.occurrence.as_deref() else {
        let valid = ValidEvent::check(body, Some(&current))?;
        let e = store::update(&mut tx, &ctx, id, &valid, relink).await?;
        tx.commit().await?;
        return Ok(Json(to_json(&e, None)));
    };
    let start = occurrence_of(&current, raw).await?;
    // The occurrence as it is now: changed before, or the series' fields at that start.
    let base = if current.exceptions.changed.contains(&start) {
        store::occurrence(&mut tx, &ctx, id, start).await?
    } else {
        None
    };
    let base = base.unwrap_or_else(|| Event {
        starts_at: start,
        ends_at: start + (current.ends_at - current.starts_at),
        rrule: None,
        ..current.clone()
    });
    let valid = ValidEvent::check(body, Some(&base))?;
    let e = store::change_occurrence(&mut tx, &ctx, id, start, &valid, relink).await?;
    tx.commit().await?;
    Ok(Json(to_json(&e, None)))
}

/// `DELETE /api/calendar/events/{id}[?occurrence=]`: 204; the event (a series with every occurrence), or with
/// `occurrence` only that occurrence of a series.
pub async fn remove(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<OccurrenceQuery>,
) -> ApiResult<StatusCode> {
    if let Some(raw) = query.occurrence.as_deref() {
        let id = input::path_id(&id)?;
        let (mut tx, ctx) = open_item(&state.db, &user, Item::Event, id, Access::ReadWrite, OrgRole::Member).await?;
        same_workspace(&ctx, query.workspace_id.as_deref())?;
        let series = store::get(&mut tx, &ctx, id).await?;
        let start = occurrence_of(&series, raw).await?;
        store::cancel_occurrence(&mut tx, &ctx, id, start).await?;
        tx.commit().await?;
        return Ok(StatusCode::NO_CONTENT);
    }
    remove_item(
        &state.db,
        &user,
        Item::Event,
        &id,
        query.workspace_id.as_deref(),
        store::delete,
    )
    .await
}

/// `GET /api/calendar/events.ics?workspace_id=`: every event of the workspace (recurring ones as one VEVENT with
/// their RRULE).
pub async fn export_ics(
    State(state): State<AppState>,
    user: AuthUser,
    ApiQuery(query): ApiQuery<ItemQuery>,
) -> ApiResult<impl IntoResponse> {
    let workspace_id = input::uuid("workspace_id", query.workspace_id.as_deref())?;
    let (mut tx, ctx) = open_workspace(&state.db, &user, workspace_id, Access::ReadOnly, OrgRole::Viewer).await?;
    let events = store::all(&mut tx, &ctx).await?;
    tx.commit().await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/calendar; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"calendar.ics\""),
        ],
        ics::calendar(&events, Utc::now()),
    ))
}

/// Query of the subscription routes.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SubscriptionQuery {
    #[param(value_type = Uuid, required = true)]
    workspace_id: Option<String>,
}

/// `POST /api/calendar/subscription` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionRequest {
    workspace_id: Uuid,
}

/// `GET /api/calendar/subscription?workspace_id=`: whether the caller has a live subscription URL.
pub async fn get_subscription(
    State(state): State<AppState>,
    user: AuthUser,
    ApiQuery(query): ApiQuery<SubscriptionQuery>,
) -> ApiResult<Json<Subscription>> {
    let workspace_id = input::uuid("workspace_id", query.workspace_id.as_deref())?;
    let (mut tx, ctx) = open_workspace(&state.db, &user, workspace_id, Access::ReadOnly, OrgRole::Viewer).await?;
    let subscription = store::subscription(&mut tx, &ctx).await?;
    tx.commit().await?;
    Ok(Json(subscription))
}

/// `POST /api/calendar/subscription {workspace_id}`: 201 with a new subscription token (any role; a previous
/// URL of the caller's for this workspace stops working).
pub async fn subscribe(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(body): ApiJson<SubscriptionRequest>,
) -> ApiResult<impl IntoResponse> {
    let (mut tx, ctx) = open_workspace(&state.db, &user, body.workspace_id, Access::ReadWrite, OrgRole::Viewer).await?;
    let made: NewSubscription = store::subscribe(&mut tx, &ctx).await?;
    tx.commit().await?;
    tracing::info!(user_id = %user.user_id, workspace_id = %body.workspace_id, "calendar subscription made");
    Ok((StatusCode::CREATED, Json(made)))
}

/// `DELETE /api/calendar/subscription?workspace_id=`: 204; the caller's URL stops working.
pub async fn unsubscribe(
    State(state): State<AppState>,
    user: AuthUser,
    ApiQuery(query): ApiQuery<SubscriptionQuery>,
) -> ApiResult<StatusCode> {
    let workspace_id = input::uuid("workspace_id", query.workspace_id.as_deref())?;
    let (mut tx, ctx) = open_workspace(&state.db, &user, workspace_id, Access::ReadWrite, OrgRole::Viewer).await?;
    store::unsubscribe(&mut tx, &ctx).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
