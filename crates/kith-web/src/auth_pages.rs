//! Signing in with a browser: `/login`, `/signup`, `/logout`, `/forgot-password` → mailed link →
//! `/auth/callback` → `/reset-password`, and `/invitations/{token}`. Plain forms (POST → 303 → GET); every form
//! carries the visitor's CSRF token; the auth service does the checking, rate limiting and session keeping.

use crate::WebState;
use crate::errors::{forbidden_response, internal_error_response};
use crate::render::{Chrome, page};
use crate::session::{Visitor, local_next};
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kith_auth::browser::{BrowserSignUp, NewBrowserSession};
use kith_auth::error::AuthError;
use kith_auth::service::AuthState;
use serde::Deserialize;
use std::collections::HashMap;

/// One input of a form.
pub struct Field {
    name: &'static str,
    label: &'static str,
    kind: &'static str,
    autocomplete: &'static str,
    value: String,
    hint: String,
}

fn email_field(value: &str) -> Field {
    Field {
        name: "email",
        label: "Email",
        kind: "email",
        autocomplete: "email",
        value: value.to_owned(),
        hint: String::new(),
    }
}

fn password_field(autocomplete: &'static str, hint: String) -> Field {
    Field {
        name: "password",
        label: "Password",
        kind: "password",
        autocomplete,
        value: String::new(),
        hint,
    }
}

#[derive(Template)]
#[template(path = "form.html")]
struct FormPage {
    chrome: Chrome,
    intro: String,
    error: Option<String>,
    notice: Option<String>,
    action: String,
    hidden: Vec<(&'static str, String)>,
    fields: Vec<Field>,
    submit: &'static str,
    links: Vec<(String, &'static str)>,
}

impl FormPage {
    fn new(visitor: &mut Visitor, title: &str, action: impl Into<String>, submit: &'static str) -> Self {
        let mut chrome = Chrome::new(title, title, "");
        chrome.csrf = visitor.csrf();
        chrome.user_email = visitor.email();
        FormPage {
            chrome,
            intro: String::new(),
            error: None,
            notice: None,
            action: action.into(),
            hidden: Vec::new(),
            fields: Vec::new(),
            submit,
            links: Vec::new(),
        }
    }

    fn respond(self, visitor: &Visitor, status: StatusCode) -> Response {
        visitor.finish(page(status, &self))
    }
}

/// A submitted form's fields (urlencoded; repeated names keep the first value).
fn form(body: &Bytes) -> HashMap<String, String> {
    let mut fields = HashMap::new();
    for (name, value) in url::form_urlencoded::parse(body) {
        fields.entry(name.into_owned()).or_insert_with(|| value.into_owned());
    }
    fields
}

fn field<'a>(fields: &'a HashMap<String, String>, name: &str) -> &'a str {
    fields.get(name).map_or("", String::as_str)
}

/// 303 to `location`.
fn see_other(location: &str) -> Response {
    let value = HeaderValue::from_str(location).unwrap_or_else(|_| HeaderValue::from_static("/"));
    (StatusCode::SEE_OTHER, [(header::LOCATION, value)]).into_response()
}

/// 303 to `location`, carrying the new session's cookie (and ending the pre-session and PKCE cookies).
fn signed_in(visitor: &Visitor, session: &NewBrowserSession, location: &str) -> Response {
    let cookies = &visitor.cookies;
    let max_age = visitor.session_max_age;
    let mut response = see_other(location);
    let headers = response.headers_mut();
    headers.append(header::SET_COOKIE, cookies.set(cookies.session, &session.id, max_age));
    headers.append(header::SET_COOKIE, cookies.set(cookies.pre, "", 0));
    if visitor.pkce_verifier.is_some() {
        headers.append(header::SET_COOKIE, cookies.set(cookies.pkce, "", 0));
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The sentence shown next to a form for an auth service refusal, with its status; `None` for failures that
/// are ours (the 500 page).
fn explain(err: &AuthError) -> Option<(StatusCode, String)> {
    let text = match err.code() {
        "invalid_credentials" => "Wrong email or password.".to_owned(),
        "email_not_confirmed" => "Confirm your email address first: follow the link in the mail we sent.".to_owned(),
        "user_banned" => "This account is suspended.".to_owned(),
        "over_request_rate_limit" | "over_email_send_rate_limit" | "rate_limited" => {
            "Too many attempts. Wait a few minutes, then try again.".to_owned()
        }
        "weak_password"
        | "same_password"
        | "validation_failed"
        | "email_address_invalid"
        | "signup_disabled"
        | "user_already_exists"
        | "reauthentication_needed"
        | "session_not_found" => err.message().to_owned(),
        "flow_state_not_found" | "flow_state_expired" | "bad_code_verifier" | "otp_expired" => {
            "This link is invalid or has expired. Ask for a new one.".to_owned()
        }
        _ => return None,
    };
    let status = if err.status() == StatusCode::TOO_MANY_REQUESTS {
        StatusCode::TOO_MANY_REQUESTS
    } else if err.status().is_client_error() {
        err.status()
    } else {
        StatusCode::BAD_REQUEST
    };
    Some((status, text))
}

fn refused(err: &AuthError, page: FormPage, visitor: &Visitor) -> Response {
    match explain(err) {
        Some((status, text)) => {
            let mut page = page;
            page.error = Some(text);
            let mut response = page.respond(visitor, status);
            if let Some(retry) = err.retry_after() {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry));
            }
            response
        }
        None => {
            tracing::error!(code = err.code(), "auth service failed on a page");
            visitor.finish(internal_error_response())
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct NextQuery {
    next: Option<String>,
}

fn login_page(visitor: &mut Visitor, next: &str, email: &str) -> FormPage {
    let mut page = FormPage::new(visitor, "Sign in", "/login", "Sign in");
    page.hidden.push(("next", next.to_owned()));
    page.fields = vec![email_field(email), password_field("current-password", String::new())];
    page.links = vec![
        ("/forgot-password".into(), "Forgot your password?"),
        ("/signup".into(), "New here? Create an account"),
    ];
    page
}

/// `GET /login`.
pub async fn login_form(State(_): State<WebState>, mut visitor: Visitor, Query(q): Query<NextQuery>) -> Response {
    let next = local_next(q.next.as_deref());
    if visitor.session.is_some() {
        return visitor.finish(see_other(&next));
    }
    login_page(&mut visitor, &next, "").respond(&visitor, StatusCode::OK)
}

/// `POST /login`.
pub async fn login(State(state): State<WebState>, mut visitor: Visitor, body: Bytes) -> Response {
    let fields = form(&body);
    if !visitor.csrf_ok(fields.get("csrf").map(String::as_str)) {
        return visitor.finish(forbidden_response());
    }
    let next = local_next(Some(field(&fields, "next")));
    let email = field(&fields, "email");
    let result = state
        .auth()
        .browser_sign_in(
            &visitor.client,
            email,
            field(&fields, "password"),
            visitor.session_id.as_deref(),
        )
        .await;
    match result {
        Ok(session) => signed_in(&visitor, &session, &next),
        Err(err) => {
            let page = login_page(&mut visitor, &next, email);
            refused(&err, page, &visitor)
        }
    }
}

fn signup_page(visitor: &mut Visitor, auth: &AuthState, next: &str, email: &str) -> FormPage {
    let min = auth.settings().min_password_length;
    let mut page = FormPage::new(visitor, "Create account", "/signup", "Create account");
    page.hidden.push(("next", next.to_owned()));
    page.fields = vec![
        email_field(email),
        password_field("new-password", format!("At least {min} characters.")),
    ];
    page.links = vec![("/login".into(), "Already have an account? Sign in")];
    page
}

/// `GET /signup`.
pub async fn signup_form(State(state): State<WebState>, mut visitor: Visitor, Query(q): Query<NextQuery>) -> Response {
    let next = local_next(q.next.as_deref());
    signup_page(&mut visitor, state.auth(), &next, "").respond(&visitor, StatusCode::OK)
}

/// `POST /signup`.
pub async fn signup(State(state): State<WebState>, mut visitor: Visitor, body: Bytes) -> Response {
    let fields = form(&body);
    if !visitor.csrf_ok(fields.get("csrf").map(String::as_str)) {
        return visitor.finish(forbidden_response());
    }
    let next = local_next(Some(field(&fields, "next")));
    let email = field(&fields, "email");
    let (verifier, pkce) = AuthState::browser_pkce();
    let callback = state.callback_url();
    let result = state
        .auth()
        .browser_sign_up(
            &visitor.client,
            email,
            field(&fields, "password"),
            Some(&pkce),
            Some(&callback),
        )
        .await;
    match result {
        Ok(BrowserSignUp::SignedIn(session)) => signed_in(&visitor, &session, &next),
        Ok(BrowserSignUp::ConfirmationSent) => {
            let mut page = FormPage::new(&mut visitor, "Check your email", "", "");
            page.notice = Some(
                "We sent a confirmation link to that address. Open it in this browser to finish creating your account."
                    .into(),
            );
            let mut response = page.respond(&visitor, StatusCode::OK);
            let cookies = &visitor.cookies;
            response
                .headers_mut()
                .append(header::SET_COOKIE, cookies.set(cookies.pkce, &verifier, 3600));
            response
        }
        Err(err) => {
            let page = signup_page(&mut visitor, state.auth(), &next, email);
            refused(&err, page, &visitor)
        }
    }
}

/// `GET /logout`: a page with the "Sign out" button (signing out changes state, so it is a POST).
pub async fn logout_form(State(_): State<WebState>, mut visitor: Visitor) -> Response {
    if visitor.session.is_none() {
        let mut page = FormPage::new(&mut visitor, "Signed out", "", "");
        page.notice = Some("You are not signed in.".into());
        page.links = vec![("/login".into(), "Sign in")];
        return page.respond(&visitor, StatusCode::OK);
    }
    let mut page = FormPage::new(&mut visitor, "Sign out", "/logout", "Sign out");
    page.intro = "Sign out of Kith in this browser.".into();
    page.respond(&visitor, StatusCode::OK)
}

/// `POST /logout`.
pub async fn logout(State(state): State<WebState>, visitor: Visitor, body: Bytes) -> Response {
    let fields = form(&body);
    if !visitor.csrf_ok(fields.get("csrf").map(String::as_str)) {
        return visitor.finish(forbidden_response());
    }
    if let Some(id) = visitor.live_session_id()
        && let Err(err) = state.auth().browser_sign_out(id).await
    {
        tracing::error!(code = err.code(), "sign-out failed");
        return visitor.finish(internal_error_response());
    }
    let mut response = see_other("/");
    let cookies = &visitor.cookies;
    response
        .headers_mut()
        .append(header::SET_COOKIE, cookies.set(cookies.session, "", 0));
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn forgot_page(visitor: &mut Visitor, email: &str) -> FormPage {
    let mut page = FormPage::new(visitor, "Reset your password", "/forgot-password", "Send reset link");
    page.intro = "Enter your email address and we will send you a link to set a new password.".into();
    page.fields = vec![email_field(email)];
    page.links = vec![("/login".into(), "Back to sign in")];
    page
}

/// `GET /forgot-password`.
pub async fn forgot_form(State(_): State<WebState>, mut visitor: Visitor) -> Response {
    forgot_page(&mut visitor, "").respond(&visitor, StatusCode::OK)
}

/// `POST /forgot-password`: mails a PKCE recovery link (whose verifier stays in this browser's HttpOnly
/// cookie) when the address has an account; the answer is the same either way.
pub async fn forgot(State(state): State<WebState>, mut visitor: Visitor, body: Bytes) -> Response {
    let fields = form(&body);
    if !visitor.csrf_ok(fields.get("csrf").map(String::as_str)) {
        return visitor.finish(forbidden_response());
    }
    let email = field(&fields, "email");
    let (verifier, pkce) = AuthState::browser_pkce();
    let callback = state.callback_url();
    match state
        .auth()
        .send_recovery(&visitor.client, email, Some(&pkce), Some(&callback))
        .await
    {
        Ok(()) => {
            let mut page = forgot_page(&mut visitor, email);
            page.notice = Some(
                "If an account exists for that address, a reset link is on its way. Open it in this browser.".into(),
            );
            let mut response = page.respond(&visitor, StatusCode::OK);
            let cookies = &visitor.cookies;
            response
                .headers_mut()
                .append(header::SET_COOKIE, cookies.set(cookies.pkce, &verifier, 3600));
            response
        }
        Err(err) => {
            let page = forgot_page(&mut visitor, email);
            refused(&err, page, &visitor)
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct CallbackQuery {
    code: Option<String>,
}

/// `GET /auth/callback?code=…`: a mailed link (recovery or confirmation) came back; exchange its code with the
/// verifier this browser kept and sign in. A recovery lands on `/reset-password`.
pub async fn callback(State(state): State<WebState>, mut visitor: Visitor, Query(q): Query<CallbackQuery>) -> Response {
    let code = q.code.unwrap_or_default();
    let verifier = visitor.pkce_verifier.clone().unwrap_or_default();
    let result = if code.is_empty() || verifier.is_empty() {
        Err(AuthError::new(
            StatusCode::BAD_REQUEST,
            "flow_state_not_found",
            "invalid flow state",
        ))
    } else {
        state
            .auth()
            .browser_exchange(&visitor.client, &code, &verifier, visitor.session_id.as_deref())
            .await
    };
    match result {
        Ok(session) => {
            let target = if session.recovery {
                "/reset-password"
            } else {
                "/dashboard/overview"
            };
            signed_in(&visitor, &session, target)
        }
        Err(err) => {
            let mut page = FormPage::new(&mut visitor, "Link expired", "", "");
            page.links = vec![
                ("/forgot-password".into(), "Send a new reset link"),
                ("/login".into(), "Sign in"),
            ];
            refused(&err, page, &visitor)
        }
    }
}

fn reset_page(visitor: &mut Visitor, auth: &AuthState) -> FormPage {
    let min = auth.settings().min_password_length;
    let mut page = FormPage::new(visitor, "Set a new password", "/reset-password", "Set new password");
    page.fields = vec![password_field("new-password", format!("At least {min} characters."))];
    page
}

/// `GET /reset-password`: the new-password form, for a session opened by a reset link.
pub async fn reset_form(State(state): State<WebState>, mut visitor: Visitor) -> Response {
    if !visitor.session.as_ref().is_some_and(|s| s.recovery) {
        let mut page = FormPage::new(&mut visitor, "Set a new password", "", "");
        page.intro = "To set a new password, ask for a reset link and open it in this browser.".into();
        page.links = vec![("/forgot-password".into(), "Send a reset link")];
        return page.respond(&visitor, StatusCode::OK);
    }
    reset_page(&mut visitor, state.auth()).respond(&visitor, StatusCode::OK)
}

/// `POST /reset-password`.
pub async fn reset(State(state): State<WebState>, mut visitor: Visitor, body: Bytes) -> Response {
    let fields = form(&body);
    if !visitor.csrf_ok(fields.get("csrf").map(String::as_str)) {
        return visitor.finish(forbidden_response());
    }
    let Some(id) = visitor.live_session_id().map(str::to_owned) else {
        return visitor.finish(see_other("/forgot-password"));
    };
    match state
        .auth()
        .browser_set_password(&visitor.client, &id, field(&fields, "password"))
        .await
    {
        Ok(session) => signed_in(&visitor, &session, "/dashboard/overview"),
        Err(err) => {
            let page = reset_page(&mut visitor, state.auth());
            refused(&err, page, &visitor)
        }
    }
}

/// `GET /invitations/{token}` (and the mailed `/invitations/accept?token=…`): accept an invitation, signing up
/// or in first when needed.
pub async fn invitation_form(
    State(_): State<WebState>,
    mut visitor: Visitor,
    Path(token): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let token = invitation_token(&token, &q);
    let here = format!(
        "/invitations/{}",
        url::form_urlencoded::byte_serialize(token.as_bytes()).collect::<String>()
    );
    if visitor.session.is_none() {
        let next: String = url::form_urlencoded::byte_serialize(here.as_bytes()).collect();
        let mut page = FormPage::new(&mut visitor, "You have been invited", "", "");
        page.intro = "Sign in, or create an account with the address the invitation was sent to, to accept it.".into();
        page.links = vec![
            (format!("/login?next={next}"), "Sign in to accept"),
            (format!("/signup?next={next}"), "Create an account to accept"),
        ];
        return page.respond(&visitor, StatusCode::OK);
    }
    let mut page = FormPage::new(&mut visitor, "You have been invited", here, "Accept invitation");
    page.intro = "Accept to join the organization that invited you.".into();
    page.respond(&visitor, StatusCode::OK)
}

fn invitation_token(path_token: &str, query: &HashMap<String, String>) -> String {
    if path_token == "accept" {
        query.get("token").cloned().unwrap_or_default()
    } else {
        path_token.to_owned()
    }
}

/// `POST /invitations/{token}`: joins the organization as the signed-in caller (`begin_as`).
pub async fn accept_invitation(
    State(state): State<WebState>,
    mut visitor: Visitor,
    Path(token): Path<String>,
    body: Bytes,
) -> Response {
    let fields = form(&body);
    if !visitor.csrf_ok(fields.get("csrf").map(String::as_str)) {
        return visitor.finish(forbidden_response());
    }
    let Some(session) = visitor.session.clone() else {
        let next: String = url::form_urlencoded::byte_serialize(format!("/invitations/{token}").as_bytes()).collect();
        return visitor.finish(see_other(&format!("/login?next={next}")));
    };
    match kith_crm::organizations::accept_as(state.db(), &session.caller, &token).await {
        Ok(_) => visitor.finish(see_other("/dashboard/overview")),
        Err(err) if err.status().is_client_error() => {
            let mut page = FormPage::new(&mut visitor, "Invitation not accepted", "", "");
            page.error = Some(if err.status() == StatusCode::CONFLICT {
                "You are already a member of this organization.".into()
            } else {
                "This invitation is invalid, expired, already used, or addressed to another email.".into()
            });
            page.links = vec![("/dashboard/overview".into(), "Go to your dashboard")];
            page.respond(&visitor, err.status())
        }
        Err(_) => visitor.finish(internal_error_response()),
    }
}
