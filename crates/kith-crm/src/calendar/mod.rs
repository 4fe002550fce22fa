//! `/api/calendar/events`: events of a workspace with attendees, linked contacts, all-day events, IANA time zones
//! and RRULE recurrences (expanded inside the asked window with the `rrule` crate), plus an `.ics` export.
//!
//! - [`model`]: the event, its input and checks, its JSON;
//! - [`recurrence`]: RRULE parsing and bounded expansion into a window;
//! - [`store`]: every SQL statement of the concept (what the `/api` handlers and the dashboard both call);
//! - [`routes`]: the `/api/calendar/events` handlers;
//! - [`ics`]: RFC 5545 output.

pub mod ics;
pub mod model;
pub mod recurrence;
pub mod routes;
pub mod store;

pub use model::{
    Attendee, AttendeeStatus, Event, EventInput, Exceptions, NewSubscription, Subscription, ValidEvent, feed_token,
    parse_rrule,
};
pub use recurrence::{Occurrence, Window, expand, has_occurrence, occurrences};
pub use routes::{
    OccurrenceQuery, SubscriptionQuery, SubscriptionRequest, TRUNCATED_HEADER, WindowQuery, create, export_ics,
    get_subscription, list, remove, subscribe, unsubscribe, update,
};
pub use store::window;
