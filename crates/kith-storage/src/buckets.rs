//! `/storage/v1/bucket`: list, create, get, update, empty and delete buckets, as the caller.

use crate::caller::StorageCaller;
use crate::error::{StorageError, StorageResult};
use crate::{StorageState, begin, names};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use bytes::Bytes;
use kith_db::Access;
use kith_http::AppState;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::Arc;

/// The columns of a bucket as Supabase answers them.
const BUCKET_JSON: &str = "json_build_object('id', b.id, 'name', b.name, 'owner', coalesce(b.owner_id, b.owner::text, ''), \
     'public', b.public, 'type', b.type, 'file_size_limit', b.file_size_limit, \
     'allowed_mime_types', b.allowed_mime_types, 'created_at', b.created_at, 'updated_at', b.updated_at)";

/// Objects removed per transaction when emptying a bucket, and transactions per request.
const EMPTY_BATCH: i64 = 1000;
const EMPTY_BATCHES: usize = 100;

/// Parses a JSON object body.
pub(crate) fn json_object(body: &Bytes) -> StorageResult<Map<String, Value>> {
    if body.is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(StorageError::invalid("The body must be a JSON object")),
        Err(err) => Err(StorageError::invalid(format!("The body is not valid JSON: {err}"))),
    }
}

/// A size limit as Supabase takes it: a number of bytes, or a string such as `"10MB"` (units of 1000).
fn file_size_limit(value: &Value) -> StorageResult<Option<i64>> {
    let bad = || StorageError::invalid("file_size_limit must be a positive number of bytes or a size such as \"10MB\"");
    let bytes = match value {
        Value::Null => return Ok(None),
        Value::Number(n) => n.as_f64().ok_or_else(bad)?,
        Value::String(s) => {
            let s = s.trim().to_ascii_lowercase();
            let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
            let (number, unit) = s.split_at(split);
            let number: f64 = number.parse().map_err(|_| bad())?;
            let factor = match unit.trim() {
                "" | "b" => 1.0,
                "kb" => 1e3,
                "mb" => 1e6,
                "gb" => 1e9,
                "tb" => 1e12,
                _ => return Err(bad()),
            };
            number * factor
        }
        _ => return Err(bad()),
    };
    if !(1.0..9.0e18).contains(&bytes) {
        return Err(bad());
    }
    #[allow(clippy::cast_possible_truncation)]
    Ok(Some(bytes.floor() as i64))
}

fn mime_types(value: &Value) -> StorageResult<Option<Vec<String>>> {
    match value {
        Value::Null => Ok(None),
        Value::Array(items) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| StorageError::invalid("allowed_mime_types must be a list of strings"))
            })
            .collect::<StorageResult<Vec<_>>>()
            .map(Some),
        _ => Err(StorageError::invalid("allowed_mime_types must be a list of strings")),
    }
}

fn public_flag(value: Option<&Value>) -> StorageResult<Option<bool>> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(StorageError::invalid("public must be true or false")),
    }
}

/// `GET /bucket`: the buckets the caller may see.
pub(crate) async fn list(
    State(app): State<AppState>,
    StorageCaller(caller): StorageCaller,
    Query(query): Query<HashMap<String, String>>,
) -> StorageResult<Json<Value>> {
    let number = |name: &str, default: i64, max: i64| -> StorageResult<i64> {
        match query.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse::<i64>()
                .ok()
                .filter(|n| (0..=max).contains(n))
                .ok_or_else(|| StorageError::invalid(format!("{name} must be a number from 0 to {max}"))),
        }
    };
    let limit = number("limit", 1000, 1000)?;
    let offset = number("offset", 0, 1_000_000)?;
    let column = match query.get("sortColumn").map(String::as_str) {
        None | Some("name") => "b.name",
        Some("id") => "b.id",
        Some("created_at") => "b.created_at",
        Some("updated_at") => "b.updated_at",
        Some(_) => {
            return Err(StorageError::invalid(
                "sortColumn must be id, name, created_at or updated_at",
            ));
        }
    };
    let order = match query.get("sortOrder").map(String::as_str) {
        None | Some("asc") => "asc",
        Some("desc") => "desc",
        Some(_) => return Err(StorageError::invalid("sortOrder must be asc or desc")),
    };
    let search = query.get("search").cloned().unwrap_or_default();
    let sql = format!(
        "select coalesce(json_agg(x.j), '[]') from (select {BUCKET_JSON} as j from storage.buckets b \
         where $1 = '' or b.name ilike '%' || replace(replace(replace($1, '\\', '\\\\'), '%', '\\%'), '_', '\\_') || '%' \
         order by {column} {order}, b.id limit $2 offset $3) x"
    );
    let mut tx = begin(&app.db, &caller, Access::ReadOnly).await?;
    let row = tx.query_one(&sql, &[&search, &limit, &offset]).await?;
    tx.commit().await?;
    Ok(Json(row.get(0)))
}

/// `GET /bucket/{id}`.
pub(crate) async fn get_one(
    State(app): State<AppState>,
    StorageCaller(caller): StorageCaller,
    Path(id): Path<String>,
) -> StorageResult<Json<Value>> {
    names::bucket_id(&id)?;
    let mut tx = begin(&app.db, &caller, Access::ReadOnly).await?;
    let row = tx
        .query_opt(
            &format!("select {BUCKET_JSON} from storage.buckets b where b.id = $1"),
            &[&id],
        )
        .await?;
    tx.commit().await?;
    row.map(|r| Json(r.get(0))).ok_or_else(StorageError::bucket_not_found)
}

#[derive(Debug, Deserialize)]
struct CreateBody {
    id: Option<String>,
    name: Option<String>,
    #[serde(default)]
    public: Value,
    #[serde(default)]
    file_size_limit: Value,
    #[serde(default)]
    allowed_mime_types: Value,
    #[serde(default, rename = "type")]
    kind: Option<String>,
}

/// `POST /bucket`: `{"name": id}`.
pub(crate) async fn create(
    State(app): State<AppState>,
    StorageCaller(caller): StorageCaller,
    body: Bytes,
) -> StorageResult<(StatusCode, Json<Value>)> {
    let body: CreateBody = serde_json::from_value(Value::Object(json_object(&body)?))
        .map_err(|err| StorageError::invalid(format!("The body is not a bucket: {err}")))?;
    let id = body
        .id
        .or(body.name)
        .ok_or_else(|| StorageError::invalid("body must have required property 'name'"))?;
    names::bucket_id(&id)?;
    if body.kind.as_deref().is_some_and(|t| t != "STANDARD") {
        return Err(StorageError::invalid("Only STANDARD buckets are supported"));
    }
    let public = public_flag(Some(&body.public))?.unwrap_or(false);
    let limit = file_size_limit(&body.file_size_limit)?;
    let types = mime_types(&body.allowed_mime_types)?;
    let mut tx = begin(&app.db, &caller, Access::ReadWrite).await?;
    tx.query(
        "insert into storage.buckets (id, name, public, file_size_limit, allowed_mime_types, owner, owner_id) \
         values ($1, $1, $2, $3, $4, auth.uid(), auth.uid()::text)",
        &[&id, &public, &limit, &types],
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::OK, Json(json!({ "name": id }))))
}

/// `PUT /bucket/{id}`: changes the fields given.
pub(crate) async fn update(
    State(app): State<AppState>,
    StorageCaller(caller): StorageCaller,
    Path(id): Path<String>,
    body: Bytes,
) -> StorageResult<Json<Value>> {
    names::bucket_id(&id)?;
    let body = json_object(&body)?;
    let public = public_flag(body.get("public"))?;
    let set_limit = body.contains_key("file_size_limit");
    let limit = match body.get("file_size_limit") {
        Some(v) => file_size_limit(v)?,
        None => None,
    };
    let set_types = body.contains_key("allowed_mime_types");
    let types = match body.get("allowed_mime_types") {
        Some(v) => mime_types(v)?,
        None => None,
    };
    let mut tx = begin(&app.db, &caller, Access::ReadWrite).await?;
    let updated = tx
        .query_opt(
            "update storage.buckets set public = coalesce($2, public), \
               file_size_limit = case when $3 then $4 else file_size_limit end, \
               allowed_mime_types = case when $5 then $6 else allowed_mime_types end \
             where id = $1 returning id",
            &[&id, &public, &set_limit, &limit, &set_types, &types],
        )
        .await?;
    tx.commit().await?;
    match updated {
        Some(_) => Ok(Json(json!({ "message": "Successfully updated" }))),
        None => Err(StorageError::bucket_not_found()),
    }
}

/// `POST /bucket/{id}/empty`: removes every object the caller may delete, in batches.
pub(crate) async fn empty(
    State(app): State<AppState>,
    Extension(state): Extension<Arc<StorageState>>,
    StorageCaller(caller): StorageCaller,
    Path(id): Path<String>,
) -> StorageResult<Json<Value>> {
    names::bucket_id(&id)?;
    let mut tx = begin(&app.db, &caller, Access::ReadOnly).await?;
    let exists = tx
        .query_opt("select 1 from storage.buckets where id = $1", &[&id])
        .await?
        .is_some();
    tx.commit().await?;
    if !exists {
        return Err(StorageError::bucket_not_found());
    }
    for _ in 0..EMPTY_BATCHES {
        let mut tx = begin(&app.db, &caller, Access::ReadWrite).await?;
        let rows = tx
            .query(
                "delete from storage.objects where id in \
                   (select id from storage.objects where bucket_id = $1 limit $2) returning version",
                &[&id, &EMPTY_BATCH],
            )
            .await?;
        tx.commit().await?;
        let done = (rows.len() as i64) < EMPTY_BATCH;
        let versions: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
        state.files.remove(versions).await;
        if done {
            return Ok(Json(json!({ "message": "Successfully emptied" })));
        }
    }
    Ok(Json(json!({ "message": "Successfully emptied" })))
}

/// `DELETE /bucket/{id}`: only an empty bucket.
pub(crate) async fn remove(
    State(app): State<AppState>,
    StorageCaller(caller): StorageCaller,
    Path(id): Path<String>,
) -> StorageResult<Json<Value>> {
    names::bucket_id(&id)?;
    let mut tx = begin(&app.db, &caller, Access::ReadWrite).await?;
    let deleted = match tx
        .query_opt("delete from storage.buckets where id = $1 returning id", &[&id])
        .await
    {
        Ok(row) => row,
        Err(err) if err.sql_state().is_some_and(|s| s.code() == "23503") => {
            return Err(StorageError::new(
                StatusCode::CONFLICT,
                "InvalidRequest",
                "Conflict",
                "The bucket you tried to delete is not empty",
            ));
        }
        Err(err) => return Err(err.into()),
    };
    tx.commit().await?;
    match deleted {
        Some(_) => Ok(Json(json!({ "message": "Successfully deleted" }))),
        None => Err(StorageError::bucket_not_found()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_limits_take_numbers_and_units() {
        assert_eq!(file_size_limit(&json!(1024)).ok(), Some(Some(1024)));
        assert_eq!(file_size_limit(&json!("10MB")).ok(), Some(Some(10_000_000)));
        assert_eq!(file_size_limit(&json!("1.5 kb")).ok(), Some(Some(1500)));
        assert_eq!(file_size_limit(&json!(null)).ok(), Some(None));
        for bad in [
            json!(0),
            json!(-1),
            json!("ten"),
            json!("5XB"),
            json!(true),
            json!(1e30),
        ] {
            assert!(file_size_limit(&bad).is_err(), "{bad}");
        }
    }
}
