//! Contacts of a workspace and their interactions.
//!
//! - [`model`]: what a contact, an interaction and a listing filter are, and their checks;
//! - [`store`]: every SQL statement of the concept, as named functions taking the caller's transaction and the
//!   workspace context (what the `/api` handlers and the dashboard both call);
//! - [`routes`]: `/api/contacts` and `/api/contacts/{id}`;
//! - [`interactions`]: `/api/contacts/{id}/interactions` and `/api/interactions/{id}`;
//! - [`csv`](self::csv): CSV export and the streamed import.

pub mod csv;
pub mod interactions;
pub mod model;
pub mod routes;
pub mod store;

pub use self::csv::{CSV_COLUMNS, CsvQuery, ExportQuery, ImportReport, RowError, export_csv, import_csv};
pub use interactions::{
    InteractionPatch, NewInteraction, add_interaction, list_interactions, remove_interaction, update_interaction,
};
pub use model::{
    Contact, ContactFilter, ContactPage, Interaction, RawContact, RawFilter, Sort, Status, ValidContact,
    ValidInteraction,
};
pub use routes::{ContactPatch, ListQuery, NewContact, create, list, read, remove, update};
