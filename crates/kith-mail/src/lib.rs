//! Outgoing mail: through SMTP when `KITH_SMTP_URL` is set, otherwise written as JSON files to the outbox folder
//! (owner-only files; the log names the file, never the link) so a developer can follow them. Passwords never
//! appear in mail.
//!
//! A floor below the services: the auth service mails links and codes, the CRM mails invitations, and both check
//! addresses with the same [`looks_like_email`], without the CRM depending on the auth service.

use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::Serialize;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use tokio::io::AsyncWriteExt;

/// What a message is for.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum MailKind {
    /// Confirm the address after sign-up.
    Confirmation,
    /// Reset a forgotten password.
    Recovery,
    /// Sign in with a link or code.
    MagicLink,
    /// Confirm a new address.
    EmailChange,
    /// Join an organization.
    Invite,
    /// A one-time code (nonce) that confirms a sensitive change of the signed-in user.
    Reauthentication,
}

/// One message.
#[derive(Debug, Clone, Serialize)]
pub struct Mail {
    /// Recipient address.
    pub to: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// What it is for.
    #[serde(rename = "type")]
    pub kind: MailKind,
    /// The link it carries.
    pub link: String,
    /// The code it carries, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

/// Why mail could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The outbox could not be written.
    #[error("cannot write to the outbox: {0}")]
    Outbox(#[from] std::io::Error),
    /// The SMTP server refused or could not be reached.
    #[error("SMTP delivery failed: {0}")]
    Smtp(String),
    /// The SMTP URL or an address is not valid.
    #[error("invalid mail setting: {0}")]
    Setting(String),
}

/// Sends mail one way or the other.
#[derive(Clone)]
pub enum Mailer {
    /// Writes each message to a file in this folder.
    Outbox(PathBuf),
    /// Delivers through an SMTP server.
    Smtp(Box<SmtpMailer>),
}

/// An SMTP connection pool and the sender address.
#[derive(Clone)]
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mailer::Outbox(dir) => write!(f, "Mailer::Outbox({})", dir.display()),
            Mailer::Smtp(_) => f.write_str("Mailer::Smtp"),
        }
    }
}

impl Mailer {
    /// SMTP when `smtp_url` is given, else the outbox folder.
    pub fn new(smtp_url: Option<&str>, from: &str, outbox: PathBuf) -> Result<Self, MailError> {
        match smtp_url {
            None => Ok(Mailer::Outbox(outbox)),
            Some(url) => Ok(Mailer::Smtp(Box::new(SmtpMailer {
                transport: AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|err| MailError::Setting(format!("KITH_SMTP_URL: {err}")))?
                    .build(),
                from: from
                    .parse()
                    .map_err(|err| MailError::Setting(format!("KITH_SMTP_FROM: {err}")))?,
            }))),
        }
    }

    /// Sends `mail`.
    pub async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        match self {
            Mailer::Outbox(dir) => {
                // Mail carries sign-in tokens: the folder and each file are the owner's alone.
                tokio::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(dir)
                    .await?;
                tokio::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).await?;
                let name = format!(
                    "{}-{}.json",
                    chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ"),
                    uuid::Uuid::new_v4().simple()
                );
                let path = dir.join(name);
                let json = serde_json::to_vec_pretty(mail).map_err(std::io::Error::other)?;
                let mut file = tokio::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&path)
                    .await?;
                file.write_all(&json).await?;
                file.flush().await?;
                // The link carries a token: the log names the file, never the link.
                tracing::info!(kind = ?mail.kind, path = %path.display(), "mail written to the outbox");
                Ok(())
            }
            Mailer::Smtp(smtp) => {
                let SmtpMailer { transport, from } = smtp.as_ref();
                let to: Mailbox = mail
                    .to
                    .parse()
                    .map_err(|err| MailError::Setting(format!("recipient: {err}")))?;
                let message = Message::builder()
                    .from(from.clone())
                    .to(to)
                    .subject(mail.subject.clone())
                    .body(mail.text.clone())
                    .map_err(|err| MailError::Smtp(err.to_string()))?;
                transport
                    .send(message)
                    .await
                    .map_err(|err| MailError::Smtp(err.to_string()))?;
                tracing::info!(kind = ?mail.kind, "mail sent");
                Ok(())
            }
        }
    }
}

/// A deliberately loose check: one `@`, a non-empty local part, a dotted domain without empty labels, and none
/// of the characters that would let an address smuggle a second one into a mail header.
pub fn looks_like_email(email: &str) -> bool {
    match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
                && !domain.contains("..")
                && !email
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';' | '"'))
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn outbox_mail_is_readable_by_its_owner_only() {
        let dir = std::env::temp_dir().join(format!("kith-outbox-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mailer = Mailer::new(None, "Kith <no-reply@kith.localhost>", dir.clone()).unwrap();
        let mail = Mail {
            kind: MailKind::Recovery,
            to: "ada@example.com".into(),
            subject: "Reset".into(),
            text: "https://kith.test/verify?token=secret".into(),
            link: "https://kith.test/verify?token=secret".into(),
            code: None,
        };
        mailer.send(&mail).await.unwrap();
        let mode = |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        let files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
        assert_eq!(files.len(), 1);
        assert_eq!(mode(&files[0]), 0o600);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
