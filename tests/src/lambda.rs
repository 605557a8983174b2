//! The Lambda functions under a real Lambda emulator: `cargo lambda watch` (PyPI
//! `cargo-lambda`, pinned in `requirements-test.txt`, installed into `.venv` by
//! `scripts/test.sh`), which implements the Lambda runtime API for the function's own
//! `lambda_runtime` loop, the Invoke API, and Function URLs.
//!
//! One emulator per function and test, on a free loopback port, with the function's
//! environment; it runs the function with `cargo run`, so the workspace's build is reused. A
//! missing `cargo-lambda` fails the test that needs it, with the command that installs it.

use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{isolate, venv_tool, wait_for_server, workspace};

/// How long an invocation or a Function URL request may take, the function's first start
/// included: a `cargo run` that finds everything built takes a second or two, one that has to
/// build takes minutes (`scripts/test.sh` builds the functions first).
pub const INVOKE_TIMEOUT: Duration = Duration::from_secs(300);

fn cargo_lambda() -> PathBuf {
    venv_tool("cargo-lambda", "CARGO_LAMBDA", "cargo-lambda")
}

/// A `cargo lambda watch` serving one function of the workspace, stopped (with the function)
/// when dropped.
pub struct Emulator {
    child: Child,
    function: String,
    port: u16,
    log: tempfile::NamedTempFile,
}

impl Emulator {
    /// Starts the emulator for the workspace's binary `function` (also its package), with
    /// `env` as the function's environment on top of this process's, and waits until it
    /// answers. `concurrency` is how many instances may run at once, as in Lambda.
    pub fn start(function: &str, env: &[(&str, String)], concurrency: u32) -> Emulator {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        // The emulator's and the function's output, shown when the test fails; appended to
        // by both streams.
        let log = tempfile::NamedTempFile::new().expect("a log file");
        let append = || {
            std::fs::OpenOptions::new()
                .append(true)
                .open(log.path())
                .expect("the log file opens")
        };
        let mut command = Command::new(cargo_lambda());
        command
            .current_dir(workspace())
            .args(["lambda", "watch", "--ignore-changes", "--quiet"])
            .args(["--package", function])
            .args(["--invoke-address", "127.0.0.1"])
            .args(["--invoke-port", &port.to_string()])
            .args(["--concurrency", &concurrency.to_string()])
            .stdin(Stdio::null())
            .stdout(append())
            .stderr(append());
        // Its own process group: the emulator's `cargo run` and the function stop with it.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        isolate(&mut command);
        // What `cargo test` set for this test binary would reach the emulator's `cargo run`,
        // whose build scripts see it as a change (ring's watches CARGO_MANIFEST_DIR) and
        // rebuild half the dependency graph.
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            let set_by_cargo = [
                "CARGO_MANIFEST_",
                "CARGO_PKG_",
                "CARGO_CRATE_",
                "CARGO_BIN_",
            ]
            .iter()
            .any(|prefix| name.starts_with(prefix))
                || ["CARGO_PRIMARY_PACKAGE", "CARGO_TARGET_TMPDIR"].contains(&&*name);
            if set_by_cargo {
                command.env_remove(&*name);
            }
        }
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start cargo lambda watch: {e}"));
        wait_for_server(
            &mut child,
            &format!("cargo lambda watch for {function} on 127.0.0.1:{port}"),
            || TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok(),
        );
        Emulator {
            child,
            function: function.to_owned(),
            port,
            log,
        }
    }

    /// Invokes the function with `payload` through the emulator's Lambda Invoke API (what
    /// EventBridge and `aws lambda invoke` call): its JSON result, or the error document
    /// (`errorType`, `errorMessage`) the function reported.
    pub fn invoke(&self, payload: &serde_json::Value) -> Result<serde_json::Value, String> {
        let url = format!(
            "http://127.0.0.1:{}/2015-03-31/functions/{}/invocations",
            self.port, self.function
        );
        let answer = reqwest::blocking::Client::builder()
            .timeout(INVOKE_TIMEOUT)
            .build()
            .expect("an HTTP client")
            .post(&url)
            .body(payload.to_string())
            .send()
            .unwrap_or_else(|e| panic!("cannot invoke {} at {url}: {e}", self.function));
        let status = answer.status();
        let body = answer.text().expect("the invocation's answer is text");
        if status.is_success() {
            serde_json::from_str(&body)
                .map_err(|e| format!("the function's result is not JSON ({e}): {body}"))
        } else {
            Err(body)
        }
    }

    /// The Function URL of `path` (`/stable/linux-x64`) on this emulator.
    pub fn function_url(&self, path: &str) -> String {
        format!(
            "http://127.0.0.1:{}/lambda-url/{}{path}",
            self.port, self.function
        )
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let kill = |signal: &str| {
            let _ = Command::new("kill")
                .args([signal, "--", &group])
                .stderr(Stdio::null())
                .status();
        };
        kill("-TERM");
        let deadline = Instant::now() + Duration::from_secs(10);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        kill("-KILL");
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = std::fs::read_to_string(self.log.path()).unwrap_or_default();
            eprintln!("--- cargo lambda watch for {}:\n{log}", self.function);
        }
    }
}
