//! Recurrence rules as `/api` and the data API accept them, then expanded over a week under the listing
//! budget: any rule gives occurrences or a refusal, never a panic, and expansion stays within its budget.
#![no_main]

use chrono::{DateTime, Duration, TimeZone, Utc};
use kith_crm::calendar::recurrence::Budget;
use kith_crm::calendar::{Event, occurrences, parse_rrule};
use libfuzzer_sys::fuzz_target;

const ZONES: [chrono_tz::Tz; 4] = [
    chrono_tz::UTC,
    chrono_tz::Europe::Berlin,
    chrono_tz::America::New_York,
    chrono_tz::Australia::Lord_Howe,
];

fuzz_target!(|data: &[u8]| {
    let Some((&[zone, offset], rule)) = data.split_first_chunk::<2>() else { return };
    let Ok(rule) = std::str::from_utf8(rule) else { return };
    let tz = ZONES[usize::from(zone) % ZONES.len()];
    // Starts spread over 1900..2200, the range the stored-value rules allow.
    let base: DateTime<Utc> = Utc.with_ymd_and_hms(1900, 1, 1, 0, 0, 0).unwrap();
    let starts_at = base + Duration::days(i64::from(offset) * 428);
    if parse_rrule(rule, starts_at, tz).is_err() {
        return;
    }
    let event = Event {
        id: uuid::Uuid::nil(),
        workspace_id: uuid::Uuid::nil(),
        title: String::new(),
        description: None,
        starts_at,
        ends_at: starts_at + Duration::hours(1),
        all_day: false,
        timezone: tz.name().to_owned(),
        location: None,
        attendees: Vec::new(),
        contact_ids: Vec::new(),
        rrule: Some(rule.to_owned()),
        sequence: 0,
        updated_at: starts_at,
    };
    let from = Utc.with_ymd_and_hms(2026, 11, 30, 0, 0, 0).unwrap();
    let mut budget = Budget::new(50_000, std::time::Instant::now() + std::time::Duration::from_millis(500));
    let _ = occurrences(&event, from, from + Duration::days(7), &mut budget);
});
