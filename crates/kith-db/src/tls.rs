//! TLS to an external PostgreSQL, with libpq's meaning of `sslmode` and `sslrootcert` on a connection URL.
//!
//! | `sslmode`     | encrypted              | server checked                                         |
//! |---------------|------------------------|--------------------------------------------------------|
//! | `disable`     | never                  | —                                                      |
//! | `prefer`      | if the server offers it | no (libpq's default, and Kith's)                      |
//! | `require`     | always                 | no — unless a CA file is given, then as `verify-ca`    |
//! | `verify-ca`   | always                 | certificate chain signed by a trusted authority       |
//! | `verify-full` | always                 | chain, and the host name in the URL matches the certificate |
//!
//! Trusted authorities come from `sslrootcert=<file>` in the URL, else the `KITH_DB_CA_FILE` setting, else the
//! system's roots (`sslrootcert=system` asks for them explicitly). A Unix-socket connection (the embedded
//! PostgreSQL) never negotiates TLS: the socket is already private to the machine.

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use tokio_postgres::config::{Config, Host, SslMode as WireMode};
use tokio_postgres_rustls_improved::MakeRustlsConnect;

/// How much protection a connection must have (libpq's `sslmode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Plain text only.
    Disable,
    /// TLS when the server offers it, the server not checked.
    Prefer,
    /// TLS or no connection, the server not checked.
    Require,
    /// TLS, and the server's certificate chains to a trusted authority.
    VerifyCa,
    /// As `VerifyCa`, and the certificate names the host connected to.
    VerifyFull,
}

impl FromStr for SslMode {
    type Err = TlsError;

    fn from_str(value: &str) -> Result<Self, TlsError> {
        Ok(match value {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => return Err(TlsError::Mode(other.to_owned())),
        })
    }
}

/// What can be wrong with a connection's TLS settings; each message says what to change.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// `sslmode` is not one of libpq's values.
    #[error("sslmode must be disable, prefer, require, verify-ca or verify-full (got {0:?})")]
    Mode(String),
    /// The URL (without its TLS parameters) is not a PostgreSQL URL.
    #[error("not a PostgreSQL connection URL: {0}")]
    Url(String),
    /// The CA file cannot be read or holds no certificate.
    #[error("cannot use {path} as the certificate authority: {reason}")]
    CaFile {
        /// The file named by `sslrootcert` or `KITH_DB_CA_FILE`.
        path: PathBuf,
        /// Why it cannot be used.
        reason: String,
    },
    /// The TLS library refused its own defaults (not expected with the built-in provider).
    #[error("TLS cannot be set up: {0}")]
    Provider(String),
    /// `verify-ca`/`verify-full` without a CA file, and the system has no roots.
    #[error("no trusted certificate authorities: set sslrootcert in the URL or KITH_DB_CA_FILE")]
    NoRoots,
}

/// Where trusted authorities come from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Roots {
    System,
    File(PathBuf),
}

/// How connections to one PostgreSQL are protected: the mode and the authorities, turned into a connector.
#[derive(Clone)]
pub struct Tls {
    mode: SslMode,
    connector: Connector,
}

/// The rustls connector, usable for Unix sockets too: tokio-postgres asks for a connector (with an empty host
/// name) before it looks at the TLS mode, and an empty name is not a valid server name. A Unix-socket target's
/// mode is `disable`, so that connector is never used.
#[derive(Clone)]
pub struct Connector(MakeRustlsConnect);

impl<S> tokio_postgres::tls::MakeTlsConnect<S> for Connector
where
    MakeRustlsConnect: tokio_postgres::tls::MakeTlsConnect<S>,
{
    type Stream = <MakeRustlsConnect as tokio_postgres::tls::MakeTlsConnect<S>>::Stream;
    type TlsConnect = <MakeRustlsConnect as tokio_postgres::tls::MakeTlsConnect<S>>::TlsConnect;
    type Error = <MakeRustlsConnect as tokio_postgres::tls::MakeTlsConnect<S>>::Error;

    fn make_tls_connect(&mut self, hostname: &str) -> Result<Self::TlsConnect, Self::Error> {
        let hostname = if hostname.is_empty() { "localhost" } else { hostname };
        self.0.make_tls_connect(hostname)
    }
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls").field("mode", &self.mode).finish_non_exhaustive()
    }
}

/// A connection URL read with libpq's TLS parameters: tokio-postgres' settings and the protection to use.
#[derive(Debug, Clone)]
pub struct PgTarget {
    /// Host, port, user, database and the rest; its TLS mode is set to what the connector must do.
    pub config: Config,
    /// The connector that carries out `sslmode`.
    pub tls: Tls,
}

impl PgTarget {
    /// Reads `url`, taking `sslmode` and `sslrootcert` out of it (tokio-postgres knows neither `verify-*` nor
    /// `sslrootcert`); `ca_file` (the `KITH_DB_CA_FILE` setting) is used when the URL names no `sslrootcert`.
    pub fn parse(url: &str, ca_file: Option<&Path>) -> Result<PgTarget, TlsError> {
        let (rest, mode, rootcert) = split_tls_parameters(url)?;
        let mut config = Config::from_str(&rest).map_err(|err| TlsError::Url(err.to_string()))?;
        let roots = match rootcert.as_deref() {
            Some("system") => Some(Roots::System),
            Some(path) => Some(Roots::File(PathBuf::from(path))),
            None => ca_file.map(|path| Roots::File(path.to_owned())),
        };
        // libpq: `require` with a root certificate file behaves as `verify-ca`.
        let mode = match (mode.unwrap_or(SslMode::Prefer), &roots) {
            (SslMode::Require, Some(Roots::File(_))) => SslMode::VerifyCa,
            (mode, _) => mode,
        };
        let tls = Tls::new(mode, &roots.unwrap_or(Roots::System))?;
        config.ssl_mode(tls.wire_mode(&config));
        Ok(PgTarget { config, tls })
    }

    /// A target for an already-parsed `config`, keeping its `disable`/`prefer`/`require` (the server not
    /// checked, as libpq does for these modes); on a Unix socket, no TLS.
    pub fn from_config(mut config: Config) -> Result<PgTarget, TlsError> {
        let mode = match config.get_ssl_mode() {
            WireMode::Disable => SslMode::Disable,
            WireMode::Require => SslMode::Require,
            _ => SslMode::Prefer,
        };
        let tls = Tls::unverified(mode)?;
        config.ssl_mode(tls.wire_mode(&config));
        Ok(PgTarget { config, tls })
    }

    /// Opens one connection and spawns its driver; for commands and background tasks, not the request path.
    pub async fn connect(&self) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
        let (client, connection) = self.config.connect(self.tls.connector()).await?;
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(%err, "database connection closed");
            }
        });
        Ok(client)
    }
}

impl Tls {
    fn new(mode: SslMode, roots: &Roots) -> Result<Tls, TlsError> {
        match mode {
            SslMode::Disable | SslMode::Prefer | SslMode::Require => Tls::unverified(mode),
            SslMode::VerifyCa | SslMode::VerifyFull => {
                let store = Arc::new(root_store(roots)?);
                let provider = provider();
                let webpki = WebPkiServerVerifier::builder_with_provider(store, provider.clone())
                    .build()
                    .map_err(|err| TlsError::CaFile {
                        path: match roots {
                            Roots::File(path) => path.clone(),
                            Roots::System => PathBuf::from("(system roots)"),
                        },
                        reason: err.to_string(),
                    })?;
                let verifier: Arc<dyn ServerCertVerifier> = if mode == SslMode::VerifyFull {
                    webpki
                } else {
                    Arc::new(ChainOnly(webpki))
                };
                Tls::with_verifier(mode, provider, verifier)
            }
        }
    }

    /// `prefer`/`require`: encrypted, the server's certificate not checked (libpq's meaning of these modes).
    fn unverified(mode: SslMode) -> Result<Tls, TlsError> {
        let provider = provider();
        Tls::with_verifier(mode, provider.clone(), Arc::new(AnyCertificate(provider)))
    }

    fn with_verifier(
        mode: SslMode,
        provider: Arc<CryptoProvider>,
        verifier: Arc<dyn ServerCertVerifier>,
    ) -> Result<Tls, TlsError> {
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|err| TlsError::Provider(err.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        Ok(Tls {
            mode,
            connector: Connector(MakeRustlsConnect::new(config)),
        })
    }

    /// The mode this connector carries out.
    pub fn mode(&self) -> SslMode {
        self.mode
    }

    /// The connector to hand to tokio-postgres or the pool.
    pub fn connector(&self) -> Connector {
        self.connector.clone()
    }

    /// What tokio-postgres itself must do: it knows only disable/prefer/require; the `verify-*` checks are the
    /// connector's. A Unix socket never negotiates TLS.
    fn wire_mode(&self, config: &Config) -> WireMode {
        let unix_only = !config.get_hosts().is_empty() && config.get_hosts().iter().all(|h| matches!(h, Host::Unix(_)));
        match self.mode {
            _ if unix_only => WireMode::Disable,
            SslMode::Disable => WireMode::Disable,
            SslMode::Prefer => WireMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => WireMode::Require,
        }
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn root_store(roots: &Roots) -> Result<RootCertStore, TlsError> {
    let mut store = RootCertStore::empty();
    match roots {
        Roots::File(path) => {
            let unusable = |reason: String| TlsError::CaFile {
                path: path.clone(),
                reason,
            };
            let certificates = CertificateDer::pem_file_iter(path)
                .map_err(|err| unusable(err.to_string()))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|err| unusable(err.to_string()))?;
            if certificates.is_empty() {
                return Err(unusable("it holds no PEM certificate".to_owned()));
            }
            for certificate in certificates {
                store.add(certificate).map_err(|err| unusable(err.to_string()))?;
            }
        }
        Roots::System => {
            let found = rustls_native_certs::load_native_certs();
            store.add_parsable_certificates(found.certs);
            if store.is_empty() {
                return Err(TlsError::NoRoots);
            }
        }
    }
    Ok(store)
}

/// Splits `sslmode` and `sslrootcert` off a `postgres://` URL's query (or a `key=value` string).
fn split_tls_parameters(url: &str) -> Result<(String, Option<SslMode>, Option<String>), TlsError> {
    let mut mode = None;
    let mut rootcert = None;
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let Some((base, query)) = url.split_once('?') else {
            return Ok((url.to_owned(), None, None));
        };
        let mut kept = Vec::new();
        for pair in query.split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decode(value);
            match key {
                "sslmode" => mode = Some(value.parse()?),
                "sslrootcert" => rootcert = Some(value),
                _ => kept.push(pair),
            }
        }
        let rest = if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        return Ok((rest, mode, rootcert));
    }
    let mut kept = Vec::new();
    for part in url.split_whitespace() {
        match part.split_once('=') {
            Some(("sslmode", value)) => mode = Some(value.parse()?),
            Some(("sslrootcert", value)) => rootcert = Some(value.to_owned()),
            _ => kept.push(part),
        }
    }
    Ok((kept.join(" "), mode, rootcert))
}

fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (byte, _, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `prefer`/`require`: any certificate is accepted, but the handshake's signatures are still checked, so the
/// session is encrypted to whoever holds the certificate's key.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the full WebPKI check except the host name, as libpq does.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForName | rustls::CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_parameters_are_taken_out_of_the_url() {
        let (rest, mode, root) = split_tls_parameters(
            "postgres://u:p@db.example:5433/kith?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&application_name=x",
        )
        .unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(rest, "postgres://u:p@db.example:5433/kith?application_name=x");
        assert_eq!(mode, Some(SslMode::VerifyFull));
        assert_eq!(root.as_deref(), Some("/etc/ca.pem"));
        let (rest, mode, root) =
            split_tls_parameters("host=db user=u sslmode=require").unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(
            (rest.as_str(), mode, root),
            ("host=db user=u", Some(SslMode::Require), None)
        );
        assert!(
            matches!(split_tls_parameters("postgres://db/k?sslmode=allow"), Err(TlsError::Mode(m)) if m == "allow")
        );
    }

    #[test]
    fn a_unix_socket_never_negotiates_tls() {
        let mut config = Config::new();
        config.host_path("/tmp/socket-dir");
        let target = PgTarget::from_config(config).unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(target.config.get_ssl_mode(), WireMode::Disable);
        let target =
            PgTarget::parse("postgres://u@127.0.0.1/k?sslmode=require", None).unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(target.config.get_ssl_mode(), WireMode::Require);
    }

    #[test]
    fn require_with_a_ca_file_verifies_the_chain_as_libpq_does() {
        let missing = Path::new("/nonexistent/ca.pem");
        // The file is read when the connector is built: a missing one is named in the error.
        match PgTarget::parse("postgres://u@db/k?sslmode=require", Some(missing)) {
            Err(TlsError::CaFile { path, .. }) => assert_eq!(path, missing),
            other => panic!("expected a CA file error, got {other:?}"),
        }
    }
}
