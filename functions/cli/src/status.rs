use std::process::ExitCode;

use policy::rfc3339;
use serde_json::json;

use crate::args::{PlanFormat, StatusArgs};

pub async fn run(args: StatusArgs) -> anyhow::Result<ExitCode> {
    let stores = args.store.open().await?;
    let channels = stores.state.channels().await?;
    let mut states = Vec::new();
    for channel in channels {
        let state = stores.state.state(&channel).await?;
        states.push((channel, state));
    }
    match args.format {
        PlanFormat::Json => {
            let report: Vec<_> = states
                .iter()
                .map(|(channel, state)| {
                    let decision = state.last_decision.as_ref();
                    json!({
                        "channel": channel,
                        "version": state.approved.as_ref().map(|a| &a.version),
                        "approved_at": state.approved.as_ref().map(|a| a.approved_at),
                        "cutoff": decision.and_then(|d| d.cutoff),
                        "next_change": decision.and_then(|d| d.next_change),
                        "last_failure": state.last_failure,
                    })
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        PlanFormat::Text => {
            if states.is_empty() {
                println!(
                    "no channels in the {} yet: run `runner-mirror sync` first",
                    stores.name
                );
            }
            let time = |t: Option<chrono::DateTime<chrono::Utc>>, none: &str| {
                t.as_ref().map_or_else(|| none.to_owned(), rfc3339)
            };
            for (channel, state) in &states {
                let decision = state.last_decision.as_ref();
                match &state.approved {
                    Some(a) => println!(
                        "{channel}: {} (approved {})",
                        a.version,
                        rfc3339(&a.approved_at)
                    ),
                    None => println!("{channel}: nothing approved yet"),
                }
                println!(
                    "  cutoff:       {}",
                    time(decision.and_then(|d| d.cutoff), "none")
                );
                println!(
                    "  next change:  {}",
                    time(decision.and_then(|d| d.next_change), "none")
                );
                match &state.last_failure {
                    Some(f) => println!("  last failure: {} {}", rfc3339(&f.at), f.error),
                    None => println!("  last failure: none since the last success"),
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
