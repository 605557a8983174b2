use std::process::ExitCode;

use chrono::Utc;
use mirror::{GithubConfig, GithubSource, LocalStore, Mirror, Token};
use serde_json::json;

use crate::args::{PlanFormat, SyncArgs};

pub async fn run(args: SyncArgs) -> anyhow::Result<ExitCode> {
    // Read here and handed to the source only, which never prints it.
    let token = std::env::var("GITHUB_TOKEN").ok().and_then(Token::new);
    let source = GithubSource::new(GithubConfig::new(&args.github_api, &args.repo, token)?)?;
    let store = LocalStore::new(&args.store.store);
    let mirror = Mirror {
        source: &source,
        state: &store,
        artifacts: &store,
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
