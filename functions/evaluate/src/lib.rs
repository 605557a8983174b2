//! The evaluate Lambda: EventBridge's daily schedule (or an operator's manual invocation) in,
//! [`mirror::Mirror::evaluate`] for each configured channel, a report of the decisions out.
//!
//! [`Evaluator`] owns what a deployment evaluates with (the GitHub source, the DynamoDB and S3
//! stores, the channels), built once per cold start from the environment by
//! [`Evaluator::from_env`] (see [`Settings`]); [`Evaluator::handle`] is the handler, which
//! reads an [`Invocation`] from the event. A scheduled event is evaluated at its `time`, not
//! at the clock, so a retried or replayed event decides the same. Every channel is evaluated
//! even when one fails, and any failure fails the invocation (after `evaluate` has recorded
//! it; the approved version stays).
//!
//! Observability: one `tracing` line per channel with the decision's summary, and for each
//! channel that was evaluated for real (not a dry run) one CloudWatch embedded-metric-format
//! line on stdout, namespace `RunnerMirror`, dimension `Channel`.
//!
//! The policy and the use case are the `policy` and `mirror` crates; this crate only adapts
//! them to Lambda.

mod config;
mod evaluator;
mod invocation;
mod metrics;

pub use config::{ConfigError, Settings, TokenSource};
pub use evaluator::{ChannelDecision, Evaluator, HandleError, Report};
pub use invocation::{FieldError, Invocation, InvocationError};
