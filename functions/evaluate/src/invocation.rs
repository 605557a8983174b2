//! What an invocation asks for, read from the event's JSON: the EventBridge schedule, or an
//! operator's manual invocation.

use std::fmt;

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use chrono::{DateTime, Utc};
use mirror::ChannelName;
use serde::Deserialize;
use serde_json::Value;

/// The `detail-type` and `source` of the events an EventBridge schedule rule sends.
const SCHEDULED_DETAIL_TYPE: &str = "Scheduled Event";
const SCHEDULED_SOURCE: &str = "aws.events";

/// The shapes an invocation may have, for error messages.
const ACCEPTED: &str = "accepted: an EventBridge scheduled event (\"detail-type\": \
    \"Scheduled Event\", \"source\": \"aws.events\", \"time\": the scheduled instant), or a manual \
    invocation {\"channel\": \"stable\", \"dry_run\": true, \"now\": \"2024-06-07T00:00:00Z\"} \
    with every field optional";

/// One invocation of the function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Invocation {
    /// The daily schedule: every configured channel, evaluated at the event's `time` (the
    /// scheduled instant, not the clock), so a retried or replayed event decides the same.
    Scheduled { time: DateTime<Utc> },
    /// An operator's invocation: one channel or all, a dry run or not, now or at a given time.
    Manual {
        channel: Option<ChannelName>,
        dry_run: bool,
        now: Option<DateTime<Utc>>,
    },
}

/// An event that is not an invocation this function understands.
#[derive(Debug, thiserror::Error)]
pub enum InvocationError {
    #[error("the event is a JSON {found}, not an object; {ACCEPTED}")]
    NotAnObject { found: &'static str },
    #[error("the EventBridge event does not parse: {cause}; {ACCEPTED}")]
    EventBridge { cause: FieldError },
    #[error("the EventBridge event is a {detail_type:?} from {source_name:?}, not a {SCHEDULED_DETAIL_TYPE:?} from {SCHEDULED_SOURCE:?}; {ACCEPTED}")]
    NotScheduled {
        detail_type: String,
        source_name: String,
    },
    #[error("the scheduled event has no \"time\", the instant to evaluate at; {ACCEPTED}")]
    NoTime,
    #[error("the manual invocation does not parse: {cause}; {ACCEPTED}")]
    Manual { cause: FieldError },
}

/// A payload that does not deserialize, with the field it failed at.
#[derive(Debug)]
pub struct FieldError {
    /// The path to the field, e.g. `now`; empty for the payload as a whole.
    pub field: String,
    pub cause: serde_json::Error,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cause = self.cause.to_string();
        // An unknown field's message names it already.
        if self.field.is_empty() || cause.contains(&format!("`{}`", self.field)) {
            f.write_str(&cause)
        } else {
            write!(f, "field `{}`: {}", self.field, self.cause)
        }
    }
}

/// Deserializes `payload`, noting the field where it fails.
fn deserialize<T: serde::de::DeserializeOwned>(payload: &Value) -> Result<T, FieldError> {
    serde_path_to_error::deserialize(payload).map_err(|e| {
        let path = e.path().to_string();
        FieldError {
            field: if path == "." { String::new() } else { path },
            cause: e.into_inner(),
        }
    })
}

/// The manual payload as sent; unknown fields are errors, so a typo never means a default.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ManualPayload {
    #[serde(default)]
    channel: Option<ChannelName>,
    #[serde(default)]
    dry_run: bool,
    #[serde(default)]
    now: Option<DateTime<Utc>>,
}

impl Invocation {
    /// Reads an invocation from the event's payload. An object with a `detail-type` or a
    /// `source` is an EventBridge event and must be a scheduled one; any other object is a
    /// manual invocation.
    pub fn from_payload(payload: &Value) -> Result<Invocation, InvocationError> {
        let Value::Object(fields) = payload else {
            return Err(InvocationError::NotAnObject {
                found: json_kind(payload),
            });
        };
        if fields.contains_key("detail-type") || fields.contains_key("source") {
            let event = deserialize::<EventBridgeEvent<Value>>(payload)
                .map_err(|cause| InvocationError::EventBridge { cause })?;
            if event.detail_type != SCHEDULED_DETAIL_TYPE || event.source != SCHEDULED_SOURCE {
                return Err(InvocationError::NotScheduled {
                    detail_type: event.detail_type,
                    source_name: event.source,
                });
            }
            let time = event.time.ok_or(InvocationError::NoTime)?;
            return Ok(Invocation::Scheduled { time });
        }
        let manual = deserialize::<ManualPayload>(payload)
            .map_err(|cause| InvocationError::Manual { cause })?;
        Ok(Invocation::Manual {
            channel: manual.channel,
            dry_run: manual.dry_run,
            now: manual.now,
        })
    }

    /// The instant to evaluate at, when the invocation names one.
    pub fn now(&self) -> Option<DateTime<Utc>> {
        match self {
            Invocation::Scheduled { time } => Some(*time),
            Invocation::Manual { now, .. } => *now,
        }
    }

    pub fn dry_run(&self) -> bool {
        match self {
            Invocation::Scheduled { .. } => false,
            Invocation::Manual { dry_run, .. } => *dry_run,
        }
    }

    /// The one channel asked for; `None` means every configured channel.
    pub fn channel(&self) -> Option<&ChannelName> {
        match self {
            Invocation::Scheduled { .. } => None,
            Invocation::Manual { channel, .. } => channel.as_ref(),
        }
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn parse(payload: Value) -> Result<Invocation, String> {
        Invocation::from_payload(&payload).map_err(|e| e.to_string())
    }

    #[test]
    fn a_scheduled_event_evaluates_at_its_time() {
        let event = json!({
            "version": "0",
            "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": "123456789012",
            "time": "2024-06-07T00:00:00Z",
            "region": "us-east-1",
            "resources": ["arn:aws:events:us-east-1:123456789012:rule/daily"],
            "detail": {}
        });
        assert_eq!(
            parse(event),
            Ok(Invocation::Scheduled {
                time: at("2024-06-07T00:00:00Z")
            })
        );
    }

    #[test]
    fn other_eventbridge_events_are_refused() {
        let event = json!({
            "detail-type": "EC2 Instance State-change Notification",
            "source": "aws.ec2",
            "time": "2024-06-07T00:00:00Z",
            "detail": {}
        });
        let err = parse(event).unwrap_err();
        assert!(
            err.starts_with("the EventBridge event is a \"EC2 Instance State-change Notification\" from \"aws.ec2\", not a \"Scheduled Event\" from \"aws.events\"; accepted: "),
            "{err}"
        );
    }

    #[test]
    fn a_scheduled_event_needs_its_time() {
        let event = json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}});
        let err = parse(event).unwrap_err();
        assert!(
            err.starts_with("the scheduled event has no \"time\""),
            "{err}"
        );
    }

    #[test]
    fn a_broken_eventbridge_event_says_what_is_wrong() {
        let event = json!({"detail-type": "Scheduled Event", "source": "aws.events", "time": "yesterday", "detail": {}});
        let err = parse(event).unwrap_err();
        assert!(
            err.starts_with("the EventBridge event does not parse: field `time`: input contains invalid characters"),
            "{err}"
        );
        assert!(
            err.contains("accepted: an EventBridge scheduled event"),
            "{err}"
        );
    }

    #[test]
    fn manual_fields_are_all_optional() {
        assert_eq!(
            parse(json!({})),
            Ok(Invocation::Manual {
                channel: None,
                dry_run: false,
                now: None
            })
        );
        assert_eq!(
            parse(json!({"channel": "stable", "dry_run": true, "now": "2024-08-03T00:00:00Z"})),
            Ok(Invocation::Manual {
                channel: Some("stable".parse().unwrap()),
                dry_run: true,
                now: Some(at("2024-08-03T00:00:00Z"))
            })
        );
        assert_eq!(
            parse(json!({"channel": null, "now": null})),
            Ok(Invocation::Manual {
                channel: None,
                dry_run: false,
                now: None
            })
        );
    }

    #[test]
    fn manual_mistakes_are_named() {
        let cases = [
            (json!({"dryrun": true}), "unknown field `dryrun`"),
            (
                json!({"channel": "Stable"}),
                "`Stable` is not a channel name",
            ),
            (
                json!({"dry_run": "yes"}),
                "field `dry_run`: invalid type: string \"yes\", expected a boolean",
            ),
            (
                json!({"now": "2024-08-03"}),
                "field `now`: premature end of input",
            ),
        ];
        for (payload, why) in cases {
            let err = parse(payload.clone()).unwrap_err();
            assert!(
                err.starts_with("the manual invocation does not parse: "),
                "{payload}: {err}"
            );
            assert!(err.contains(why), "{payload}: {why:?} not in {err}");
            assert!(err.contains("accepted: "), "{err}");
        }
    }

    #[test]
    fn non_objects_are_refused() {
        for (payload, kind) in [
            (json!("stable"), "string"),
            (json!(null), "null"),
            (json!([]), "array"),
        ] {
            let err = parse(payload).unwrap_err();
            assert!(
                err.starts_with(&format!(
                    "the event is a JSON {kind}, not an object; accepted: "
                )),
                "{err}"
            );
        }
    }
}
