//! Rules about the code itself: the privileged (RLS-bypassing) handle is used only where it must be.

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

#[test]
fn only_the_auth_service_and_the_demo_seeder_use_the_privileged_handle() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut files = Vec::new();
    for krate in std::fs::read_dir(crates).unwrap().flatten() {
        let src = krate.path().join("src");
        if src.is_dir() {
            rust_files(&src, &mut files);
        }
    }
    assert!(files.len() > 10, "the crates' sources were not found");
    let offenders: Vec<_> = files
        .iter()
        .filter(|f| std::fs::read_to_string(f).unwrap().contains("begin_privileged("))
        .map(|f| f.strip_prefix(crates).unwrap().display().to_string())
        .filter(|f| !f.starts_with("kith-db/") && !f.starts_with("kith-auth/") && !f.ends_with("/demo.rs"))
        .collect();
    assert!(
        offenders.is_empty(),
        "RLS-bypassing access outside the auth service: {offenders:?}"
    );
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
