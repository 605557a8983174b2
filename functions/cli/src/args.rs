//! What the user typed, and the loading of the files it names.

use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::{DateTime, NaiveDate, NaiveTime, TimeDelta, Utc};
use clap::{Parser, Subcommand, ValueEnum};
use mirror::ChannelName;
use policy::{ChannelConfig, Platform, ReleaseList, Version};

#[derive(Parser)]
#[command(
    name = "runner-mirror",
    version,
    about = "A slow-updating, verified mirror of the GitHub Actions runner"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Decide once on a release list and print the full decision record.
    Plan(PlanArgs),
    /// Replay the policy once a day over a release history and summarise what runners got.
    Simulate(SimulateArgs),
    /// Evaluate a channel once against GitHub and copy the approved release into the store.
    Sync(SyncArgs),
    /// Serve the redirect routes for runners from the store.
    Serve(ServeArgs),
    /// Show each channel's approved version, cutoff, next change and last failure.
    Status(StatusArgs),
    /// Change a channel's overrides or parameters (validated, and previewed before writing).
    Override(OverrideArgs),
    /// Show a channel's decision log, newest first.
    History(HistoryArgs),
}

/// Which store: the local directory, or DynamoDB and S3 when a table and a bucket are given.
#[derive(clap::Args)]
pub struct StoreArgs {
    /// The local store directory (used when no table and bucket are given).
    #[arg(
        long,
        global = true,
        value_name = "DIR",
        default_value = "mirror",
        env = "RUNNER_MIRROR_STORE"
    )]
    pub store: PathBuf,
    /// The DynamoDB table for config, state and the decision log (with --bucket).
    #[arg(long, global = true, value_name = "NAME", env = "RUNNER_MIRROR_TABLE")]
    pub table: Option<String>,
    /// The S3 bucket for artifacts (with --table).
    #[arg(long, global = true, value_name = "NAME", env = "RUNNER_MIRROR_BUCKET")]
    pub bucket: Option<String>,
}

/// Where releases come from.
#[derive(clap::Args)]
pub struct SourceArgs {
    /// The GitHub API base (GitHub Enterprise Server: https://HOST/api/v3). A token, if
    /// any, is read from GITHUB_TOKEN.
    #[arg(long, global = true, value_name = "URL", env = "GITHUB_API_URL", default_value = mirror::DEFAULT_API)]
    pub github_api: String,
    /// The repository whose releases are mirrored.
    #[arg(long, global = true, value_name = "OWNER/NAME", default_value = mirror::DEFAULT_REPO)]
    pub repo: String,
}

#[derive(clap::Args)]
pub struct SyncArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub source: SourceArgs,
    #[arg(long, value_name = "NAME", default_value = "stable", value_parser = parse_channel)]
    pub channel: ChannelName,
    /// The evaluation time [default: now].
    #[arg(long, value_name = "RFC3339", value_parser = parse_time)]
    pub now: Option<DateTime<Utc>>,
    /// Also copy each approved artifact to `channels/<channel>/<asset without version>`.
    #[arg(long, env = "RUNNER_MIRROR_CHANNEL_COPIES")]
    pub channel_copies: bool,
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
}

#[derive(clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
    /// How long a channel's state is served from memory before it is read again.
    #[arg(long, value_name = "SECONDS", default_value_t = 2.0, value_parser = parse_seconds)]
    pub state_ttl: f64,
}

fn parse_seconds(text: &str) -> Result<f64, String> {
    text.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0 && *s <= 86_400.0)
        .ok_or_else(|| format!("{text:?} is not a number of seconds from 0 to 86400"))
}

#[derive(clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
}

#[derive(clap::Args)]
pub struct HistoryArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[arg(long, value_name = "NAME", default_value = "stable", value_parser = parse_channel)]
    pub channel: ChannelName,
    /// How many entries, newest first.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub limit: usize,
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
}

#[derive(clap::Args)]
pub struct OverrideArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub source: SourceArgs,
    #[arg(long, global = true, value_name = "NAME", default_value = "stable", value_parser = parse_channel)]
    pub channel: ChannelName,
    /// When the change is made and previewed [default: now].
    #[arg(long, global = true, value_name = "RFC3339", value_parser = parse_time)]
    pub now: Option<DateTime<Utc>>,
    #[command(subcommand)]
    pub action: OverrideAction,
}

#[derive(Subcommand)]
pub enum OverrideAction {
    /// Serve VERSION, whatever the policy says, until the pin expires or is cleared.
    Pin {
        #[arg(value_parser = parse_version)]
        version: Version,
        #[arg(long)]
        reason: String,
        /// A time (RFC 3339) or a span from now (`7d`, `36h`).
        #[arg(long, value_name = "TIME|DURATION", value_parser = parse_when)]
        expires: Option<When>,
    },
    /// Never approve VERSION (blocking the approved version rolls back).
    Block {
        #[arg(value_parser = parse_version)]
        version: Version,
        #[arg(long)]
        reason: String,
        /// A time (RFC 3339) or a span from now (`7d`, `36h`).
        #[arg(long, value_name = "TIME|DURATION", value_parser = parse_when)]
        expires: Option<When>,
    },
    /// Keep the approved version until a time (RFC 3339) or for a span (`7d`).
    Freeze {
        #[arg(long, value_name = "TIME|DURATION", value_parser = parse_when)]
        until: When,
        #[arg(long)]
        reason: String,
    },
    /// Remove a pin, the freeze, or the block of a version.
    Clear {
        #[command(subcommand)]
        what: ClearWhat,
    },
    /// Set a parameter in days (`3`, `0.5`) or as a span (`72h`), or the platforms.
    Set {
        #[command(subcommand)]
        what: SetWhat,
    },
    /// Show the channel's parameters and overrides.
    Show,
}

#[derive(Subcommand)]
pub enum ClearWhat {
    Pin,
    Freeze,
    Block {
        #[arg(value_parser = parse_version)]
        version: Version,
    },
}

#[derive(Subcommand)]
pub enum SetWhat {
    MinAge {
        #[arg(value_parser = parse_duration)]
        value: TimeDelta,
    },
    Soak {
        #[arg(value_parser = parse_duration)]
        value: TimeDelta,
    },
    SupportWindow {
        #[arg(value_parser = parse_duration)]
        value: TimeDelta,
    },
    /// Comma-separated: linux-x64,linux-arm64.
    Platforms {
        #[arg(value_delimiter = ',', value_parser = parse_platform, required = true)]
        platforms: Vec<Platform>,
    },
}

/// A time given as such, or as a span from the moment of the change.
#[derive(Clone, Copy, Debug)]
pub enum When {
    At(DateTime<Utc>),
    After(TimeDelta),
}

impl When {
    pub fn resolve(self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            When::At(t) => t,
            When::After(d) => now + d,
        }
    }
}

fn parse_when(text: &str) -> Result<When, String> {
    parse_time(text).map(When::At).or_else(|_| {
        policy::parse_duration(text)
            .map(When::After)
            .map_err(|_| format!("{text:?} is neither an RFC 3339 time nor a duration such as 7d"))
    })
}

fn parse_platform(text: &str) -> Result<Platform, String> {
    text.parse()
        .map_err(|e: policy::PlatformError| e.to_string())
}

#[derive(clap::Args)]
pub struct PlanArgs {
    /// Releases: GitHub API JSON (pages may be concatenated) or the TSV history.
    #[arg(long, value_name = "FILE")]
    pub releases: PathBuf,
    /// The evaluation time [default: now].
    #[arg(long, value_name = "RFC3339", value_parser = parse_time)]
    pub now: Option<DateTime<Utc>>,
    /// The channel's parameters and overrides (the JSON form of the CONFIG item).
    #[arg(long, value_name = "FILE")]
    pub channel_config: Option<PathBuf>,
    /// The version the channel approved at its last evaluation.
    #[arg(long, value_name = "VERSION", value_parser = parse_version)]
    pub previous: Option<Version>,
    /// Do not require a verifiable SHA-256 for every platform (for histories without assets).
    #[arg(long)]
    pub ignore_checksums: bool,
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum PlanFormat {
    Text,
    Json,
}

#[derive(clap::Args)]
pub struct SimulateArgs {
    /// Releases: GitHub API JSON (pages may be concatenated) or the TSV history.
    #[arg(long, value_name = "FILE")]
    pub releases: PathBuf,
    /// First day evaluated.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub from: NaiveDate,
    /// Last day evaluated (included).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub to: NaiveDate,
    /// UTC time of the daily evaluation.
    #[arg(long, value_name = "HH:MM", value_parser = parse_clock, default_value = "00:00")]
    pub at: NaiveTime,
    /// min_age in days (`3`, `0.5`) or as a span (`72h`) [default: 3].
    #[arg(long, value_name = "D", value_parser = parse_duration)]
    pub min_age: Option<TimeDelta>,
    /// support_window in days or as a span [default: 30].
    #[arg(long, value_name = "D", value_parser = parse_duration)]
    pub support_window: Option<TimeDelta>,
    /// soak in days or as a span [default: 7].
    #[arg(long, value_name = "D", value_parser = parse_duration)]
    pub soak: Option<TimeDelta>,
    #[arg(long, value_enum, default_value_t = SimulateFormat::Text)]
    pub format: SimulateFormat,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum SimulateFormat {
    Text,
    Jsonl,
}

fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("not an RFC 3339 time such as 2024-06-07T00:00:00Z ({e})"))
}

fn parse_clock(text: &str) -> Result<NaiveTime, String> {
    NaiveTime::parse_from_str(text, "%H:%M").map_err(|_| "expected HH:MM, such as 00:00".to_owned())
}

fn parse_channel(text: &str) -> Result<ChannelName, String> {
    text.parse()
        .map_err(|e: mirror::ChannelNameError| e.to_string())
}

fn parse_version(text: &str) -> Result<Version, String> {
    text.parse()
        .map_err(|e: policy::VersionError| e.to_string())
}

fn parse_duration(text: &str) -> Result<TimeDelta, String> {
    policy::parse_duration(text).map_err(|e| e.to_string())
}

/// Reads and parses a release list; errors name the file.
pub fn load_releases(path: &Path) -> anyhow::Result<ReleaseList> {
    let text = read(path, "releases file")?;
    policy::parse_releases(&text).with_context(|| format!("releases file {}", path.display()))
}

/// Reads and validates a channel configuration; errors name the file and the attribute.
pub fn load_channel_config(path: &Path) -> anyhow::Result<ChannelConfig> {
    let text = read(path, "channel config")?;
    ChannelConfig::from_json(&text).with_context(|| format!("channel config {}", path.display()))
}

fn read(path: &Path, what: &str) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {what} {}", path.display()))
}
