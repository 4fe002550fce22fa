//! The auth service's settings.

use secrecy::SecretString;
use std::path::PathBuf;
use std::time::Duration;
use url::Url;

/// How many requests one IP address, or one email address, may make to a rate-limited endpoint per window.
#[derive(Debug, Clone, Copy)]
pub struct RateLimits {
    /// Requests per window per client IP address.
    pub per_ip: u32,
    /// Requests per window per email address.
    pub per_email: u32,
    /// The window.
    pub window: Duration,
}

/// Everything the auth service is configured with.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// Public URL of the server; links in mail point here and redirects default to it.
    pub site_url: Url,
    /// Further redirect targets allowed after verification (prefix match), beside the site's own origin.
    pub redirect_urls: Vec<Url>,
    /// Lifetime of access tokens, in seconds.
    pub jwt_exp: i64,
    /// Whether sign-up confirms the email at once.
    pub autoconfirm: bool,
    /// Whether sign-up is closed.
    pub disable_signup: bool,
    /// Whether anonymous sign-ins (`signInAnonymously`) are allowed.
    pub anonymous: bool,
    /// Shortest accepted password, in characters.
    pub min_password_length: usize,
    /// How long after a refresh token's rotation presenting it again still gets a fresh token.
    pub refresh_reuse_interval: Duration,
    /// Whether PKCE `plain` is accepted (S256 is what supabase-js sends where WebCrypto exists).
    pub allow_plain_pkce: bool,
    /// Whether a password change needs the current password (except right after a recovery link).
    pub password_change_requires_current: bool,
    /// Rate limits of sign-up, sign-in, recover, otp and verify.
    pub rate_limits: RateLimits,
    /// SMTP server (`smtp://user:pass@host:port` or `smtps://…`); without it mail goes to the outbox folder. A
    /// secret (it can carry a password): `Debug` redacts it.
    pub smtp_url: Option<SecretString>,
    /// Sender address.
    pub mail_from: String,
    /// Where mail is written when there is no SMTP server.
    pub outbox_dir: PathBuf,
    /// How long emailed links and codes stay valid.
    pub otp_expiry: Duration,
    /// How long a PKCE authorization code stays valid once issued.
    pub flow_state_expiry: Duration,
    /// A browser session unused for this long is over.
    pub browser_idle_timeout: Duration,
    /// A browser session is over this long after sign-in, however active.
    pub browser_absolute_timeout: Duration,
    /// Key material for encrypting MFA secrets at rest (`KITH_MFA_ENCRYPTION_KEY`); without it, a key derived
    /// from the JWT secret with HKDF.
    pub mfa_encryption_key: Option<SecretString>,
}

impl AuthSettings {
    /// Defaults for a server at `site_url` keeping its outbox under `data_dir`.
    pub fn new(site_url: Url, data_dir: &std::path::Path) -> Self {
        AuthSettings {
            site_url,
            redirect_urls: Vec::new(),
            jwt_exp: 3600,
            autoconfirm: true,
            disable_signup: false,
            anonymous: false,
            min_password_length: 8,
            refresh_reuse_interval: Duration::from_secs(10),
            allow_plain_pkce: false,
            password_change_requires_current: true,
            rate_limits: RateLimits {
                per_ip: 30,
                per_email: 10,
                window: Duration::from_secs(300),
            },
            smtp_url: None,
            mail_from: "Kith <no-reply@kith.localhost>".into(),
            outbox_dir: data_dir.join("outbox"),
            otp_expiry: Duration::from_secs(3600),
            flow_state_expiry: Duration::from_secs(600),
            browser_idle_timeout: Duration::from_secs(24 * 3600),
            browser_absolute_timeout: Duration::from_secs(14 * 24 * 3600),
            mfa_encryption_key: None,
        }
    }

    /// The `iss` of every access token: `<site url>/auth/v1`.
    pub fn issuer(&self) -> String {
        format!("{}/auth/v1", self.site_url.as_str().trim_end_matches('/'))
    }

    /// `redirect_to` if it is the site's own origin or an allowed URL, else the site URL (no open redirects).
    pub fn redirect_target(&self, requested: Option<&str>) -> Url {
        let Some(url) = requested.and_then(|r| Url::parse(r).ok()) else {
            return self.site_url.clone();
        };
        let same_origin = url.origin() == self.site_url.origin();
        let allowed = self
            .redirect_urls
            .iter()
            .any(|allowed| url.origin() == allowed.origin() && url.path().starts_with(allowed.path()));
        if same_origin || allowed {
            url
        } else {
            self.site_url.clone()
        }
    }
}
