//! TOTP factors (RFC 6238: SHA-1, six digits, 30-second steps, one step of skew, as Supabase Auth uses), their
//! enrolment QR codes (SVG), and the encryption of their secrets at rest (AES-256-GCM, the factor id as
//! associated data so a secret cannot be moved to another factor's row).

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hkdf::Hkdf;
use rand::Rng;
use sha2::Sha256;
use totp_rs::{Algorithm, TOTP};
use uuid::Uuid;

/// Seconds per TOTP step.
pub const STEP: u64 = 30;
/// Bytes of a new TOTP secret (160 bits, RFC 4226's recommendation).
const SECRET_BYTES: usize = 20;

/// Derives a 32-byte key from key material with HKDF-SHA256 (fixed salt and purpose).
pub fn derive_key(material: &[u8]) -> [u8; 32] {
    let hkdf = Hkdf::<Sha256>::new(Some(b"kith-mfa"), material);
    let mut key = [0u8; 32];
    // 32 bytes is far below HKDF-SHA256's limit of 255 * 32, so expand cannot fail.
    let _ = hkdf.expand(b"totp secret encryption v1", &mut key);
    key
}

/// Encrypts and decrypts factor secrets.
#[derive(Clone)]
pub struct SecretBox {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox { .. }")
    }
}

/// A stored secret that cannot be decrypted (wrong key, or tampered).
#[derive(Debug, thiserror::Error)]
#[error("the stored MFA secret cannot be decrypted")]
pub struct SealError;

impl SecretBox {
    /// A box for the 32-byte `key`.
    pub fn new(key: &[u8; 32]) -> Self {
        SecretBox {
            cipher: Aes256Gcm::new(key.into()),
        }
    }

    /// `v1:` + base64(nonce ‖ ciphertext), bound to `factor_id`.
    pub fn seal(&self, factor_id: Uuid, secret: &[u8]) -> Result<String, SealError> {
        let nonce: [u8; 12] = rand::rng().random();
        let ciphertext = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: secret,
                    aad: factor_id.as_bytes(),
                },
            )
            .map_err(|_| SealError)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ciphertext);
        Ok(format!("v1:{}", STANDARD.encode(out)))
    }

    /// Reverses [`seal`](Self::seal).
    pub fn open(&self, factor_id: Uuid, stored: &str) -> Result<Vec<u8>, SealError> {
        let bytes = stored
            .strip_prefix("v1:")
            .and_then(|b| STANDARD.decode(b).ok())
            .filter(|b| b.len() > 12)
            .ok_or(SealError)?;
        let (nonce, ciphertext) = bytes.split_at(12);
        self.cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: factor_id.as_bytes(),
                },
            )
            .map_err(|_| SealError)
    }
}

/// A fresh random TOTP secret.
pub fn new_secret() -> Vec<u8> {
    rand::rng().random::<[u8; SECRET_BYTES]>().to_vec()
}

fn totp(secret: &[u8], issuer: &str, account: &str) -> TOTP {
    TOTP::new_unchecked(
        Algorithm::SHA1,
        6,
        1,
        STEP,
        secret.to_vec(),
        Some(issuer.to_owned()),
        account.to_owned(),
    )
}

/// What an authenticator app needs: the base32 secret, the `otpauth://` URI and its QR code as an SVG document.
#[derive(Debug)]
pub struct Enrolment {
    /// Base32 secret (no padding).
    pub secret: String,
    /// `otpauth://totp/…`.
    pub uri: String,
    /// The URI as a QR code, SVG.
    pub qr_svg: String,
}

/// The enrolment data for `secret`.
pub fn enrolment(secret: &[u8], issuer: &str, account: &str) -> Result<Enrolment, qrcode::types::QrError> {
    let totp = totp(secret, issuer, account);
    let uri = totp.get_url();
    let code = qrcode::QrCode::with_error_correction_level(uri.as_bytes(), qrcode::EcLevel::M)?;
    let qr_svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .build();
    Ok(Enrolment {
        secret: totp.get_secret_base32(),
        uri,
        qr_svg,
    })
}

/// The time step (`unix time / 30`) whose code `code` is, within one step of `now`, if any. Compared in constant
/// time; the caller refuses steps already used, so a code works once.
pub fn matching_step(secret: &[u8], code: &str, now: u64) -> Option<u64> {
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let totp = totp(secret, "", "");
    let current = now / STEP;
    let mut found = None;
    for step in [current.saturating_sub(1), current, current + 1] {
        let expected = totp.generate(step * STEP);
        // Every candidate is compared, whichever matches, so timing does not reveal which one did.
        let equal = expected
            .bytes()
            .zip(code.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
        if equal && found.is_none() {
            found = Some(step);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn rfc6238_vectors_for_sha1() {
        // RFC 6238 appendix B: secret "12345678901234567890", 8 digits; the last six are the 6-digit code.
        let secret = b"12345678901234567890";
        for (time, code) in [(59u64, "287082"), (1_111_111_109, "081804"), (1_234_567_890, "005924")] {
            assert_eq!(matching_step(secret, code, time), Some(time / STEP), "t={time}");
        }
    }

    #[test]
    fn codes_match_one_step_either_side_and_nothing_else() {
        let secret = new_secret();
        let t = totp(&secret, "", "");
        let now = 1_700_000_000u64;
        let step = now / STEP;
        for delta in [-1i64, 0, 1] {
            let s = (step as i64 + delta) as u64;
            assert_eq!(matching_step(&secret, &t.generate(s * STEP), now), Some(s));
        }
        let far = t.generate((step + 3) * STEP);
        if far != t.generate(step * STEP)
            && far != t.generate((step - 1) * STEP)
            && far != t.generate((step + 1) * STEP)
        {
            assert_eq!(matching_step(&secret, &far, now), None);
        }
        assert_eq!(matching_step(&secret, "12345", now), None);
        assert_eq!(matching_step(&secret, "abcdef", now), None);
    }

    #[test]
    fn sealed_secrets_open_only_with_their_key_and_factor() {
        let key = derive_key(b"a project secret that is long enough");
        let sealed_box = SecretBox::new(&key);
        let factor = Uuid::new_v4();
        let sealed = sealed_box.seal(factor, b"secret").unwrap();
        assert!(!sealed.contains("secret"));
        assert_eq!(sealed_box.open(factor, &sealed).unwrap(), b"secret");
        assert!(sealed_box.open(Uuid::new_v4(), &sealed).is_err());
        let other = SecretBox::new(&derive_key(b"another secret"));
        assert!(other.open(factor, &sealed).is_err());
        assert!(sealed_box.open(factor, "v1:garbage").is_err());
    }

    #[test]
    fn enrolment_has_an_otpauth_uri_and_an_svg() {
        let e = enrolment(&new_secret(), "kith.example", "ada@example.com").unwrap();
        assert!(
            e.uri
                .starts_with("otpauth://totp/kith.example:ada%40example.com?secret="),
            "{}",
            e.uri
        );
        assert!(e.qr_svg.contains("<svg"));
        assert_eq!(e.secret.len(), 32);
    }
}
