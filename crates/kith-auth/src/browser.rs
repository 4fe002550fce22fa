//! Browser sessions for the web pages. The browser holds only an opaque random id (256 bits, in an HttpOnly
//! cookie set by the web layer); `auth.browser_sessions` stores its SHA-256, tied to an auth session, so every
//! way an auth session ends (sign-out anywhere, reuse detection, deletion of the user) ends the browser session,
//! and a password change ends them all (a trigger). Each use checks the idle and absolute timeouts and bans, and
//! yields a [`Caller`] built the one way callers are built: a short-lived access token for that auth session,
//! verified by the shared verifier. No token ever reaches the browser.

use crate::error::{AuthError, AuthResult};
use crate::secrets::{self, PkceMethod};
use crate::service::{AuthState, Client, Pkce, Registration, parse_email};
use crate::store::{self, Session, User};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kith_db::{Caller, CallerTx};
use rand::Rng;
use serde_json::json;
use uuid::Uuid;

/// Lifetime of the access token minted for one page request; it never leaves the server.
const PAGE_TOKEN_SECS: i64 = 60;

/// A browser session just opened: `id` goes into the cookie and nowhere else.
#[derive(Debug)]
pub struct NewBrowserSession {
    /// The opaque id (the cookie's value).
    pub id: String,
    /// Its user.
    pub user_id: Uuid,
    /// Opened by a password-recovery link.
    pub recovery: bool,
}

/// A live browser session, checked on this request.
#[derive(Debug, Clone)]
pub struct BrowserSession {
    /// The user.
    pub user_id: Uuid,
    /// The user's email.
    pub email: String,
    /// The auth session it belongs to.
    pub session_id: Uuid,
    /// Whether it was opened by a password-recovery link (it may set a new password).
    pub recovery: bool,
    /// The caller to open transactions as (`begin_as`).
    pub caller: Caller,
}

/// What the sign-up page gets back.
#[derive(Debug)]
pub enum BrowserSignUp {
    /// Signed in at once (addresses are confirmed at sign-up).
    SignedIn(NewBrowserSession),
    /// A confirmation mail went out (or the address exists and its existence stays secret).
    ConfirmationSent,
}

fn hash_id(id: &str) -> String {
    secrets::hash(id)
}

impl AuthState {
    /// Opens an auth session for `user` and a browser session tied to it, in `tx`.
    async fn open_browser_session(
        &self,
        tx: &mut CallerTx,
        user: &User,
        method: &str,
        client: &Client,
    ) -> AuthResult<NewBrowserSession> {
        if user.is_banned() {
            return Err(AuthError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "user_banned",
                "User is banned",
            ));
        }
        let session = store::create_session(tx, user.id, method, client.user_agent.as_deref(), client.ip).await?;
        store::touch_sign_in(tx, user.id).await?;
        let id = URL_SAFE_NO_PAD.encode(rand::rng().random::<[u8; 32]>());
        let absolute = self.settings().browser_absolute_timeout.as_secs_f64();
        tx.query(
            "insert into auth.browser_sessions (id_hash, session_id, user_id, expires_at, user_agent)
             values ($1, $2, $3, now() + make_interval(secs => $4), $5)",
            &[&hash_id(&id), &session.id, &user.id, &absolute, &client.user_agent],
        )
        .await?;
        tracing::info!(user_id = %user.id, session_id = %session.id, method, "browser signed in");
        Ok(NewBrowserSession {
            id,
            user_id: user.id,
            recovery: method == "recovery",
        })
    }

    /// Ends the browser session `id` (and its auth session) inside `tx`, if it exists.
    async fn end_browser_session_in(tx: &mut CallerTx, id: &str) -> AuthResult<()> {
        tx.query(
            "delete from auth.sessions where id = (select session_id from auth.browser_sessions where id_hash = $1)",
            &[&hash_id(id)],
        )
        .await?;
        Ok(())
    }

    /// The sign-in form: the same checks and rate limits as the password grant; a session the browser already
    /// had (`previous`) is ended, so the id always changes at sign-in.
    pub async fn browser_sign_in(
        &self,
        client: &Client,
        email: &str,
        password: &str,
        previous: Option<&str>,
    ) -> AuthResult<NewBrowserSession> {
        let (mut tx, user) = self.check_credentials(client, email, password).await?;
        if let Some(previous) = previous {
            Self::end_browser_session_in(&mut tx, previous).await?;
        }
        let session = self.open_browser_session(&mut tx, &user, "password", client).await?;
        tx.commit().await?;
        Ok(session)
    }

    /// The sign-up form: the same rules as `POST /signup`; a confirmation mail carries a PKCE link back to
    /// `redirect_to` when addresses must be confirmed first.
    pub async fn browser_sign_up(
        &self,
        client: &Client,
        email: &str,
        password: &str,
        pkce: Option<&Pkce>,
        redirect_to: Option<&str>,
    ) -> AuthResult<BrowserSignUp> {
        let email = parse_email(email)?;
        match self
            .register(client, &email, password, &json!({}), pkce, redirect_to)
            .await?
        {
            Registration::Confirmed(mut tx, user) => {
                let session = self.open_browser_session(&mut tx, &user, "password", client).await?;
                tx.commit().await?;
                Ok(BrowserSignUp::SignedIn(session))
            }
            Registration::MailSent(tx, _, mail) => {
                self.commit_and_send(tx, Some(mail)).await?;
                Ok(BrowserSignUp::ConfirmationSent)
            }
            Registration::AlreadyRegistered => Ok(BrowserSignUp::ConfirmationSent),
        }
    }

    /// A PKCE pair for a mailed link the browser will follow: `(verifier, challenge)`.
    pub fn browser_pkce() -> (String, Pkce) {
        let verifier = URL_SAFE_NO_PAD.encode(rand::rng().random::<[u8; 32]>());
        let challenge = PkceMethod::S256.challenge(&verifier);
        (
            verifier,
            Pkce {
                challenge,
                method: PkceMethod::S256,
            },
        )
    }

    /// The mailed link came back with a PKCE code: exchange it with the verifier the browser kept, and open a
    /// browser session (a recovery session when the link was a password reset).
    pub async fn browser_exchange(
        &self,
        client: &Client,
        code: &str,
        verifier: &str,
        previous: Option<&str>,
    ) -> AuthResult<NewBrowserSession> {
        let (mut tx, user, method) = self.exchange_code(code, verifier).await?;
        if let Some(previous) = previous {
            Self::end_browser_session_in(&mut tx, previous).await?;
        }
        let session = self.open_browser_session(&mut tx, &user, method, client).await?;
        tx.commit().await?;
        Ok(session)
    }

    /// The live session with this cookie id, if any: unexpired (idle and absolute), its auth session alive, its
    /// user not banned. Marks it used. A dead one is deleted.
    pub async fn browser_session(&self, id: &str) -> AuthResult<Option<BrowserSession>> {
        if id.is_empty() || id.len() > 128 {
            return Ok(None);
        }
        let idle = self.settings().browser_idle_timeout.as_secs_f64();
        let hash = hash_id(id);
        let mut tx = self.tx("check a browser session").await?;
        let row = tx
            .query_opt(
                "update auth.browser_sessions b set last_seen_at = now()
                   from auth.sessions s, auth.users u
                  where b.id_hash = $1 and s.id = b.session_id and u.id = b.user_id
                    and b.expires_at > now() and b.last_seen_at > now() - make_interval(secs => $2)
                    and (s.not_after is null or s.not_after > now())
                    and (u.banned_until is null or u.banned_until <= now())
                  returning s.id, s.user_id, s.amr, s.aal, s.not_after",
                &[&hash, &idle],
            )
            .await?;
        let Some(row) = row else {
            tx.query("delete from auth.browser_sessions where id_hash = $1", &[&hash])
                .await?;
            tx.commit().await?;
            return Ok(None);
        };
        let session = Session {
            id: row.get("id"),
            user_id: row.get("user_id"),
            amr: row.get("amr"),
            aal: row.get("aal"),
            not_after: row.get("not_after"),
        };
        let Some(user) = store::user_by_id(&mut tx, session.user_id).await? else {
            return Ok(None);
        };
        tx.commit().await?;
        let claims = self.access_claims(&user, &session, PAGE_TOKEN_SECS);
        let token = self.signer().sign(&claims).map_err(|err| AuthError::unexpected(&err))?;
        let caller = self
            .verifier()
            .verify(&token)
            .map_err(|err| AuthError::unexpected(&err))?;
        let recovery = session
            .amr
            .as_array()
            .is_some_and(|m| m.iter().any(|e| e["method"] == "recovery"));
        Ok(Some(BrowserSession {
            user_id: user.id,
            email: user.email.clone().unwrap_or_default(),
            session_id: session.id,
            recovery,
            caller,
        }))
    }

    /// Signs the browser out: its auth session ends, and with it the browser session.
    pub async fn browser_sign_out(&self, id: &str) -> AuthResult<()> {
        let mut tx = self.tx("browser sign-out").await?;
        Self::end_browser_session_in(&mut tx, id).await?;
        tx.commit().await?;
        tracing::info!("browser signed out");
        Ok(())
    }

    /// Sets a new password from a recovery session: every session of the user ends (signed out everywhere), and
    /// this browser gets a fresh one.
    pub async fn browser_set_password(
        &self,
        client: &Client,
        id: &str,
        password: &str,
    ) -> AuthResult<NewBrowserSession> {
        let current = self.browser_session(id).await?.ok_or_else(|| {
            AuthError::new(
                axum::http::StatusCode::UNAUTHORIZED,
                "session_not_found",
                "Your session has ended; ask for a new reset link.",
            )
        })?;
        if !current.recovery {
            return Err(AuthError::new(
                axum::http::StatusCode::FORBIDDEN,
                "reauthentication_needed",
                "Follow a password reset link to set a new password.",
            ));
        }
        let hash = self.new_password_hash(password).await?;
        let mut tx = self.tx("set a new password").await?;
        let user = store::user_by_id(&mut tx, current.user_id)
            .await?
            .ok_or_else(|| AuthError::new(axum::http::StatusCode::NOT_FOUND, "user_not_found", "User not found"))?;
        if self.check_password(&mut tx, Some(&user), password).await? {
            return Err(AuthError::new(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                "same_password",
                "New password should be different from the old password.",
            ));
        }
        tx.query(
            "update auth.users set encrypted_password = $2, updated_at = now() where id = $1",
            &[&user.id, &hash],
        )
        .await?;
        let ended = store::delete_sessions(&mut tx, user.id, None, None).await?;
        let session = self.open_browser_session(&mut tx, &user, "password", client).await?;
        tx.commit().await?;
        tracing::info!(user_id = %user.id, sessions_ended = ended, "password reset");
        Ok(session)
    }
}
