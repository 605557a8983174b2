//! `runner-mirror`: the command line of runner-mirror. `plan` shows one decision of the policy
//! on a release list, `simulate` replays the policy over a history.
//!
//! This binary only parses arguments, reads files and the clock, and prints; every decision is
//! made by the `policy` crate.

mod args;
mod plan;
mod simulate;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = match args::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => e.exit(), // --help and --version
        Err(e) => {
            eprintln!("runner-mirror: {}", one_line(&e.to_string()));
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        args::Command::Plan(args) => plan::run(args),
        args::Command::Simulate(args) => simulate::run(args),
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
