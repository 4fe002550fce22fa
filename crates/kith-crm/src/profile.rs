//! `GET /api/profile` and `PATCH /api/profile`: the caller's own profile. The SQL is in [`store`].

pub mod store;

pub use store::timezone;

use crate::input::present;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use kith_db::Access;
use kith_db::tokio_postgres::Row;
use kith_http::{ApiError, ApiJson, ApiResult, AppState, AuthUser};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Longest accepted display name, in characters.
const MAX_NAME_CHARS: usize = 200;
/// Longest accepted avatar URL, in bytes.
const MAX_URL_BYTES: usize = 2048;

/// The profile routes.
pub fn routes() -> Router<AppState> {
    Router::new().route("/api/profile", get(get_profile).patch(patch_profile))
}

/// A user's profile as the API returns it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Profile {
    id: Uuid,
    email: Option<String>,
    full_name: Option<String>,
    avatar_url: Option<String>,
    timezone: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Row> for Profile {
    fn from(row: Row) -> Self {
        Profile {
            id: row.get("id"),
            email: row.get("email"),
            full_name: row.get("full_name"),
            avatar_url: row.get("avatar_url"),
            timezone: row.get("timezone"),
            created_at: row.get("created_at"),
            updated_at: row.get("updated_at"),
        }
    }
}

pub(crate) async fn get_profile(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<Profile>> {
    store::get(&state.db, &user.caller, user.user_id).await.map(Json)
}

/// `PATCH` body: absent fields stay as they are, `null` clears a nullable field.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProfilePatch {
    #[serde(default, deserialize_with = "present")]
    #[schema(max_length = 200)]
    full_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    /// An absolute http or https URL; `null` or empty clears it.
    #[schema(max_length = 2048)]
    avatar_url: Option<Option<String>>,
    #[serde(default)]
    /// An IANA time zone name.
    #[schema(examples("Europe/Berlin"))]
    timezone: Option<String>,
}

/// A patch whose every field has been checked.
pub(crate) struct ValidPatch {
    full_name: Option<Option<String>>,
    avatar_url: Option<Option<String>>,
    timezone: Option<String>,
}

impl TryFrom<ProfilePatch> for ValidPatch {
    type Error = ApiError;

    fn try_from(patch: ProfilePatch) -> Result<Self, ApiError> {
        let full_name = patch
            .full_name
            .map(|name| name.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty()))
            .map(|name| match name {
                Some(n) if n.chars().count() > MAX_NAME_CHARS => Err(ApiError::validation(
                    "full_name",
                    format!("must be at most {MAX_NAME_CHARS} characters"),
                )),
                Some(n) if n.chars().any(char::is_control) => {
                    Err(ApiError::validation("full_name", "must not contain control characters"))
                }
                other => Ok(other),
            })
            .transpose()?;
        let avatar_url = patch
            .avatar_url
            .map(|url| {
                url.filter(|u| !u.trim().is_empty())
                    .map(|u| parse_avatar_url(u.trim()))
                    .transpose()
            })
            .transpose()?;
        let timezone = patch
            .timezone
            .map(|tz| {
                tz.parse::<chrono_tz::Tz>().map(|tz| tz.name().to_owned()).map_err(|_| {
                    ApiError::validation("timezone", "must be an IANA time zone name such as Europe/Berlin")
                })
            })
            .transpose()?;
        Ok(ValidPatch {
            full_name,
            avatar_url,
            timezone,
        })
    }
}

fn parse_avatar_url(raw: &str) -> Result<String, ApiError> {
    if raw.len() > MAX_URL_BYTES {
        return Err(ApiError::validation(
            "avatar_url",
            format!("must be at most {MAX_URL_BYTES} bytes"),
        ));
    }
    match url::Url::parse(raw) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => Ok(url.into()),
        _ => Err(ApiError::validation(
            "avatar_url",
            "must be an absolute http or https URL",
        )),
    }
}

pub(crate) async fn patch_profile(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(patch): ApiJson<ProfilePatch>,
) -> ApiResult<Json<Profile>> {
    let patch = ValidPatch::try_from(patch)?;
    let mut tx = state.db.begin_as(&user.caller, Access::ReadWrite).await?;
    let profile = store::update(&mut tx, user.user_id, &patch).await?;
    tx.commit().await?;
    Ok(Json(profile))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn patch(json: &str) -> Result<ValidPatch, String> {
        let raw: ProfilePatch = serde_json::from_str(json).map_err(|e| e.to_string())?;
        ValidPatch::try_from(raw).map_err(|e| e.to_string())
    }

    #[test]
    fn absent_null_and_values_are_distinguished() {
        let p = patch(r#"{"full_name": null}"#).unwrap();
        assert_eq!(p.full_name, Some(None));
        assert_eq!(p.avatar_url, None);
        let p = patch(r#"{"full_name": "  Ada Lovelace "}"#).unwrap();
        assert_eq!(p.full_name, Some(Some("Ada Lovelace".into())));
    }

    #[test]
    fn timezones_must_be_iana_names() {
        assert_eq!(
            patch(r#"{"timezone": "Europe/Berlin"}"#).unwrap().timezone.as_deref(),
            Some("Europe/Berlin")
        );
        for bad in ["Mars/Olympus", "", "UTC+2; drop table", "europe/berlin "] {
            assert!(patch(&format!(r#"{{"timezone": "{bad}"}}"#)).is_err(), "{bad}");
        }
    }

    #[test]
    fn urls_and_lengths_are_checked() {
        assert!(patch(r#"{"avatar_url": "javascript:alert(1)"}"#).is_err());
        assert!(patch(r#"{"avatar_url": "https://example.com/a.png"}"#).is_ok());
        assert!(patch(&format!(r#"{{"full_name": "{}"}}"#, "x".repeat(201))).is_err());
        assert!(patch(r#"{"nickname": "x"}"#).is_err());
    }
}
