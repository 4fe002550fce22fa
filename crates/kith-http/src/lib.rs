//! HTTP plumbing shared by Kith's services: the application state, the `/api` error type, the extractors that
//! turn a request into a verified [`kith_db::Caller`], the middleware stack, metrics and the health routes.

pub mod bearer;
pub mod error;
pub mod extract;
pub mod metrics;
pub mod middleware;
pub mod ops;
mod state;

pub use bearer::{BearerProblem, BearerToken, TokenSource};
pub use error::{ApiError, ApiResult};
pub use extract::{ApiJson, AuthUser};
pub use state::AppState;
