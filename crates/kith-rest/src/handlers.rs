//! The `/rest/v1` handlers. Each reads the request, plans it, builds its statement, runs it in the caller's
//! transaction and shapes the answer — one stage per module:
//! [`request`](crate::request) → [`plan`](crate::plan) → [`sql`](crate::sql) → [`exec`](crate::exec) →
//! [`response`](crate::response).

use crate::auth::RestCaller;
use crate::error::{RestError, RestResult};
use crate::exec::{Outcome, Session};
use crate::plan::{self, call::CallResult};
use crate::request::{self, ApiRequest, Media};
use crate::response;
use crate::schema::{SchemaCache, Table};
use crate::sql;
use crate::state::{RestService, RestState};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use kith_db::{Access, Caller};
use std::sync::Arc;

/// What every handler works with once the request is read: the request, the schema cache, the caller's
/// session.
struct Context<'a> {
    req: ApiRequest,
    cache: Arc<SchemaCache>,
    rest: &'a RestState,
    session: Session<'a>,
}

impl<'a> Context<'a> {
    /// Reads the request and fetches the schema cache.
    async fn new(
        service: &'a RestService,
        caller: &'a Caller,
        (method, uri, headers, body): (Method, Uri, HeaderMap, Bytes),
    ) -> RestResult<Self> {
        let rest = service.rest.as_ref();
        let req = ApiRequest::read(&rest.config.schemas, method, &uri, &headers, body)?;
        let cache = service.rest.schema(&service.app.db).await?;
        let session = Session {
            db: &service.app.db,
            caller,
            statement_timeout_ms: rest.config.statement_timeout_ms,
            search_path: rest.config.search_path(&req.schema),
        };
        Ok(Context {
            req,
            cache,
            rest,
            session,
        })
    }
}

/// `/rest/v1/{table}`: GET, HEAD, POST, PATCH, DELETE.
pub async fn table(
    State(service): State<RestService>,
    RestCaller(caller): RestCaller,
    Path(name): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, RestError> {
    let cx = Context::new(&service, &caller, (method, uri, headers, body)).await?;
    let table = plan::table(&cx.cache, &cx.req, &name)?;
    match cx.req.method {
        Method::GET | Method::HEAD => read(&cx, table).await,
        Method::POST => insert(&cx, table).await,
        _ => mutate(&cx, table).await,
    }
}

async fn read(cx: &Context<'_>, table: &Table) -> RestResult<Response> {
    let max_rows = cx.rest.config.max_rows;
    let plan = plan::read(&cx.req, max_rows)?;
    let statement = sql::read(&cx.cache, &plan, table)?;
    let mut tx = cx.session.begin(Access::ReadOnly).await?;
    let mut outcome = cx.session.run(&mut tx, &statement).await?;
    if plan.wants_estimate(outcome.total, max_rows) {
        let explain = sql::estimate(&cx.cache, &plan, table)?;
        let estimate = cx.session.estimate(&mut tx, &explain).await?;
        outcome.total = plan.estimated_total(outcome.total, estimate, max_rows);
    }
    response::expect_single(&outcome, plan.media)?;
    cx.session.commit(tx).await?;
    response::rows(&cx.req, outcome, plan.media, plan.page)
}

async fn insert(cx: &Context<'_>, table: &Table) -> RestResult<Response> {
    let plan = plan::mutate::insert(&cx.req, table)?;
    let outcome = match sql::mutate(&cx.cache, &plan, table)? {
        Some(statement) => {
            let mut tx = cx.session.begin(Access::ReadWrite).await?;
            let outcome = cx.session.run(&mut tx, &statement).await?;
            response::expect_single(&outcome, plan.media)?;
            cx.session.commit(tx).await?;
            outcome
        }
        None => {
            response::expect_single(&Outcome::nothing(Some(0)), plan.media)?;
            Outcome::nothing(Some(0))
        }
    };
    Ok(response::inserted(
        &cx.req,
        table,
        outcome,
        plan.media,
        plan.shape.returning,
    ))
}

/// PATCH and DELETE.
async fn mutate(cx: &Context<'_>, table: &Table) -> RestResult<Response> {
    let plan = if cx.req.method == Method::PATCH {
        plan::mutate::update(&cx.req, table)?
    } else {
        plan::mutate::delete(&cx.req)?
    };
    let outcome = match sql::mutate(&cx.cache, &plan, table)? {
        Some(statement) => {
            let mut tx = cx.session.begin(Access::ReadWrite).await?;
            let outcome = cx.session.run(&mut tx, &statement).await?;
            response::expect_single(&outcome, plan.media)?;
            response::check_max_affected(&cx.req, outcome.count)?;
            cx.session.commit(tx).await?;
            outcome
        }
        // A PATCH with no columns to set changes nothing.
        None => Outcome::nothing(None),
    };
    Ok(response::mutated(&cx.req, outcome, plan.media, plan.shape.returning))
}

/// `/rest/v1/rpc/{function}`: GET, HEAD, POST.
pub async fn rpc(
    State(service): State<RestService>,
    RestCaller(caller): RestCaller,
    Path(name): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, RestError> {
    let cx = Context::new(&service, &caller, (method, uri, headers, body)).await?;
    call(&cx, &name).await
}

async fn call(cx: &Context<'_>, name: &str) -> RestResult<Response> {
    let plan = plan::call::call(&cx.req, &cx.cache, name, cx.rest.config.max_rows)?;
    let statement = sql::call(&cx.cache, &plan)?;
    let access = if plan.read_only {
        Access::ReadOnly
    } else {
        Access::ReadWrite
    };
    let mut tx = cx.session.begin(access).await?;
    let outcome = cx.session.run(&mut tx, &statement).await?;
    if plan.result == CallResult::Rows {
        // More rows than `max-affected` (with handling=strict), or not one row for an object: rolled back.
        response::check_max_affected(&cx.req, outcome.count)?;
        response::expect_single(&outcome, plan.media)?;
    }
    cx.session.commit(tx).await?;
    Ok(match plan.result {
        CallResult::Rows => response::rows(&cx.req, outcome, plan.media, plan.page)?,
        CallResult::Single => response::value(&cx.req, outcome, plan.media, true),
        CallResult::Scalar => response::value(&cx.req, outcome, plan.media, false),
        CallResult::Void => response::no_content(),
    })
}

/// `/rest/v1/`: the OpenAPI description of what the caller's role may read.
pub async fn root(
    State(service): State<RestService>,
    caller: Result<RestCaller, RestError>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, RestError> {
    // An unacceptable `Accept` is refused before the token is looked at.
    request::negotiate(request::accept(&headers).as_deref(), Media::DESCRIPTION)?;
    let RestCaller(caller) = caller?;
    let cx = Context::new(&service, &caller, (method, uri, headers, Bytes::new())).await?;
    let document = crate::openapi::document(&cx.cache, &cx.req.schema, caller.role().as_str());
    Ok(response::description(&cx.req.method, &document))
}

/// `OPTIONS` on a table or function.
pub async fn options() -> Response {
    response::options()
}

/// A method a table (or the root) does not take: 405 PGRST117.
pub async fn unsupported_method(method: Method) -> RestError {
    RestError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "PGRST117",
        format!("Unsupported HTTP method: {method}"),
    )
}

/// A method a function does not take: 405 PGRST101.
pub async fn unsupported_rpc_method(method: Method) -> RestError {
    RestError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "PGRST101",
        format!("Cannot use the {method} method on RPC"),
    )
}

/// Any other path under `/rest/v1`: 404 PGRST125.
pub async fn invalid_path() -> RestError {
    RestError::new(
        StatusCode::NOT_FOUND,
        "PGRST125",
        "Invalid path specified in request URL",
    )
}
