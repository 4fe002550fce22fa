//! Kith's CRM API under `/api`. Every handler reaches data only through a transaction opened for its caller
//! (`Db::begin_as`); Postgres row-level security decides what that caller sees.
//!
//! [`route_table`] is the single list of routes: it builds the router, the OpenAPI document and the isolation
//! matrix of the integration tests, so a route cannot be added without being covered.

pub mod audit;
pub mod calendar;
pub mod contacts;
pub mod context;
pub mod error;
pub mod input;
pub mod intelligence;
pub mod openapi;
pub mod organizations;
pub mod pages;
pub mod profile;
pub mod rescore_job;
pub mod scoring;
pub mod workspaces;

use axum::Router;
use axum::extract::FromRef;
use axum::routing::{MethodRouter, any, delete, get, patch, post};
use context::OrgRole;
use kith_http::AppState;
use std::sync::Arc;

/// What a route is scoped to, which decides the checks it makes (and the isolation tests it gets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// No token needed.
    Public,
    /// Any signed-in user; no organization needed.
    User,
    /// An organization named by `org_id` (path or query/body).
    Org,
    /// A workspace named by `workspace_id` (query for reads, body for writes).
    Workspace,
    /// An item named by its id in the path; its workspace follows from it.
    Item,
}

/// One `/api` route: what the router, the OpenAPI document and the isolation matrix know about it.
#[derive(Debug, Clone, Copy)]
pub struct RouteSpec {
    /// HTTP method.
    pub method: &'static str,
    /// Path template, axum syntax (`{id}`).
    pub path: &'static str,
    /// What it is scoped to.
    pub scope: Scope,
    /// The least role it needs (org, workspace and item routes).
    pub min_role: Option<OrgRole>,
    /// One line for the OpenAPI document.
    pub summary: &'static str,
    /// The request body it reads.
    pub body: openapi::Body,
    /// Its query parameters, from the type the handler parses them into.
    pub query: Option<openapi::ParamsFn>,
    /// Its success answer.
    pub reply: openapi::Reply,
}

const fn spec(
    method: &'static str,
    path: &'static str,
    scope: Scope,
    min_role: Option<OrgRole>,
    summary: &'static str,
) -> RouteSpec {
    RouteSpec {
        method,
        path,
        scope,
        min_role,
        summary,
        body: openapi::Body::None,
        query: None,
        reply: openapi::Reply::NoContent,
    }
}

impl RouteSpec {
    /// Reads a JSON body of type `T`.
    fn json<T: utoipa::ToSchema>(self) -> Self {
        self.json_requiring::<T>(&[])
    }

    /// Reads a JSON body of type `T` in which this route requires `fields`.
    fn json_requiring<T: utoipa::ToSchema>(mut self, fields: &'static [&'static str]) -> Self {
        self.body = openapi::Body::Json(openapi::schema_of::<T>, fields);
        self
    }

    /// Reads a CSV body.
    fn csv(mut self) -> Self {
        self.body = openapi::Body::Csv;
        self
    }

    /// Parses its query into `Q`.
    fn query<Q: utoipa::IntoParams>(mut self) -> Self {
        self.query = Some(openapi::params_of::<Q>);
        self
    }

    /// Answers `status` with a `T`.
    fn returns<T: utoipa::ToSchema>(mut self, status: u16) -> Self {
        self.reply = openapi::Reply::Json(status, openapi::schema_of::<T>);
        self
    }

    /// Answers 200 with a list of `T`.
    fn returns_list<T: utoipa::ToSchema>(mut self) -> Self {
        self.reply = openapi::Reply::JsonList(openapi::schema_of::<T>);
        self
    }

    /// Answers 200 with a non-JSON body.
    fn returns_text(mut self, media: &'static str) -> Self {
        self.reply = openapi::Reply::Text(media);
        self
    }
}

use OrgRole::{Admin, Member, Owner, Viewer};
use Scope::{Item, Org, Public, User, Workspace};

/// Every `/api` route with its handler.
pub fn route_table() -> Vec<(RouteSpec, MethodRouter<CrmState>)> {
    vec![
        (
            spec(
                "GET",
                "/api/openapi.json",
                Public,
                None,
                "The OpenAPI 3 document of every /api route",
            )
            .returns::<openapi::Document>(200),
            get(openapi::document),
        ),
        (
            spec("GET", "/api/profile", User, None, "The caller's profile").returns::<profile::Profile>(200),
            get(profile::get_profile),
        ),
        (
            spec("PATCH", "/api/profile", User, None, "Update the caller's profile")
                .json::<profile::ProfilePatch>()
                .returns::<profile::Profile>(200),
            patch(profile::patch_profile),
        ),
        (
            spec(
                "GET",
                "/api/organizations",
                User,
                None,
                "The caller's organizations with their role",
            )
            .returns_list::<organizations::Organization>(),
            get(organizations::list),
        ),
        (
            spec(
                "POST",
                "/api/organizations",
                User,
                None,
                "Create an organization; the caller becomes its owner",
            )
            .json::<organizations::NewOrganization>()
            .returns::<organizations::Organization>(201),
            post(organizations::create),
        ),
        (
            spec(
                "PATCH",
                "/api/organizations/{org_id}",
                Org,
                Some(Owner),
                "Rename an organization",
            )
            .json::<organizations::OrganizationPatch>()
            .returns::<organizations::Organization>(200),
            patch(organizations::update),
        ),
        (
            spec(
                "DELETE",
                "/api/organizations/{org_id}",
                Org,
                Some(Owner),
                "Delete an organization and everything in it",
            ),
            delete(organizations::remove),
        ),
        (
            spec(
                "GET",
                "/api/organizations/{org_id}/members",
                Org,
                Some(Viewer),
                "Members of an organization",
            )
            .returns_list::<organizations::Member>(),
            get(organizations::members),
        ),
        (
            spec(
                "PATCH",
                "/api/organizations/{org_id}/members/{user_id}",
                Org,
                Some(Admin),
                "Change a member's role",
            )
            .json::<organizations::RoleChange>()
            .returns::<organizations::Member>(200),
            patch(organizations::change_role),
        ),
        (
            spec(
                "DELETE",
                "/api/organizations/{org_id}/members/{user_id}",
                Org,
                Some(Viewer),
                "Remove a member (or leave)",
            ),
            delete(organizations::remove_member),
        ),
        (
            spec(
                "GET",
                "/api/organizations/{org_id}/invitations",
                Org,
                Some(Admin),
                "Pending and past invitations",
            )
            .returns_list::<openapi::Invitation>(),
            get(organizations::list_invitations),
        ),
        (
            spec(
                "POST",
                "/api/organizations/{org_id}/invitations",
                Org,
                Some(Admin),
                "Invite an email address",
            )
            .json::<organizations::NewInvitation>()
            .returns::<openapi::NewInvitationReply>(201),
            post(organizations::invite),
        ),
        (
            spec(
                "DELETE",
                "/api/organizations/{org_id}/invitations/{id}",
                Org,
                Some(Admin),
                "Revoke an invitation",
            ),
            delete(organizations::revoke_invitation),
        ),
        (
            spec(
                "POST",
                "/api/invitations/accept",
                User,
                None,
                "Accept an invitation addressed to the caller",
            )
            .json::<organizations::Acceptance>()
            .returns::<organizations::Organization>(200),
            post(organizations::accept_invitation),
        ),
        (
            spec("GET", "/api/audit", Org, Some(Admin), "The organization's audit log")
                .query::<audit::AuditQuery>()
                .returns::<openapi::AuditPage>(200),
            get(audit::list),
        ),
        (
            spec(
                "GET",
                "/api/workspaces",
                Org,
                Some(Viewer),
                "Workspaces of an organization",
            )
            .query::<workspaces::ListQuery>()
            .returns_list::<workspaces::Workspace>(),
            get(workspaces::list),
        ),
        (
            spec("POST", "/api/workspaces", Org, Some(Admin), "Create a workspace")
                .json::<workspaces::NewWorkspace>()
                .returns::<workspaces::Workspace>(201),
            post(workspaces::create),
        ),
        (
            spec("PATCH", "/api/workspaces/{id}", Org, Some(Admin), "Rename a workspace")
                .json::<workspaces::WorkspacePatch>()
                .returns::<workspaces::Workspace>(200),
            patch(workspaces::update),
        ),
        (
            spec(
                "DELETE",
                "/api/workspaces/{id}",
                Org,
                Some(Admin),
                "Delete a workspace and everything in it",
            ),
            delete(workspaces::remove),
        ),
        (
            spec(
                "GET",
                "/api/contacts",
                Workspace,
                Some(Viewer),
                "Contacts of a workspace (search, filters, sort, cursor pages)",
            )
            .query::<contacts::ListQuery>()
            .returns::<openapi::ContactPage>(200),
            get(contacts::list),
        ),
        (
            spec("POST", "/api/contacts", Workspace, Some(Member), "Create a contact")
                .json::<contacts::NewContact>()
                .returns::<contacts::Contact>(201),
            post(contacts::create),
        ),
        (
            spec(
                "GET",
                "/api/contacts/export.csv",
                Workspace,
                Some(Viewer),
                "Contacts as CSV",
            )
            .query::<contacts::ExportQuery>()
            .returns_text("text/csv"),
            get(contacts::export_csv),
        ),
        (
            spec(
                "POST",
                "/api/contacts/import",
                Workspace,
                Some(Member),
                "Import contacts from CSV",
            )
            .query::<contacts::CsvQuery>()
            .csv()
            .returns::<openapi::ImportReport>(200),
            post(contacts::import_csv),
        ),
        (
            spec("GET", "/api/contacts/{id}", Item, Some(Viewer), "One contact")
                .query::<context::ItemQuery>()
                .returns::<contacts::Contact>(200),
            get(contacts::read),
        ),
        (
            spec("PATCH", "/api/contacts/{id}", Item, Some(Member), "Update a contact")
                .json::<contacts::ContactPatch>()
                .returns::<contacts::Contact>(200),
            patch(contacts::update),
        ),
        (
            spec("DELETE", "/api/contacts/{id}", Item, Some(Member), "Delete a contact").query::<context::ItemQuery>(),
            delete(contacts::remove),
        ),
        (
            spec(
                "GET",
                "/api/contacts/{id}/interactions",
                Item,
                Some(Viewer),
                "A contact's interactions",
            )
            .query::<context::ItemQuery>()
            .returns_list::<contacts::Interaction>(),
            get(contacts::list_interactions),
        ),
        (
            spec(
                "POST",
                "/api/contacts/{id}/interactions",
                Item,
                Some(Member),
                "Record an interaction",
            )
            .json::<contacts::NewInteraction>()
            .returns::<contacts::Interaction>(201),
            post(contacts::add_interaction),
        ),
        (
            spec(
                "PATCH",
                "/api/interactions/{id}",
                Item,
                Some(Member),
                "Edit an interaction",
            )
            .json::<contacts::InteractionPatch>()
            .returns::<contacts::Interaction>(200),
            patch(contacts::update_interaction),
        ),
        (
            spec(
                "DELETE",
                "/api/interactions/{id}",
                Item,
                Some(Member),
                "Delete an interaction",
            )
            .query::<context::ItemQuery>(),
            delete(contacts::remove_interaction),
        ),
        (
            spec(
                "GET",
                "/api/agents/contact-intelligence",
                Workspace,
                Some(Viewer),
                "Hot leads with explained scores",
            )
            .query::<intelligence::HotLeadsQuery>()
            .returns::<openapi::HotLeads>(200),
            get(intelligence::hot_leads),
        ),
        (
            spec(
                "POST",
                "/api/agents/contact-intelligence",
                Workspace,
                Some(Member),
                "Re-score a contact or the workspace",
            )
            .json::<intelligence::RescoreRequest>()
            .returns::<openapi::Rescore>(200),
            post(intelligence::rescore_route),
        ),
        (
            spec(
                "GET",
                "/api/calendar/events",
                Workspace,
                Some(Viewer),
                "Events overlapping a window, recurrences expanded",
            )
            .query::<calendar::WindowQuery>()
            .returns_list::<openapi::EventReply>(),
            get(calendar::list),
        ),
        (
            spec(
                "POST",
                "/api/calendar/events",
                Workspace,
                Some(Member),
                "Create an event",
            )
            .json_requiring::<calendar::EventInput>(&["workspace_id", "title", "starts_at"])
            .returns::<openapi::EventReply>(201),
            post(calendar::create),
        ),
        (
            spec(
                "GET",
                "/api/calendar/events.ics",
                Workspace,
                Some(Viewer),
                "The workspace's events as an RFC 5545 calendar",
            )
            .query::<contacts::CsvQuery>()
            .returns_text("text/calendar"),
            get(calendar::export_ics),
        ),
        (
            spec(
                "GET",
                "/api/calendar/subscription",
                Workspace,
                Some(Viewer),
                "Whether the caller has a calendar subscription URL for the workspace",
            )
            .query::<calendar::SubscriptionQuery>()
            .returns::<calendar::Subscription>(200),
            get(calendar::get_subscription),
        ),
        (
            spec(
                "POST",
                "/api/calendar/subscription",
                Workspace,
                Some(Viewer),
                "Make (or remake, revoking the old) the caller's calendar subscription token",
            )
            .json::<calendar::SubscriptionRequest>()
            .returns::<calendar::NewSubscription>(201),
            post(calendar::subscribe),
        ),
        (
            spec(
                "DELETE",
                "/api/calendar/subscription",
                Workspace,
                Some(Viewer),
                "Revoke the caller's calendar subscription token",
            )
            .query::<calendar::SubscriptionQuery>(),
            delete(calendar::unsubscribe),
        ),
        (
            spec(
                "PATCH",
                "/api/calendar/events/{id}",
                Item,
                Some(Member),
                "Update an event, or one occurrence of a repeating event",
            )
            .query::<calendar::OccurrenceQuery>()
            .json::<calendar::EventInput>()
            .returns::<openapi::EventReply>(200),
            patch(calendar::update),
        ),
        (
            spec(
                "DELETE",
                "/api/calendar/events/{id}",
                Item,
                Some(Member),
                "Delete an event, or one occurrence of a repeating event",
            )
            .query::<calendar::OccurrenceQuery>(),
            delete(calendar::remove),
        ),
    ]
}

/// The routes without their handlers (for tests and the OpenAPI document).
pub fn route_specs() -> Vec<RouteSpec> {
    route_table().into_iter().map(|(spec, _)| spec).collect()
}

/// The CRM's state: the shared [`AppState`] and the invitation mailer, each reachable from a handler as
/// `State<AppState>` / `State<Arc<InvitationMail>>` (`FromRef`), so a missing part is a compile error rather
/// than a 500 at run time.
#[derive(Debug, Clone)]
pub struct CrmState {
    /// The request pool and the token verifier.
    pub app: AppState,
    /// Sends invitations.
    pub invitations: Arc<organizations::InvitationMail>,
}

impl FromRef<CrmState> for AppState {
    fn from_ref(state: &CrmState) -> Self {
        state.app.clone()
    }
}

impl FromRef<CrmState> for Arc<organizations::InvitationMail> {
    fn from_ref(state: &CrmState) -> Self {
        state.invitations.clone()
    }
}

/// Every `/api` route, with its state; an unknown `/api` path answers 404 in the `/api` shape (a known path with
/// another method gets the router's 405, which the middleware words the same way).
pub fn routes<S>(state: CrmState) -> Router<S> {
    route_table()
        .into_iter()
        .fold(Router::new(), |router, (spec, handler)| {
            router.route(spec.path, handler)
        })
        .route("/api/{*rest}", any(unknown_path))
        .with_state(state)
}

async fn unknown_path() -> kith_http::ApiError {
    kith_http::ApiError::new(axum::http::StatusCode::NOT_FOUND, "not_found", "No such route")
}
