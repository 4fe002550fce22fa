//! The data API's query grammar (PostgREST's): a raw query string gives a parsed query or a `PGRST100`-style
//! refusal, never a panic, and parsing stays bounded.
#![no_main]

use kith_rest::parser::{parse_order, parse_query, parse_select, query_pairs};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else { return };
    let pairs = query_pairs(Some(raw));
    let _ = parse_query(&pairs, &|key: &str| key.starts_with("arg"));
    let _ = parse_select(raw);
    let _ = parse_order(raw);
});
