//! `/dashboard/overview`: the workspace context (a first step for a user in no organization, a workspace
//! switcher otherwise), the Hot leads panel and the "This week" calendar widget.
//!
//! One read-only caller transaction (`begin_as`) per page; the data comes from the same store functions the
//! `/api` routes use (`intelligence::top_leads`, `calendar::window` and `expand`, `context::workspace_ctx`), so a rule lives
//! in one place.

use crate::WebState;
use crate::auth_pages::{form, see_other};
use crate::errors::{error_page, forbidden_response, internal_error_response, not_found_response};
use crate::render::{Chrome, page};
use crate::session::{Visitor, unavailable};
use askama::Template;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::Response;
use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use kith_auth::browser::BrowserSession;
use kith_crm::calendar::{Occurrence, expand, window};
use kith_crm::context::{OrgRole, mfa_required, needs_mfa, workspace_ctx};
use kith_crm::intelligence::top_leads;
use kith_crm::pages::{self, Progress};
use kith_crm::workspaces::{Reachable, reachable};
use kith_db::Access;
use kith_http::{ApiError, AuthUser};
use uuid::Uuid;

/// How many leads the panel shows.
const LEADS: i64 = 10;
/// Days in the "This week" widget, today first.
const DAYS: i64 = 7;

/// One entry of the workspace switcher.
struct WorkspaceOption {
    id: Uuid,
    label: String,
    selected: bool,
}

/// One row of the Hot leads panel.
struct LeadRow {
    id: Uuid,
    name: String,
    company: String,
    score: i32,
    tier: &'static str,
    reasons: Vec<String>,
}

/// One event occurrence in the week.
struct WeekItem {
    id: Uuid,
    when: String,
    title: String,
    all_day: bool,
}

/// One day of the week.
struct WeekDay {
    label: String,
    items: Vec<WeekItem>,
}

/// One day's bar of the activity figure (coordinates in the SVG's 600 × 120 view box).
struct Bar {
    x: i64,
    y: i64,
    height: i64,
    label: String,
}

/// The activity figure: interactions per day over the last [`ACTIVITY_DAYS`] days, drawn on the server.
struct Activity {
    bars: Vec<Bar>,
    total: i64,
    busiest: i64,
    first: String,
    last: String,
}

/// Days in the activity figure, today last.
const ACTIVITY_DAYS: i64 = 30;
/// Height of the figure's plot area, in view-box units.
const PLOT_HEIGHT: i64 = 100;

/// Draws the daily counts as bars scaled to the busiest day.
fn activity_figure(days: &[(NaiveDate, i64)]) -> Activity {
    let busiest = days.iter().map(|d| d.1).max().unwrap_or(0);
    let bar_width = 600 / ACTIVITY_DAYS.max(1);
    let bars = days
        .iter()
        .enumerate()
        .map(|(i, (date, n))| {
            let height = if busiest == 0 {
                0
            } else {
                (n * PLOT_HEIGHT / busiest).max(i64::from(*n > 0) * 2)
            };
            Bar {
                x: i as i64 * bar_width + 2,
                y: PLOT_HEIGHT - height,
                height,
                label: format!(
                    "{}: {n} interaction{}",
                    date.format("%a %-d %b"),
                    if *n == 1 { "" } else { "s" }
                ),
            }
        })
        .collect();
    Activity {
        bars,
        total: days.iter().map(|d| d.1).sum(),
        busiest,
        first: days
            .first()
            .map(|d| d.0.format("%-d %b").to_string())
            .unwrap_or_default(),
        last: days
            .last()
            .map(|d| d.0.format("%-d %b").to_string())
            .unwrap_or_default(),
    }
}

#[derive(Template)]
#[template(path = "overview.html")]
struct OverviewPage {
    chrome: Chrome,
    email: String,
    /// The user belongs to no organization: show the first step.
    first_step: bool,
    error: Option<String>,
    org_name: String,
    workspaces: Vec<WorkspaceOption>,
    workspace_label: String,
    leads: Vec<LeadRow>,
    week: Vec<WeekDay>,
    timezone: String,
    /// What the workspace has so far; the getting-started steps show until it has all three.
    progress: Progress,
    activity: Option<Activity>,
    /// The caller may write in this workspace (the steps' forms and links).
    can_write: bool,
}

impl OverviewPage {
    fn new(visitor: &mut Visitor, session: &BrowserSession) -> Self {
        let mut chrome = Chrome::new("Overview", "Your Kith overview.", "");
        chrome.csrf = visitor.csrf();
        chrome.user_email = Some(session.email.clone());
        chrome.dashboard = "overview";
        OverviewPage {
            chrome,
            email: session.email.clone(),
            first_step: false,
            error: None,
            org_name: String::new(),
            workspaces: Vec::new(),
            workspace_label: String::new(),
            leads: Vec::new(),
            week: Vec::new(),
            timezone: String::new(),
            progress: Progress::default(),
            activity: None,
            can_write: false,
        }
    }
}

/// The `workspace_id` of the query string, if present (an unparsable one is treated as foreign: 404).
fn asked_workspace(query: Option<&str>) -> Option<Option<Uuid>> {
    let raw = url::form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == "workspace_id")
        .map(|(_, v)| v.into_owned())?;
    Some(Uuid::parse_str(raw.trim()).ok())
}

/// The page for an `/api` error met while loading (never a 500 for what the caller cannot see).
fn refused(err: &ApiError) -> Response {
    if err.code() == "mfa_required" {
        return error_page(
            StatusCode::FORBIDDEN,
            "Second factor required",
            "Your organization requires a second factor, and this session was signed in with a password only. \
             Sign in with your second factor to open its workspaces.",
        );
    }
    match err.status() {
        StatusCode::NOT_FOUND => not_found_response(),
        StatusCode::FORBIDDEN => forbidden_response(),
        StatusCode::SERVICE_UNAVAILABLE => unavailable(),
        _ => internal_error_response(),
    }
}

/// `GET /dashboard/overview[?workspace_id=]`.
pub async fn show(state: &WebState, visitor: &mut Visitor, session: &BrowserSession, query: Option<&str>) -> Response {
    let mut template = OverviewPage::new(visitor, session);
    let asked = asked_workspace(query);
    let remembered = visitor.workspace.as_deref().and_then(|raw| Uuid::parse_str(raw).ok());
    match load(state, session, asked, remembered, &mut template).await {
        Ok(Some(chosen)) => {
            let mut response = page(StatusCode::OK, &template);
            // Remember an explicit choice for the next visit (a preference: `load` checks it every time).
            if asked.is_some() && !chosen.is_nil() {
                let cookies = &visitor.cookies;
                response.headers_mut().append(
                    header::SET_COOKIE,
                    cookies.set(cookies.workspace, &chosen.to_string(), visitor.session_max_age),
                );
            }
            response
        }
        Ok(None) => not_found_response(),
        Err(err) => refused(&err),
    }
}

/// Fills `template` in one caller transaction and answers the workspace shown; `None` when the asked workspace is
/// not one of the caller's.
async fn load(
    state: &WebState,
    session: &BrowserSession,
    asked: Option<Option<Uuid>>,
    remembered: Option<Uuid>,
    template: &mut OverviewPage,
) -> Result<Option<Uuid>, ApiError> {
    let user = AuthUser {
        caller: session.caller.clone(),
        user_id: session.user_id,
    };
    let mut tx = state.db().begin_as(&user.caller, Access::ReadOnly).await?;
    let mine = reachable(&mut tx, user.user_id).await?;
    if mine.is_empty() {
        // A member of an organization that requires a second factor sees none of it in a password-only session:
        // say so rather than offering to create another organization.
        if needs_mfa(&mut tx).await? {
            return Err(mfa_required());
        }
        tx.commit().await?;
        template.first_step = true;
        return Ok(Some(Uuid::nil()));
    }
    let chosen = match asked {
        // The remembered choice if it is still one of the caller's (another user may have signed in since).
        None => remembered
            .filter(|id| mine.iter().any(|w| w.id == *id))
            .unwrap_or(mine[0].id),
        Some(Some(id)) if mine.iter().any(|w| w.id == id) => id,
        // Another tenant's workspace, or no workspace at all: the 404 page, never foreign data.
        Some(_) => return Ok(None),
    };
    let ctx = workspace_ctx(&mut tx, &user, chosen, OrgRole::Viewer).await?;
    let leads = top_leads(&mut tx, ctx.workspace_id, &["hot", "warm"], 0, LEADS).await?;
    let tz = kith_crm::profile::timezone(&mut tx, user.user_id).await?;
    let days = week_days(Utc::now(), tz);
    let from = days.first().map_or_else(Utc::now, |d| d.1);
    let to = days.last().map_or_else(Utc::now, |d| d.2);
    let events = window(&mut tx, &ctx, from, to).await?;
    let progress = pages::progress(&mut tx, &ctx).await?;
    let today = Utc::now().with_timezone(&tz).date_naive();
    let first_day = today - Duration::days(ACTIVITY_DAYS - 1);
    let activity = pages::activity(&mut tx, &ctx, first_day, today, tz.name()).await?;
    tx.commit().await?;
    template.progress = progress;
    template.activity = Some(activity_figure(&activity));
    template.can_write = ctx.role >= OrgRole::Member;
    let listed = expand(events, from, to).await?;

    template.workspaces = options(&mine, chosen);
    template.workspace_label = template
        .workspaces
        .iter()
        .find(|w| w.selected)
        .map(|w| w.label.clone())
        .unwrap_or_default();
    template.leads = leads
        .into_iter()
        .map(|lead| LeadRow {
            id: lead.contact_id,
            name: if lead.name.is_empty() {
                lead.email.clone().unwrap_or_else(|| "Unnamed contact".into())
            } else {
                lead.name.clone()
            },
            company: lead.company.clone().unwrap_or_default(),
            score: lead.score,
            tier: lead.tier.as_str(),
            reasons: lead.reasons.iter().take(2).map(|r| r.detail.clone()).collect(),
        })
        .collect();
    template.week = group_week(&days, &listed.occurrences, tz);
    template.timezone = tz.name().to_owned();
    Ok(Some(chosen))
}

fn options(mine: &[Reachable], chosen: Uuid) -> Vec<WorkspaceOption> {
    mine.iter()
        .map(|w| WorkspaceOption {
            id: w.id,
            label: format!("{} — {}", w.org_name, w.name),
            selected: w.id == chosen,
        })
        .collect()
}

/// Midnight of `date` in `tz`, as UTC (the first instant of the day where midnight falls in a DST gap).
fn midnight(date: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let local = date.and_hms_opt(0, 0, 0).unwrap_or_default();
    match tz.from_local_datetime(&local).earliest() {
        Some(t) => t.with_timezone(&Utc),
        None => tz
            .from_local_datetime(&(local + Duration::hours(1)))
            .earliest()
            .map_or_else(|| Utc.from_utc_datetime(&local), |t| t.with_timezone(&Utc)),
    }
}

/// Today and the next six days in `tz`: (date, start, end) each.
fn week_days(now: DateTime<Utc>, tz: Tz) -> Vec<(NaiveDate, DateTime<Utc>, DateTime<Utc>)> {
    let today = now.with_timezone(&tz).date_naive();
    (0..DAYS)
        .filter_map(|i| {
            let date = today.checked_add_signed(Duration::days(i))?;
            let next = date.succ_opt()?;
            Some((date, midnight(date, tz), midnight(next, tz)))
        })
        .collect()
}

/// The occurrences by the day they start on (in `tz`; an all-day event on its own calendar date), each day listed.
fn group_week(days: &[(NaiveDate, DateTime<Utc>, DateTime<Utc>)], listed: &[Occurrence], tz: Tz) -> Vec<WeekDay> {
    let first = days.first().map(|d| d.0);
    days.iter()
        .enumerate()
        .map(|(i, (date, _, _))| {
            let items = listed
                .iter()
                .filter(|o| {
                    let day = if o.event.all_day {
                        let event_tz: Tz = o.event.timezone.parse().unwrap_or(tz);
                        o.starts_at.with_timezone(&event_tz).date_naive()
                    } else {
                        o.starts_at.with_timezone(&tz).date_naive()
                    };
                    // What began before today (a running event) is shown on today.
                    day == *date || (i == 0 && first.is_some_and(|f| day < f))
                })
                .map(|o| WeekItem {
                    id: o.event.id,
                    when: if o.event.all_day {
                        "All day".to_owned()
                    } else {
                        format!(
                            "{}–{}",
                            o.starts_at.with_timezone(&tz).format("%H:%M"),
                            o.ends_at.with_timezone(&tz).format("%H:%M")
                        )
                    },
                    title: o.event.title.clone(),
                    all_day: o.event.all_day,
                })
                .collect();
            let day = format!("{} {} {}", date.format("%A"), date.day(), date.format("%B"));
            let label = match i {
                0 => format!("Today, {day}"),
                1 => format!("Tomorrow, {day}"),
                _ => day,
            };
            WeekDay { label, items }
        })
        .collect()
}

/// `POST /dashboard/organizations`: creates the caller's organization (as `POST /api/organizations` does), then
/// back to the overview.
pub async fn create_organization(State(state): State<WebState>, mut visitor: Visitor, body: Bytes) -> Response {
    let fields = form(&body);
    if !visitor.csrf_ok(fields.get("csrf").map(String::as_str)) {
        return visitor.finish(forbidden_response());
    }
    let Some(session) = visitor.session.clone() else {
        return visitor.finish(see_other("/login?next=%2Fdashboard%2Foverview"));
    };
    let name = fields.get("name").cloned().unwrap_or_default();
    match kith_crm::organizations::create_as(state.db(), &session.caller, Some(name.clone()), None).await {
        Ok(_) => visitor.finish(see_other("/dashboard/overview")),
        Err(err) if err.status().is_client_error() => {
            let mut template = OverviewPage::new(&mut visitor, &session);
            template.first_step = true;
            template.org_name = name;
            template.error = Some("Enter an organization name of at most 200 characters.".into());
            let response = page(StatusCode::UNPROCESSABLE_ENTITY, &template);
            visitor.finish(response)
        }
        Err(err) => visitor.finish(refused(&err)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_week_starts_at_local_midnight_and_has_seven_days() {
        let tz: Tz = "America/New_York".parse().unwrap_or(chrono_tz::UTC);
        let now = Utc.with_ymd_and_hms(2026, 3, 7, 3, 0, 0).single().unwrap_or_default();
        let days = week_days(now, tz);
        assert_eq!(days.len(), 7);
        // 03:00 UTC on 7 March is still 6 March in New York.
        assert_eq!(days[0].0, NaiveDate::from_ymd_opt(2026, 3, 6).unwrap_or_default());
        assert_eq!(
            days[0].1,
            Utc.with_ymd_and_hms(2026, 3, 6, 5, 0, 0).single().unwrap_or_default()
        );
        // Across the DST change (8 March) that day is 23 hours long.
        assert_eq!(days[2].2 - days[2].1, Duration::hours(23));
    }

    fn occurrence(title: &str, starts_at: DateTime<Utc>, all_day: bool, timezone: &str) -> Occurrence {
        let ends_at = starts_at + Duration::hours(if all_day { 24 } else { 1 });
        Occurrence {
            event: std::sync::Arc::new(kith_crm::calendar::Event {
                id: Uuid::new_v4(),
                workspace_id: Uuid::new_v4(),
                title: title.into(),
                description: None,
                starts_at,
                ends_at,
                all_day,
                timezone: timezone.into(),
                location: None,
                attendees: Vec::new(),
                contact_ids: Vec::new(),
                rrule: None,
                sequence: 0,
                updated_at: starts_at,
                exceptions: Default::default(),
            }),
            starts_at,
            ends_at,
        }
    }

    #[test]
    fn events_land_on_their_local_day_and_all_day_events_on_their_own_date() {
        let la: Tz = "America/Los_Angeles".parse().unwrap_or(chrono_tz::UTC);
        let now = Utc.with_ymd_and_hms(2026, 3, 2, 20, 0, 0).single().unwrap_or_default();
        let days = week_days(now, la);
        // 03:00 UTC on 4 March is 19:00 on 3 March in Los Angeles.
        let timed = occurrence(
            "Call",
            Utc.with_ymd_and_hms(2026, 3, 4, 3, 0, 0).single().unwrap_or_default(),
            false,
            "UTC",
        );
        // An all-day 5 March in Tokyo starts at 15:00 UTC on 4 March (07:00 in Los Angeles), yet is 5 March.
        let offsite = occurrence(
            "Offsite",
            Utc.with_ymd_and_hms(2026, 3, 4, 15, 0, 0).single().unwrap_or_default(),
            true,
            "Asia/Tokyo",
        );
        let week = group_week(&days, &[timed, offsite], la);
        assert_eq!(week[0].label, "Today, Monday 2 March");
        assert_eq!(week[1].label, "Tomorrow, Tuesday 3 March");
        assert_eq!(week[1].items.len(), 1);
        assert_eq!(
            (week[1].items[0].title.as_str(), week[1].items[0].when.as_str()),
            ("Call", "19:00–20:00")
        );
        assert!(week[2].items.is_empty());
        assert_eq!(week[3].label, "Thursday 5 March");
        assert_eq!(
            (week[3].items[0].title.as_str(), week[3].items[0].when.as_str()),
            ("Offsite", "All day")
        );
        assert!(week[3].items[0].all_day);
    }

    #[test]
    fn activity_bars_scale_to_the_busiest_day() {
        let day = |d: u32| NaiveDate::from_ymd_opt(2026, 3, d).unwrap_or_default();
        let figure = activity_figure(&[(day(1), 0), (day(2), 4), (day(3), 1)]);
        assert_eq!((figure.total, figure.busiest), (5, 4));
        let heights: Vec<i64> = figure.bars.iter().map(|b| b.height).collect();
        assert_eq!(heights, [0, PLOT_HEIGHT, PLOT_HEIGHT / 4]);
        assert_eq!(figure.bars[1].y, 0);
        assert_eq!(figure.bars[2].label, "Tue 3 Mar: 1 interaction");
        let quiet = activity_figure(&[(day(1), 0)]);
        assert_eq!((quiet.total, quiet.bars[0].height), (0, 0));
    }

    #[test]
    fn a_foreign_or_broken_workspace_id_is_not_ignored() {
        assert_eq!(asked_workspace(None), None);
        assert_eq!(asked_workspace(Some("x=1")), None);
        assert_eq!(asked_workspace(Some("workspace_id=nope")), Some(None));
        let id = Uuid::new_v4();
        assert_eq!(asked_workspace(Some(&format!("workspace_id={id}"))), Some(Some(id)));
    }
}
