use std::process::ExitCode;

use chrono::Utc;
use mirror::{change_config, Change, Parameter};
use policy::{rfc3339, ChannelConfig, OverrideNote, OverrideReport};

use crate::args::{ClearWhat, OverrideAction, OverrideArgs, SetWhat};

pub async fn run(args: OverrideArgs) -> anyhow::Result<ExitCode> {
    let now = args.now.unwrap_or_else(Utc::now);
    let stores = args.store.open().await?;
    let change = match args.action {
        OverrideAction::Show => {
            let config = stores.state.config(&args.channel).await?;
            let document = stores.state.config_document(&args.channel).await?;
            println!(
                "channel {} ({})",
                args.channel,
                stores.state.config_location(&args.channel)
            );
            show(&config, now);
            if let (Some(by), Some(at)) = (&document.updated_by, &document.updated_at) {
                println!("  last changed by {by} at {at}");
            }
            return Ok(ExitCode::SUCCESS);
        }
        OverrideAction::Pin {
            version,
            reason,
            expires,
        } => Change::Pin {
            version,
            reason,
            expires_at: expires.map(|w| w.resolve(now)),
        },
        OverrideAction::Block {
            version,
            reason,
            expires,
        } => Change::Block {
            version,
            reason,
            expires_at: expires.map(|w| w.resolve(now)),
        },
        OverrideAction::Freeze { until, reason } => Change::Freeze {
            until: until.resolve(now),
            reason,
        },
        OverrideAction::Clear { what } => match what {
            ClearWhat::Pin => Change::ClearPin,
            ClearWhat::Freeze => Change::ClearFreeze,
            ClearWhat::Block { version } => Change::ClearBlock(version),
        },
        OverrideAction::Set { what } => match what {
            SetWhat::MinAge { value } => Change::Set(Parameter::MinAge, value),
            SetWhat::Soak { value } => Change::Set(Parameter::Soak, value),
            SetWhat::SupportWindow { value } => Change::Set(Parameter::SupportWindow, value),
            SetWhat::Platforms { platforms } => Change::SetPlatforms(platforms),
        },
    };
    let source = args.source.open()?;
    // The caller's AWS identity on the AWS stores, else the login name.
    let aws_identity = match stores.local {
        None => mirror::caller_identity().await,
        Some(_) => None,
    };
    let who = aws_identity
        .or_else(|| std::env::var("USER").ok())
        .or_else(|| std::env::var("USERNAME").ok())
        .unwrap_or_else(|| "unknown".to_owned());
    let changed = change_config(&*stores.state, &source, &args.channel, &change, &who, now).await?;
    println!("channel {}: {} (by {who})", args.channel, change.describe());
    show(&changed.config, now);
    println!("The next evaluation would decide:");
    print!("{}", changed.preview);
    Ok(ExitCode::SUCCESS)
}

fn show(config: &ChannelConfig, now: chrono::DateTime<Utc>) {
    let policy = &config.policy;
    let platforms: Vec<&str> = policy.platforms().iter().map(|p| p.as_str()).collect();
    println!(
        "  parameters: min_age {}, support_window {}, soak {}; platforms {}",
        policy::days(policy.min_age()),
        policy::days(policy.support_window()),
        policy::days(policy.soak()),
        platforms.join(", ")
    );
    let report = OverrideReport::at(&config.overrides, now);
    if report.is_empty() {
        println!("  overrides:  none");
    }
    for (notes, state) in [(&report.active, "active"), (&report.expired, "expired")] {
        for note in notes {
            let line = match note {
                OverrideNote::Pin(p) => {
                    format!("pin {}{} ({})", p.version, until(p.expires_at), p.reason)
                }
                OverrideNote::Freeze(f) => {
                    format!("freeze until {} ({})", rfc3339(&f.until), f.reason)
                }
                OverrideNote::Block(b) => {
                    format!("block {}{} ({})", b.version, until(b.expires_at), b.reason)
                }
            };
            println!("  override:   {line} [{state}]");
        }
    }
}

fn until(t: Option<chrono::DateTime<Utc>>) -> String {
    t.map(|t| format!(" until {}", rfc3339(&t)))
        .unwrap_or_default()
}
