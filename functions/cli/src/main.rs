//! `runner-mirror`: the command line of runner-mirror. `plan` shows one decision of the policy
//! on a release list, `simulate` replays the policy over a history, `sync` evaluates against
//! GitHub and mirrors into the store, `serve` answers runners, `status` shows the channels.
//!
//! This binary only parses arguments, reads files, the environment and the clock, and prints;
//! decisions are made by the `policy` crate and I/O by the `mirror` crate.

mod args;
mod history;
mod operate;
mod plan;
mod serve;
mod simulate;
mod status;
mod stores;
mod sync;

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = match args::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => e.exit(), // --help and --version
        Err(e) => {
            eprintln!("runner-mirror: {}", one_line(&e.to_string()));
            return ExitCode::from(2);
        }
    };
    // Logs go to stderr so that stdout stays the command's output; RUST_LOG tunes them.
    // Colours only on a terminal: a log file or a CI log gets plain text.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,mirror=info,runner_mirror=info".into()),
        )
        .init();
    let result = match cli.command {
        args::Command::Plan(args) => plan::run(args),
        args::Command::Simulate(args) => simulate::run(args),
        args::Command::Sync(args) => sync::run(args).await,
        args::Command::Serve(args) => serve::run(args).await,
        args::Command::Status(args) => status::run(args).await,
        args::Command::Override(args) => operate::run(args).await,
        args::Command::History(args) => history::run(args).await,
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            // `{:#}` puts the whole context chain on one line: what failed, then why.
            eprintln!("runner-mirror: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Clap's message without its usage footer, on one line: scripts and people read the first line.
fn one_line(message: &str) -> String {
    let body = message.split("\n\n").next().unwrap_or(message);
    body.split_whitespace().collect::<Vec<_>>().join(" ")
}
