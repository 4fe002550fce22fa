//! Contacts as CSV: `GET /api/contacts/export.csv` (the current filter, formula cells defused) and
//! `POST /api/contacts/import`, a CSV file streamed into the workspace in batches, inside the caller's transaction.
//!
//! The import body is read as it arrives (never held whole) by a CSV parser on a blocking thread, which checks each
//! row with the same rules as `POST /api/contacts` and hands batches of checked rows to the request's task over a
//! small channel; each batch is one multi-row `INSERT … ON CONFLICT DO NOTHING` ([`store::import_batch`]: an
//! address already in the workspace, or earlier in the file, is a duplicate). Memory follows the batch, not the
//! file. A malformed file (header, UTF-8, ragged row, too many rows or bytes) is a 422 and the transaction rolls
//! back: nothing is written.

use super::model::{Contact, ContactFilter, RawContact, RawFilter, Status, ValidContact};
use super::store;
use crate::context::{OrgRole, WorkspaceCtx, open_workspace};
use crate::input::{self, ApiQuery};
use crate::scoring::{self, Score};
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use kith_db::{Access, CallerTx};
use kith_http::{ApiError, ApiResult, AppState, AuthUser};
use serde::{Deserialize, Serialize};
use std::io;
use tokio::sync::mpsc;

/// Query of the import route (and of the `.ics` export).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CsvQuery {
    #[param(value_type = Uuid, required = true)]
    pub(crate) workspace_id: Option<String>,
}

/// `GET /api/contacts/export.csv` query: the listing's filter and order, without paging.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    #[param(value_type = Uuid, required = true)]
    workspace_id: Option<String>,
    /// Matches names, email and company.
    #[param(max_length = 200)]
    q: Option<String>,
    /// Comma-separated tiers, of `hot`, `warm` and `cold` (default all).
    #[param(pattern = r"^\s*(hot|warm|cold)\s*(,\s*(hot|warm|cold)\s*)*$", example = "hot,warm")]
    tier: Option<String>,
    /// Only contacts with this tag.
    #[param(max_length = 50)]
    tag: Option<String>,
    /// `lead`, `opportunity`, `customer` or `inactive`.
    #[param(pattern = "^(lead|opportunity|customer|inactive)$")]
    status: Option<String>,
    /// Only contacts with no interaction since then (never touched included): RFC 3339 or `YYYY-MM-DD`.
    last_interaction_before: Option<String>,
    /// Only contacts with an interaction since then: RFC 3339 or `YYYY-MM-DD`.
    last_interaction_after: Option<String>,
    /// `newest`, `name`, `score` or `last_interaction` (default: oldest first, as exports always were).
    #[param(pattern = "^(newest|name|score|last_interaction)$")]
    sort: Option<String>,
}

/// The CSV columns, in export order; import accepts any subset in any order.
pub const CSV_COLUMNS: [&str; 8] = [
    "first_name",
    "last_name",
    "email",
    "phone",
    "company",
    "job_title",
    "tags",
    "status",
];

/// Keeps spreadsheet programs from running a cell as a formula.
fn csv_cell(value: &str) -> String {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    }
}

/// `contacts` as a CSV file (header first; tags `;`-separated; formula cells defused).
pub fn write_csv(contacts: &[Contact]) -> ApiResult<Vec<u8>> {
    let internal = |err: &dyn std::fmt::Display| ApiError::internal(err);
    let mut writer = ::csv::Writer::from_writer(Vec::new());
    writer.write_record(CSV_COLUMNS).map_err(|e| internal(&e))?;
    for c in contacts {
        let fields = [
            c.first_name.as_deref().unwrap_or_default(),
            c.last_name.as_deref().unwrap_or_default(),
            c.email.as_deref().unwrap_or_default(),
            c.phone.as_deref().unwrap_or_default(),
            c.company.as_deref().unwrap_or_default(),
            c.job_title.as_deref().unwrap_or_default(),
            &c.tags.join(";"),
            &c.status,
        ];
        writer
            .write_record(fields.iter().map(|f| csv_cell(f)))
            .map_err(|e| internal(&e))?;
    }
    writer.into_inner().map_err(|e| internal(&e))
}

/// `GET /api/contacts/export.csv?workspace_id=&…`: the contacts the same filter lists, as CSV.
pub async fn export_csv(
    State(state): State<AppState>,
    user: AuthUser,
    ApiQuery(query): ApiQuery<ExportQuery>,
) -> ApiResult<impl IntoResponse> {
    let workspace_id = input::uuid("workspace_id", query.workspace_id.as_deref())?;
    let oldest_first = query.sort.is_none();
    let filter = ContactFilter::parse(RawFilter {
        q: query.q,
        tier: query.tier,
        tag: query.tag,
        status: query.status,
        last_interaction_before: query.last_interaction_before,
        last_interaction_after: query.last_interaction_after,
        sort: query.sort,
    })?;
    let (mut tx, ctx) = open_workspace(&state.db, &user, workspace_id, Access::ReadOnly, OrgRole::Viewer).await?;
    let mut contacts = store::export(&mut tx, &ctx, &filter).await?;
    tx.commit().await?;
    if oldest_first {
        contacts.reverse();
    }
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"contacts.csv\""),
        ],
        write_csv(&contacts)?,
    ))
}

/// Most rows in one import.
pub const MAX_ROWS: usize = 100_000;
/// Largest file, in bytes.
pub const MAX_BYTES: usize = 50 * 1024 * 1024;
/// Rows per `INSERT`.
const BATCH_ROWS: usize = 1_000;

/// One row the import refused.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RowError {
    /// The row's line number (the header is line 1).
    pub row: usize,
    /// The field of its first problem.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
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
    let mut reader = ::csv::ReaderBuilder::new().flexible(false).from_reader(input);
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

fn malformed(what: &str, err: &::csv::Error) -> ApiError {
    let reason = match err.kind() {
        ::csv::ErrorKind::Utf8 { .. } => "the CSV must be UTF-8".to_owned(),
        ::csv::ErrorKind::Io(io) if io.kind() == io::ErrorKind::FileTooLarge => {
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

/// What an import did.
#[derive(Debug, Default, Serialize)]
pub struct ImportReport {
    /// Contacts created.
    pub created: usize,
    /// Rows skipped because their email is already in the workspace (or earlier in the file).
    pub duplicates: usize,
    /// Rows refused, with why.
    pub errors: Vec<RowError>,
}

/// Imports the CSV `input` into `ctx`'s workspace inside `tx` (which the caller commits): parsed and checked on a
/// blocking thread, inserted in batches. A malformed file is an error and the caller's transaction must then roll
/// back (drop it): nothing is written.
pub async fn import(
    tx: &mut CallerTx,
    ctx: &WorkspaceCtx,
    input: impl io::Read + Send + 'static,
) -> ApiResult<ImportReport> {
    let (sender, mut batches) = mpsc::channel::<Batch>(2);
    let now = Utc::now();
    let parser = tokio::task::spawn_blocking(move || parse(input, now, |batch| sender.blocking_send(batch).is_ok()));
    let mut report = ImportReport::default();
    while let Some(batch) = batches.recv().await {
        report.errors.extend(batch.errors);
        if batch.contacts.is_empty() {
            continue;
        }
        let inserted = store::import_batch(tx, ctx, &batch.contacts, now).await?;
        report.created += inserted;
        report.duplicates += batch.contacts.len() - inserted;
    }
    parser.await.map_err(|e| ApiError::internal(&e))??;
    Ok(report)
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
) -> ApiResult<Json<ImportReport>> {
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
    let (mut tx, ctx) = open_workspace(&state.db, &user, workspace_id, Access::ReadWrite, OrgRole::Member).await?;

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
    let report = import(&mut tx, &ctx, reader).await?;
    tx.commit().await?;
    Ok(Json(report))
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
    fn formula_cells_are_defused() {
        assert_eq!(csv_cell("=cmd()"), "'=cmd()");
        assert_eq!(csv_cell("Ada"), "Ada");
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
