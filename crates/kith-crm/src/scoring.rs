//! Contact intelligence: a deterministic, explainable lead score (docs/SCORING.md).
//!
//! Guarantees: the same contact, interactions and `now` always give the same score; the score is the sum of the
//! points of its reasons; fit is capped at [`FIT_CAP`], engagement at [`ENGAGEMENT_CAP`], the total is 0–100.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Most points the fit part can give.
pub const FIT_CAP: i32 = 50;
/// Most points the engagement part can give.
pub const ENGAGEMENT_CAP: i32 = 50;
/// Engagement points halve every this many days.
pub const HALF_LIFE_DAYS: f64 = 30.0;
/// Interactions older than this count for nothing.
pub const HORIZON_DAYS: i64 = 180;
/// A hot lead must have been active within this many days.
pub const RECENT_DAYS: i64 = 14;
/// Score from which a recently active contact is hot.
pub const HOT_SCORE: i32 = 70;
/// Score from which a contact is warm.
pub const WARM_SCORE: i32 = 40;

/// The kinds of interaction, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InteractionKind {
    /// An email we sent.
    EmailSent,
    /// They opened our email.
    EmailOpened,
    /// They replied.
    EmailReplied,
    /// A call.
    Call,
    /// A meeting held.
    Meeting,
    /// A note logged.
    Note,
    /// They submitted a form.
    FormSubmitted,
}

impl InteractionKind {
    /// Every kind.
    pub const ALL: [InteractionKind; 7] = [
        InteractionKind::EmailSent,
        InteractionKind::EmailOpened,
        InteractionKind::EmailReplied,
        InteractionKind::Call,
        InteractionKind::Meeting,
        InteractionKind::Note,
        InteractionKind::FormSubmitted,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            InteractionKind::EmailSent => "email_sent",
            InteractionKind::EmailOpened => "email_opened",
            InteractionKind::EmailReplied => "email_replied",
            InteractionKind::Call => "call",
            InteractionKind::Meeting => "meeting",
            InteractionKind::Note => "note",
            InteractionKind::FormSubmitted => "form_submitted",
        }
    }

    /// Parses a stored name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }

    /// Points of one interaction of this kind on the day it happens.
    pub fn weight(self) -> f64 {
        match self {
            InteractionKind::Meeting => 15.0,
            InteractionKind::EmailReplied | InteractionKind::FormSubmitted => 10.0,
            InteractionKind::Call => 8.0,
            InteractionKind::EmailOpened => 3.0,
            InteractionKind::Note => 2.0,
            InteractionKind::EmailSent => 1.0,
        }
    }
}

/// What the fit part looks at.
#[derive(Debug, Clone, Default)]
pub struct ContactFacts {
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
    /// Status (`lead`, `opportunity`, `customer`, `inactive`).
    pub status: String,
}

/// One interaction as the engagement part sees it.
#[derive(Debug, Clone, Copy)]
pub struct Touch {
    /// What happened.
    pub kind: InteractionKind,
    /// When.
    pub occurred_at: DateTime<Utc>,
}

/// Hot, warm or cold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// Score ≥ 70 and active within 14 days.
    Hot,
    /// Score ≥ 40 (or ≥ 70 without recent activity).
    Warm,
    /// Below 40.
    Cold,
}

impl Tier {
    /// The tier a stored name means.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "hot" => Some(Tier::Hot),
            "warm" => Some(Tier::Warm),
            "cold" => Some(Tier::Cold),
            _ => None,
        }
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Hot => "hot",
            Tier::Warm => "warm",
            Tier::Cold => "cold",
        }
    }
}

/// One reason that made a score.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Reason {
    /// Machine name, e.g. `title_seniority` or `engagement.meeting`.
    pub factor: String,
    /// Points (negative for a cap).
    pub points: i32,
    /// A human sentence.
    pub detail: String,
}

/// A computed score.
#[derive(Debug, Clone, Serialize)]
pub struct Score {
    /// 0–100.
    pub score: i32,
    /// Fit points (≤ 50).
    pub fit: i32,
    /// Engagement points (≤ 50).
    pub engagement: i32,
    /// Tier.
    pub tier: Tier,
    /// The reasons, largest first; their points sum to `score`.
    pub reasons: Vec<Reason>,
    /// The newest interaction, if any.
    pub last_interaction_at: Option<DateTime<Utc>>,
}

fn reason(factor: &str, points: i32, detail: impl Into<String>) -> Reason {
    Reason {
        factor: factor.to_owned(),
        points,
        detail: detail.into(),
    }
}

/// Seniority points and label for a job title.
pub fn title_seniority(title: &str) -> Option<(i32, &'static str)> {
    let title = format!(
        " {} ",
        title.to_lowercase().replace(['-', ',', '/', '.', '(', ')'], " ")
    );
    let has = |words: &[&str]| words.iter().any(|w| title.contains(&format!(" {w} ")));
    let c_level = has(&[
        "ceo", "cto", "cfo", "coo", "cmo", "cio", "cro", "chief", "founder", "owner",
    ]) || (has(&["president"]) && !has(&["vice president"]));
    if c_level {
        Some((15, "C-level"))
    } else if has(&["vp", "svp", "evp", "vice president"]) {
        Some((12, "VP"))
    } else if has(&["director", "head of", "head"]) {
        Some((8, "director"))
    } else if has(&["manager", "lead", "principal"]) {
        Some((5, "manager"))
    } else {
        None
    }
}

/// Free mailbox domains: an address there says nothing about a company.
const FREE_MAIL: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "yahoo.com",
    "hotmail.com",
    "outlook.com",
    "live.com",
    "aol.com",
    "icloud.com",
    "me.com",
    "gmx.com",
    "gmx.de",
    "web.de",
    "proton.me",
    "protonmail.com",
    "mail.com",
    "yandex.ru",
];

fn present(value: Option<&String>) -> bool {
    value.is_some_and(|v| !v.trim().is_empty())
}

/// The fit part: who the contact is. Capped at [`FIT_CAP`].
pub fn fit(facts: &ContactFacts) -> Vec<Reason> {
    let mut reasons = Vec::new();
    if let Some((points, label)) = facts.job_title.as_deref().and_then(title_seniority) {
        reasons.push(reason("title_seniority", points, format!("{label} title")));
    }
    if present(facts.company.as_ref()) {
        reasons.push(reason("company", 5, "works at a named company"));
    }
    if let Some(domain) = facts.email.as_deref().and_then(|e| e.rsplit_once('@')).map(|(_, d)| d)
        && !FREE_MAIL.contains(&domain)
    {
        reasons.push(reason("business_email", 5, format!("business email domain {domain}")));
    }
    let complete = present(facts.first_name.as_ref())
        && present(facts.last_name.as_ref())
        && present(facts.email.as_ref())
        && present(facts.phone.as_ref());
    if complete {
        reasons.push(reason("complete_profile", 5, "name, email and phone on file"));
    }
    match facts.status.as_str() {
        "opportunity" => reasons.push(reason("open_deal", 10, "has an open deal")),
        "customer" => reasons.push(reason("customer", 5, "already a customer")),
        _ => {}
    }
    let total: i32 = reasons.iter().map(|r| r.points).sum();
    if total > FIT_CAP {
        reasons.push(reason(
            "fit_cap",
            FIT_CAP - total,
            format!("fit is capped at {FIT_CAP}"),
        ));
    }
    reasons
}

/// How much of an interaction's weight is left after `age_days`: halves every [`HALF_LIFE_DAYS`], nothing after
/// [`HORIZON_DAYS`]; interactions dated in the future count as today.
pub fn decay(age_days: f64) -> f64 {
    let age = age_days.max(0.0);
    if age > HORIZON_DAYS as f64 {
        0.0
    } else {
        0.5_f64.powf(age / HALF_LIFE_DAYS)
    }
}

fn age_days(now: DateTime<Utc>, at: DateTime<Utc>) -> f64 {
    (now - at).num_seconds() as f64 / 86_400.0
}

/// The engagement part: what the contact did, by kind, decayed by age. Capped at [`ENGAGEMENT_CAP`].
pub fn engagement(touches: &[Touch], now: DateTime<Utc>) -> Vec<Reason> {
    let mut reasons = Vec::new();
    for kind in InteractionKind::ALL {
        let of_kind: Vec<&Touch> = touches.iter().filter(|t| t.kind == kind).collect();
        let raw: f64 = of_kind
            .iter()
            .map(|t| kind.weight() * decay(age_days(now, t.occurred_at)))
            .sum();
        let points = raw.round() as i32;
        if points == 0 {
            continue;
        }
        let newest = of_kind.iter().map(|t| t.occurred_at).max().unwrap_or(now);
        let days = age_days(now, newest).max(0.0).floor() as i64;
        reasons.push(reason(
            &format!("engagement.{}", kind.as_str()),
            points,
            format!(
                "{} × {} (latest {} day{} ago)",
                of_kind.len(),
                kind.as_str().replace('_', " "),
                days,
                if days == 1 { "" } else { "s" }
            ),
        ));
    }
    let total: i32 = reasons.iter().map(|r| r.points).sum();
    if total > ENGAGEMENT_CAP {
        reasons.push(reason(
            "engagement_cap",
            ENGAGEMENT_CAP - total,
            format!("engagement is capped at {ENGAGEMENT_CAP}"),
        ));
    }
    reasons
}

/// The score of a contact at `now`.
pub fn score(facts: &ContactFacts, touches: &[Touch], now: DateTime<Utc>) -> Score {
    let fit_reasons = fit(facts);
    let engagement_reasons = engagement(touches, now);
    let fit: i32 = fit_reasons.iter().map(|r| r.points).sum();
    let engagement: i32 = engagement_reasons.iter().map(|r| r.points).sum();
    let total = (fit + engagement).clamp(0, 100);
    let last_interaction_at = touches.iter().map(|t| t.occurred_at).max();
    let recent = last_interaction_at.is_some_and(|at| age_days(now, at) <= RECENT_DAYS as f64);
    let tier = if total >= HOT_SCORE && recent {
        Tier::Hot
    } else if total >= WARM_SCORE {
        Tier::Warm
    } else {
        Tier::Cold
    };
    let mut reasons: Vec<Reason> = fit_reasons.into_iter().chain(engagement_reasons).collect();
    reasons.sort_by(|a, b| b.points.cmp(&a.points).then_with(|| a.factor.cmp(&b.factor)));
    Score {
        score: total,
        fit,
        engagement,
        tier,
        reasons,
        last_interaction_at,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chrono::Duration;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-06-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn touch(kind: InteractionKind, days_ago: i64) -> Touch {
        Touch {
            kind,
            occurred_at: now() - Duration::days(days_ago),
        }
    }

    fn points(reasons: &[Reason], factor: &str) -> Option<i32> {
        reasons.iter().find(|r| r.factor == factor).map(|r| r.points)
    }

    #[test]
    fn title_seniority_levels() {
        assert_eq!(title_seniority("CEO").map(|t| t.0), Some(15));
        assert_eq!(title_seniority("Chief Revenue Officer").map(|t| t.0), Some(15));
        assert_eq!(title_seniority("Co-Founder").map(|t| t.0), Some(15));
        assert_eq!(title_seniority("VP Sales").map(|t| t.0), Some(12));
        assert_eq!(title_seniority("Vice President, Marketing").map(|t| t.0), Some(12));
        assert_eq!(title_seniority("Director of Engineering").map(|t| t.0), Some(8));
        assert_eq!(title_seniority("Head of Growth").map(|t| t.0), Some(8));
        assert_eq!(title_seniority("Product Manager").map(|t| t.0), Some(5));
        assert_eq!(title_seniority("Engineer"), None);
        // Whole words only: "vp" inside another word does not count.
        assert_eq!(title_seniority("MVP Developer"), None);
    }

    #[test]
    fn company_email_completeness_and_deal_factors() {
        let mut facts = ContactFacts {
            status: "lead".into(),
            ..ContactFacts::default()
        };
        assert!(fit(&facts).is_empty());
        facts.company = Some("Acme".into());
        assert_eq!(points(&fit(&facts), "company"), Some(5));
        facts.email = Some("ada@gmail.com".into());
        assert_eq!(points(&fit(&facts), "business_email"), None);
        facts.email = Some("ada@acme.io".into());
        assert_eq!(points(&fit(&facts), "business_email"), Some(5));
        facts.first_name = Some("Ada".into());
        facts.last_name = Some("L".into());
        assert_eq!(points(&fit(&facts), "complete_profile"), None);
        facts.phone = Some("+1 555".into());
        assert_eq!(points(&fit(&facts), "complete_profile"), Some(5));
        facts.status = "opportunity".into();
        assert_eq!(points(&fit(&facts), "open_deal"), Some(10));
        facts.status = "customer".into();
        assert_eq!(points(&fit(&facts), "customer"), Some(5));
    }

    #[test]
    fn fit_is_capped() {
        let facts = ContactFacts {
            first_name: Some("A".into()),
            last_name: Some("B".into()),
            email: Some("a@acme.io".into()),
            phone: Some("1".into()),
            company: Some("Acme".into()),
            job_title: Some("CEO".into()),
            status: "opportunity".into(),
        };
        let total: i32 = fit(&facts).iter().map(|r| r.points).sum();
        assert_eq!(total, 40);
        assert!(total <= FIT_CAP);
    }

    #[test]
    fn decay_halves_every_thirty_days_and_stops_at_the_horizon() {
        assert!((decay(0.0) - 1.0).abs() < 1e-9);
        assert!((decay(30.0) - 0.5).abs() < 1e-9);
        assert!((decay(60.0) - 0.25).abs() < 1e-9);
        assert!((decay(-5.0) - 1.0).abs() < 1e-9, "future interactions count as today");
        assert_eq!(decay(181.0), 0.0);
        assert!(decay(10.0) > decay(11.0), "decay is monotonic");
    }

    #[test]
    fn engagement_weights_decay_and_cap() {
        let one_meeting_today = engagement(&[touch(InteractionKind::Meeting, 0)], now());
        assert_eq!(points(&one_meeting_today, "engagement.meeting"), Some(15));
        let month_old = engagement(&[touch(InteractionKind::Meeting, 30)], now());
        assert_eq!(points(&month_old, "engagement.meeting"), Some(8)); // 7.5 rounds to 8
        let reply = engagement(&[touch(InteractionKind::EmailReplied, 0)], now());
        assert_eq!(points(&reply, "engagement.email_replied"), Some(10));
        assert_eq!(
            points(
                &engagement(&[touch(InteractionKind::EmailSent, 0)], now()),
                "engagement.email_sent"
            ),
            Some(1)
        );
        let many: Vec<Touch> = (0..10).map(|d| touch(InteractionKind::Meeting, d)).collect();
        let reasons = engagement(&many, now());
        assert_eq!(reasons.iter().map(|r| r.points).sum::<i32>(), ENGAGEMENT_CAP);
        assert!(points(&reasons, "engagement_cap").unwrap() < 0);
        assert!(engagement(&[touch(InteractionKind::Meeting, 200)], now()).is_empty());
    }

    #[test]
    fn tiers_and_reasons_sum_to_the_score() {
        let facts = ContactFacts {
            first_name: Some("A".into()),
            last_name: Some("B".into()),
            email: Some("a@acme.io".into()),
            company: Some("Acme".into()),
            job_title: Some("VP Sales".into()),
            status: "lead".into(),
            ..ContactFacts::default()
        };
        let hot = score(
            &facts,
            &[
                touch(InteractionKind::Meeting, 1),
                touch(InteractionKind::Meeting, 3),
                touch(InteractionKind::Meeting, 5),
                touch(InteractionKind::EmailReplied, 2),
            ],
            now(),
        );
        assert_eq!(hot.tier, Tier::Hot, "{hot:?}");
        assert_eq!(hot.reasons.iter().map(|r| r.points).sum::<i32>(), hot.score);
        assert!(hot.reasons.windows(2).all(|w| w[0].points >= w[1].points));

        let cold = score(&facts, &[], now());
        assert_eq!(cold.tier, Tier::Cold);
        assert_eq!(cold.engagement, 0);
        assert_eq!(cold.last_interaction_at, None);

        // The same high score without recent activity is only warm.
        let stale: Vec<Touch> = (20..26).map(|d| touch(InteractionKind::Meeting, d)).collect();
        let stale = score(&facts, &stale, now());
        assert!(stale.score >= HOT_SCORE, "{stale:?}");
        assert_eq!(stale.tier, Tier::Warm);
    }

    #[test]
    fn scoring_is_deterministic() {
        let facts = ContactFacts {
            job_title: Some("CEO".into()),
            status: "lead".into(),
            ..ContactFacts::default()
        };
        let touches = [touch(InteractionKind::Call, 4), touch(InteractionKind::Note, 9)];
        let a = score(&facts, &touches, now());
        let b = score(&facts, &touches, now());
        assert_eq!(a.score, b.score);
        assert_eq!(a.reasons, b.reasons);
    }
}
