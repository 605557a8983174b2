use std::io::{BufWriter, Write};
use std::process::ExitCode;

use anyhow::Context;
use policy::{
    days, replay, rfc3339, show_days, ChannelConfig, DecidedBy, DecisionRecord, Outcome, Policy,
    ReleaseList, Schedule, Summary,
};
use serde_json::json;

use crate::args::{load_releases, SimulateArgs, SimulateFormat};

pub fn run(args: SimulateArgs) -> anyhow::Result<ExitCode> {
    let releases = load_releases(&args.releases)?;
    let defaults = Policy::default();
    let policy = Policy::new(
        args.min_age.unwrap_or(defaults.min_age()),
        args.support_window.unwrap_or(defaults.support_window()),
        args.soak.unwrap_or(defaults.soak()),
        defaults.platforms().to_vec(),
    )
    .context("parameters")?;
    let schedule = Schedule::new(args.from, args.to, args.at)?;
    let config = ChannelConfig {
        policy,
        overrides: Default::default(),
    };

    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut write_error = None;
    let mut emit = |line: String| {
        if write_error.is_none() {
            write_error = writeln!(out, "{line}").err();
        }
    };
    if let SimulateFormat::Text = args.format {
        emit(format!(
            "Replay {} to {} daily at {} UTC: min_age {}, support_window {}, soak {}",
            args.from,
            args.to,
            args.at.format("%H:%M"),
            days(config.policy.min_age()),
            days(config.policy.support_window()),
            days(config.policy.soak()),
        ));
    }
    let summary = replay(&releases, &config, &schedule, |record| match args.format {
        SimulateFormat::Jsonl => emit(jsonl_line(record).to_string()),
        SimulateFormat::Text => {
            if let Some(line) = timeline_line(record, &releases) {
                emit(line);
            }
        }
    });
    match args.format {
        SimulateFormat::Jsonl => emit(json!({ "summary": summary }).to_string()),
        SimulateFormat::Text => emit(summary_text(&summary)),
    }
    if let Some(e) = write_error {
        return Err(e).context("cannot write to standard output");
    }
    out.flush().context("cannot write to standard output")?;
    Ok(ExitCode::SUCCESS)
}

fn jsonl_line(record: &DecisionRecord) -> serde_json::Value {
    let (decided_by, error) = match &record.outcome {
        Outcome::Chosen { decided_by, .. } => (Some(*decided_by), None),
        Outcome::Failed { error } => (None, Some(error.to_string())),
    };
    json!({
        "at": record.evaluated_at,
        "version": record.served(),
        "previous": record.previous,
        "changed": record.changed,
        "relaxed": record.relaxed().collect::<Vec<_>>(),
        "decided_by": decided_by,
        "error": error,
        "cutoff": record.cutoff,
        "next_change": record.next_change,
    })
}

/// One line per change (or failure), with the reason a person needs.
fn timeline_line(record: &DecisionRecord, releases: &ReleaseList) -> Option<String> {
    let date = record.evaluated_at.format("%Y-%m-%d");
    match &record.outcome {
        Outcome::Failed { error } => Some(format!("{date}  FAILED: {error}")),
        Outcome::Chosen { .. } if !record.changed => None,
        Outcome::Chosen {
            version,
            decided_by,
        } => {
            let change = match &record.previous {
                None => format!("{version} (first approval)"),
                Some(previous) => format!("{previous} -> {version}"),
            };
            let mut why = Vec::new();
            if let Some(release) = releases.get(version) {
                why.push(format!(
                    "published {}, {} old",
                    rfc3339(&release.published_at),
                    days(record.evaluated_at - release.published_at)
                ));
            }
            let relaxed: Vec<&str> = record.relaxed().map(|r| r.name()).collect();
            if !relaxed.is_empty() {
                why.push(format!("relaxed: {}", relaxed.join(", ")));
            }
            match decided_by {
                DecidedBy::Policy => {}
                DecidedBy::Pin => why.push("pinned".to_owned()),
                DecidedBy::Freeze => why.push("frozen".to_owned()),
            }
            Some(format!("{date}  {change:<26} {}", why.join("; ")))
        }
    }
}

fn summary_text(s: &Summary) -> String {
    format!(
        "Summary: {} evaluations, {} changes, {} rollbacks; unsupported {}, under min_age {}, \
         under soak {}, on a superseded patch {}",
        s.evaluations,
        s.changes,
        s.rollbacks,
        show_days(s.unsupported_days),
        show_days(s.under_min_age_days),
        show_days(s.under_soak_days),
        show_days(s.superseded_patch_days)
    )
}
