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
use axum::extract::{FromRequest, FromRequestParts, Path, Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use kith_db::Access;
use std::sync::Arc;

/// What every handler works with, extracted from the request: the request read into plain data, the schema
/// cache, and a session that runs statements as the request's caller.
pub struct Context {
    req: ApiRequest,
    cache: Arc<SchemaCache>,
    rest: Arc<RestState>,
    session: Session,
}

impl FromRequest<RestService> for Context {
    /// PostgREST's errors, or axum's own body rejections (a body over the limit is 413).
    type Rejection = Response;

    async fn from_request(request: Request, service: &RestService) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        let RestCaller(caller) = RestCaller::from_request_parts(&mut parts, service)
            .await
            .map_err(IntoResponse::into_response)?;
        let (method, uri, headers) = (parts.method.clone(), parts.uri.clone(), parts.headers.clone());
        let body = Bytes::from_request(Request::from_parts(parts, body), service)
            .await
            .map_err(IntoResponse::into_response)?;
        let rest = service.rest.clone();
        let req = ApiRequest::read(&rest.config.schemas, method, &uri, &headers, body)
            .map_err(IntoResponse::into_response)?;
        let cache = rest
            .schema(&service.app.db)
            .await
            .map_err(IntoResponse::into_response)?;
        let session = Session {
            db: service.app.db.clone(),
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
pub async fn table(Path(name): Path<String>, cx: Context) -> RestResult<Response> {
    let table = plan::table(&cx.cache, &cx.req, &name)?;
    match cx.req.method {
        Method::GET | Method::HEAD => read(&cx, table).await,
        Method::POST => insert(&cx, table).await,
        _ => mutate(&cx, table).await,
    }
}

async fn read(cx: &Context, table: &Table) -> RestResult<Response> {
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

async fn insert(cx: &Context, table: &Table) -> RestResult<Response> {
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
async fn mutate(cx: &Context, table: &Table) -> RestResult<Response> {
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
pub async fn rpc(Path(name): Path<String>, cx: Context) -> RestResult<Response> {
    call(&cx, &name).await
}

async fn call(cx: &Context, name: &str) -> RestResult<Response> {
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

/// `/rest/v1/`: the OpenAPI description of what the caller's role may read. An unacceptable `Accept` is refused
/// before the token is looked at.
pub async fn root(State(service): State<RestService>, headers: HeaderMap, request: Request) -> Response {
    if let Err(err) = request::negotiate(request::accept(&headers).as_deref(), Media::DESCRIPTION) {
        return err.into_response();
    }
    let cx = match Context::from_request(request, &service).await {
        Ok(cx) => cx,
        Err(response) => return response,
    };
    let document = crate::openapi::document(&cx.cache, &cx.req.schema, cx.session.caller.role().as_str());
    response::description(&cx.req.method, &document)
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
