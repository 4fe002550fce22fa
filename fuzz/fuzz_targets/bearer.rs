//! The `Authorization` and `apikey` headers, and the JWT behind them: any bytes give a token or a refusal,
//! never a panic.
#![no_main]

use http::{HeaderMap, HeaderValue};
use kith_db::identity::JwtVerifier;
use kith_http::bearer::BearerToken;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let verifier = JwtVerifier::hs256(b"fuzzing-secret-fuzzing-secret-0123456789");
    // The first byte says which headers carry the rest, so both and their conflicts are explored.
    let Some((&which, rest)) = data.split_first() else { return };
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_bytes(rest) {
        if which & 1 == 1 {
            headers.insert(http::header::AUTHORIZATION, value.clone());
        }
        if which & 2 == 2 {
            headers.insert("apikey", value);
        }
    }
    if let Ok(Some(token)) = BearerToken::from_headers(&headers) {
        let _ = token.verify(&verifier);
    }
    if let Ok(text) = std::str::from_utf8(rest) {
        let _ = verifier.verify(text);
    }
});
