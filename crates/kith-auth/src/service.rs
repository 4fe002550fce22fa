//! The auth service's shared state and the operations several endpoints share: reading requests, checking
//! passwords, opening sessions and answering with them.

use crate::config::AuthSettings;
use crate::error::{AuthError, AuthResult};
use crate::mailer::{Mail, MailKind, Mailer};
use crate::mfa::SecretBox;
use crate::password;
use crate::secrets::{self, PkceMethod};
use crate::signing::Signer;
use crate::store::{self, Session, User};
use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::{HeaderMap, StatusCode, header, request::Parts};
use kith_db::identity::JwtVerifier;
use kith_db::{CallerTx, PrivilegedDb};
use kith_http::BearerToken;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use uuid::Uuid;

/// Everything the auth endpoints share.
#[derive(Clone, Debug)]
pub struct AuthState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// The auth service's door to the `auth` schema; never handed out (see the crate's header).
    privileged: PrivilegedDb,
    verifier: Arc<JwtVerifier>,
    signer: Signer,
    settings: AuthSettings,
    mailer: Mailer,
    /// Verified against when the email is unknown, so a wrong email costs what a wrong password does.
    dummy_hash: SecretString,
    /// Encrypts MFA secrets at rest.
    mfa_box: SecretBox,
}

impl AuthState {
    /// Builds the state; hashes the dummy password once.
    pub async fn new(
        privileged: PrivilegedDb,
        verifier: Arc<JwtVerifier>,
        signer: Signer,
        settings: AuthSettings,
        mailer: Mailer,
    ) -> Result<Self, password::PasswordError> {
        let dummy_hash = SecretString::from(password::hash(secrets::random_token()).await?);
        let mfa_key = match &settings.mfa_encryption_key {
            Some(material) => crate::mfa::derive_key(material.expose_secret().as_bytes()),
            None => signer.derived_key(),
        };
        let mfa_box = SecretBox::new(&mfa_key);
        Ok(AuthState {
            inner: Arc::new(Inner {
                privileged,
                verifier,
                signer,
                settings,
                mailer,
                dummy_hash,
                mfa_box,
            }),
        })
    }

    /// Loads the signing keys into the signer and the shared verifier (at start-up, and every minute after, so
    /// a rotation on one node reaches the others).
    pub async fn reload_keys(&self) -> Result<(), crate::signing::KeyError> {
        self.inner
            .signer
            .load(&self.inner.privileged, &self.inner.verifier)
            .await
    }

    /// The token verifier (shared with every other service).
    pub fn verifier(&self) -> &JwtVerifier {
        &self.inner.verifier
    }

    /// The settings.
    pub fn settings(&self) -> &AuthSettings {
        &self.inner.settings
    }

    /// The mailer (shared with other services that send mail, such as invitations).
    pub fn mailer(&self) -> &Mailer {
        &self.inner.mailer
    }

    /// Encrypts and decrypts MFA secrets.
    pub fn mfa_box(&self) -> &SecretBox {
        &self.inner.mfa_box
    }

    /// The signer.
    pub fn signer(&self) -> &Signer {
        &self.inner.signer
    }

    /// Opens the auth service's privileged transaction. Crate-private, as is every method that returns one.
    pub(crate) async fn tx(&self, purpose: &'static str) -> AuthResult<CallerTx> {
        Ok(self.inner.privileged.begin(purpose).await?)
    }

    /// Checks `candidate` against the user's stored hash (or the dummy hash when there is none), rehashing a
    /// bcrypt hash (imported from Supabase) to argon2id on success. Returns whether it matched.
    pub async fn check_password(&self, tx: &mut CallerTx, user: Option<&User>, candidate: &str) -> AuthResult<bool> {
        let stored = user
            .and_then(|u| u.encrypted_password.clone())
            .filter(|h| !h.is_empty());
        let Some(stored) = stored else {
            let _ = password::verify(candidate.to_owned(), self.inner.dummy_hash.expose_secret().to_owned()).await;
            return Ok(false);
        };
        let matched = password::verify_any(candidate.to_owned(), stored.clone())
            .await
            .map_err(|err| AuthError::unexpected(&err))?;
        if matched
            && password::needs_rehash(&stored)
            && let Some(user) = user
        {
            let rehashed = password::hash(candidate.to_owned())
                .await
                .map_err(|err| AuthError::unexpected(&err))?;
            tx.query(
                "update auth.users set encrypted_password = $2, updated_at = now() where id = $1",
                &[&user.id, &rehashed],
            )
            .await?;
            tracing::info!(user_id = %user.id, "password hash upgraded to argon2id");
        }
        Ok(matched)
    }

    /// The checks of a password sign-in, shared by `POST /token?grant_type=password` and the sign-in page: the
    /// rate limits, the password (a wrong email costs what a wrong password does), a confirmed address and no
    /// ban. Returns the open privileged transaction and the user, ready for a session.
    pub(crate) async fn check_credentials(
        &self,
        client: &Client,
        email: &str,
        password: &str,
    ) -> AuthResult<(CallerTx, User)> {
        let email = email.trim().to_lowercase();
        self.rate_limit("token", client, Some(&email)).await?;
        let mut tx = self.tx("sign in with password").await?;
        let user = if email.is_empty() {
            None
        } else {
            store::user_by_email(&mut tx, &email).await?
        };
        if !self.check_password(&mut tx, user.as_ref(), password).await? {
            tracing::info!(user_id = ?user.as_ref().map(|u| u.id), reason = "invalid_credentials", "sign-in failed");
            // The rehash branch wrote nothing; rolling back keeps the failure side-effect free.
            return Err(AuthError::invalid_credentials());
        }
        let Some(user) = user else {
            return Err(AuthError::invalid_credentials());
        };
        if user.email_confirmed_at.is_none() && !self.inner.settings.autoconfirm {
            tracing::info!(user_id = %user.id, reason = "email_not_confirmed", "sign-in failed");
            return Err(AuthError::new(
                StatusCode::BAD_REQUEST,
                "email_not_confirmed",
                "Email not confirmed",
            ));
        }
        if user.is_banned() {
            tracing::info!(user_id = %user.id, reason = "user_banned", "sign-in failed");
            return Err(AuthError::new(StatusCode::BAD_REQUEST, "user_banned", "User is banned"));
        }
        Ok((tx, user))
    }

    /// Signs up `email` (already parsed) with `password`, shared by `POST /signup` and the sign-up page: the rate
    /// limits, the password rules, and either a confirmed user ready for a session or a confirmation mail.
    pub(crate) async fn register(
        &self,
        client: &Client,
        email: &str,
        password: &str,
        metadata: &Value,
        pkce: Option<&Pkce>,
        redirect_to: Option<&str>,
    ) -> AuthResult<Registration> {
        let settings = &self.inner.settings;
        if settings.disable_signup {
            return Err(AuthError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "signup_disabled",
                "Signups not allowed for this instance",
            ));
        }
        self.rate_limit("signup", client, Some(email)).await?;
        if password.is_empty() {
            return Err(AuthError::validation("Signup requires a valid password"));
        }
        let hash = self.new_password_hash(password).await?;
        let mut tx = self.tx("sign up").await?;
        if let Some(existing) = store::user_by_email(&mut tx, email).await? {
            if settings.autoconfirm {
                tracing::info!(user_id = %existing.id, reason = "user_already_exists", "sign-up refused");
                return Err(AuthError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "user_already_exists",
                    "User already registered",
                ));
            }
            return Ok(Registration::AlreadyRegistered);
        }
        let user = store::insert_user(&mut tx, email, Some(&hash), metadata, settings.autoconfirm)
            .await
            .map_err(|err| match err.sql_state() {
                Some(s) if *s == kith_db::tokio_postgres::error::SqlState::UNIQUE_VIOLATION => AuthError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "user_already_exists",
                    "User already registered",
                ),
                _ => err.into(),
            })?;
        tracing::info!(user_id = %user.id, "user signed up");
        if settings.autoconfirm {
            return Ok(Registration::Confirmed(tx, user));
        }
        let flow = self.start_flow(&mut tx, pkce, user.id, "email/signup").await?;
        tx.query(
            "update auth.users set confirmation_sent_at = now() where id = $1",
            &[&user.id],
        )
        .await?;
        let mail = self
            .link_mail(&mut tx, user.id, MailKind::Confirmation, email, flow, redirect_to)
            .await?;
        let user = store::user_by_id(&mut tx, user.id).await?.unwrap_or(user);
        Ok(Registration::MailSent(tx, user, mail))
    }

    /// Sends a recovery mail to `email` when it has an account (answering the same either way), shared by
    /// `POST /recover` and the forgot-password page.
    pub async fn send_recovery(
        &self,
        client: &Client,
        email: &str,
        pkce: Option<&Pkce>,
        redirect_to: Option<&str>,
    ) -> AuthResult<()> {
        let email = parse_email(email)?;
        self.rate_limit("recover", client, Some(&email)).await?;
        let mut tx = self.tx("password recovery").await?;
        let Some(user) = store::user_by_email(&mut tx, &email).await? else {
            return Ok(());
        };
        let flow = self.start_flow(&mut tx, pkce, user.id, "recovery").await?;
        tx.query(
            "update auth.users set recovery_sent_at = now() where id = $1",
            &[&user.id],
        )
        .await?;
        let mail = self
            .link_mail(&mut tx, user.id, MailKind::Recovery, &email, flow, redirect_to)
            .await?;
        self.commit_and_send(tx, Some(mail)).await?;
        tracing::info!(user_id = %user.id, "recovery mail sent");
        Ok(())
    }

    /// Exchanges a PKCE authorization code and its verifier for the user it was issued to, shared by
    /// `POST /token?grant_type=pkce` and the pages' mail-link callback. Returns the open transaction, the user
    /// and the `amr` method the session should record.
    pub(crate) async fn exchange_code(&self, code: &str, verifier: &str) -> AuthResult<(CallerTx, User, &'static str)> {
        if code.is_empty() || verifier.is_empty() {
            return Err(AuthError::validation(
                "invalid request: both auth code and code verifier should be non-empty",
            ));
        }
        let mut tx = self.tx("exchange a PKCE code").await?;
        let flow = tx
            .query_opt(
                "delete from auth.flow_state where auth_code = $1 and auth_code_issued_at is not null
                 returning user_id, code_challenge, code_challenge_method, authentication_method,
                           auth_code_issued_at + make_interval(secs => $2) < now() as expired",
                &[&code, &self.inner.settings.flow_state_expiry.as_secs_f64()],
            )
            .await?
            .ok_or_else(|| {
                AuthError::new(
                    StatusCode::NOT_FOUND,
                    "flow_state_not_found",
                    "invalid flow state, no valid flow state found",
                )
            })?;
        let expired: bool = flow.get("expired");
        if expired {
            tx.commit().await?;
            return Err(AuthError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "flow_state_expired",
                "invalid flow state, flow state has expired",
            ));
        }
        let method = PkceMethod::parse(flow.get::<_, &str>("code_challenge_method")).unwrap_or(PkceMethod::S256);
        if !method.verifies(flow.get("code_challenge"), verifier) {
            tx.commit().await?;
            return Err(AuthError::new(
                StatusCode::BAD_REQUEST,
                "bad_code_verifier",
                "code challenge does not match previously saved code verifier",
            ));
        }
        let user_id: Uuid = flow.get("user_id");
        let user = store::user_by_id(&mut tx, user_id)
            .await?
            .ok_or_else(|| AuthError::new(StatusCode::NOT_FOUND, "user_not_found", "User not found"))?;
        let auth_method: String = flow.get("authentication_method");
        Ok((tx, user, amr_method(&auth_method)))
    }

    /// Hashes a new password after checking its strength.
    pub async fn new_password_hash(&self, candidate: &str) -> AuthResult<String> {
        let min = self.inner.settings.min_password_length;
        if candidate.chars().count() < min {
            return Err(AuthError::weak_password(min));
        }
        password::hash(candidate.to_owned())
            .await
            .map_err(|err| AuthError::unexpected(&err))
    }

    /// Opens a session for `user` signed in by `method`, and answers with it.
    pub async fn sign_in(&self, tx: &mut CallerTx, user: &User, method: &str, client: &Client) -> AuthResult<Value> {
        if user.is_banned() {
            tracing::info!(user_id = %user.id, method, reason = "user_banned", "sign-in failed");
            return Err(AuthError::new(StatusCode::BAD_REQUEST, "user_banned", "User is banned"));
        }
        let session = store::create_session(tx, user.id, method, client.user_agent.as_deref(), client.ip).await?;
        store::touch_sign_in(tx, user.id).await?;
        let refresh = store::issue_refresh_token(tx, &session, None).await?;
        let user = store::user_by_id(tx, user.id)
            .await?
            .ok_or_else(|| AuthError::unexpected(&"user vanished"))?;
        tracing::info!(user_id = %user.id, session_id = %session.id, method, "signed in");
        self.session_response(tx, &user, &session, refresh).await
    }

    /// Opens a session for an existing user on an operator's behalf (`kith seed --demo` prints its access token),
    /// exactly as a sign-in by `method` would; the session can be refreshed and signed out like any other.
    pub async fn open_session(&self, user_id: Uuid, method: &str) -> AuthResult<Value> {
        let mut tx = self.tx("open a session for an operator").await?;
        let user = store::user_by_id(&mut tx, user_id)
            .await?
            .ok_or_else(|| AuthError::new(StatusCode::NOT_FOUND, "user_not_found", "User not found"))?;
        let session = self.sign_in(&mut tx, &user, method, &Client::default()).await?;
        tx.commit().await?;
        Ok(session)
    }

    /// The session body: a fresh access token for `session` plus the given refresh token and the user.
    pub async fn session_response(
        &self,
        tx: &mut CallerTx,
        user: &User,
        session: &Session,
        refresh: String,
    ) -> AuthResult<Value> {
        let now = chrono::Utc::now().timestamp();
        let expires_in = self.inner.settings.jwt_exp;
        let claims = self.access_claims(user, session, expires_in);
        let access = self
            .inner
            .signer
            .sign(&claims)
            .map_err(|err| AuthError::unexpected(&err))?;
        let user_json = self.user_json(tx, user).await?;
        Ok(json!({
            "access_token": access, "token_type": "bearer", "expires_in": expires_in, "expires_at": now + expires_in,
            "refresh_token": refresh, "user": user_json,
        }))
    }

    /// The claims of an access token for `user` in `session`, valid for `expires_in` seconds from now.
    pub fn access_claims(&self, user: &User, session: &Session, expires_in: i64) -> Value {
        let now = chrono::Utc::now().timestamp();
        json!({
            "iss": self.inner.settings.issuer(), "sub": user.id, "aud": user.aud, "exp": now + expires_in, "iat": now,
            "email": user.email.clone().unwrap_or_default(), "phone": "",
            "app_metadata": user.app_metadata, "user_metadata": user.user_metadata, "role": user.role,
            "aal": session.aal, "amr": session.amr, "session_id": session.id, "is_anonymous": user.is_anonymous,
        })
    }

    /// The user as JSON, with identities, and factors when there are any (as Supabase Auth omits an empty list).
    pub async fn user_json(&self, tx: &mut CallerTx, user: &User) -> AuthResult<Value> {
        let identities = store::identities(tx, user.id).await?;
        let mut body = user.to_json(&identities);
        let factors = store::factors(tx, user.id).await?;
        if !factors.is_empty() {
            body["factors"] = Value::Array(factors);
        }
        Ok(body)
    }

    /// Counts a request against the per-IP and per-email limits of `endpoint`.
    pub async fn rate_limit(&self, endpoint: &str, client: &Client, email: Option<&str>) -> AuthResult<()> {
        let limits = self.inner.settings.rate_limits;
        if let Some(ip) = client.ip {
            // One IPv6 client usually holds a whole /64: count it as one.
            let network = match ip {
                IpAddr::V4(v4) => v4.to_string(),
                IpAddr::V6(v6) => {
                    let s = v6.segments();
                    format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
                }
            };
            let key = format!("{endpoint}:ip:{network}");
            crate::rate_limit::check(&self.inner.privileged, &key, limits.per_ip, limits.window).await?;
        }
        if let Some(email) = email {
            let key = format!("{endpoint}:email:{}", secrets::hash(email));
            crate::rate_limit::check(&self.inner.privileged, &key, limits.per_email, limits.window).await?;
        }
        Ok(())
    }

    /// Creates an emailed one-time token (a link token and a six-digit code) in `tx` and returns the message,
    /// to be sent with [`commit_and_send`](Self::commit_and_send) once the token is stored.
    #[allow(clippy::too_many_arguments, reason = "each is a distinct part of the message")]
    pub async fn link_mail(
        &self,
        tx: &mut CallerTx,
        user_id: Uuid,
        kind: MailKind,
        to: &str,
        flow_state: Option<Uuid>,
        redirect_to: Option<&str>,
    ) -> AuthResult<Mail> {
        let issued = self.issue_link(tx, user_id, kind, to, flow_state, redirect_to).await?;
        Ok(Mail {
            to: to.to_owned(),
            subject: issued.subject.to_owned(),
            text: format!(
                "{}: follow this link\n\n{}\n\nor enter the code {}.\n",
                issued.subject, issued.link, issued.code
            ),
            kind,
            link: issued.link.to_string(),
            code: Some(issued.code),
        })
    }

    /// Creates an emailed one-time token in `tx` (replacing the user's earlier one of its kind) and returns the
    /// link, the link token (what `/verify` takes as `token_hash`) and the six-digit code bound to `to`. Sends
    /// nothing: [`link_mail`](Self::link_mail) wraps it in a message; the admin API returns it.
    pub async fn issue_link(
        &self,
        tx: &mut CallerTx,
        user_id: Uuid,
        kind: MailKind,
        to: &str,
        flow_state: Option<Uuid>,
        redirect_to: Option<&str>,
    ) -> AuthResult<IssuedLink> {
        let (token_type, verify_type, subject) = match kind {
            MailKind::Confirmation => ("confirmation_token", "signup", "Confirm your email"),
            MailKind::Recovery => ("recovery_token", "recovery", "Reset your password"),
            MailKind::MagicLink => ("magiclink_token", "magiclink", "Your sign-in link"),
            MailKind::EmailChange => ("email_change_token", "email_change", "Confirm your new email"),
            MailKind::Invite => ("invite_token", "invite", "You have been invited"),
            MailKind::Reauthentication => {
                return Err(AuthError::unexpected(&"a reauthentication mail carries no link"));
            }
        };
        let link_token = secrets::random_token();
        let code = secrets::random_code();
        let expiry = self.inner.settings.otp_expiry.as_secs_f64();
        tx.query(
            "delete from auth.one_time_tokens where user_id = $1 and token_type = $2",
            &[&user_id, &token_type],
        )
        .await?;
        tx.query(
            "insert into auth.one_time_tokens (user_id, token_type, token_hash, otp_hash, relates_to, flow_state_id, expires_at)
             values ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7))",
            &[&user_id, &token_type, &secrets::hash(&link_token), &secrets::code_hash(to, &code), &to, &flow_state, &expiry],
        )
        .await?;
        let redirect = self.inner.settings.redirect_target(redirect_to);
        let mut link = self
            .inner
            .settings
            .site_url
            .join("auth/v1/verify")
            .map_err(|err| AuthError::unexpected(&err))?;
        link.query_pairs_mut()
            .append_pair("token", &link_token)
            .append_pair("type", verify_type)
            .append_pair("redirect_to", redirect.as_str());
        Ok(IssuedLink {
            link,
            token: link_token,
            code,
            verify_type,
            subject,
            redirect_to: redirect,
        })
    }

    /// Commits `tx`, which stored what `mail` carries (a link token, a code), and only then sends `mail`: a
    /// commit that fails mails nothing, and no pooled connection or row lock is held while a mail server is slow
    /// (the connection is back in the pool before the first byte goes out). The only way auth mail is sent.
    pub(crate) async fn commit_and_send(&self, tx: CallerTx, mail: Option<Mail>) -> AuthResult<()> {
        tx.commit().await?;
        match mail {
            Some(mail) => self.deliver(&mail).await,
            None => Ok(()),
        }
    }

    /// Sends a prepared message; a delivery failure is 500 "Error sending email".
    async fn deliver(&self, mail: &Mail) -> AuthResult<()> {
        self.inner.mailer.send(mail).await.map_err(|err| {
            tracing::error!(error = %err, "mail delivery failed");
            AuthError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "unexpected_failure",
                "Error sending email",
            )
        })
    }

    /// Records a PKCE flow for a mail-based sign-in; returns its id when the request asked for PKCE.
    pub async fn start_flow(
        &self,
        tx: &mut CallerTx,
        pkce: Option<&Pkce>,
        user_id: Uuid,
        method: &str,
    ) -> AuthResult<Option<Uuid>> {
        let Some(pkce) = pkce else { return Ok(None) };
        let row = tx
            .query_one(
                "insert into auth.flow_state (user_id, auth_code, code_challenge_method, code_challenge, authentication_method)
                 values ($1, $2, $3, $4, $5) returning id",
                &[&user_id, &Uuid::new_v4().to_string(), &pkce.method.as_str(), &pkce.challenge, &method],
            )
            .await?;
        Ok(Some(row.get(0)))
    }

    /// Parses the optional PKCE pair of a request: both or neither; a known method; a well-formed challenge.
    pub fn pkce(&self, challenge: Option<&str>, method: Option<&str>) -> AuthResult<Option<Pkce>> {
        let (challenge, method) = match (challenge.filter(|c| !c.is_empty()), method.filter(|m| !m.is_empty())) {
            (None, None) => return Ok(None),
            (Some(c), Some(m)) => (c, m),
            _ => {
                return Err(AuthError::validation(
                    "PKCE flow requires code_challenge_method and code_challenge",
                ));
            }
        };
        let method = PkceMethod::parse(method)
            .ok_or_else(|| AuthError::validation("code_challenge_method must be s256 or plain"))?;
        if method == PkceMethod::Plain && !self.inner.settings.allow_plain_pkce {
            return Err(AuthError::validation(
                "code_challenge_method plain is not allowed; use s256",
            ));
        }
        if !secrets::valid_challenge(challenge) {
            return Err(AuthError::validation("code_challenge has an invalid format"));
        }
        Ok(Some(Pkce {
            challenge: challenge.to_owned(),
            method,
        }))
    }
}

/// The outcome of [`AuthState::register`].
#[allow(missing_debug_implementations, reason = "holds an open transaction")]
pub(crate) enum Registration {
    /// A confirmed user: open a session in this transaction, then commit it.
    Confirmed(CallerTx, User),
    /// A confirmation mail is ready: send it with [`AuthState::commit_and_send`].
    MailSent(CallerTx, User, Mail),
    /// The address already has an account and confirmation is required: answer as if it were new.
    AlreadyRegistered,
}

/// The `amr` method recorded for a flow's authentication method.
pub(crate) fn amr_method(authentication_method: &str) -> &'static str {
    match authentication_method {
        "recovery" => "recovery",
        "email_change" => "email_change",
        "invite" => "invite",
        "magiclink" => "magiclink",
        _ => "otp",
    }
}

/// A one-time token just created: what a mail carries, or what the admin API hands back.
#[derive(Debug, Clone)]
pub struct IssuedLink {
    /// `<site>/auth/v1/verify?token=…&type=…&redirect_to=…`.
    pub link: url::Url,
    /// The link token (`/verify` accepts it as `token_hash`).
    pub token: String,
    /// The six-digit code.
    pub code: String,
    /// The `/verify` type of the link.
    pub verify_type: &'static str,
    /// The mail's subject.
    pub subject: &'static str,
    /// Where the link leads after verification.
    pub redirect_to: url::Url,
}

/// A PKCE challenge sent with a request.
#[derive(Debug, Clone)]
pub struct Pkce {
    /// The challenge.
    pub challenge: String,
    /// Its method.
    pub method: PkceMethod,
}

/// Who is asking: address and user agent, recorded on sessions and used by rate limits.
#[derive(Debug, Clone, Default)]
pub struct Client {
    /// Peer address.
    pub ip: Option<IpAddr>,
    /// `User-Agent`.
    pub user_agent: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Client {
            ip: parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()),
            user_agent: parts
                .headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(|ua| ua.chars().take(512).collect()),
        })
    }
}

/// A JSON body read as Supabase Auth reads it: whatever the content type, an empty body as `{}`,
/// unknown fields ignored; bad JSON is 400 `bad_json`.
#[derive(Debug)]
pub struct AuthJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for AuthJson<T> {
    type Rejection = AuthError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                AuthError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "request_too_large",
                    "Request body too large",
                )
            } else {
                AuthError::new(StatusCode::BAD_REQUEST, "bad_json", "Could not read the request body")
            }
        })?;
        let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &bytes
        };
        serde_json::from_slice(bytes).map(AuthJson).map_err(|err| {
            if err.is_data() {
                AuthError::validation(format!("Invalid request body: {err}"))
            } else {
                AuthError::new(
                    StatusCode::BAD_REQUEST,
                    "bad_json",
                    format!("Could not parse request body as JSON: {err}"),
                )
            }
        })
    }
}

/// The bearer token of a request, read by the one parser every surface shares; 401 `no_authorization` when
/// there is none or it cannot be read (Supabase Auth makes no finer distinction).
pub fn bearer(headers: &HeaderMap) -> AuthResult<BearerToken> {
    match BearerToken::from_headers(headers) {
        Ok(Some(token)) => Ok(token),
        Ok(None) | Err(_) => Err(AuthError::new(
            StatusCode::UNAUTHORIZED,
            "no_authorization",
            "This endpoint requires a valid Bearer token",
        )),
    }
}

/// The signed-in user of a request, as `GET /user` and friends require it.
#[derive(Debug)]
pub struct CurrentUser {
    /// The user.
    pub user: User,
    /// The session the token belongs to, if it names one.
    pub session_id: Option<Uuid>,
    /// The token's `amr` methods.
    pub amr_methods: Vec<String>,
}

/// Verifies the request's token and loads its user and session, with Supabase Auth's errors.
pub async fn current_user(state: &AuthState, tx: &mut CallerTx, headers: &HeaderMap) -> AuthResult<CurrentUser> {
    let token = bearer(headers)?;
    let caller = token.verify(state.verifier()).map_err(|err| {
        tracing::info!(reason = %err, "token refused");
        AuthError::bad_jwt(err)
    })?;
    let user_id = caller
        .user_id()
        .ok_or_else(|| AuthError::new(StatusCode::FORBIDDEN, "bad_jwt", "invalid claim: missing sub claim"))?;
    let user = store::user_by_id(tx, user_id).await?.ok_or_else(|| {
        AuthError::new(
            StatusCode::FORBIDDEN,
            "user_not_found",
            "User from sub claim in JWT does not exist",
        )
    })?;
    if let Some(session_id) = caller.session_id()
        && !store::session_exists(tx, session_id).await?
    {
        return Err(AuthError::new(
            StatusCode::FORBIDDEN,
            "session_not_found",
            "Session from session_id claim in JWT does not exist",
        ));
    }
    if user.is_banned() {
        return Err(AuthError::new(StatusCode::FORBIDDEN, "user_banned", "User is banned"));
    }
    let claims: Value = serde_json::from_str(caller.claims_json()).unwrap_or_default();
    let amr_methods = claims["amr"]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .filter_map(|e| e["method"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    Ok(CurrentUser {
        user,
        session_id: caller.session_id(),
        amr_methods,
    })
}

/// The `data` of a request (user metadata): absent or null is `None`; anything but an object is 400.
pub fn user_metadata(data: Option<Value>) -> AuthResult<Option<Value>> {
    match data {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) => Ok(Some(Value::Object(map))),
        Some(_) => Err(AuthError::validation("data must be an object")),
    }
}

/// Lowercases and checks an email address (400 `email_address_invalid`).
pub fn parse_email(email: &str) -> AuthResult<String> {
    let email = email.trim().to_lowercase();
    if email.len() > 255 || !crate::users::looks_like_email(&email) {
        return Err(AuthError::new(
            StatusCode::BAD_REQUEST,
            "email_address_invalid",
            "Unable to validate email address: invalid format",
        ));
    }
    Ok(email)
}
