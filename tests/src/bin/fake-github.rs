//! `fake-github`: the fake GitHub of the end-to-end tests as a process of its own, for the
//! benchmark and for trying runner-mirror by hand without touching github.com.
//!
//! It prints one line, `api=http://127.0.0.1:PORT`, once it is listening, and serves until
//! SIGTERM or ctrl-c.

use std::io::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;

use e2e_tests::fake_github::{shipped_platforms, FakeGithub, FakeRelease};
use policy::{Platform, Version};

const USAGE: &str = "\
usage: fake-github [--listen 127.0.0.1:0] [--releases FILE] [--repo OWNER/NAME]
                   [--large-asset VERSION:PLATFORM:BYTES]... [--download-rate BYTES]
                   [--max-per-page N]

Serves the releases of actions/runner in the shape of the GitHub REST API, with generated
runner packages, on a loopback address. Prints `api=http://HOST:PORT` once listening and
serves until SIGTERM or ctrl-c.

  --listen ADDR        loopback address to listen on (default 127.0.0.1:0, a free port)
  --releases FILE      releases to serve: GitHub JSON or the TSV history
                       (default: the 144 releases of tests/fixtures)
  --repo OWNER/NAME    the repository the API answers for (default actions/runner)
  --large-asset V:P:N  make the package of version V for platform P a streamed
                       pseudo-random body of N bytes (suffixes KiB, MiB, GiB allowed)
  --download-rate N    pace every download to N bytes per second (same suffixes), like
                       a network link; by default downloads go as fast as loopback allows
  --max-per-page N     cap the page size below GitHub's 100, to force pagination";

#[derive(Debug)]
struct Args {
    listen: SocketAddr,
    releases: Option<String>,
    repo: Option<String>,
    large_assets: Vec<(Version, Platform, u64)>,
    download_rate: Option<u64>,
    max_per_page: Option<usize>,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut parsed = Args {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        releases: None,
        repo: None,
        large_assets: Vec::new(),
        download_rate: None,
        max_per_page: None,
    };
    while let Some(arg) = args.next() {
        // Both `--flag value` and `--flag=value`.
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                (flag.to_owned(), Some(value.to_owned()))
            }
            _ => (arg, None),
        };
        if flag == "-h" || flag == "--help" {
            return Ok(None);
        }
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--listen" => {
                let text = value()?;
                parsed.listen = text
                    .parse()
                    .map_err(|_| format!("--listen {text:?} is not an address like 127.0.0.1:0"))?;
            }
            "--releases" => parsed.releases = Some(value()?),
            "--repo" => parsed.repo = Some(value()?),
            "--large-asset" => parsed.large_assets.push(parse_large_asset(&value()?)?),
            "--download-rate" => {
                let text = value()?;
                parsed.download_rate = Some(
                    parse_size(&text)
                        .ok_or_else(|| format!("--download-rate {text:?}: {NOT_A_SIZE}"))?,
                );
            }
            "--max-per-page" => {
                let text = value()?;
                parsed.max_per_page =
                    Some(text.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                        format!("--max-per-page {text:?} is not a positive number")
                    })?);
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if !parsed.listen.ip().is_loopback() {
        return Err(format!(
            "--listen {}: the fake GitHub listens on loopback addresses only (127.0.0.1 or ::1)",
            parsed.listen
        ));
    }
    Ok(Some(parsed))
}

/// `VERSION:PLATFORM:BYTES`, e.g. `2.316.1:linux-x64:200MiB`.
fn parse_large_asset(text: &str) -> Result<(Version, Platform, u64), String> {
    let bad = |why: String| format!("--large-asset {text:?}: {why}");
    let [version, platform, size] = text.split(':').collect::<Vec<_>>()[..] else {
        return Err(bad("expected VERSION:PLATFORM:BYTES".into()));
    };
    let version: Version = version.parse().map_err(|e| bad(format!("{e}")))?;
    let platform: Platform = platform.parse().map_err(|e| bad(format!("{e}")))?;
    let bytes = parse_size(size).ok_or_else(|| bad(format!("{size:?} {NOT_A_SIZE}")))?;
    Ok((version, platform, bytes))
}

const NOT_A_SIZE: &str = "is not a positive size (bytes, or a number with KiB, MiB or GiB)";

/// A positive number of bytes: `1048576`, `1024KiB`, `1MiB`.
fn parse_size(text: &str) -> Option<u64> {
    let (digits, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let multiplier: u64 = match unit {
        "" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => return None,
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(multiplier))
        .filter(|n| *n > 0)
}

fn load_releases(path: &str) -> Result<Vec<FakeRelease>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("--releases {path}: {e}"))?;
    let list = policy::parse_releases(&text).map_err(|e| format!("--releases {path}: {e}"))?;
    for skipped in list.skipped() {
        eprintln!(
            "fake-github: --releases {path}: leaving out {}: {}",
            skipped.tag, skipped.reason
        );
    }
    Ok(list.releases().iter().map(FakeRelease::from).collect())
}

fn run(args: Args) -> Result<(), String> {
    let releases = match &args.releases {
        Some(path) => load_releases(path)?,
        None => FakeGithub::history(),
    };
    // Checked here, because the handle's switches panic on assets that do not exist.
    for (version, platform, _) in &args.large_assets {
        let release = releases
            .iter()
            .find(|r| r.version == version.to_string())
            .ok_or_else(|| format!("--large-asset: there is no release {version}"))?;
        if !shipped_platforms(version).contains(platform) {
            return Err(format!(
                "--large-asset: release {} ships no {platform} package",
                release.version
            ));
        }
    }

    let mut builder = FakeGithub::builder(releases).listen(args.listen);
    if let Some(repo) = &args.repo {
        builder = builder.repo(repo);
    }
    if let Some(n) = args.max_per_page {
        builder = builder.max_per_page(n);
    }
    let fake = builder
        .start()
        .map_err(|e| format!("cannot start on {}: {e}", args.listen))?;
    for (version, platform, bytes) in &args.large_assets {
        fake.set_large_asset(&version.to_string(), *platform, *bytes);
    }
    fake.set_download_rate(args.download_rate);

    // The signal handlers exist before the URL is printed: a harness may send SIGTERM as soon
    // as it has read the line, and must not kill the process by the default action.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime: {e}"))?;
    let mut shutdown = {
        let _context = runtime.enter();
        ShutdownSignals::register().map_err(|e| format!("cannot handle signals: {e}"))?
    };

    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "api={}", fake.api_url())
        .and_then(|()| stdout.flush())
        .map_err(|e| format!("cannot write to stdout: {e}"))?;
    drop(stdout);

    runtime.block_on(shutdown.recv());
    drop(fake);
    Ok(())
}

/// SIGTERM (how test harnesses and service managers stop a process) and ctrl-c.
#[cfg(unix)]
struct ShutdownSignals {
    terminate: tokio::signal::unix::Signal,
    interrupt: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl ShutdownSignals {
    /// Must run inside a tokio runtime context.
    fn register() -> std::io::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(ShutdownSignals {
            terminate: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
        })
    }

    async fn recv(&mut self) {
        tokio::select! {
            _ = self.terminate.recv() => {}
            _ = self.interrupt.recv() => {}
        }
    }
}

/// Ctrl-c only, where there is no SIGTERM.
#[cfg(not(unix))]
struct ShutdownSignals;

#[cfg(not(unix))]
impl ShutdownSignals {
    fn register() -> std::io::Result<Self> {
        Ok(ShutdownSignals)
    }

    async fn recv(&mut self) {
        // An error here means ctrl-c cannot be received at all; stopping is all that is left.
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("fake-github: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("fake-github: {message}");
            ExitCode::FAILURE
        }
    }
}
