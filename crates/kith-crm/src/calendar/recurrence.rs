//! RRULE parsing and expansion whose cost follows the occurrences inside the asked window, not the age of the
//! series.
//!
//! A series that started long before the window is first moved forward by a whole number of its periods (in the
//! event's local wall time, as the `rrule` crate iterates), which leaves the occurrences from that point on
//! unchanged; rules that cannot be moved (`COUNT` counts from the first occurrence) are short by construction
//! because `COUNT` is bounded. What remains is cut off by a [`Budget`] shared by every series of one listing: a
//! number of iteration steps and a deadline. Callers run expansion on a blocking thread.

use super::model::{Event, to_json, zone};
use chrono::{DateTime, Datelike, Duration, Months, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use kith_http::{ApiError, ApiResult};
use rrule::{Frequency, RRule, RRuleSet, Unvalidated};
use serde_json::Value;
use std::time::Instant;

/// Frequencies a stored rule may use; finer ones turn one week into thousands of occurrences.
pub const ALLOWED_FREQUENCIES: &str = "HOURLY, DAILY, WEEKLY, MONTHLY or YEARLY";
/// Largest `COUNT` a rule may carry (about 27 years of a daily event); the database checks the same bound.
pub const MAX_COUNT: u32 = 10_000;
/// Largest `INTERVAL`; the database checks the same bound.
pub const MAX_INTERVAL: u16 = 1_000;
/// Most occurrences of one series returned in one window.
pub const MAX_OCCURRENCES_PER_SERIES: usize = 1_000;

/// Why a rule was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError(pub String);

/// Parses an RRULE value (with or without the `RRULE:` prefix) without a start; bounds are checked here so the
/// database's check and the `/api` message agree.
pub fn parse(rule: &str) -> Result<RRule<Unvalidated>, RuleError> {
    let rule = rule.trim();
    let rule = rule.strip_prefix("RRULE:").unwrap_or(rule);
    if rule.len() > 500 || !in_rule_alphabet(rule) {
        return Err(RuleError(
            "may hold only letters, digits and = ; , : + - (at most 500), such as FREQ=WEEKLY;COUNT=4".into(),
        ));
    }
    if rule.to_ascii_uppercase().contains("DTSTART") {
        return Err(RuleError(
            "must be a single RRULE value such as FREQ=WEEKLY;COUNT=4".into(),
        ));
    }
    let parsed: RRule<Unvalidated> = rule
        .parse()
        .map_err(|e| RuleError(format!("is not a valid RRULE: {e}")))?;
    if matches!(parsed.get_freq(), Frequency::Minutely | Frequency::Secondly) {
        return Err(RuleError(format!("FREQ must be {ALLOWED_FREQUENCIES}")));
    }
    if !parsed.get_by_second().is_empty() {
        return Err(RuleError("BYSECOND is not supported".into()));
    }
    if parsed.get_count().is_some_and(|count| count > MAX_COUNT) {
        return Err(RuleError(format!("COUNT may be at most {MAX_COUNT}")));
    }
    if parsed.get_interval() > MAX_INTERVAL {
        return Err(RuleError(format!("INTERVAL may be at most {MAX_INTERVAL}")));
    }
    Ok(parsed)
}

/// Parses a rule and checks it against its first occurrence in its zone.
pub fn build(rule: &str, starts_at: DateTime<Utc>, tz: Tz) -> Result<RRuleSet, RuleError> {
    parse(rule)?
        .build(starts_at.with_timezone(&rrule::Tz::from(tz)))
        .map_err(|e| RuleError(format!("is not a valid RRULE: {e}")))
}

/// The iteration one listing may spend on expansion, shared by all of its series.
#[derive(Debug)]
pub struct Budget {
    steps_left: u32,
    deadline: Instant,
}

impl Budget {
    /// `steps` occurrences generated in total (inside the window or not), until `deadline`.
    pub fn new(steps: u32, deadline: Instant) -> Self {
        Self {
            steps_left: steps,
            deadline,
        }
    }

    /// Spends one step; false once the budget is gone.
    fn spend(&mut self) -> bool {
        if self.steps_left == 0 {
            return false;
        }
        self.steps_left -= 1;
        // Reading the clock is cheap but not free: look every 256 steps.
        !(self.steps_left.is_multiple_of(256) && Instant::now() >= self.deadline)
    }
}

/// The occurrences of one series inside a window.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Expansion {
    /// `(start, end)` of each occurrence overlapping the window, in order.
    pub occurrences: Vec<(DateTime<Utc>, DateTime<Utc>)>,
    /// True when the budget or the per-series cap stopped the expansion early.
    pub truncated: bool,
}

/// A recurring series: its rule, first occurrence, length and zone.
#[derive(Debug, Clone, Copy)]
pub struct Series<'a> {
    /// The RRULE value.
    pub rule: &'a str,
    /// Start of the first occurrence.
    pub starts_at: DateTime<Utc>,
    /// Length of each occurrence.
    pub duration: Duration,
    /// Zone whose wall time the rule follows.
    pub tz: Tz,
}

impl Series<'_> {
    /// Occurrences overlapping `[from, to)`. A stored rule that no longer parses yields nothing.
    pub fn expand(&self, from: DateTime<Utc>, to: DateTime<Utc>, budget: &mut Budget) -> Expansion {
        let Ok(parsed) = parse_stored(self.rule) else {
            return Expansion::default();
        };
        let rtz = rrule::Tz::from(self.tz);
        let first = self.starts_at.with_timezone(&self.tz);
        let start = fast_forward(&parsed, first, from - self.duration).unwrap_or(first);
        let Ok(set) = parsed.build(start.with_timezone(&rtz)) else {
            return Expansion::default();
        };
        let overlaps =
            |s: DateTime<Utc>| s < to && (s + self.duration > from || (self.duration.is_zero() && s >= from));
        let mut out = Expansion::default();
        for occurrence in set.limit().into_iter() {
            if !budget.spend() {
                out.truncated = true;
                break;
            }
            let s = occurrence.with_timezone(&Utc);
            if s >= to {
                break;
            }
            if overlaps(s) {
                if out.occurrences.len() == MAX_OCCURRENCES_PER_SERIES {
                    out.truncated = true;
                    break;
                }
                out.occurrences.push((s, s + self.duration));
            }
        }
        out
    }
}

/// The database's character set for a rule (`private.is_valid_rrule`), checked before the rrule crate sees it:
/// that crate slices its input by byte and panics inside a multi-byte character (found by
/// `fuzz/fuzz_targets/rrule.rs`).
fn in_rule_alphabet(rule: &str) -> bool {
    rule.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"=;,:+-".contains(&b))
}

/// Stored rules were checked on the way in, but a row written before a bound existed may break it: such rules
/// are still expanded (the budget bounds them) as long as they parse at all.
fn parse_stored(rule: &str) -> Result<RRule<Unvalidated>, RuleError> {
    let rule = rule.trim();
    let rule = rule.strip_prefix("RRULE:").unwrap_or(rule);
    if !in_rule_alphabet(rule) {
        return Err(RuleError("characters outside an RRULE".into()));
    }
    rule.parse().map_err(|e| RuleError(format!("{e}")))
}

/// The latest start, a whole number of periods after `first`, that is at least one period before `not_after`
/// — or `None` when the rule must be walked from its first occurrence (it counts occurrences, its period is not a
/// fixed amount of wall time, or the series has not started long enough ago to matter).
fn fast_forward(rule: &RRule<Unvalidated>, first: DateTime<Tz>, not_after: DateTime<Utc>) -> Option<DateTime<Tz>> {
    if rule.get_count().is_some() {
        return None;
    }
    let interval = i64::from(rule.get_interval().max(1));
    let local_first = first.naive_local();
    let local_target = not_after.with_timezone(&first.timezone()).naive_local();
    // Without a day selector the rule repeats on its first day of the month, which not every month has.
    let chooses_days = !(rule.get_by_month_day().is_empty()
        && rule.get_by_weekday().is_empty()
        && rule.get_by_year_day().is_empty()
        && rule.get_by_week_no().is_empty());
    let step = match rule.get_freq() {
        Frequency::Yearly => Step::Months(12 * interval, chooses_days),
        Frequency::Monthly => Step::Months(interval, chooses_days),
        Frequency::Weekly => Step::Fixed(Duration::weeks(interval)),
        Frequency::Daily => Step::Fixed(Duration::days(interval)),
        Frequency::Hourly => Step::Fixed(Duration::hours(interval)),
        Frequency::Minutely => Step::Fixed(Duration::minutes(interval)),
        Frequency::Secondly => Step::Fixed(Duration::seconds(interval)),
    };
    // One period of margin, so an occurrence running into the window is still produced.
    let periods = step.periods_between(local_first, local_target)? - 1;
    if periods <= 0 {
        return None;
    }
    // A start in a daylight-saving gap does not exist; an earlier period then does.
    (0..3).find_map(|back| {
        let local = step.advance(local_first, periods - back)?;
        first.timezone().from_local_datetime(&local).earliest()
    })
}

/// A recurrence period in wall time: a fixed length, or a number of months (and whether the rule picks its own
/// days, so the start may move to the first of a month).
enum Step {
    Fixed(Duration),
    Months(i64, bool),
}

impl Step {
    /// Whole periods from `a` to `b` (`None` when `b` is not after `a`).
    fn periods_between(&self, a: NaiveDateTime, b: NaiveDateTime) -> Option<i64> {
        if b <= a {
            return None;
        }
        match self {
            Step::Fixed(d) => Some((b - a).num_seconds() / d.num_seconds().max(1)),
            Step::Months(m, _) => {
                let months = i64::from(b.year() - a.year()) * 12 + i64::from(b.month()) - i64::from(a.month());
                Some((months - 1).max(0) / m)
            }
        }
    }

    /// `a` moved forward by `n` periods; `None` when the rule repeats on a day of the month that the target
    /// month may lack (the 29th to 31st): such rules are walked instead.
    fn advance(&self, a: NaiveDateTime, n: i64) -> Option<NaiveDateTime> {
        match self {
            Step::Fixed(d) => a.checked_add_signed(Duration::try_seconds(d.num_seconds().checked_mul(n)?)?),
            Step::Months(m, chooses_days) => {
                let a = match (a.day(), chooses_days) {
                    (1..=28, _) => a,
                    (_, true) => a.with_day(1)?,
                    (_, false) => return None,
                };
                a.checked_add_months(Months::new(u32::try_from(n * m).ok()?))
            }
        }
    }
}

/// Most occurrences one listing returns.
const MAX_LISTED: usize = 5_000;
/// Occurrences one listing may generate while expanding (inside the window or not): about 10 ms of work.
const EXPANSION_STEPS: u32 = 50_000;
/// Wall-clock bound on one listing's expansion, whatever the steps cost.
const EXPANSION_DEADLINE: std::time::Duration = std::time::Duration::from_millis(500);

/// The occurrences of `e` that overlap `[from, to)`, as (start, end), within what `budget` allows.
pub fn occurrences(e: &Event, from: DateTime<Utc>, to: DateTime<Utc>, budget: &mut Budget) -> Expansion {
    match &e.rrule {
        None => {
            let duration = e.ends_at - e.starts_at;
            let overlaps = e.starts_at < to && (e.ends_at > from || (duration.is_zero() && e.starts_at >= from));
            Expansion {
                occurrences: if overlaps {
                    vec![(e.starts_at, e.ends_at)]
                } else {
                    vec![]
                },
                truncated: false,
            }
        }
        Some(rule) => {
            let mut expansion = Series {
                rule,
                starts_at: e.starts_at,
                duration: e.ends_at - e.starts_at,
                tz: zone(&e.timezone),
            }
            .expand(from, to, budget);
            // Cancelled occurrences are gone; changed ones are listed as events of their own.
            expansion.occurrences.retain(|(start, _)| e.exceptions.keeps(*start));
            expansion
        }
    }
}

/// Whether the series `e` has an occurrence starting exactly at `start` (cancelled and changed ones included).
pub fn has_occurrence(e: &Event, start: DateTime<Utc>) -> bool {
    let Some(rule) = &e.rrule else {
        return false;
    };
    let series = Series {
        rule,
        starts_at: e.starts_at,
        duration: e.ends_at - e.starts_at,
        tz: zone(&e.timezone),
    };
    let mut budget = Budget::new(EXPANSION_STEPS, Instant::now() + EXPANSION_DEADLINE);
    // A window of one second around the start; zero-length occurrences overlap it only from its start.
    let found = series.expand(start, start + Duration::seconds(1), &mut budget);
    found.occurrences.iter().any(|(s, _)| *s == start)
}

/// One occurrence of an event inside a window.
#[derive(Debug, Clone)]
pub struct Occurrence {
    /// The event (shared by all its occurrences).
    pub event: std::sync::Arc<Event>,
    /// This occurrence's start.
    pub starts_at: DateTime<Utc>,
    /// This occurrence's end (exclusive).
    pub ends_at: DateTime<Utc>,
}

impl Occurrence {
    pub(crate) fn to_json(&self) -> Value {
        let shown = self.event.rrule.is_some().then_some((self.starts_at, self.ends_at));
        to_json(&self.event, shown)
    }
}

/// The occurrences of a window, sorted by start.
#[derive(Debug, Clone, Default)]
pub struct Window {
    /// Occurrences overlapping the window.
    pub occurrences: Vec<Occurrence>,
    /// Whether the expansion budget or the listing cap cut something off.
    pub truncated: bool,
}

/// One listing's events expanded into the window, sorted by start.
fn expand_listing(events: Vec<Event>, from: DateTime<Utc>, to: DateTime<Utc>) -> Window {
    let mut budget = Budget::new(EXPANSION_STEPS, Instant::now() + EXPANSION_DEADLINE);
    let mut truncated = false;
    let mut out: Vec<Occurrence> = Vec::new();
    for e in events {
        let expansion = occurrences(&e, from, to, &mut budget);
        truncated |= expansion.truncated;
        let event = std::sync::Arc::new(e);
        for (starts_at, ends_at) in expansion.occurrences {
            out.push(Occurrence {
                event: event.clone(),
                starts_at,
                ends_at,
            });
            if out.len() >= MAX_LISTED {
                truncated = true;
                break;
            }
        }
        if out.len() >= MAX_LISTED {
            break;
        }
    }
    out.sort_by_key(|o| o.starts_at);
    Window {
        occurrences: out,
        truncated,
    }
}

/// `events` as occurrences inside `[from, to)`, sorted by start. Expansion is CPU work whose size the events
/// decide: it runs on a blocking thread, after the caller's transaction has given its connection back.
pub async fn expand(events: Vec<Event>, from: DateTime<Utc>, to: DateTime<Utc>) -> ApiResult<Window> {
    tokio::task::spawn_blocking(move || expand_listing(events, from, to))
        .await
        .map_err(|e| ApiError::internal(&e))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn generous() -> Budget {
        Budget::new(u32::MAX, Instant::now() + std::time::Duration::from_secs(60))
    }

    /// The reference: walk the whole series from its first occurrence with the crate alone.
    fn walked(series: &Series<'_>, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        let rtz = rrule::Tz::from(series.tz);
        let set = parse_stored(series.rule)
            .unwrap()
            .build(series.starts_at.with_timezone(&rtz))
            .unwrap();
        set.before(to.with_timezone(&rtz))
            .all_unchecked()
            .into_iter()
            .map(|s| s.with_timezone(&Utc))
            .filter(|s| *s < to && *s + series.duration > from)
            .map(|s| (s, s + series.duration))
            .collect()
    }

    #[test]
    fn fast_forwarded_series_equal_walked_ones() {
        let rules = [
            "FREQ=DAILY",
            "FREQ=DAILY;INTERVAL=3",
            "FREQ=WEEKLY;BYDAY=MO,WE,FR",
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU;WKST=SU",
            "FREQ=HOURLY;INTERVAL=5",
            "FREQ=HOURLY;BYHOUR=9,17",
            "FREQ=MONTHLY;BYDAY=-1FR",
            "FREQ=MONTHLY;BYMONTHDAY=15,28",
            "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
            "FREQ=MONTHLY;INTERVAL=5",
            "FREQ=MONTHLY;BYMONTHDAY=31",
            "FREQ=MONTHLY;BYMONTHDAY=-1;BYHOUR=8,20",
            "FREQ=YEARLY;BYMONTHDAY=29",
            "FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
            "FREQ=YEARLY",
            "FREQ=DAILY;UNTIL=20261015T000000Z",
        ];
        let starts = [
            "2023-01-31T08:30:00Z",
            "2024-02-29T23:00:00Z",
            "2025-03-30T01:30:00Z",
            "2020-07-14T12:00:00Z",
        ];
        let windows = [
            ("2026-03-25T00:00:00Z", "2026-04-05T00:00:00Z"), // Europe's spring switch
            ("2026-10-20T00:00:00Z", "2026-11-10T00:00:00Z"), // both autumn switches
            ("2027-01-01T00:00:00Z", "2027-12-31T00:00:00Z"),
        ];
        for tz in [chrono_tz::Europe::Berlin, chrono_tz::America::New_York, chrono_tz::UTC] {
            for rule in rules {
                for start in starts {
                    for (from, to) in windows {
                        let series = Series {
                            rule,
                            starts_at: t(start),
                            duration: Duration::minutes(90),
                            tz,
                        };
                        let (from, to) = (t(from), t(to));
                        let got = series.expand(from, to, &mut generous());
                        let mut want = walked(&series, from, to);
                        assert_eq!(got.truncated, want.len() > MAX_OCCURRENCES_PER_SERIES);
                        want.truncate(MAX_OCCURRENCES_PER_SERIES);
                        assert_eq!(got.occurrences, want, "{rule} from {start} in {tz}");
                    }
                }
            }
        }
    }

    #[test]
    fn old_fine_grained_series_cost_the_window_only() {
        // Rows of this kind may predate the bounds; expansion must still be cheap.
        for rule in ["FREQ=SECONDLY", "FREQ=MINUTELY", "FREQ=HOURLY"] {
            let series = Series {
                rule,
                starts_at: t("1900-01-01T00:00:00Z"),
                duration: Duration::zero(),
                tz: chrono_tz::UTC,
            };
            let began = Instant::now();
            let got = series.expand(t("2026-12-01T00:00:00Z"), t("2026-12-08T00:00:00Z"), &mut generous());
            assert!(
                began.elapsed() < std::time::Duration::from_millis(200),
                "{rule}: {:?}",
                began.elapsed()
            );
            assert_eq!(got.occurrences.len().min(168), 168, "{rule}");
            assert_eq!(got.truncated, rule != "FREQ=HOURLY", "{rule}");
        }
    }

    #[test]
    fn the_budget_cuts_off_what_cannot_be_fast_forwarded() {
        // COUNT counts from the first occurrence, and the 31st does not exist in every month: both are walked.
        let series = Series {
            rule: "FREQ=MONTHLY;BYHOUR=0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23",
            starts_at: t("1900-01-31T00:00:00Z"),
            duration: Duration::zero(),
            tz: chrono_tz::UTC,
        };
        let mut budget = Budget::new(10_000, Instant::now() + std::time::Duration::from_secs(60));
        let got = series.expand(t("2026-12-01T00:00:00Z"), t("2026-12-08T00:00:00Z"), &mut budget);
        assert!(got.truncated);
        assert!(got.occurrences.is_empty());
        // The budget is spent: the next series of the listing gets nothing more.
        let next = Series {
            rule: "FREQ=DAILY",
            starts_at: t("2026-11-30T00:00:00Z"),
            ..series
        };
        assert!(
            next.expand(t("2026-12-01T00:00:00Z"), t("2026-12-08T00:00:00Z"), &mut budget)
                .truncated
        );
    }

    #[test]
    fn rules_outside_the_bounds_are_refused() {
        for bad in [
            "FREQ=SECONDLY",
            "FREQ=MINUTELY;INTERVAL=30",
            "FREQ=DAILY;BYSECOND=1",
            "FREQ=DAILY;COUNT=10001",
            "FREQ=DAILY;INTERVAL=1001",
            "FREQ=SOMETIMES",
            "DTSTART:20260101T000000Z\nRRULE:FREQ=DAILY",
            // Found by fuzzing: the rrule crate panicked inside the multi-byte character.
            "FREQ=WEEKLY;BYDAY=MO\u{628}E;COUNT=56",
            "FREQ=WEEKLY;BYDAY=MO WE",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        for good in ["FREQ=HOURLY", "RRULE:FREQ=WEEKLY;BYDAY=MO,WE", "FREQ=DAILY;COUNT=10000"] {
            assert!(parse(good).is_ok(), "{good}");
        }
    }
}

#[cfg(test)]
mod window_tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use uuid::Uuid;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn occurrences(e: &Event, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        let mut budget = Budget::new(u32::MAX, Instant::now() + std::time::Duration::from_secs(60));
        super::occurrences(e, from, to, &mut budget).occurrences
    }

    fn sample(rrule: Option<&str>, tz: &str) -> Event {
        Event {
            id: Uuid::nil(),
            workspace_id: Uuid::nil(),
            title: "Standup".into(),
            description: None,
            starts_at: t("2026-03-02T09:00:00Z"),
            ends_at: t("2026-03-02T09:30:00Z"),
            all_day: false,
            timezone: tz.into(),
            location: None,
            attendees: vec![],
            contact_ids: vec![],
            rrule: rrule.map(str::to_owned),
            sequence: 0,
            updated_at: t("2026-03-01T00:00:00Z"),
            exceptions: Default::default(),
        }
    }

    #[test]
    fn recurrences_expand_inside_the_window_only() {
        let e = sample(Some("FREQ=DAILY;COUNT=10"), "UTC");
        let got = occurrences(&e, t("2026-03-04T00:00:00Z"), t("2026-03-07T00:00:00Z"));
        let starts: Vec<String> = got.iter().map(|o| o.0.to_rfc3339()).collect();
        assert_eq!(
            starts,
            [
                "2026-03-04T09:00:00+00:00",
                "2026-03-05T09:00:00+00:00",
                "2026-03-06T09:00:00+00:00"
            ]
        );
        assert!(got.iter().all(|(s, e)| *e - *s == Duration::minutes(30)));
        // An occurrence already running at the window's start overlaps it.
        let got = occurrences(&e, t("2026-03-04T09:15:00Z"), t("2026-03-04T10:00:00Z"));
        assert_eq!(got.len(), 1);
    }

    #[test]
    fn recurrences_follow_the_events_time_zone_across_dst() {
        // 09:00 in Berlin: 08:00Z in winter, 07:00Z after the switch on 2026-03-29.
        let mut e = sample(Some("FREQ=WEEKLY;COUNT=3"), "Europe/Berlin");
        e.starts_at = t("2026-03-23T08:00:00Z");
        e.ends_at = t("2026-03-23T09:00:00Z");
        let got = occurrences(&e, t("2026-03-01T00:00:00Z"), t("2026-05-01T00:00:00Z"));
        let starts: Vec<String> = got.iter().map(|o| o.0.to_rfc3339()).collect();
        assert_eq!(
            starts,
            [
                "2026-03-23T08:00:00+00:00",
                "2026-03-30T07:00:00+00:00",
                "2026-04-06T07:00:00+00:00"
            ]
        );
    }
}
