//! The CloudWatch metrics of an evaluation, as embedded-metric-format (EMF) lines: one JSON
//! object on one line of stdout, which CloudWatch Logs turns into metrics without any API call.

use chrono::{DateTime, Utc};
use mirror::ChannelName;
use policy::{in_days, DecisionRecord};
use serde_json::{json, Map, Value};

pub const NAMESPACE: &str = "RunnerMirror";

/// What one channel's evaluation measured. A value that is not known is `None`, and the line
/// then has neither the value nor its metric definition.
#[derive(Clone, Debug, PartialEq)]
pub struct ChannelMetrics<'a> {
    pub channel: &'a ChannelName,
    /// Days from the evaluation to the approved version's cutoff (negative once passed);
    /// `None` while the version has no successor, so no cutoff.
    pub days_until_cutoff: Option<f64>,
    /// Days since the approved version was published.
    pub approved_version_age_days: Option<f64>,
    pub decision_changed: bool,
    pub evaluation_failed: bool,
    /// How many of the policy's rules were relaxed to find a candidate.
    pub rules_relaxed: Option<usize>,
}

impl<'a> ChannelMetrics<'a> {
    /// The metrics of a decision that was carried out at `now`.
    pub fn decided(channel: &'a ChannelName, record: &DecisionRecord, now: DateTime<Utc>) -> Self {
        ChannelMetrics {
            channel,
            days_until_cutoff: record.cutoff.map(|cutoff| days(cutoff - now)),
            approved_version_age_days: record.published_at.map(|at| days(now - at)),
            decision_changed: record.changed,
            evaluation_failed: false,
            rules_relaxed: Some(record.relaxed().count()),
        }
    }

    /// The metrics of a failed evaluation at `now`: the approved version stays, so its cutoff
    /// and age are still known from `served`, the decision that approved it (if any).
    pub fn failed(
        channel: &'a ChannelName,
        served: Option<&DecisionRecord>,
        now: DateTime<Utc>,
    ) -> Self {
        ChannelMetrics {
            channel,
            days_until_cutoff: served
                .and_then(|r| r.cutoff)
                .map(|cutoff| days(cutoff - now)),
            approved_version_age_days: served.and_then(|r| r.published_at).map(|at| days(now - at)),
            decision_changed: false,
            evaluation_failed: true,
            rules_relaxed: None,
        }
    }
}

/// Days to a hundredth (about a quarter of an hour), plenty for a dashboard or an alarm.
fn days(d: chrono::TimeDelta) -> f64 {
    (in_days(d) * 100.0).round() / 100.0
}

/// The EMF line of one channel's metrics, stamped `timestamp` (when they were observed).
pub fn emf_line(metrics: &ChannelMetrics<'_>, timestamp: DateTime<Utc>) -> String {
    let count = |yes: bool| Value::from(u8::from(yes));
    let values: [(&str, &str, Option<Value>); 5] = [
        (
            "DaysUntilCutoff",
            "None",
            metrics.days_until_cutoff.map(Value::from),
        ),
        (
            "ApprovedVersionAgeDays",
            "None",
            metrics.approved_version_age_days.map(Value::from),
        ),
        (
            "DecisionChanged",
            "Count",
            Some(count(metrics.decision_changed)),
        ),
        (
            "EvaluationFailed",
            "Count",
            Some(count(metrics.evaluation_failed)),
        ),
        (
            "RulesRelaxed",
            "Count",
            metrics.rules_relaxed.map(Value::from),
        ),
    ];
    let mut line = Map::new();
    let mut definitions = Vec::new();
    line.insert("Channel".to_owned(), metrics.channel.as_str().into());
    for (name, unit, value) in values {
        if let Some(value) = value {
            definitions.push(json!({"Name": name, "Unit": unit}));
            line.insert(name.to_owned(), value);
        }
    }
    line.insert(
        "_aws".to_owned(),
        json!({
            "Timestamp": timestamp.timestamp_millis(),
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                // Per channel, and once more over all channels: alarms watch the latter, so
                // the template needs no list of channels.
                "Dimensions": [["Channel"], []],
                "Metrics": definitions,
            }],
        }),
    );
    Value::Object(line).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stable() -> ChannelName {
        ChannelName::default()
    }

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn parsed(line: &str) -> Value {
        assert!(!line.contains('\n'), "one line: {line}");
        serde_json::from_str(line).unwrap()
    }

    fn metric_names(line: &Value) -> Vec<&str> {
        line["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap())
            .collect()
    }

    #[test]
    fn a_decision_with_every_value() {
        let channel = stable();
        let metrics = ChannelMetrics {
            channel: &channel,
            days_until_cutoff: Some(21.4),
            approved_version_age_days: Some(8.1),
            decision_changed: true,
            evaluation_failed: false,
            rules_relaxed: Some(1),
        };
        let line = emf_line(&metrics, at("2024-06-07T00:00:00Z"));
        assert_eq!(
            parsed(&line),
            json!({
                "_aws": {
                    "Timestamp": 1_717_718_400_000_i64,
                    "CloudWatchMetrics": [{
                        "Namespace": "RunnerMirror",
                        "Dimensions": [["Channel"], []],
                        "Metrics": [
                            {"Name": "DaysUntilCutoff", "Unit": "None"},
                            {"Name": "ApprovedVersionAgeDays", "Unit": "None"},
                            {"Name": "DecisionChanged", "Unit": "Count"},
                            {"Name": "EvaluationFailed", "Unit": "Count"},
                            {"Name": "RulesRelaxed", "Unit": "Count"}
                        ]
                    }]
                },
                "Channel": "stable",
                "DaysUntilCutoff": 21.4,
                "ApprovedVersionAgeDays": 8.1,
                "DecisionChanged": 1,
                "EvaluationFailed": 0,
                "RulesRelaxed": 1
            })
        );
    }

    #[test]
    fn unknown_values_and_their_definitions_are_left_out() {
        let channel = stable();
        let metrics = ChannelMetrics {
            channel: &channel,
            days_until_cutoff: None,
            approved_version_age_days: Some(2.0),
            decision_changed: false,
            evaluation_failed: false,
            rules_relaxed: Some(0),
        };
        let line = parsed(&emf_line(&metrics, at("2024-06-07T00:00:00Z")));
        assert_eq!(
            metric_names(&line),
            [
                "ApprovedVersionAgeDays",
                "DecisionChanged",
                "EvaluationFailed",
                "RulesRelaxed"
            ]
        );
        assert!(line.get("DaysUntilCutoff").is_none(), "{line}");
        assert_eq!(line["DecisionChanged"], 0);
        assert_eq!(line["RulesRelaxed"], 0);
    }

    #[test]
    fn a_failure_reports_what_the_served_decision_knows() {
        let channel: ChannelName = "canary".parse().unwrap();
        let now = at("2024-08-03T00:00:00Z");
        let nothing_served = parsed(&emf_line(&ChannelMetrics::failed(&channel, None, now), now));
        assert_eq!(
            metric_names(&nothing_served),
            ["DecisionChanged", "EvaluationFailed"]
        );
        assert_eq!(nothing_served["Channel"], "canary");
        assert_eq!(nothing_served["EvaluationFailed"], 1);
        assert_eq!(nothing_served["DecisionChanged"], 0);
    }

    #[test]
    fn days_are_measured_from_the_evaluation() {
        let channel = stable();
        let record: DecisionRecord = serde_json::from_value(json!({
            "evaluated_at": "2024-08-03T00:00:00Z",
            "previous": "2.317.0",
            "result": "chosen",
            "version": "2.318.0",
            "decided_by": "policy",
            "published_at": "2024-07-26T12:00:00Z",
            "changed": true,
            "policy_choice": "2.318.0",
            "rules": [
                {"rule": "min_age", "status": "held"},
                {"rule": "supported", "status": "held"},
                {"rule": "latest_patch", "status": "held"},
                {"rule": "no_rollback", "status": "relaxed"},
                {"rule": "soak", "status": "relaxed"}
            ],
            "dropped": [],
            "skipped": [],
            "overrides": {"active": [], "expired": []},
            "warnings": [],
            "cutoff": "2024-08-24T09:36:00Z",
            "next_change": null,
            "parameters": {
                "min_age_days": 3.0,
                "support_window_days": 30.0,
                "soak_days": 7.0,
                "platforms": ["linux-x64"],
                "assets_checked": true
            }
        }))
        .unwrap();
        let now = at("2024-08-03T00:00:00Z");
        let decided = ChannelMetrics::decided(&channel, &record, now);
        assert_eq!(decided.days_until_cutoff, Some(21.4));
        assert_eq!(decided.approved_version_age_days, Some(7.5));
        assert_eq!(decided.rules_relaxed, Some(2));
        assert!(decided.decision_changed && !decided.evaluation_failed);
        let failed = ChannelMetrics::failed(&channel, Some(&record), now);
        assert_eq!(failed.days_until_cutoff, Some(21.4));
        assert_eq!(failed.approved_version_age_days, Some(7.5));
        assert_eq!(failed.rules_relaxed, None);
        assert!(!failed.decision_changed && failed.evaluation_failed);
    }
}
