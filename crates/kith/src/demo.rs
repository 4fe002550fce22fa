//! Demo data for `kith seed --demo` and `kith serve --demo`: an organization with two users, about 50 contacts
//! with interactions spread over 60 days (some clearly hot, some cold), and a week of events.
//!
//! Seeding is an operator command, not a request, so it lives in the binary: it writes through the privileged
//! handle the binary hands it (logged), finds its users through the auth service (`kith_auth::users`), and leaves
//! the scores to the CRM's own re-scoring.

use chrono::{DateTime, Duration, Timelike, Utc};
use kith_crm::scoring::InteractionKind;
use kith_db::{DbError, PrivilegedDb};
use serde_json::json;
use uuid::Uuid;

/// What the seed created.
#[derive(Debug, Clone)]
pub struct Seeded {
    /// The demo organization.
    pub org_id: Uuid,
    /// Its default workspace.
    pub workspace_id: Uuid,
    /// Contacts created.
    pub contacts: usize,
    /// Events created.
    pub events: usize,
}

const FIRST: [&str; 10] = [
    "Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Margaret", "Ken", "Frances", "John",
];
const LAST: [&str; 10] = [
    "Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Hamilton", "Thompson", "Allen", "Backus",
];
const COMPANIES: [&str; 8] = [
    "Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Tyrell",
];
const TITLES: [&str; 6] = [
    "CEO",
    "VP Sales",
    "Director of Engineering",
    "Product Manager",
    "Engineer",
    "Analyst",
];

/// The demo users' email addresses.
pub const OWNER_EMAIL: &str = "demo-owner@kith.example";
/// The second demo user (a member).
pub const MEMBER_EMAIL: &str = "demo-member@kith.example";

/// A tiny deterministic generator, so every demo database looks the same.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below.max(1)
    }
}

/// Seeds the demo organization owned by `owner`, with `member` as a member. Idempotent per owner: a second run
/// finds the organization by slug and returns it unchanged.
pub async fn seed(db: &PrivilegedDb, owner: Uuid, member: Uuid) -> Result<Seeded, DbError> {
    let mut tx = db.begin("seed demo data").await?;
    if let Some(row) = tx
        .query_opt(
            "select o.id, w.id as workspace_id,
                    (select count(*) from public.contacts c where c.org_id = o.id) as contacts,
                    (select count(*) from public.calendar_events e where e.org_id = o.id) as events
             from public.organizations o join public.workspaces w on w.org_id = o.id
             where o.slug = 'kith-demo' order by w.created_at limit 1",
            &[],
        )
        .await?
    {
        tx.rollback().await?;
        return Ok(Seeded {
            org_id: row.get("id"),
            workspace_id: row.get("workspace_id"),
            contacts: usize::try_from(row.get::<_, i64>("contacts")).unwrap_or(0),
            events: usize::try_from(row.get::<_, i64>("events")).unwrap_or(0),
        });
    }
    let org_id = Uuid::new_v4();
    tx.query(
        "insert into public.organizations (id, name, slug, created_by) values ($1, 'Kith Demo', 'kith-demo', $2)",
        &[&org_id, &owner],
    )
    .await?;
    tx.query(
        "insert into public.user_organizations (org_id, user_id, role) values ($1, $2, 'member')
         on conflict do nothing",
        &[&org_id, &member],
    )
    .await?;
    let workspace_id: Uuid = tx
        .query_one("select id from public.workspaces where org_id = $1", &[&org_id])
        .await?
        .get("id");
    let now = Utc::now();
    let mut rng = Lcg(42);
    let mut contact_ids = Vec::new();
    for i in 0..50_usize {
        let (first, last) = (FIRST[i % 10], LAST[(i / 10 + i) % 10]);
        let company = COMPANIES[i % COMPANIES.len()];
        let title = TITLES[(i * 7 + 3) % TITLES.len()];
        let email = format!(
            "{}.{}{}@{}.example",
            first.to_lowercase(),
            last.to_lowercase(),
            i,
            company.to_lowercase()
        );
        let status = match i % 10 {
            0 | 1 => "opportunity",
            9 => "customer",
            _ => "lead",
        };
        let phone = (i % 3 == 0).then(|| format!("+1 555 01{i:02}"));
        let id = Uuid::new_v4();
        tx.query(
            "insert into public.contacts (id, org_id, workspace_id, first_name, last_name, email, phone, company,
                                          job_title, tags, status, created_by)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            &[
                &id,
                &org_id,
                &workspace_id,
                &first,
                &last,
                &email,
                &phone,
                &company,
                &title,
                &vec![if i % 2 == 0 { "newsletter" } else { "event-2026" }],
                &status,
                &owner,
            ],
        )
        .await?;
        // The first ten are hot (recent meetings and replies), the last ten have nothing at all; the rest get a
        // scattering of older, lighter touches.
        let touches: Vec<(InteractionKind, i64)> = if i < 10 {
            vec![
                (InteractionKind::Meeting, 1 + (i as i64 % 3)),
                (InteractionKind::EmailReplied, 2),
                (InteractionKind::Meeting, 5),
                (InteractionKind::Call, 8),
                (InteractionKind::FormSubmitted, 12),
            ]
        } else if i >= 40 {
            vec![]
        } else {
            (0..1 + rng.next(5))
                .map(|_| {
                    let kind = InteractionKind::ALL[rng.next(7) as usize];
                    (kind, 10 + rng.next(50) as i64)
                })
                .collect()
        };
        for (kind, days_ago) in touches {
            tx.query(
                "insert into public.interactions (org_id, workspace_id, contact_id, kind, occurred_at, summary, created_by)
                 values ($1, $2, $3, $4, $5, $6, $7)",
                &[
                    &org_id,
                    &workspace_id,
                    &id,
                    &kind.as_str(),
                    &(now - Duration::days(days_ago) - Duration::minutes(rng.next(600) as i64)),
                    &format!("Demo {}", kind.as_str().replace('_', " ")),
                    &owner,
                ],
            )
            .await?;
        }
        contact_ids.push(id);
    }
    // Events start tomorrow, so the default window (now → +7 days) shows the whole week.
    let first_day: DateTime<Utc> = (now + Duration::days(1))
        .with_hour(0)
        .and_then(|t| t.with_minute(0))
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(now);
    let mut events = 0;
    let mut add = |title: String,
                   start: DateTime<Utc>,
                   minutes: i64,
                   rrule: Option<&str>,
                   all_day: bool,
                   contact: Option<Uuid>| {
        events += 1;
        (title, start, minutes, rrule.map(str::to_owned), all_day, contact)
    };
    let mut planned = vec![add(
        "Team standup".into(),
        first_day + Duration::hours(9),
        15,
        Some("FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR;COUNT=30"),
        false,
        None,
    )];
    for day in 0..7 {
        let contact = contact_ids[day % 10];
        planned.push(add(
            format!("Demo call with {}", FIRST[day % 10]),
            first_day + Duration::days(day as i64) + Duration::hours(14),
            45,
            None,
            false,
            Some(contact),
        ));
    }
    planned.push(add(
        "Quarterly planning".into(),
        first_day + Duration::days(3),
        0,
        None,
        true,
        None,
    ));
    for (title, start, minutes, rrule, all_day, contact) in planned {
        let id = Uuid::new_v4();
        let end = if all_day {
            start + Duration::days(1)
        } else {
            start + Duration::minutes(minutes)
        };
        tx.query(
            "insert into public.calendar_events (id, org_id, workspace_id, title, starts_at, ends_at, all_day, timezone,
                                                 location, attendees, rrule, created_by)
             values ($1, $2, $3, $4, $5, $6, $7, 'UTC', 'Video call', $8, $9, $10)",
            &[
                &id, &org_id, &workspace_id, &title, &start, &end, &all_day,
                &json!([{"email": "demo-owner@kith.example", "name": "Demo Owner", "status": "accepted"}]),
                &rrule, &owner,
            ],
        )
        .await?;
        if let Some(contact) = contact {
            tx.query(
                "insert into public.event_contacts (event_id, contact_id, org_id, workspace_id) values ($1, $2, $3, $4)",
                &[&id, &contact, &org_id, &workspace_id],
            )
            .await?;
        }
    }
    tx.commit().await?;
    // The new contacts are unscored, so due: score them now, as the background re-score would within a minute.
    while kith_crm::rescore_job::rescore_due(db.db(), kith_crm::rescore_job::BATCH).await?
        >= usize::try_from(kith_crm::rescore_job::BATCH).unwrap_or(usize::MAX)
    {}
    tracing::info!(%org_id, %workspace_id, contacts = contact_ids.len(), events, "demo data seeded");
    Ok(Seeded {
        org_id,
        workspace_id,
        contacts: contact_ids.len(),
        events,
    })
}
