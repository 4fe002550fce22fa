//! Read models the dashboard pages need that no `/api` route answers in one piece: a settings page's
//! organization (members, invitations, workspaces) read in one transaction, the interactions-per-day series of the
//! overview's activity figure, and whether a workspace has any data yet (the overview's stepper).
//!
//! Every function runs in the caller's own transaction (`begin_as`), names the tenant key explicitly, and leaves
//! visibility to row-level security; writes are not here: the pages send them through the `/api` handlers.

use crate::context::{OrgRole, WorkspaceCtx};
use chrono::{DateTime, NaiveDate, Utc};
use kith_db::{CallerTx, DbError};
use uuid::Uuid;

/// Most days the activity series covers.
pub const MAX_ACTIVITY_DAYS: i64 = 366;

/// One of the caller's organizations with their role.
#[derive(Debug, Clone)]
pub struct OrgSummary {
    /// The organization.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// The caller's role in it.
    pub role: OrgRole,
}

/// The caller's organizations, oldest first.
pub async fn my_organizations(tx: &mut CallerTx, user_id: Uuid) -> Result<Vec<OrgSummary>, DbError> {
    let rows = tx
        .query(
            "select o.id, o.name, uo.role::text as role
               from public.user_organizations uo join public.organizations o on o.id = uo.org_id
              where uo.user_id = $1
              order by o.created_at, o.id",
            &[&user_id],
        )
        .await?;
    Ok(rows
        .iter()
        .filter_map(|row| {
            Some(OrgSummary {
                id: row.get("id"),
                name: row.get("name"),
                role: OrgRole::parse(row.get("role"))?,
            })
        })
        .collect())
}

/// The caller's own profile as the settings page shows it.
#[derive(Debug, Clone, Default)]
pub struct ProfileView {
    /// Display name.
    pub full_name: Option<String>,
    /// IANA time zone.
    pub timezone: String,
}

/// The caller's profile (empty when the row is not visible).
pub async fn my_profile(tx: &mut CallerTx, user_id: Uuid) -> Result<ProfileView, DbError> {
    let row = tx
        .query_opt(
            "select full_name, timezone from public.profiles where id = $1",
            &[&user_id],
        )
        .await?;
    Ok(row.map_or_else(ProfileView::default, |row| ProfileView {
        full_name: row.get("full_name"),
        timezone: row.get("timezone"),
    }))
}

/// A member of an organization.
#[derive(Debug, Clone)]
pub struct MemberView {
    /// The user.
    pub user_id: Uuid,
    /// Their email.
    pub email: Option<String>,
    /// Their display name.
    pub full_name: Option<String>,
    /// Their role.
    pub role: OrgRole,
}

/// The members of `org_id`, oldest first.
pub async fn members(tx: &mut CallerTx, org_id: Uuid) -> Result<Vec<MemberView>, DbError> {
    let rows = tx
        .query(
            "select uo.user_id, p.email, p.full_name, uo.role::text as role
               from public.user_organizations uo left join public.profiles p on p.id = uo.user_id
              where uo.org_id = $1
              order by uo.created_at, uo.user_id",
            &[&org_id],
        )
        .await?;
    Ok(rows
        .iter()
        .filter_map(|row| {
            Some(MemberView {
                user_id: row.get("user_id"),
                email: row.get("email"),
                full_name: row.get("full_name"),
                role: OrgRole::parse(row.get("role"))?,
            })
        })
        .collect())
}

/// An invitation not yet accepted.
#[derive(Debug, Clone)]
pub struct InvitationView {
    /// The invitation.
    pub id: Uuid,
    /// Addressed to.
    pub email: String,
    /// The role it grants.
    pub role: OrgRole,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

/// The pending (unaccepted) invitations of `org_id`, newest first, at most 200 (only admins see any: RLS).
pub async fn pending_invitations(tx: &mut CallerTx, org_id: Uuid) -> Result<Vec<InvitationView>, DbError> {
    let rows = tx
        .query(
            "select id, email, role::text as role, expires_at from public.invitations
              where org_id = $1 and accepted_at is null
              order by created_at desc, id limit 200",
            &[&org_id],
        )
        .await?;
    Ok(rows
        .iter()
        .filter_map(|row| {
            Some(InvitationView {
                id: row.get("id"),
                email: row.get("email"),
                role: OrgRole::parse(row.get("role"))?,
                expires_at: row.get("expires_at"),
            })
        })
        .collect())
}

/// A workspace of an organization.
#[derive(Debug, Clone)]
pub struct WorkspaceView {
    /// The workspace.
    pub id: Uuid,
    /// Its name.
    pub name: String,
}

/// The workspaces of `org_id`, oldest first.
pub async fn org_workspaces(tx: &mut CallerTx, org_id: Uuid) -> Result<Vec<WorkspaceView>, DbError> {
    let rows = tx
        .query(
            "select id, name from public.workspaces where org_id = $1 order by created_at, id",
            &[&org_id],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| WorkspaceView {
            id: row.get("id"),
            name: row.get("name"),
        })
        .collect())
}

/// Interactions per local day in `[first, last]` (dates in `timezone`), every day listed, zeros included. The span
/// is capped at [`MAX_ACTIVITY_DAYS`].
pub async fn activity(
    tx: &mut CallerTx,
    ctx: &WorkspaceCtx,
    first: NaiveDate,
    last: NaiveDate,
    timezone: &str,
) -> Result<Vec<(NaiveDate, i64)>, DbError> {
    let last = if (last - first).num_days() >= MAX_ACTIVITY_DAYS {
        first + chrono::Duration::days(MAX_ACTIVITY_DAYS - 1)
    } else {
        last
    };
    let rows = tx
        .query(
            "select d::date as day, coalesce(c.n, 0) as n
               from generate_series($2::date, $3::date, interval '1 day') as d
               left join (select (occurred_at at time zone $4)::date as day, count(*) as n
                            from public.interactions
                           where workspace_id = $1
                             and occurred_at >= ($2::date::timestamp at time zone $4)
                             and occurred_at < (($3::date + 1)::timestamp at time zone $4)
                           group by 1) c on c.day = d::date
              order by 1",
            &[&ctx.workspace_id, &first, &last, &timezone],
        )
        .await?;
    Ok(rows.iter().map(|row| (row.get("day"), row.get("n"))).collect())
}

/// What a workspace has so far: the overview shows its getting-started steps until each is done.
#[derive(Debug, Clone, Copy, Default)]
pub struct Progress {
    /// At least one contact.
    pub contacts: bool,
    /// At least one interaction.
    pub interactions: bool,
    /// At least one event.
    pub events: bool,
}

/// Whether the workspace has contacts, interactions and events (three index probes).
pub async fn progress(tx: &mut CallerTx, ctx: &WorkspaceCtx) -> Result<Progress, DbError> {
    let row = tx
        .query_one(
            "select exists (select 1 from public.contacts where workspace_id = $1) as contacts,
                    exists (select 1 from public.interactions where workspace_id = $1) as interactions,
                    exists (select 1 from public.calendar_events where workspace_id = $1) as events",
            &[&ctx.workspace_id],
        )
        .await?;
    Ok(Progress {
        contacts: row.get("contacts"),
        interactions: row.get("interactions"),
        events: row.get("events"),
    })
}

/// The organization of workspace `workspace_id`, if the caller can see it.
pub async fn workspace_org(tx: &mut CallerTx, workspace_id: Uuid) -> Result<Option<Uuid>, DbError> {
    let row = tx
        .query_opt("select org_id from public.workspaces where id = $1", &[&workspace_id])
        .await?;
    Ok(row.map(|row| row.get("org_id")))
}

/// One pending invitation of `org_id` by id (admins only: RLS), for sending it again.
pub async fn invitation(tx: &mut CallerTx, org_id: Uuid, id: Uuid) -> Result<Option<InvitationView>, DbError> {
    let row = tx
        .query_opt(
            "select id, email, role::text as role, expires_at from public.invitations
              where org_id = $1 and id = $2 and accepted_at is null",
            &[&org_id, &id],
        )
        .await?;
    Ok(row.and_then(|row| {
        Some(InvitationView {
            id: row.get("id"),
            email: row.get("email"),
            role: OrgRole::parse(row.get("role"))?,
            expires_at: row.get("expires_at"),
        })
    }))
}

/// A contact with its stored score and the reasons behind it (the contact page).
#[derive(Debug, Clone)]
pub struct ContactDetail {
    /// The contact.
    pub id: Uuid,
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
    pub tags: Vec<String>,
    /// Status.
    pub status: String,
    /// Stored score, 0–100.
    pub score: i32,
    /// Stored tier.
    pub tier: String,
    /// The score's reasons, largest first.
    pub reasons: Vec<crate::scoring::Reason>,
    /// Newest interaction.
    pub last_interaction_at: Option<DateTime<Utc>>,
}

/// One contact of the context's workspace (`None` when it is not there or not visible).
pub async fn contact_detail(tx: &mut CallerTx, ctx: &WorkspaceCtx, id: Uuid) -> Result<Option<ContactDetail>, DbError> {
    let row = tx
        .query_opt(
            "select id, first_name, last_name, email, phone, company, job_title, tags, status, score, tier,
                    score_reasons, last_interaction_at
               from public.contacts where workspace_id = $1 and id = $2",
            &[&ctx.workspace_id, &id],
        )
        .await?;
    Ok(row.map(|row| ContactDetail {
        id: row.get("id"),
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
        reasons: serde_json::from_value(row.get("score_reasons")).unwrap_or_default(),
        last_interaction_at: row.get("last_interaction_at"),
    }))
}

/// One interaction on a contact's timeline.
#[derive(Debug, Clone)]
pub struct TimelineEntry {
    /// The interaction.
    pub id: Uuid,
    /// Its kind (`meeting`, `call`, …).
    pub kind: String,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// What happened.
    pub summary: Option<String>,
}

/// A contact's interactions, newest first, at most `limit` (capped at 500).
pub async fn timeline(
    tx: &mut CallerTx,
    ctx: &WorkspaceCtx,
    contact_id: Uuid,
    limit: i64,
) -> Result<Vec<TimelineEntry>, DbError> {
    let rows = tx
        .query(
            "select id, kind, occurred_at, summary from public.interactions
              where workspace_id = $1 and contact_id = $2
              order by occurred_at desc, id desc limit $3",
            &[&ctx.workspace_id, &contact_id, &limit.clamp(1, 500)],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| TimelineEntry {
            id: row.get("id"),
            kind: row.get("kind"),
            occurred_at: row.get("occurred_at"),
            summary: row.get("summary"),
        })
        .collect())
}

/// Contacts to link an event to: `(id, name or email)`, best scored first, at most `limit` (capped at 500).
pub async fn contact_choices(
    tx: &mut CallerTx,
    ctx: &WorkspaceCtx,
    limit: i64,
) -> Result<Vec<(Uuid, String)>, DbError> {
    let rows = tx
        .query(
            "select id, coalesce(nullif(trim(concat_ws(' ', first_name, last_name)), ''), email, 'Unnamed contact') as label
               from public.contacts where workspace_id = $1
              order by score desc, id limit $2",
            &[&ctx.workspace_id, &limit.clamp(1, 500)],
        )
        .await?;
    Ok(rows.iter().map(|row| (row.get("id"), row.get("label"))).collect())
}
