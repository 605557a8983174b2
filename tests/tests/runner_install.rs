//! `infra/runner-install.sh`, the runner's boot script, against a real `runner-mirror serve`
//! synced from the fake GitHub: it installs the approved runner only when its SHA-256 matches
//! the checksum route, registers it with `--disableupdate`, and never prints the token.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use e2e_tests::fake_github::FakeGithub;
use e2e_tests::{runner_mirror, Served};

/// 2.317.0 is approved on this date, for linux-x64 and linux-arm64 (see sync.rs).
const JUNE_7: &str = "2024-06-07T00:00:00Z";
const VERSION: &str = "2.317.0";
const TOKEN: &str = "AABBCCDDEEFF-not-a-real-registration-token";
const GITHUB_ORG: &str = "https://github.com/octo-org";

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs the script from `scratch` with only `env` (plus `PATH`, and a `HOME` and a `TMPDIR` of
/// its own): nothing of the developer's environment, a proxy or a token, may reach it.
fn install(scratch: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../infra/runner-install.sh");
    let mode = std::fs::metadata(&script)
        .unwrap_or_else(|e| panic!("{}: {e}", script.display()))
        .permissions()
        .mode();
    assert!(mode & 0o111 != 0, "{} is not executable", script.display());
    // A missing tool is a failed test, never a skipped one.
    let path = std::env::var_os("PATH").unwrap_or_default();
    for tool in ["bash", "curl", "sha256sum", "tar"] {
        assert!(
            std::env::split_paths(&path).any(|dir| dir.join(tool).is_file()),
            "{tool} is not installed: runner-install.sh needs it"
        );
    }
    let tmp = scratch.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let mut command = Command::new(script);
    command
        .args(args)
        .env_clear()
        .env("PATH", path)
        .env("HOME", scratch)
        .env("TMPDIR", &tmp)
        .current_dir(scratch);
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("runner-install.sh runs")
}

fn assert_token_not_printed(out: &Output) {
    for stream in [&out.stdout, &out.stderr] {
        assert!(!text(stream).contains(TOKEN), "the token was printed");
    }
}

/// Fails with `code`, and says `why` on stderr.
fn assert_fails(out: &Output, code: i32, why: &str) {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{stderr}");
    assert!(stderr.contains(why), "{why:?} not in {stderr:?}");
}

/// A store where 2.317.0 is approved, served on loopback, and a scratch directory for the
/// runner.
struct Mirror {
    fake: FakeGithub,
    dir: tempfile::TempDir,
    served: Served,
}

impl Mirror {
    fn start() -> Mirror {
        let fake = FakeGithub::start(FakeGithub::history());
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("mirror");
        let synced = runner_mirror()
            .args(["sync", "--now", JUNE_7, "--github-api", &fake.api_url()])
            .arg("--store")
            .arg(&store)
            .output()
            .unwrap();
        assert!(synced.status.success(), "{}", text(&synced.stderr));
        let served = Served::start(&store);
        Mirror { fake, dir, served }
    }

    fn runner_dir(&self) -> PathBuf {
        self.dir.path().join("actions-runner")
    }

    /// The script, installing linux-x64 from this mirror into [`Mirror::runner_dir`], with
    /// `env` on top.
    fn install(&self, env: &[(&str, &str)], args: &[&str]) -> Output {
        let runner_dir = self.runner_dir();
        let mut all = vec![
            ("MIRROR_URL", self.served.url()),
            ("RUNNER_PLATFORM", "linux-x64"),
            ("RUNNER_DIR", runner_dir.to_str().unwrap()),
        ];
        all.extend_from_slice(env);
        install(self.dir.path(), &all, args)
    }

    /// The script's temporary directory holds nothing after it ended.
    fn assert_download_removed(&self) {
        let left: Vec<_> = std::fs::read_dir(self.dir.path().join("tmp"))
            .unwrap()
            .collect();
        assert!(left.is_empty(), "left behind: {left:?}");
    }
}

#[test]
fn installs_the_approved_runner_and_registers_it_without_printing_the_token() {
    let mirror = Mirror::start();
    let out = mirror.install(
        &[
            ("RUNNER_URL", GITHUB_ORG),
            ("RUNNER_TOKEN", TOKEN),
            ("RUNNER_NAME", "boot-1"),
            ("RUNNER_LABELS", "gpu,mirrored"),
            ("RUNNER_CONFIG_ARGS", "--ephemeral  --replace"),
        ],
        &[],
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert_token_not_printed(&out);
    let sha = mirror.fake.sha256_hex(VERSION, "linux-x64");
    assert!(
        stdout.contains(&format!(
            "installed runner {VERSION} for linux-x64 in {} (SHA-256 {sha})",
            mirror.runner_dir().display()
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("registered with {GITHUB_ORG}")),
        "{stdout}"
    );

    let runner = mirror.runner_dir();
    assert_eq!(
        std::fs::read_to_string(runner.join("VERSION")).unwrap(),
        VERSION
    );
    assert!(runner.join("bin/Runner.Listener").is_file());
    assert_eq!(
        std::fs::read_to_string(runner.join(".configured")).unwrap(),
        format!(
            "--unattended --disableupdate --url {GITHUB_ORG} --name boot-1 --labels gpu,mirrored \
             --ephemeral --replace\n"
        ),
        "config.sh's arguments, without the token"
    );
    assert_eq!(
        std::fs::read_to_string(runner.join(".token")).unwrap(),
        format!("{TOKEN}\n"),
        "config.sh got the token in ACTIONS_RUNNER_INPUT_TOKEN"
    );
    mirror.assert_download_removed();
}

#[test]
fn the_token_can_come_from_a_file_and_no_config_only_installs() {
    let mirror = Mirror::start();
    let token_file = mirror.dir.path().join("token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    let out = mirror.install(
        &[
            ("RUNNER_URL", GITHUB_ORG),
            ("RUNNER_TOKEN_FILE", token_file.to_str().unwrap()),
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_token_not_printed(&out);
    assert_eq!(
        std::fs::read_to_string(mirror.runner_dir().join(".token")).unwrap(),
        format!("{TOKEN}\n")
    );

    std::fs::remove_dir_all(mirror.runner_dir()).unwrap();
    let out = mirror.install(&[], &["--no-config"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(mirror.runner_dir().join("config.sh").is_file());
    assert!(
        !mirror.runner_dir().join(".configured").exists(),
        "config.sh was not run"
    );
}

#[test]
fn a_tampered_artifact_is_refused_before_anything_is_extracted() {
    let mirror = Mirror::start();
    // A valid runner tarball, but not the approved one: only the checksum can stop it.
    let asset = mirror.fake.asset_name(VERSION, "linux-x64");
    let other = mirror.fake.asset_bytes(VERSION, "linux-arm64");
    std::fs::write(
        mirror
            .dir
            .path()
            .join(format!("mirror/runners/v{VERSION}/{asset}")),
        &other,
    )
    .unwrap();

    let out = mirror.install(&[("RUNNER_URL", GITHUB_ORG), ("RUNNER_TOKEN", TOKEN)], &[]);
    let url = mirror.served.url();
    assert_fails(
        &out,
        1,
        &format!(
            "SHA-256 mismatch for {url}/stable/linux-x64: expected {} (from \
             {url}/stable/linux-x64.sha256), got {}; the download was deleted",
            mirror.fake.sha256_hex(VERSION, "linux-x64"),
            mirror.fake.sha256_hex(VERSION, "linux-arm64"),
        ),
    );
    assert_fails(
        &out,
        1,
        "a corrupt download, or the approval moved between the two requests",
    );
    assert_token_not_printed(&out);
    assert!(
        !mirror.runner_dir().exists(),
        "nothing extracted, config.sh not run"
    );
    mirror.assert_download_removed();
}

#[test]
fn an_unknown_channel_names_the_url_that_failed() {
    let mirror = Mirror::start();
    let out = mirror.install(
        &[
            ("RUNNER_CHANNEL", "nightly"),
            ("RUNNER_URL", GITHUB_ORG),
            ("RUNNER_TOKEN", TOKEN),
        ],
        &[],
    );
    assert_fails(
        &out,
        1,
        &format!(
            "could not fetch the checksum from {}/nightly/linux-x64.sha256",
            mirror.served.url()
        ),
    );
    assert_fails(&out, 1, "404");
    assert!(!mirror.runner_dir().exists());
}

#[test]
fn a_missing_or_wrong_setting_is_named_before_any_download() {
    let scratch = tempfile::tempdir().unwrap();
    // Nothing listens on the discard port: a request would fail differently.
    let mirror = ("MIRROR_URL", "http://127.0.0.1:9");
    let runner_url = ("RUNNER_URL", GITHUB_ORG);
    let token = ("RUNNER_TOKEN", TOKEN);
    let cases: [(&[(&str, &str)], &str); 5] = [
        (&[runner_url, token], "MIRROR_URL is not set"),
        (&[mirror, token], "RUNNER_URL is not set"),
        (
            &[mirror, runner_url],
            "no registration token: set RUNNER_TOKEN or RUNNER_TOKEN_FILE",
        ),
        (
            &[mirror, runner_url, token, ("RUNNER_PLATFORM", "win-x64")],
            "RUNNER_PLATFORM win-x64: Windows runners ship as .zip",
        ),
        (
            &[mirror, runner_url, token, ("RUNNER_CHANNEL", "../x")],
            "RUNNER_CHANNEL ../x is not a channel name",
        ),
    ];
    for (env, why) in cases {
        let out = install(scratch.path(), env, &[]);
        assert_fails(&out, 2, why);
        assert_token_not_printed(&out);
    }

    // A token passed as an argument by mistake is refused without being repeated.
    let out = install(scratch.path(), &[mirror, runner_url], &[TOKEN]);
    assert_fails(&out, 2, "unknown argument");
    assert_token_not_printed(&out);
}
