//! `POST /api/contacts/import`: a CSV file streamed into the workspace in batches, inside the caller's transaction.
//!
//! The body is read as it arrives (never held whole) by a CSV parser on a blocking thread, which checks each row
//! with the same rules as `POST /api/contacts` and hands batches of checked rows to the request's task over a
//! small channel; each batch is one multi-row `INSERT … ON CONFLICT DO NOTHING` (an address already in the
//! workspace, or earlier in the file, is a duplicate). Memory follows the batch, not the file. A malformed file
//! (header, UTF-8, ragged row, too many rows or bytes) is a 422 and the transaction rolls back: nothing is written.

use crate::contacts::{CSV_COLUMNS, CsvQuery, RawContact, Status, ValidContact};
use crate::context::{OrgRole, workspace_ctx};
use crate::input::{self, ApiQuery};
use crate::scoring::{self, Score};
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use kith_db::Access;
use kith_http::{ApiError, ApiResult, AppState, AuthUser};
use serde::Serialize;
use serde_json::{Value, json};
use std::io;
use tokio::sync::mpsc;
use uuid::Uuid;

/// Most rows in one import.
pub const MAX_ROWS: usize = 100_000;
/// Largest file, in bytes.
pub const MAX_BYTES: usize = 50 * 1024 * 1024;
/// Rows per `INSERT`.
const BATCH_ROWS: usize = 1_000;

/// One row the import refused.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RowError {
    row: usize,
    field: String,
    message: String,
}

/// Checked rows of one batch, each with its score (a new contact has no interactions yet, so its fit is its
/// score and it is stored with the row: no second pass), and the rows refused among them.
#[derive(Debug, Default)]
struct Batch {
    contacts: Vec<(ValidContact, Score)>,
    errors: Vec<RowError>,
}

/// Reads CSV from `input`, sending batches of checked rows to `send` (which answers false once nobody listens).
fn parse(input: impl io::Read, now: DateTime<Utc>, mut send: impl FnMut(Batch) -> bool) -> ApiResult<()> {
    let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(input);
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| malformed("malformed CSV header", &e))?
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_lowercase())
        .collect();
    if header.iter().all(String::is_empty) {
        return Err(ApiError::validation("body", "the CSV needs a header row"));
    }
    for (i, name) in header.iter().enumerate() {
        if !CSV_COLUMNS.contains(&name.as_str()) {
            return Err(ApiError::validation(
                "body",
                format!("unknown column {name:?}; use {}", CSV_COLUMNS.join(", ")),
            ));
        }
        if header[..i].contains(name) {
            return Err(ApiError::validation("body", format!("column {name:?} appears twice")));
        }
    }
    let mut batch = Batch::default();
    let mut rows = 0;
    for record in reader.records() {
        let record = record.map_err(|e| malformed("malformed CSV", &e))?;
        rows += 1;
        if rows > MAX_ROWS {
            return Err(ApiError::validation(
                "body",
                format!("at most {MAX_ROWS} rows per import"),
            ));
        }
        let cell = |name: &str| {
            let column = header.iter().position(|h| h == name)?;
            record.get(column).map(str::to_owned)
        };
        match check(cell) {
            Ok(contact) => {
                let score = scoring::score(&contact.facts(), &[], now);
                batch.contacts.push((contact, score));
            }
            Err((field, message)) => batch.errors.push(RowError {
                row: rows + 1, // 1-based, after the header
                field,
                message,
            }),
        }
        if batch.contacts.len() + batch.errors.len() == BATCH_ROWS && !send(std::mem::take(&mut batch)) {
            return Ok(());
        }
    }
    send(batch);
    Ok(())
}

fn malformed(what: &str, err: &csv::Error) -> ApiError {
    let reason = match err.kind() {
        csv::ErrorKind::Utf8 { .. } => "the CSV must be UTF-8".to_owned(),
        csv::ErrorKind::Io(io) if io.kind() == io::ErrorKind::FileTooLarge => {
            format!("the file may be at most {} MB", MAX_BYTES / 1024 / 1024)
        }
        _ => format!("{what}: {err}"),
    };
    ApiError::validation("body", reason)
}

/// One row's cells (by column name) checked as `POST /api/contacts` checks them: the field and message of its
/// first problem.
fn check(cell: impl Fn(&str) -> Option<String>) -> Result<ValidContact, (String, String)> {
    let status = cell("status");
    let status = match status.map(|s| s.trim().to_lowercase()).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(Status::parse(&s).ok_or_else(|| {
            (
                "status".to_owned(),
                "must be one of lead, opportunity, customer, inactive".to_owned(),
            )
        })?),
    };
    let tags = cell("tags").map(|t| {
        t.split(';')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect()
    });
    ValidContact::check(RawContact {
        first_name: cell("first_name"),
        last_name: cell("last_name"),
        email: cell("email"),
        phone: cell("phone"),
        company: cell("company"),
        job_title: cell("job_title"),
        tags,
        status,
    })
    .map_err(|err| (err.field, err.message))
}

/// `POST /api/contacts/import?workspace_id=` with a `text/csv` body: a header row naming columns among
/// first_name, last_name, email, phone, company, job_title, tags (`;`-separated), status. Answers
/// `{created, duplicates, errors: [{row, field, message}]}`.
pub async fn import_csv(
    State(state): State<AppState>,
    user: AuthUser,
    ApiQuery(query): ApiQuery<CsvQuery>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<Value>> {
    let workspace_id = input::uuid("workspace_id", query.workspace_id.as_deref())?;
    let is_csv = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("text/csv"));
    if !is_csv {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Send the file as Content-Type: text/csv",
        ));
    }
    let mut tx = state.db.begin_as(&user.caller, Access::ReadWrite).await?;
    let ctx = workspace_ctx(&mut tx, &user, workspace_id, OrgRole::Member).await?;

    // The body, cut off past MAX_BYTES, read by the parser on a blocking thread.
    let mut seen = 0usize;
    let stream = body
        .into_data_stream()
        .map_err(io::Error::other)
        .and_then(move |chunk| {
            seen += chunk.len();
            let result = if seen > MAX_BYTES {
                Err(io::Error::from(io::ErrorKind::FileTooLarge))
            } else {
                Ok(chunk)
            };
            std::future::ready(result)
        });
    let reader = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(stream));
    let (sender, mut batches) = mpsc::channel::<Batch>(2);
    let now = Utc::now();
    let parser = tokio::task::spawn_blocking(move || parse(reader, now, |batch| sender.blocking_send(batch).is_ok()));

    let (mut created, mut duplicates, mut errors) = (0usize, 0usize, Vec::new());
    while let Some(batch) = batches.recv().await {
        errors.extend(batch.errors);
        if batch.contacts.is_empty() {
            continue;
        }
        let inserted = insert_batch(&mut tx, ctx.org_id, ctx.workspace_id, &batch.contacts, now).await?;
        created += inserted;
        duplicates += batch.contacts.len() - inserted;
    }
    parser.await.map_err(|e| ApiError::internal(&e))??;
    tx.commit().await?;
    Ok(Json(
        json!({"created": created, "duplicates": duplicates, "errors": errors}),
    ))
}

/// Inserts checked, scored contacts in one statement; an address already in the workspace (or earlier in the
/// batch) is skipped. Returns how many rows were inserted.
async fn insert_batch(
    tx: &mut kith_db::CallerTx,
    org_id: Uuid,
    workspace_id: Uuid,
    contacts: &[(ValidContact, Score)],
    now: DateTime<Utc>,
) -> ApiResult<usize> {
    let column = |f: fn(&ValidContact) -> Option<&str>| contacts.iter().map(|(c, _)| f(c)).collect::<Vec<_>>();
    let first_names = column(|c| c.first_name.as_deref());
    let last_names = column(|c| c.last_name.as_deref());
    let emails = column(|c| c.email.as_deref());
    let phones = column(|c| c.phone.as_deref());
    let companies = column(|c| c.company.as_deref());
    let job_titles = column(|c| c.job_title.as_deref());
    let tags: Vec<Value> = contacts.iter().map(|(c, _)| json!(c.tags)).collect();
    let statuses: Vec<&str> = contacts
        .iter()
        .map(|(c, _)| c.status.unwrap_or(Status::Lead).as_str())
        .collect();
    let scores: Vec<i32> = contacts.iter().map(|(_, s)| s.score).collect();
    let tiers: Vec<&str> = contacts.iter().map(|(_, s)| s.tier.as_str()).collect();
    let reasons: Vec<Value> = contacts.iter().map(|(_, s)| json!(s.reasons)).collect();
    let inserted = tx
        .query(
            "insert into public.contacts (org_id, workspace_id, first_name, last_name, email, phone, company,
                                          job_title, tags, status, score, tier, score_reasons, scored_at)
             select $1, $2, r.first_name, r.last_name, r.email, r.phone, r.company, r.job_title,
                    array(select jsonb_array_elements_text(r.tags)), r.status, r.score, r.tier, r.reasons, $14
               from unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::jsonb[],
                           $10::text[], $11::int[], $12::text[], $13::jsonb[])
                    as r(first_name, last_name, email, phone, company, job_title, tags, status, score, tier, reasons)
             on conflict (workspace_id, email) where email is not null do nothing
             returning 1",
            &[
                &org_id,
                &workspace_id,
                &first_names,
                &last_names,
                &emails,
                &phones,
                &companies,
                &job_titles,
                &tags,
                &statuses,
                &scores,
                &tiers,
                &reasons,
                &now,
            ],
        )
        .await?;
    Ok(inserted.len())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn parsed(csv: &[u8]) -> ApiResult<Vec<Batch>> {
        let mut batches = Vec::new();
        parse(csv, Utc::now(), |batch| {
            batches.push(batch);
            true
        })?;
        Ok(batches)
    }

    #[test]
    fn rows_are_checked_one_by_one_and_bad_files_refused() {
        let batches =
            parsed(b"\xef\xbb\xbfEmail,first_name,status\nada@x.io,Ada,lead\nnot-an-email,Bob,\n,Cy,vip\n").unwrap();
        assert_eq!(batches.len(), 1);
        assert_eq!(batches[0].contacts.len(), 1);
        let fields: Vec<(usize, &str)> = batches[0].errors.iter().map(|e| (e.row, e.field.as_str())).collect();
        assert_eq!(fields, [(3, "email"), (4, "status")]);
        assert!(parsed(b"email,nickname\na@x.io,z\n").is_err());
        assert!(parsed(b"email,email\na@x.io,z\n").is_err());
        assert!(parsed(b"email,first_name\na@x.io\n").is_err(), "ragged rows");
        assert!(parsed(b"email\n\xff\xfe\n").is_err());
    }

    #[test]
    fn large_files_arrive_in_batches_and_stop_at_the_row_cap() {
        let mut csv = b"email,first_name\n".to_vec();
        for i in 0..2_500 {
            csv.extend_from_slice(format!("p{i}@x.io,P{i}\n").as_bytes());
        }
        let batches = parsed(&csv).unwrap();
        assert_eq!(
            batches.iter().map(|b| b.contacts.len()).collect::<Vec<_>>(),
            [1000, 1000, 500]
        );
        let mut too_many = b"first_name\n".to_vec();
        too_many.extend(std::iter::repeat_n(&b"x\n"[..], MAX_ROWS + 1).flatten());
        assert!(parsed(&too_many).is_err());
    }
}
