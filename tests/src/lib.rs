//! Support for the end-to-end tests of runner-mirror: where the fixtures are, and how to run
//! the `runner-mirror` binary the way a user does.
//!
//! The tests themselves live in `tests/` (one binary per area); they run the real binary, so
//! the workspace must be built first (`cargo build --workspace`, which the test command does).

pub mod fake_github;
pub mod lambda;
pub mod moto;

use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// The workspace's root directory.
pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate is in the workspace")
        .to_path_buf()
}

/// A tool of the pinned Python packages (`requirements-test.txt`) in the workspace's `.venv`,
/// or the one the environment variable `override_variable` points at.
///
/// Panics with instructions when it is missing: a missing tool is a failed test, never a
/// skipped one.
pub(crate) fn venv_tool(binary: &str, override_variable: &str, package: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(override_variable) {
        return PathBuf::from(path);
    }
    let venv = workspace().join(".venv/bin").join(binary);
    if venv.is_file() {
        return venv;
    }
    panic!(
        "{binary} is missing: run ./scripts/test.sh (it installs the pinned {package} into \
         .venv), or `python3 -m venv .venv && .venv/bin/pip install -r requirements-test.txt`, \
         or point {override_variable} at a {binary} binary"
    );
}

/// Waits up to 60 s until `ready` holds for the server `child` (described by `what`); panics
/// when it exits first or the time runs out.
pub(crate) fn wait_for_server(child: &mut Child, what: &str, ready: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ready() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited at start: {status}");
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not answer within 60 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A file of `tests/fixtures/`.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

/// The `runner-mirror` binary of this workspace's build, as a command ready for arguments.
///
/// Panics with instructions when the binary has not been built: a missing binary is a failed
/// test, never a skipped one.
pub fn runner_mirror() -> Command {
    // Test binaries live in target/<profile>/deps; the workspace's binaries one level up.
    let exe = std::env::current_exe().expect("the test binary knows its path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("test binaries live in target/<profile>/deps");
    let binary = profile_dir.join(format!("runner-mirror{}", std::env::consts::EXE_SUFFIX));
    assert!(
        binary.is_file(),
        "{} is missing: build the workspace first (cargo build --workspace)",
        binary.display()
    );
    let mut command = Command::new(binary);
    isolate(&mut command);
    command
}

/// Removes from `command`'s environment what could choose a store, a GitHub or a token for a
/// test from the developer's own environment.
pub(crate) fn isolate(command: &mut Command) {
    for name in [
        "GITHUB_TOKEN",
        "GITHUB_TOKEN_PARAMETER",
        "GITHUB_TOKEN_SECRET",
        "GITHUB_API_URL",
        "RUNNER_MIRROR_STORE",
        "RUNNER_MIRROR_TABLE",
        "RUNNER_MIRROR_BUCKET",
        "RUNNER_MIRROR_CHANNELS",
        "RUNNER_MIRROR_REPO",
        "AWS_ENDPOINT_URL",
    ] {
        command.env_remove(name);
    }
}

/// A `runner-mirror serve` child process on a free loopback port, stopped when dropped.
pub struct Served {
    child: std::process::Child,
    url: String,
}

impl Served {
    /// Starts `runner-mirror serve --listen 127.0.0.1:0` on the local store `store`.
    pub fn start(store: &std::path::Path) -> Served {
        let mut command = runner_mirror();
        command.env("RUNNER_MIRROR_STORE", store);
        Served::start_with(command)
    }

    /// Starts `serve --listen 127.0.0.1:0` with `command` (a `runner-mirror` with its
    /// environment set) and waits for the line that says where it listens.
    pub fn start_with(mut command: Command) -> Served {
        use std::io::BufRead;
        let mut child = command
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("runner-mirror serve starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .expect("serve prints where it listens");
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line from serve: {line:?}"))
            .to_owned();
        Served { child, url }
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
