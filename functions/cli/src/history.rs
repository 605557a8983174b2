use std::process::ExitCode;

use policy::{rfc3339, Outcome};

use crate::args::{HistoryArgs, PlanFormat};

pub async fn run(args: HistoryArgs) -> anyhow::Result<ExitCode> {
    let stores = args.store.open().await?;
    let entries = stores.state.log(&args.channel, args.limit).await?;
    if let PlanFormat::Json = args.format {
        println!("{}", serde_json::to_string_pretty(&entries)?);
        return Ok(ExitCode::SUCCESS);
    }
    if entries.is_empty() {
        println!("channel {}: the decision log is empty", args.channel);
    }
    for entry in &entries {
        let at = rfc3339(&entry.at);
        let what = match (&entry.change, &entry.error, &entry.decision) {
            (Some(change), _, _) => format!("override: {change}"),
            (None, Some(error), _) => format!("FAILED: {error}"),
            (None, None, Some(record)) => match &record.outcome {
                Outcome::Chosen { version, .. } => {
                    let from = record
                        .previous
                        .as_ref()
                        .map_or_else(|| "none".to_owned(), ToString::to_string);
                    let relaxed: Vec<&str> = record.relaxed().map(|r| r.name()).collect();
                    let relaxed = if relaxed.is_empty() {
                        String::new()
                    } else {
                        format!(" (relaxed: {})", relaxed.join(", "))
                    };
                    format!("approved {version}, was {from}{relaxed}")
                }
                Outcome::Failed { error } => format!("FAILED: {error}"),
            },
            (None, None, None) => "(empty entry)".to_owned(),
        };
        println!("{at}  {what}");
    }
    Ok(ExitCode::SUCCESS)
}
