//! Guards for the invariants of ARCHITECTURE.md that the compiler does not check.

use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn policy_sources() -> Vec<(PathBuf, String)> {
    let dir = workspace().join("functions/policy/src");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p, text)
        })
        .collect();
    files.sort();
    assert!(
        files.len() >= 5,
        "policy sources not found in {}",
        dir.display()
    );
    files
}

#[test]
fn the_policy_crate_depends_on_no_io_stack() {
    let manifest =
        std::fs::read_to_string(workspace().join("functions/policy/Cargo.toml")).unwrap();
    for forbidden in ["aws", "tokio", "reqwest", "hyper", "http", "lambda", "axum"] {
        assert!(
            !manifest
                .lines()
                .any(|l| l.trim_start().starts_with(forbidden)),
            "the policy crate must not depend on {forbidden}"
        );
    }
}

#[test]
fn the_policy_crate_reads_no_clock_and_does_no_io() {
    for (path, text) in policy_sources() {
        for forbidden in [
            "Utc::now",
            "SystemTime",
            "Instant::now",
            "std::fs",
            "std::net",
            "std::env",
            "std::io",
        ] {
            assert!(
                !text.contains(forbidden),
                "{} uses {forbidden}: the policy is a pure function of its arguments",
                path.display()
            );
        }
    }
}
