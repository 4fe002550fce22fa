//! What a contact and an interaction are: the stored shapes the API answers with, the writable fields and their
//! checks (parse, don't validate: a [`ValidContact`] or [`ValidInteraction`] can only be made by checking), and the
//! filter a listing or an export applies.

use crate::input::{self, Checked, Invalid};
use crate::scoring::{ContactFacts, InteractionKind, Tier};
use chrono::{DateTime, Utc};
use kith_db::tokio_postgres::Row;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use uuid::Uuid;

/// Longest name, company or title.
const MAX_TEXT: usize = 200;
/// Most tags on a contact, and longest tag.
const MAX_TAGS: usize = 50;
const MAX_TAG_CHARS: usize = 50;
/// Longest interaction summary.
const MAX_SUMMARY: usize = 2000;

/// A contact's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Not qualified yet.
    Lead,
    /// Has an open deal.
    Opportunity,
    /// Bought.
    Customer,
    /// No longer pursued.
    Inactive,
}

impl Status {
    /// The name in Postgres and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Lead => "lead",
            Status::Opportunity => "opportunity",
            Status::Customer => "customer",
            Status::Inactive => "inactive",
        }
    }

    /// Parses a status name.
    pub fn parse(raw: &str) -> Option<Self> {
        [Status::Lead, Status::Opportunity, Status::Customer, Status::Inactive]
            .into_iter()
            .find(|s| s.as_str() == raw)
    }
}

/// A contact as the API returns it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Contact {
    /// Id.
    pub id: Uuid,
    /// Its workspace.
    pub workspace_id: Uuid,
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Email (lower-case).
    pub email: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Company.
    pub company: Option<String>,
    /// Job title.
    pub job_title: Option<String>,
    /// Tags (lower-case).
    pub tags: Vec<String>,
    /// `lead`, `opportunity`, `customer` or `inactive`.
    pub status: String,
    /// 0–100 (docs/SCORING.md).
    pub score: i32,
    /// `hot`, `warm` or `cold`.
    pub tier: String,
    /// The latest interaction.
    pub last_interaction_at: Option<DateTime<Utc>>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

impl Contact {
    /// First and last name, or the email when there is no name.
    pub fn display_name(&self) -> String {
        let name = [self.first_name.as_deref(), self.last_name.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        if name.is_empty() {
            self.email.clone().unwrap_or_default()
        } else {
            name
        }
    }
}

impl From<&Row> for Contact {
    fn from(row: &Row) -> Self {
        Contact {
            id: row.get("id"),
            workspace_id: row.get("workspace_id"),
            first_name: row.get("first_name"),
            last_name: row.get("last_name"),
            email: row.get("email"),
            phone: row.get("phone"),
            company: row.get("company"),
            job_title: row.get("job_title"),
            tags: row.get("tags"),
            status: row.get("status"),
            score: row.get("score"),
            tier: row.get("tier"),
            last_interaction_at: row.get("last_interaction_at"),
            created_at: row.get("created_at"),
            updated_at: row.get("updated_at"),
        }
    }
}

/// A contact's writable fields, as given (by a JSON body, a form or a CSV row).
#[derive(Debug, Default, Clone)]
pub struct RawContact {
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Company.
    pub company: Option<String>,
    /// Job title.
    pub job_title: Option<String>,
    /// Tags.
    pub tags: Option<Vec<String>>,
    /// Status (default lead).
    pub status: Option<Status>,
}

impl From<Contact> for RawContact {
    /// A stored contact's fields, as the base a partial update is merged onto.
    fn from(c: Contact) -> Self {
        RawContact {
            status: Some(Status::parse(&c.status).unwrap_or(Status::Lead)),
            first_name: c.first_name,
            last_name: c.last_name,
            email: c.email,
            phone: c.phone,
            company: c.company,
            job_title: c.job_title,
            tags: Some(c.tags),
        }
    }
}

/// A contact's writable fields, checked (made only by [`ValidContact::check`]).
#[derive(Debug, Default, Clone)]
pub struct ValidContact {
    pub(crate) first_name: Option<String>,
    pub(crate) last_name: Option<String>,
    pub(crate) email: Option<String>,
    pub(crate) phone: Option<String>,
    pub(crate) company: Option<String>,
    pub(crate) job_title: Option<String>,
    pub(crate) tags: Vec<String>,
    pub(crate) status: Option<Status>,
}

fn phone(value: Option<String>) -> Checked<Option<String>> {
    let value = input::text("phone", value, 50, false)?;
    if let Some(phone) = &value {
        let ok = phone.chars().any(|c| c.is_ascii_digit())
            && phone.chars().all(|c| c.is_ascii_digit() || " +-().x/".contains(c));
        if !ok {
            return Err(Invalid::new(
                "phone",
                "must be a phone number (digits, spaces and + - ( ) . x /)",
            ));
        }
    }
    Ok(value)
}

fn tags(value: Vec<String>) -> Checked<Vec<String>> {
    if value.len() > MAX_TAGS {
        return Err(Invalid::new("tags", format!("at most {MAX_TAGS} tags")));
    }
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for tag in value {
        let tag = input::text("tags", Some(tag), MAX_TAG_CHARS, false)?
            .ok_or_else(|| Invalid::new("tags", "tags must not be empty"))?
            .to_lowercase();
        if seen.insert(tag.clone()) {
            out.push(tag);
        }
    }
    Ok(out)
}

impl ValidContact {
    /// What the scorer reads of this contact.
    pub(crate) fn facts(&self) -> ContactFacts {
        ContactFacts {
            first_name: self.first_name.clone(),
            last_name: self.last_name.clone(),
            email: self.email.clone(),
            phone: self.phone.clone(),
            company: self.company.clone(),
            job_title: self.job_title.clone(),
            status: self.status().as_str().to_owned(),
        }
    }

    /// The status to store.
    pub(crate) fn status(&self) -> Status {
        self.status.unwrap_or(Status::Lead)
    }

    /// Checks every field of a contact; a contact needs a name or an email.
    pub fn check(raw: RawContact) -> Checked<Self> {
        let contact = ValidContact {
            first_name: input::text("first_name", raw.first_name, MAX_TEXT, false)?,
            last_name: input::text("last_name", raw.last_name, MAX_TEXT, false)?,
            email: input::email("email", raw.email)?,
            phone: phone(raw.phone)?,
            company: input::text("company", raw.company, MAX_TEXT, false)?,
            job_title: input::text("job_title", raw.job_title, MAX_TEXT, false)?,
            tags: tags(raw.tags.unwrap_or_default())?,
            status: raw.status,
        };
        if contact.first_name.is_none() && contact.last_name.is_none() && contact.email.is_none() {
            return Err(Invalid::new(
                "first_name",
                "a contact needs a first name, a last name or an email",
            ));
        }
        Ok(contact)
    }
}

/// An interaction with a contact.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Interaction {
    /// Id.
    pub id: Uuid,
    /// The contact.
    pub contact_id: Uuid,
    /// Its workspace.
    pub workspace_id: Uuid,
    /// What happened: `email_sent`, `email_opened`, `email_replied`, `call`, `meeting`, `note`, `form_submitted`.
    pub kind: String,
    /// When.
    pub occurred_at: DateTime<Utc>,
    /// What was said.
    pub summary: Option<String>,
    /// Recorded.
    pub created_at: DateTime<Utc>,
}

impl From<&Row> for Interaction {
    fn from(row: &Row) -> Self {
        Interaction {
            id: row.get("id"),
            contact_id: row.get("contact_id"),
            workspace_id: row.get("workspace_id"),
            kind: row.get("kind"),
            occurred_at: row.get("occurred_at"),
            summary: row.get("summary"),
            created_at: row.get("created_at"),
        }
    }
}

/// An interaction's fields, checked (made only by [`ValidInteraction::check`]).
#[derive(Debug, Clone)]
pub struct ValidInteraction {
    pub(crate) kind: InteractionKind,
    pub(crate) occurred_at: DateTime<Utc>,
    pub(crate) summary: Option<String>,
}

impl ValidInteraction {
    /// Checks an interaction: `occurred_at` (RFC 3339) defaults to `now` and may not be more than a day ahead of
    /// it (clocks differ; a CRM records what happened); the summary is at most 2,000 characters.
    pub fn check(
        kind: InteractionKind,
        occurred_at: Option<&str>,
        summary: Option<String>,
        now: DateTime<Utc>,
    ) -> Checked<Self> {
        let occurred_at = match occurred_at {
            Some(raw) => input::time("occurred_at", raw)?,
            None => now,
        };
        Self::checked(kind, occurred_at, summary, now)
    }

    /// [`ValidInteraction::check`] with the time already parsed.
    pub fn checked(
        kind: InteractionKind,
        occurred_at: DateTime<Utc>,
        summary: Option<String>,
        now: DateTime<Utc>,
    ) -> Checked<Self> {
        let occurred_at = input::in_range("occurred_at", occurred_at)?;
        if occurred_at > now + chrono::Duration::days(1) {
            return Err(Invalid::new("occurred_at", "must not be in the future"));
        }
        Ok(ValidInteraction {
            kind,
            occurred_at,
            summary: input::text("summary", summary, MAX_SUMMARY, true)?,
        })
    }
}

/// How a contact listing is ordered (ties broken by id, so cursor pages never skip or repeat a contact).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Sort {
    /// Newest first (the default).
    #[default]
    Newest,
    /// By name (first and last, or the email), A to Z.
    Name,
    /// Best score first.
    Score,
    /// Most recently touched first; never touched last.
    LastInteraction,
}

impl Sort {
    /// The name in a query string.
    pub fn as_str(self) -> &'static str {
        match self {
            Sort::Newest => "newest",
            Sort::Name => "name",
            Sort::Score => "score",
            Sort::LastInteraction => "last_interaction",
        }
    }

    /// Parses a sort name.
    pub fn parse(raw: &str) -> Option<Self> {
        [Sort::Newest, Sort::Name, Sort::Score, Sort::LastInteraction]
            .into_iter()
            .find(|s| s.as_str() == raw)
    }
}

/// Which contacts a listing or an export shows (every field optional: the default shows all, newest first).
#[derive(Debug, Clone, Default)]
pub struct ContactFilter {
    /// Text matched (case-insensitively) in names, email and company.
    pub q: Option<String>,
    /// Only these tiers (empty: all).
    pub tiers: Vec<Tier>,
    /// Only contacts with this tag.
    pub tag: Option<String>,
    /// Only contacts with this status.
    pub status: Option<Status>,
    /// Only contacts not touched since then (including those never touched).
    pub last_interaction_before: Option<DateTime<Utc>>,
    /// Only contacts touched since then.
    pub last_interaction_after: Option<DateTime<Utc>>,
    /// The order.
    pub sort: Sort,
}

/// A filter's fields as text (query string or form), to be checked by [`ContactFilter::parse`].
#[derive(Debug, Clone, Default)]
pub struct RawFilter {
    /// `q`.
    pub q: Option<String>,
    /// `tier`: comma-separated `hot`, `warm`, `cold`.
    pub tier: Option<String>,
    /// `tag`.
    pub tag: Option<String>,
    /// `status`.
    pub status: Option<String>,
    /// `last_interaction_before`: RFC 3339 or `YYYY-MM-DD`.
    pub last_interaction_before: Option<String>,
    /// `last_interaction_after`: RFC 3339 or `YYYY-MM-DD`.
    pub last_interaction_after: Option<String>,
    /// `sort`: `newest`, `name`, `score` or `last_interaction`.
    pub sort: Option<String>,
}

/// Empty text means "not given" (an HTML form sends every field).
fn given(raw: Option<String>) -> Option<String> {
    raw.filter(|v| !v.trim().is_empty())
}

impl ContactFilter {
    /// Checks a filter given as text; each problem names its field.
    pub fn parse(raw: RawFilter) -> Checked<Self> {
        let tiers = match given(raw.tier) {
            None => Vec::new(),
            Some(list) => list
                .split(',')
                .map(|t| Tier::parse(t.trim()))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| Invalid::new("tier", "must be a comma-separated list of hot, warm and cold"))?,
        };
        let status = match given(raw.status) {
            None => None,
            Some(s) => Some(
                Status::parse(s.trim())
                    .ok_or_else(|| Invalid::new("status", "must be one of lead, opportunity, customer, inactive"))?,
            ),
        };
        let sort = match given(raw.sort) {
            None => Sort::default(),
            Some(s) => Sort::parse(s.trim())
                .ok_or_else(|| Invalid::new("sort", "must be one of newest, name, score, last_interaction"))?,
        };
        let time =
            |field: &str, raw: Option<String>| given(raw).map(|raw| input::time_or_date(field, &raw)).transpose();
        Ok(ContactFilter {
            q: input::text("q", raw.q, 200, false)?,
            tiers,
            tag: input::text("tag", raw.tag, MAX_TAG_CHARS, false)?.map(|t| t.to_lowercase()),
            status,
            last_interaction_before: time("last_interaction_before", raw.last_interaction_before)?,
            last_interaction_after: time("last_interaction_after", raw.last_interaction_after)?,
            sort,
        })
    }
}

/// One page of a contact listing.
#[derive(Debug, Clone, Serialize)]
pub struct ContactPage {
    /// The contacts, in the filter's order.
    pub contacts: Vec<Contact>,
    /// The `cursor` of the next page; `None` on the last.
    pub next_cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn tags_are_trimmed_deduplicated_and_bounded() {
        assert_eq!(
            tags(vec![" VIP ".into(), "vip".into(), "b".into()]).unwrap(),
            vec!["vip", "b"]
        );
        assert!(tags(vec!["".into()]).is_err());
        assert!(tags((0..51).map(|i| i.to_string()).collect()).is_err());
    }

    #[test]
    fn filters_are_checked_field_by_field() {
        let f = ContactFilter::parse(RawFilter {
            tier: Some("hot, warm".into()),
            tag: Some(" VIP ".into()),
            sort: Some("score".into()),
            last_interaction_before: Some("2026-01-31".into()),
            q: Some("  ".into()),
            ..RawFilter::default()
        })
        .unwrap();
        assert_eq!(f.tiers, [Tier::Hot, Tier::Warm]);
        assert_eq!(f.tag.as_deref(), Some("vip"));
        assert_eq!(f.sort, Sort::Score);
        assert!(f.q.is_none());
        assert!(f.last_interaction_before.is_some());
        let field = |raw: RawFilter| ContactFilter::parse(raw).unwrap_err().field;
        assert_eq!(
            field(RawFilter {
                tier: Some("boiling".into()),
                ..RawFilter::default()
            }),
            "tier"
        );
        assert_eq!(
            field(RawFilter {
                sort: Some("random".into()),
                ..RawFilter::default()
            }),
            "sort"
        );
        assert_eq!(
            field(RawFilter {
                status: Some("vip".into()),
                ..RawFilter::default()
            }),
            "status"
        );
        assert_eq!(
            field(RawFilter {
                last_interaction_after: Some("soon".into()),
                ..RawFilter::default()
            }),
            "last_interaction_after"
        );
    }

    #[test]
    fn interactions_may_not_be_in_the_future() {
        let now = Utc::now();
        let err = ValidInteraction::check(InteractionKind::Call, Some("2200-01-01T00:00:00Z"), None, now).unwrap_err();
        assert_eq!(err.field, "occurred_at");
        assert!(ValidInteraction::check(InteractionKind::Call, None, Some("hi".into()), now).is_ok());
    }
}
