//! Constraint violations mapped to API errors in one place: a store function names the constraint it expects to
//! be violated and the answer that means (`.on_constraint("contacts_workspace_email_key", duplicate)`); anything
//! else converts as every `DbError` does (a check violation names its field, never the constraint).

use kith_db::DbError;
use kith_http::{ApiError, ApiResult};

/// Maps a named constraint's violation to an API error.
pub trait ResultExt<T> {
    /// `map()` when the statement violated `constraint`; the usual conversion otherwise.
    fn on_constraint(self, constraint: &str, map: impl FnOnce() -> ApiError) -> ApiResult<T>;
}

impl<T> ResultExt<T> for Result<T, DbError> {
    fn on_constraint(self, constraint: &str, map: impl FnOnce() -> ApiError) -> ApiResult<T> {
        self.map_err(|err| {
            if err.constraint() == Some(constraint) {
                map()
            } else {
                err.into()
            }
        })
    }
}
