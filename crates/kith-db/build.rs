//! Compiles the SQL files in `migrations/` into the binary, in file-name order, so adding a migration is adding a
//! file (`NNNN_name.sql`).

#![allow(clippy::expect_used, reason = "a build script reports failure by panicking")]
use std::fmt::Write;

fn main() {
    println!("cargo::rerun-if-changed=migrations");
    let mut files: Vec<String> = std::fs::read_dir("migrations")
        .expect("migrations/ must exist")
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".sql"))
        .collect();
    files.sort();
    let mut list = String::from("&[\n");
    for file in &files {
        let stem = file.trim_end_matches(".sql");
        let version: i32 = stem
            .split('_')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("migration {file} must be named NNNN_name.sql"));
        let path = format!(
            "{}/migrations/{file}",
            std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default()
        );
        let _ = writeln!(
            list,
            "    Migration {{ version: {version}, name: {stem:?}, sql: include_str!({path:?}) }},"
        );
    }
    list.push(']');
    let out =
        std::path::PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR is set by cargo")).join("migrations.rs");
    std::fs::write(out, list).expect("cannot write migrations.rs");
}
