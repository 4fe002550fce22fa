//! `/storage/v1/object`: upload (with `x-upsert`), update, download (authenticated, public, signed), info, list,
//! remove, move, copy and signed URLs. Every row read or written goes through the caller's transaction, so the
//! policies on `storage.objects` decide; bytes stream to and from disk ([`crate::files`]).

use crate::buckets::json_object;
use crate::caller::{StorageCaller, caller};
use crate::error::{StorageError, StorageResult};
use crate::files::{Received, new_version};
use crate::signed::{Grant, MAX_EXPIRES_IN};
use crate::{StorageState, begin, names};
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use base64::Engine;
use bytes::Bytes;
use kith_db::{Access, Caller, CallerTx};
use kith_http::AppState;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::Arc;

/// Most names one remove, batch-sign or list request handles (Supabase's limit for removes).
const MAX_NAMES: usize = 1000;
/// Longest text field (cacheControl, metadata) accepted in a multipart upload.
const MAX_FIELD_BYTES: usize = 64 * 1024;

/// How an upload treats an existing object of the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `POST` without `x-upsert`: a name that exists is a conflict.
    Create,
    /// `POST` with `x-upsert: true`: replace it.
    Upsert,
    /// `PUT`: it must exist.
    Update,
}

impl Mode {
    fn sql(self) -> &'static str {
        match self {
            Mode::Create => {
                // No RETURNING: that would need a SELECT policy too, and an upload needs only INSERT.
                "insert into storage.objects (bucket_id, name, owner, owner_id, metadata, user_metadata, version, id) \
                 values ($1, $2, auth.uid(), auth.uid()::text, $3, $4, $5, $6)"
            }
            Mode::Upsert => {
                "with old as (select version from storage.objects where bucket_id = $1 and name = $2) \
                 insert into storage.objects as o (bucket_id, name, owner, owner_id, metadata, user_metadata, version) \
                 values ($1, $2, auth.uid(), auth.uid()::text, $3, $4, $5) \
                 on conflict (bucket_id, name) do update set owner = excluded.owner, owner_id = excluded.owner_id, \
                   metadata = excluded.metadata, user_metadata = excluded.user_metadata, \
                   version = excluded.version, last_accessed_at = now() \
                 returning o.id, (select version from old)"
            }
            Mode::Update => {
                "with old as (select version from storage.objects where bucket_id = $1 and name = $2) \
                 update storage.objects set metadata = $3, user_metadata = $4, version = $5, \
                   last_accessed_at = now() \
                 where bucket_id = $1 and name = $2 returning id, (select version from old)"
            }
        }
    }
}

/// What an upload declares about itself besides its bytes.
#[derive(Debug, Default)]
struct Declared {
    mimetype: String,
    cache_control: String,
    user_metadata: Option<Value>,
}

fn metadata(declared: &Declared, size: u64, md5: &str) -> Value {
    json!({
        "eTag": format!("\"{md5}\""),
        "size": size,
        "mimetype": declared.mimetype,
        "cacheControl": declared.cache_control,
        "lastModified": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "contentLength": size,
        "httpStatusCode": 200,
    })
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> StorageResult<Option<&'a str>> {
    headers
        .get(name)
        .map(|v| {
            v.to_str()
                .map_err(|_| StorageError::invalid(format!("The {name} header is not valid text")))
        })
        .transpose()
}

/// `x-metadata` (base64 JSON) or a multipart `metadata` field: a JSON object.
fn user_metadata(text: &str) -> StorageResult<Value> {
    match serde_json::from_str::<Value>(text) {
        Ok(value @ Value::Object(_)) => Ok(value),
        _ => Err(StorageError::invalid("metadata must be a JSON object")),
    }
}

/// A MIME type as stored: printable ASCII, at most 255 bytes.
fn mime(value: &str) -> StorageResult<String> {
    let value = value.trim();
    if value.is_empty()
        || value.len() > 255
        || !value.bytes().all(|b| (0x20..0x7f).contains(&b))
        || !value.contains('/')
    {
        return Err(StorageError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "InvalidMimeType",
            "invalid_mime_type",
            "The content type is not valid",
        ));
    }
    Ok(value.to_owned())
}

/// `Cache-Control` from a number of seconds (`3600` → `max-age=3600`) or a header value.
fn cache_control(value: &str) -> StorageResult<String> {
    let value = value.trim();
    let value = if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        format!("max-age={value}")
    } else {
        value.to_owned()
    };
    if value.len() > 255 || !value.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err(StorageError::invalid("cacheControl is not valid"));
    }
    Ok(if value.is_empty() { "no-cache".to_owned() } else { value })
}

/// The object's path as Supabase names it in answers and signed URLs.
fn key(bucket: &str, name: &str) -> String {
    format!("{bucket}/{name}")
}

/// Runs the write of an upload; returns the row's id and the version it replaced.
async fn write_row(
    tx: &mut CallerTx,
    mode: Mode,
    bucket: &str,
    name: &str,
    metadata: &Value,
    user_metadata: &Option<Value>,
    version: &str,
) -> StorageResult<Option<(uuid::Uuid, Option<String>)>> {
    if mode == Mode::Create {
        let id = uuid::Uuid::new_v4();
        tx.query(mode.sql(), &[&bucket, &name, metadata, user_metadata, &version, &id])
            .await?;
        return Ok(Some((id, None)));
    }
    let row = tx
        .query_opt(mode.sql(), &[&bucket, &name, metadata, user_metadata, &version])
        .await?;
    Ok(row.map(|r| (r.get(0), r.get(1))))
}

/// Refuses early, before any byte is stored, what the database would refuse at the end: no such bucket, a name
/// taken, a policy that says no, a declared size over the bucket's limit or a MIME type it does not allow.
async fn precheck(
    app: &AppState,
    caller: &Caller,
    mode: Mode,
    bucket: &str,
    name: &str,
    declared: &Declared,
    declared_size: u64,
) -> StorageResult<()> {
    let mut tx = begin(&app.db, caller, Access::ReadWrite).await?;
    let found = write_row(
        &mut tx,
        mode,
        bucket,
        name,
        &metadata(declared, declared_size, ""),
        &declared.user_metadata,
        &new_version(),
    )
    .await?;
    tx.rollback().await?;
    if found.is_none() {
        return Err(StorageError::object_not_found());
    }
    Ok(())
}

/// The multipart form's fields up to the file, and the file's part.
async fn multipart_upload(
    state: &StorageState,
    body: Body,
    content_type: &str,
    mut declared: Declared,
    check: impl AsyncFnOnce(&Declared) -> StorageResult<()>,
) -> StorageResult<(Declared, Received)> {
    let boundary = multer::parse_boundary(content_type)
        .map_err(|_| StorageError::invalid("The multipart body has no boundary"))?;
    let mut form = multer::Multipart::new(body.into_data_stream(), boundary);
    loop {
        let field = form
            .next_field()
            .await
            .map_err(|err| StorageError::invalid(format!("The multipart body is malformed: {err}")))?
            .ok_or_else(|| StorageError::invalid("The multipart body holds no file"))?;
        let field_name = field.name().unwrap_or_default().to_owned();
        if field.file_name().is_some() || field_name.is_empty() {
            declared.mimetype = match field.content_type() {
                Some(m) => mime(m.as_ref())?,
                None => "application/octet-stream".to_owned(),
            };
            if let Err(err) = check(&declared).await {
                crate::files::drain(field, crate::files::DRAIN_LIMIT).await;
                return Err(err);
            }
            let received = state.files.receive(field, state.max_file_size).await?;
            return Ok((declared, received));
        }
        let mut field = field;
        let mut text = Vec::new();
        while let Some(chunk) = field
            .chunk()
            .await
            .map_err(|err| StorageError::invalid(format!("The multipart body is malformed: {err}")))?
        {
            if text.len() + chunk.len() > MAX_FIELD_BYTES {
                return Err(StorageError::invalid(format!("The field {field_name} is too long")));
            }
            text.extend_from_slice(&chunk);
        }
        let text = String::from_utf8(text)
            .map_err(|_| StorageError::invalid(format!("The field {field_name} is not UTF-8")))?;
        match field_name.as_str() {
            "cacheControl" => declared.cache_control = cache_control(&text)?,
            "metadata" => declared.user_metadata = Some(user_metadata(&text)?),
            _ => {}
        }
    }
}

/// Upload, upsert or update: precheck, stream to a temporary file, write the row, move the file into place,
/// commit; then remove the replaced version's file.
#[allow(clippy::too_many_arguments)]
async fn store(
    app: AppState,
    state: Arc<StorageState>,
    caller: Caller,
    headers: HeaderMap,
    bucket: String,
    name: String,
    body: Body,
    mode: Mode,
) -> StorageResult<Json<Value>> {
    names::bucket_id(&bucket)?;
    names::object_name(&name)?;
    let content_type = header_str(&headers, "content-type")?.unwrap_or("application/octet-stream");
    let declared_size: u64 = header_str(&headers, "content-length")?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut declared = Declared {
        mimetype: String::new(),
        cache_control: match header_str(&headers, "cache-control")? {
            Some(v) => cache_control(v)?,
            None => "no-cache".to_owned(),
        },
        user_metadata: None,
    };
    if let Some(encoded) = header_str(&headers, "x-metadata")? {
        let text = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| StorageError::invalid("x-metadata must be base64-encoded JSON"))?;
        declared.user_metadata = Some(user_metadata(&text)?);
    }
    let is_multipart = content_type
        .split(';')
        .next()
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("multipart/form-data"));
    let (declared, received) = if is_multipart {
        declared.cache_control = "max-age=3600".to_owned();
        let check = async |d: &Declared| precheck(&app, &caller, mode, &bucket, &name, d, 0).await;
        multipart_upload(&state, body, content_type, declared, check).await?
    } else {
        let refused = match mime(content_type) {
            Ok(m) => {
                declared.mimetype = m;
                if declared_size > state.max_file_size {
                    Err(StorageError::too_large())
                } else {
                    precheck(&app, &caller, mode, &bucket, &name, &declared, declared_size).await
                }
            }
            Err(err) => Err(err),
        };
        if let Err(err) = refused {
            if declared_size <= crate::files::DRAIN_LIMIT {
                crate::files::drain(body.into_data_stream(), crate::files::DRAIN_LIMIT).await;
            }
            return Err(err);
        }
        let received = state
            .files
            .receive(body.into_data_stream(), state.max_file_size)
            .await?;
        (declared, received)
    };
    let version = new_version();
    let meta = metadata(&declared, received.size, &received.md5);
    let mut tx = begin(&app.db, &caller, Access::ReadWrite).await?;
    let (id, replaced) = write_row(&mut tx, mode, &bucket, &name, &meta, &declared.user_metadata, &version)
        .await?
        .ok_or_else(StorageError::object_not_found)?;
    let placed = state.files.place(received, &version).await?;
    tx.commit().await?;
    placed.keep();
    state.files.remove(replaced).await;
    let key = key(&bucket, &name);
    Ok(Json(json!({ "Key": key, "Id": id, "id": id })))
}

/// `POST /object/{bucket}/{name}`: upload (`x-upsert: true` replaces); `PUT`: replace an existing object.
pub(crate) async fn upload(
    State(app): State<AppState>,
    Extension(state): Extension<Arc<StorageState>>,
    StorageCaller(caller): StorageCaller,
    method: Method,
    headers: HeaderMap,
    Path((bucket, name)): Path<(String, String)>,
    body: Body,
) -> StorageResult<Json<Value>> {
    let mode = if method == Method::PUT {
        Mode::Update
    } else if header_str(&headers, "x-upsert")?.is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        Mode::Upsert
    } else {
        Mode::Create
    };
    store(app, state, caller, headers, bucket, name, body, mode).await
}

/// One object's row as the caller sees it.
struct Found {
    version: String,
    metadata: Value,
    updated_at: chrono::DateTime<chrono::Utc>,
}

async fn find(app: &AppState, caller: &Caller, bucket: &str, name: &str) -> StorageResult<Found> {
    names::bucket_id(bucket)?;
    names::object_name(name)?;
    let mut tx = begin(&app.db, caller, Access::ReadOnly).await?;
    let row = tx
        .query_opt(
            "select version, metadata, updated_at from storage.objects where bucket_id = $1 and name = $2",
            &[&bucket, &name],
        )
        .await?;
    tx.commit().await?;
    let row = row.ok_or_else(StorageError::object_not_found)?;
    Ok(Found {
        version: row.get(0),
        metadata: row.get(1),
        updated_at: row.get(2),
    })
}

fn meta_str<'a>(metadata: &'a Value, field: &str, default: &'a str) -> &'a str {
    metadata.get(field).and_then(Value::as_str).unwrap_or(default)
}

/// `Content-Disposition` for `?download` (the object's own file name) or `?download=name`.
fn disposition(query: &HashMap<String, String>, name: &str) -> Option<HeaderValue> {
    let wanted = query.get("download")?;
    let file = if wanted.is_empty() {
        name.rsplit('/').next().unwrap_or(name)
    } else {
        wanted.as_str()
    };
    let encoded: String = file
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    HeaderValue::from_str(&format!("attachment; filename*=UTF-8''{encoded}")).ok()
}

/// What a download answers besides the bytes.
struct Served<'a> {
    version: &'a str,
    mimetype: &'a str,
    cache_control: &'a str,
    etag: &'a str,
    last_modified: Option<chrono::DateTime<chrono::Utc>>,
    disposition: Option<HeaderValue>,
}

/// One `Range: bytes=…` of a file `length` long, as an inclusive span; `None` for no (or an unsupported) range,
/// which is answered in full; `Some(Err(()))` for a range past the end (416).
fn byte_range(headers: &HeaderMap, length: u64) -> Option<Result<(u64, u64), ()>> {
    let spec = headers
        .get(header::RANGE)?
        .to_str()
        .ok()?
        .trim()
        .strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None; // several ranges: answered whole, as RFC 9110 allows
    }
    let (start, end) = spec.split_once('-')?;
    let (start, end) = match (start.trim(), end.trim()) {
        ("", suffix) => {
            let n: u64 = suffix.parse().ok()?;
            if n == 0 {
                return Some(Err(()));
            }
            (length.saturating_sub(n), length.checked_sub(1)?)
        }
        (start, "") => (start.parse().ok()?, length.saturating_sub(1)),
        (start, end) => {
            let (start, end): (u64, u64) = (start.parse().ok()?, end.parse().ok()?);
            if end < start {
                return None;
            }
            (start, end.min(length.saturating_sub(1)))
        }
    };
    if start >= length {
        Some(Err(()))
    } else {
        Some(Ok((start, end)))
    }
}

/// Streams one version's file with its headers (one byte range when asked; 304 for a matching
/// `If-None-Match`). User content never runs as the site: it is sandboxed.
async fn send_file(state: &StorageState, request: &HeaderMap, served: Served<'_>) -> StorageResult<Response> {
    use tokio::io::{AsyncReadExt, AsyncSeekExt};
    let path = state
        .files
        .path_of(served.version)
        .ok_or_else(StorageError::object_not_found)?;
    let mut file = match tokio::fs::File::open(&path).await {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Err(StorageError::object_not_found()),
        Err(err) => return Err(StorageError::internal("cannot open an object's file", &err)),
    };
    let length = file
        .metadata()
        .await
        .map_err(|err| StorageError::internal("cannot read an object's file", &err))?
        .len();
    let not_modified = !served.etag.is_empty()
        && request
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|tag| tag.trim() == served.etag || tag.trim() == "*"));
    let mut response = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        match byte_range(request, length) {
            None => {
                let mut r = Body::from_stream(tokio_util::io::ReaderStream::new(file)).into_response();
                r.headers_mut()
                    .insert(header::CONTENT_LENGTH, HeaderValue::from(length));
                r
            }
            Some(Err(())) => {
                let mut r = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{length}")) {
                    r.headers_mut().insert(header::CONTENT_RANGE, v);
                }
                return Ok(r);
            }
            Some(Ok((start, end))) => {
                file.seek(std::io::SeekFrom::Start(start))
                    .await
                    .map_err(|err| StorageError::internal("cannot read an object's file", &err))?;
                let part = end - start + 1;
                let body = Body::from_stream(tokio_util::io::ReaderStream::new(file.take(part)));
                let mut r = (StatusCode::PARTIAL_CONTENT, body).into_response();
                r.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from(part));
                if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{length}")) {
                    r.headers_mut().insert(header::CONTENT_RANGE, v);
                }
                r
            }
        }
    };
    let headers = response.headers_mut();
    let text = |v: &str| HeaderValue::from_str(v).ok();
    if let Some(v) = text(served.mimetype) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Some(v) = text(served.cache_control) {
        headers.insert(header::CACHE_CONTROL, v);
    }
    if let Some(v) = text(served.etag).filter(|_| !served.etag.is_empty()) {
        headers.insert(header::ETAG, v);
    }
    if let Some(at) = served.last_modified
        && let Some(v) = text(&at.format("%a, %d %b %Y %H:%M:%S GMT").to_string())
    {
        headers.insert(header::LAST_MODIFIED, v);
    }
    if let Some(v) = served.disposition {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    Ok(response)
}

/// `GET /object/{bucket}/{name}`, `/object/authenticated/…` and `/object/public/…`: download as the caller. On
/// the public route, the policies of migration 0090 let every caller read public buckets' rows.
pub(crate) async fn download(
    State(app): State<AppState>,
    Extension(state): Extension<Arc<StorageState>>,
    StorageCaller(caller): StorageCaller,
    headers: HeaderMap,
    Path((bucket, name)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> StorageResult<Response> {
    let found = find(&app, &caller, &bucket, &name).await?;
    let m = &found.metadata;
    let served = Served {
        version: &found.version,
        mimetype: meta_str(m, "mimetype", "application/octet-stream"),
        cache_control: meta_str(m, "cacheControl", "no-cache"),
        etag: meta_str(m, "eTag", ""),
        last_modified: Some(found.updated_at),
        disposition: disposition(&query, &name),
    };
    send_file(&state, &headers, served).await
}

/// `GET /object/sign/{bucket}/{name}?token=…`: download through a signed URL, until it expires.
pub(crate) async fn download_signed(
    Extension(state): Extension<Arc<StorageState>>,
    headers: HeaderMap,
    Path((bucket, name)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> StorageResult<Response> {
    let token = query
        .get("token")
        .ok_or_else(|| StorageError::invalid("querystring must have required property 'token'"))?;
    let grant = state.signer.verify(token, &key(&bucket, &name))?;
    let last_modified = chrono::DateTime::parse_from_rfc3339(&grant.last_modified)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc));
    let served = Served {
        version: &grant.version,
        mimetype: &grant.mimetype,
        cache_control: &grant.cache_control,
        etag: &grant.etag,
        last_modified,
        disposition: disposition(&query, &name),
    };
    send_file(&state, &headers, served).await
}

fn expires_in(body: &Map<String, Value>) -> StorageResult<i64> {
    body.get("expiresIn")
        .and_then(Value::as_i64)
        .filter(|n| (1..=MAX_EXPIRES_IN).contains(n))
        .ok_or_else(|| {
            StorageError::invalid(format!(
                "expiresIn must be a whole number of seconds from 1 to {MAX_EXPIRES_IN}"
            ))
        })
}

fn grant_for(bucket: &str, name: &str, found: &Found, expires_in: i64) -> Grant {
    let now = chrono::Utc::now().timestamp();
    let m = &found.metadata;
    Grant {
        url: key(bucket, name),
        iat: now,
        exp: now + expires_in,
        version: found.version.clone(),
        mimetype: meta_str(m, "mimetype", "application/octet-stream").to_owned(),
        cache_control: meta_str(m, "cacheControl", "no-cache").to_owned(),
        etag: meta_str(m, "eTag", "").to_owned(),
        last_modified: found.updated_at.to_rfc3339(),
    }
}

/// `POST /object/sign/{bucket}/{name}` `{expiresIn}`: a signed URL for an object the caller may read.
pub(crate) async fn sign(
    State(app): State<AppState>,
    Extension(state): Extension<Arc<StorageState>>,
    StorageCaller(caller): StorageCaller,
    Path((bucket, name)): Path<(String, String)>,
    body: Bytes,
) -> StorageResult<Json<Value>> {
    let expires = expires_in(&json_object(&body)?)?;
    let found = find(&app, &caller, &bucket, &name).await?;
    let token = state.signer.sign(&grant_for(&bucket, &name, &found, expires))?;
    Ok(Json(
        json!({ "signedURL": format!("/object/sign/{bucket}/{name}?token={token}") }),
    ))
}

fn string_list(body: &Map<String, Value>, field: &str) -> StorageResult<Vec<String>> {
    let list = body
        .get(field)
        .and_then(Value::as_array)
        .filter(|l| !l.is_empty() && l.len() <= MAX_NAMES)
        .ok_or_else(|| StorageError::invalid(format!("{field} must be a list of 1 to {MAX_NAMES} names")))?;
    list.iter()
        .map(|v| {
            v.as_str()
                .map(str::to_owned)
                .ok_or_else(|| StorageError::invalid(format!("{field} must be a list of names")))
        })
        .collect()
}

/// `POST /object/sign/{bucket}` `{expiresIn, paths}`: signed URLs for many objects, in the order asked.
pub(crate) async fn sign_many(
    State(app): State<AppState>,
    Extension(state): Extension<Arc<StorageState>>,
    StorageCaller(caller): StorageCaller,
    Path(bucket): Path<String>,
    body: Bytes,
) -> StorageResult<Json<Value>> {
    names::bucket_id(&bucket)?;
    let body = json_object(&body)?;
    let expires = expires_in(&body)?;
    let paths = string_list(&body, "paths")?;
    let mut tx = begin(&app.db, &caller, Access::ReadOnly).await?;
    let rows = tx
        .query(
            "select name, version, metadata, updated_at from storage.objects where bucket_id = $1 and name = any($2)",
            &[&bucket, &paths],
        )
        .await?;
    tx.commit().await?;
    let found: HashMap<String, Found> = rows
        .into_iter()
        .map(|r| {
            (
                r.get(0),
                Found {
                    version: r.get(1),
                    metadata: r.get(2),
                    updated_at: r.get(3),
                },
            )
        })
        .collect();
    let mut out = Vec::with_capacity(paths.len());
    for path in paths {
        match found.get(&path) {
            Some(f) => {
                let token = state.signer.sign(&grant_for(&bucket, &path, f, expires))?;
                out.push(json!({
                    "error": null,
                    "path": path,
                    "signedURL": format!("/object/sign/{bucket}/{path}?token={token}"),
                }));
            }
            None => out.push(json!({
                "error": "Either the object does not exist or you do not have access to it",
                "path": path,
                "signedURL": null,
            })),
        }
    }
    Ok(Json(Value::Array(out)))
}

/// The object's JSON as a remove answers it.
const OBJECT_JSON: &str = "json_build_object('bucket_id', bucket_id, 'name', name, 'id', id, 'owner', owner, \
     'owner_id', owner_id, 'version', version, 'created_at', created_at, 'updated_at', updated_at, \
     'last_accessed_at', last_accessed_at, 'metadata', metadata, 'user_metadata', user_metadata)";

/// `DELETE /object/{bucket}` `{prefixes}`: removes the named objects the caller may delete; answers them.
pub(crate) async fn remove_many(
    State(app): State<AppState>,
    Extension(state): Extension<Arc<StorageState>>,
    StorageCaller(caller): StorageCaller,
    Path(bucket): Path<String>,
    body: Bytes,
) -> StorageResult<Json<Value>> {
    names::bucket_id(&bucket)?;
    let names = string_list(&json_object(&body)?, "prefixes")?;
    let mut tx = begin(&app.db, &caller, Access::ReadWrite).await?;
    let rows = tx
        .query(
            &format!(
                "delete from storage.objects where bucket_id = $1 and name = any($2) returning {OBJECT_JSON}, version"
            ),
            &[&bucket, &names],
        )
        .await?;
    tx.commit().await?;
    let versions: Vec<String> = rows.iter().map(|r| r.get(1)).collect();
    state.files.remove(versions).await;
    Ok(Json(Value::Array(rows.iter().map(|r| r.get(0)).collect())))
}

/// `DELETE /object/{bucket}/{name}`.
pub(crate) async fn remove_one(
    State(app): State<AppState>,
    Extension(state): Extension<Arc<StorageState>>,
    StorageCaller(caller): StorageCaller,
    Path((bucket, name)): Path<(String, String)>,
) -> StorageResult<Json<Value>> {
    names::bucket_id(&bucket)?;
    names::object_name(&name)?;
    let mut tx = begin(&app.db, &caller, Access::ReadWrite).await?;
    let row = tx
        .query_opt(
            "delete from storage.objects where bucket_id = $1 and name = $2 returning version",
            &[&bucket, &name],
        )
        .await?;
    tx.commit().await?;
    let row = row.ok_or_else(StorageError::object_not_found)?;
    state.files.remove([row.get::<_, String>(0)]).await;
    Ok(Json(json!({ "message": "Successfully deleted" })))
}

/// The source and destination of a move or copy.
fn endpoints(body: &Map<String, Value>) -> StorageResult<(String, String, String, String)> {
    let text = |field: &str| {
        body.get(field)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| StorageError::invalid(format!("body must have required property '{field}'")))
    };
    let bucket = text("bucketId")?;
    let source = text("sourceKey")?;
    let destination = text("destinationKey")?;
    let destination_bucket = match body.get("destinationBucket") {
        None | Some(Value::Null) => bucket.clone(),
        Some(Value::String(b)) => b.clone(),
        Some(_) => return Err(StorageError::invalid("destinationBucket must be a bucket id")),
    };
    names::bucket_id(&bucket)?;
    names::bucket_id(&destination_bucket)?;
    names::object_name(&source)?;
    names::object_name(&destination)?;
    Ok((bucket, source, destination_bucket, destination))
}

/// `POST /object/move`: renames an object (the caller's update policies decide, on the old row and the new).
pub(crate) async fn move_object(
    State(app): State<AppState>,
    StorageCaller(caller): StorageCaller,
    body: Bytes,
) -> StorageResult<Json<Value>> {
    let (bucket, source, to_bucket, destination) = endpoints(&json_object(&body)?)?;
    let mut tx = begin(&app.db, &caller, Access::ReadWrite).await?;
    let moved = tx
        .query_opt(
            "update storage.objects set bucket_id = $3, name = $4, last_accessed_at = now() \
             where bucket_id = $1 and name = $2 returning id",
            &[&bucket, &source, &to_bucket, &destination],
        )
        .await?;
    tx.commit().await?;
    match moved {
        Some(_) => Ok(Json(json!({ "message": "Successfully moved" }))),
        None => Err(StorageError::object_not_found()),
    }
}

/// `POST /object/copy`: a new object with the source's bytes (the caller must be able to read the source and
/// insert the copy).
pub(crate) async fn copy(
    State(app): State<AppState>,
    Extension(state): Extension<Arc<StorageState>>,
    StorageCaller(caller): StorageCaller,
    body: Bytes,
) -> StorageResult<Json<Value>> {
    let (bucket, source, to_bucket, destination) = endpoints(&json_object(&body)?)?;
    let mut tx = begin(&app.db, &caller, Access::ReadWrite).await?;
    let row = tx
        .query_opt(
            "select version, metadata, user_metadata from storage.objects where bucket_id = $1 and name = $2",
            &[&bucket, &source],
        )
        .await?
        .ok_or_else(StorageError::object_not_found)?;
    let from_version: String = row.get(0);
    let mut metadata: Value = row.get(1);
    let user_metadata: Option<Value> = row.get(2);
    if let Some(m) = metadata.as_object_mut() {
        m.insert(
            "lastModified".into(),
            json!(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        );
    }
    let version = new_version();
    let (id, _) = write_row(
        &mut tx,
        Mode::Create,
        &to_bucket,
        &destination,
        &metadata,
        &user_metadata,
        &version,
    )
    .await?
    .ok_or_else(StorageError::object_not_found)?;
    let placed = state.files.duplicate(&from_version, &version).await?;
    tx.commit().await?;
    placed.keep();
    let key = key(&to_bucket, &destination);
    Ok(Json(json!({ "Key": key, "Id": id, "id": id })))
}

async fn info_as_caller(app: AppState, caller: Caller, bucket: String, name: String) -> StorageResult<Json<Value>> {
    names::bucket_id(&bucket)?;
    names::object_name(&name)?;
    let mut tx = begin(&app.db, &caller, Access::ReadOnly).await?;
    let row = tx
        .query_opt(
            "select json_build_object('id', id, 'version', version, 'name', name, 'bucket_id', bucket_id, \
               'created_at', created_at, 'updated_at', updated_at, 'last_modified', updated_at, \
               'size', (metadata ->> 'size')::bigint, 'content_type', metadata ->> 'mimetype', \
               'cache_control', metadata ->> 'cacheControl', 'etag', metadata ->> 'eTag', \
               'metadata', user_metadata) \
             from storage.objects where bucket_id = $1 and name = $2",
            &[&bucket, &name],
        )
        .await?;
    tx.commit().await?;
    row.map(|r| Json(r.get(0))).ok_or_else(StorageError::object_not_found)
}

/// `GET /object/info/{bucket}/{name}` (and `/info/authenticated/…`): the object's details.
pub(crate) async fn info(
    State(app): State<AppState>,
    StorageCaller(caller): StorageCaller,
    Path((bucket, name)): Path<(String, String)>,
) -> StorageResult<Json<Value>> {
    info_as_caller(app, caller, bucket, name).await
}

/// `GET /object/info/public/{bucket}/{name}`: a public object's details.
pub(crate) async fn info_public(
    State(app): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path((bucket, name)): Path<(String, String)>,
) -> StorageResult<Json<Value>> {
    // The public policies look for the public download route in `request.path`.
    let uri: Uri = uri
        .path()
        .replacen("/object/info/public/", "/object/public/", 1)
        .parse()
        .map_err(|_| StorageError::invalid("The path is not valid"))?;
    let caller = caller(&headers, &app.verifier, &method, &uri)?;
    info_as_caller(app, caller, bucket, name).await
}

/// Escapes `\`, `%` and `_` for a LIKE pattern.
fn like_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `POST /object/list/{bucket}` `{prefix, limit, offset, sortBy, search}`: the files and folders directly under
/// `prefix` that the caller may see, as Supabase's `storage.search` answers them (folders with null fields).
pub(crate) async fn list(
    State(app): State<AppState>,
    StorageCaller(caller): StorageCaller,
    Path(bucket): Path<String>,
    body: Bytes,
) -> StorageResult<Json<Value>> {
    names::bucket_id(&bucket)?;
    let body = json_object(&body)?;
    let text = |field: &str| -> StorageResult<String> {
        match body.get(field) {
            None | Some(Value::Null) => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(StorageError::invalid(format!("{field} must be a string"))),
        }
    };
    let number = |field: &str, default: i64, max: i64| -> StorageResult<i64> {
        match body.get(field) {
            None | Some(Value::Null) => Ok(default),
            Some(v) => v
                .as_i64()
                .filter(|n| (0..=max).contains(n))
                .ok_or_else(|| StorageError::invalid(format!("{field} must be a number from 0 to {max}"))),
        }
    };
    let prefix = names::prefix(&text("prefix")?)?;
    let search = text("search")?;
    if search.len() > names::MAX_NAME_BYTES {
        return Err(StorageError::invalid("search is too long"));
    }
    let limit = number("limit", 100, 10_000)?;
    let offset = number("offset", 0, 1_000_000)?;
    let sort = body.get("sortBy").and_then(Value::as_object);
    let column = match sort.and_then(|s| s.get("column")).and_then(Value::as_str) {
        None | Some("name") => "name",
        Some("updated_at") => "updated_at",
        Some("created_at") => "created_at",
        Some("last_accessed_at") => "last_accessed_at",
        Some(_) => {
            return Err(StorageError::invalid(
                "sortBy.column must be name, updated_at, created_at or last_accessed_at",
            ));
        }
    };
    let order = match sort.and_then(|s| s.get("order")).and_then(Value::as_str) {
        None => "asc",
        Some(o) if o.eq_ignore_ascii_case("asc") => "asc",
        Some(o) if o.eq_ignore_ascii_case("desc") => "desc",
        Some(_) => return Err(StorageError::invalid("sortBy.order must be asc or desc")),
    };
    let sql = format!(
        "with matched as ( \
           select o.id, o.updated_at, o.created_at, o.last_accessed_at, o.metadata, \
                  substr(o.name, char_length($2) + 1) as rest \
           from storage.objects o \
           where o.bucket_id = $1 and o.name like $3 || '%' escape '\\' \
             and substr(o.name, char_length($2) + 1) ilike $4 || '%' escape '\\' \
         ), entries as ( \
           select distinct split_part(rest, '/', 1) as name, null::uuid as id, null::timestamptz as updated_at, \
                  null::timestamptz as created_at, null::timestamptz as last_accessed_at, null::jsonb as metadata \
           from matched where strpos(rest, '/') > 0 \
           union all \
           select rest, id, updated_at, created_at, last_accessed_at, metadata from matched where strpos(rest, '/') = 0 \
         ), page as (select * from entries order by {column} {order} nulls first, name limit $5 offset $6) \
         select coalesce(json_agg(json_build_object('name', name, 'id', id, 'updated_at', updated_at, \
                  'created_at', created_at, 'last_accessed_at', last_accessed_at, 'metadata', metadata) \
                order by {column} {order} nulls first, name), '[]') from page"
    );
    let mut tx = begin(&app.db, &caller, Access::ReadOnly).await?;
    let row = tx
        .query_one(
            &sql,
            &[
                &bucket,
                &prefix,
                &like_escape(&prefix),
                &like_escape(&search),
                &limit,
                &offset,
            ],
        )
        .await?;
    tx.commit().await?;
    Ok(Json(row.get(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(value: &str, length: u64) -> Option<Result<(u64, u64), ()>> {
        let mut headers = HeaderMap::new();
        headers.insert(header::RANGE, HeaderValue::from_str(value).ok()?);
        byte_range(&headers, length)
    }

    #[test]
    fn byte_ranges() {
        assert_eq!(range("bytes=0-9", 100), Some(Ok((0, 9))));
        assert_eq!(range("bytes=90-", 100), Some(Ok((90, 99))));
        assert_eq!(range("bytes=-10", 100), Some(Ok((90, 99))));
        assert_eq!(range("bytes=-500", 100), Some(Ok((0, 99))));
        assert_eq!(range("bytes=50-5000", 100), Some(Ok((50, 99))));
        assert_eq!(range("bytes=100-", 100), Some(Err(())));
        assert_eq!(range("bytes=0-0", 0), Some(Err(())));
        assert_eq!(range("bytes=5-1", 100), None);
        assert_eq!(range("bytes=0-1,5-6", 100), None);
        assert_eq!(range("items=0-1", 100), None);
        assert_eq!(range("bytes=x-y", 100), None);
    }
}
