use std::process::ExitCode;

use chrono::Utc;
use policy::{decide, AssetCheck, ChannelConfig, Evaluation, Outcome};

use crate::args::{load_channel_config, load_releases, PlanArgs, PlanFormat};

pub fn run(args: PlanArgs) -> anyhow::Result<ExitCode> {
    let releases = load_releases(&args.releases)?;
    let config = match &args.channel_config {
        Some(path) => load_channel_config(path)?,
        None => ChannelConfig::default(),
    };
    let record = decide(&Evaluation {
        releases: &releases,
        now: args.now.unwrap_or_else(Utc::now),
        previous: args.previous.as_ref(),
        config: &config,
        assets: if args.ignore_checksums {
            AssetCheck::Ignored
        } else {
            AssetCheck::Required
        },
    });
    match args.format {
        PlanFormat::Text => print!("{record}"),
        PlanFormat::Json => println!("{}", serde_json::to_string_pretty(&record)?),
    }
    Ok(match &record.outcome {
        Outcome::Chosen { .. } => ExitCode::SUCCESS,
        Outcome::Failed { error } => {
            eprintln!("runner-mirror: decision failed: {error}");
            ExitCode::FAILURE
        }
    })
}
