use std::process::ExitCode;

use chrono::Utc;
use mirror::Mirror;
use serde_json::json;

use crate::args::{PlanFormat, SyncArgs};

pub async fn run(args: SyncArgs) -> anyhow::Result<ExitCode> {
    let source = args.source.open()?;
    let stores = args.store.open().await?;
    let mirror = Mirror {
        source: &source,
        state: &*stores.state,
        artifacts: &*stores.artifacts,
        channel_copies: args.channel_copies,
    };
    let now = args.now.unwrap_or_else(Utc::now);
    let done = match mirror.evaluate(&args.channel, now).await {
        Ok(done) => done,
        Err(error) => {
            if let Some(record) = error.record() {
                match args.format {
                    PlanFormat::Text => print!("{record}"),
                    PlanFormat::Json => println!("{}", serde_json::to_string_pretty(record)?),
                }
            }
            return Err(error.into());
        }
    };
    match args.format {
        PlanFormat::Json => {
            let report = json!({
                "channel": done.channel,
                "decision": done.record,
                "copied": done.copied,
                "pages_fetched": done.pages_fetched,
            });
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        PlanFormat::Text => {
            print!("{}", done.record);
            let listing = match done.pages_fetched {
                0 => "unchanged since the last sync (304 Not Modified)".to_owned(),
                n => format!("{n} page(s) fetched"),
            };
            println!("  {:13}{listing}", "GitHub:");
            if done.copied.is_empty() {
                println!(
                    "  {:13}nothing: the store holds every artifact already",
                    "copied:"
                );
            }
            for key in &done.copied {
                println!("  {:13}{key}", "copied:");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
