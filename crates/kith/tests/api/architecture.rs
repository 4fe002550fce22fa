//! Rules about the code itself: the RLS-bypassing doors are used only where they must be.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every crate's Rust sources, keyed by crate directory name.
fn sources() -> (PathBuf, Vec<(String, PathBuf)>) {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf();
    let mut files = Vec::new();
    for krate in std::fs::read_dir(&crates).unwrap().flatten() {
        let src = krate.path().join("src");
        if src.is_dir() {
            let mut found = Vec::new();
            rust_files(&src, &mut found);
            let name = krate.file_name().to_string_lossy().into_owned();
            files.extend(found.into_iter().map(|f| (name.clone(), f)));
        }
    }
    assert!(files.len() > 10, "the crates' sources were not found");
    (crates, files)
}

/// The compiler keeps request handlers away from the privileged door: `Db`, `AppState` and `AuthState` have no
/// way to it (compile_fail doctests in kith-db, kith-http and kith-auth), and a `PrivilegedDb` comes only from
/// `Db::with_privileged`, where the pool is opened. This test covers the rest: only the crates that may hold the
/// door name it, and the auth service hands it to no one.
#[test]
fn only_the_binary_and_the_auth_service_hold_the_privileged_door() {
    let (crates, files) = sources();
    let naming: Vec<String> = files
        .iter()
        .filter(|(_, f)| {
            let text = std::fs::read_to_string(f).unwrap();
            text.contains("PrivilegedDb") || text.contains("with_privileged")
        })
        .map(|(krate, _)| krate.clone())
        .collect();
    for krate in &naming {
        assert!(
            ["kith", "kith-auth", "kith-db"].contains(&krate.as_str()),
            "{krate} names the privileged door; request-serving crates get a Db alone"
        );
    }
    assert!(naming.iter().any(|k| k == "kith") && naming.iter().any(|k| k == "kith-auth"));
    // Request-serving crates do not open pools of their own either (which is where the door comes from).
    for (krate, file) in &files {
        if ["kith-crm", "kith-rest", "kith-web", "kith-http"].contains(&krate.as_str()) {
            let text = std::fs::read_to_string(file).unwrap();
            assert!(
                !text.contains("Db::new(") && !text.contains("Db::with_wait_timeout("),
                "{} opens a pool",
                file.strip_prefix(&crates).unwrap().display()
            );
        }
    }
    // The auth service keeps its door private: no public item returns it or a transaction it opened.
    for (krate, file) in &files {
        if krate != "kith-auth" {
            continue;
        }
        let text = std::fs::read_to_string(file).unwrap();
        for (start, _) in text.match_indices("pub fn ").chain(text.match_indices("pub async fn ")) {
            // The signature runs to the body's opening brace; what follows `->` is what it hands out.
            let signature = &text[start..text[start..].find('{').map_or(text.len(), |end| start + end)];
            let returns = signature.split_once("->").map_or("", |(_, r)| r);
            assert!(
                !returns.contains("PrivilegedDb") && !returns.contains("CallerTx"),
                "{}: {signature}",
                file.strip_prefix(&crates).unwrap().display()
            );
        }
    }
}

#[test]
fn the_maintenance_door_is_used_only_by_the_background_re_score() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut files = Vec::new();
    for krate in std::fs::read_dir(crates).unwrap().flatten() {
        let src = krate.path().join("src");
        if src.is_dir() {
            rust_files(&src, &mut files);
        }
    }
    let users: Vec<_> = files
        .iter()
        .filter(|f| std::fs::read_to_string(f).unwrap().contains("begin_maintenance("))
        .map(|f| f.strip_prefix(crates).unwrap().display().to_string())
        .filter(|f| !f.starts_with("kith-db/"))
        .collect();
    assert_eq!(users, ["kith-crm/src/rescore_job.rs"]);
    // And that module serves no route: it takes no extractor, state or request.
    let job = std::fs::read_to_string(crates.join("kith-crm/src/rescore_job.rs")).unwrap();
    assert!(!job.contains("axum") && !job.contains("AuthUser") && !job.contains("AppState"));
}
