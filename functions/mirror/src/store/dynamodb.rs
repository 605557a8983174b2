//! The DynamoDB state store: channel config, channel state, the decision log and the GitHub
//! release cache in one table with string keys `pk`/`sk`.
//!
//! ```text
//! pk               sk                              attributes
//! CHANNEL#<name>   CONFIG                          the flat ConfigDocument, one attribute per field
//! CHANNEL#<name>   STATE                           revision (N), document (S, ChannelState JSON),
//!                                                  version, approved_at (S, for the console)
//! CHANNEL#<name>   DECISION#<at>#<write time ns>   entry (S, LogEntry JSON), at, version, error,
//!                                                  change (S, for the console)
//! CACHE            GITHUB_RELEASES                 pages_gz (B, gzip-compressed ReleaseCache JSON)
//! ```
//!
//! The `CONFIG` item is what an operator edits by hand in the console, so it is converted
//! attribute by attribute into the same JSON document the local config file holds and validated
//! by the policy crate; a wrong type or value is reported by attribute and nothing changes.
//! The `STATE` item's `document` is the source of truth; its `revision` attribute carries the
//! commit condition, so two racing evaluations cannot both win. Every SDK error goes through
//! [`aws_error`].

use std::collections::HashMap;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeValue, KeyType, ReturnValuesOnConditionCheckFailure, ScalarAttributeType,
};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, SecondsFormat, Utc};
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use policy::{ConfigDocument, ConfigError};
use serde::de::DeserializeOwned;
use serde_json::{Map, Number, Value};

use super::aws::aws_error;
use super::{StateStore, StoreError};
use crate::github::ReleaseCache;
use crate::names::ChannelName;
use crate::state::{ChannelState, LogEntry};

type Item = HashMap<String, AttributeValue>;

const CONFIG_SK: &str = "CONFIG";
const STATE_SK: &str = "STATE";
const DECISION_PREFIX: &str = "DECISION#";
const CACHE_PK: &str = "CACHE";
const CACHE_SK: &str = "GITHUB_RELEASES";

/// The key schema the table must have; checked once by [`DynamoStore::new`].
const KEY_SCHEMA: &str = "pk (HASH, S) and sk (RANGE, S)";

/// How often `append_log` picks a new key when another writer took the one it chose.
const LOG_KEY_ATTEMPTS: usize = 3;

pub struct DynamoStore {
    client: Client,
    table: String,
    /// The last decision-log key suffix this store used: suffixes are the wall-clock time of
    /// the write in nanoseconds, kept strictly increasing so that this process's entries stay
    /// apart and in write order even if the clock stands still or steps back.
    last_log_suffix: AtomicU64,
}

impl DynamoStore {
    /// Connects to `table` and checks that it exists and has the key schema this store needs,
    /// so that a wrong table name fails at start rather than at the first write.
    pub async fn new(
        config: &aws_config::SdkConfig,
        table: &str,
    ) -> Result<DynamoStore, StoreError> {
        let store = DynamoStore::unchecked(config, table);
        let resource = format!("table {table}");
        let described = store
            .client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| {
                let missing = e
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception());
                let error = aws_error("DescribeTable", &resource, e);
                if missing {
                    let region = config.region().map_or_else(
                        || "the configured region".to_owned(),
                        |r| format!("region {r}"),
                    );
                    with_hint(
                        error,
                        &format!(
                            "there is no such table in {region} (runner-mirror needs one with key \
                             schema {KEY_SCHEMA})"
                        ),
                    )
                } else {
                    error
                }
            })?;
        // An answer without a description has no key schema, and is refused below.
        let (keys, definitions) = described
            .table()
            .map(|t| (t.key_schema(), t.attribute_definitions()))
            .unwrap_or_default();
        let schema: Vec<(String, KeyType, Option<ScalarAttributeType>)> = keys
            .iter()
            .map(|k| {
                let attribute_type = definitions
                    .iter()
                    .find(|d| d.attribute_name() == k.attribute_name())
                    .map(|d| d.attribute_type().clone());
                (
                    k.attribute_name().to_owned(),
                    k.key_type().clone(),
                    attribute_type,
                )
            })
            .collect();
        let expected = [
            ("pk".to_owned(), KeyType::Hash, Some(ScalarAttributeType::S)),
            (
                "sk".to_owned(),
                KeyType::Range,
                Some(ScalarAttributeType::S),
            ),
        ];
        if schema != expected {
            let found = schema
                .iter()
                .map(|(name, key_type, attribute_type)| {
                    let attribute_type = attribute_type
                        .as_ref()
                        .map_or("type unknown", |t| t.as_str());
                    format!("{name} ({}, {attribute_type})", key_type.as_str())
                })
                .collect::<Vec<_>>()
                .join(" and ");
            let found = if found.is_empty() {
                "unknown".to_owned()
            } else {
                found
            };
            // A table of the wrong shape is a deployment error: the name points at some other
            // table.
            return Err(StoreError::Setup {
                resource: format!("DynamoDB table {table}"),
                problem: format!("its key schema is {found}, but runner-mirror needs {KEY_SCHEMA}"),
            });
        }
        Ok(store)
    }

    /// A store on `table`, without a request: for a process that only reads state (the
    /// redirect function), whose cold start should not wait for a check its requests do not
    /// need; a wrong table then fails each request, with the table's name.
    pub fn unchecked(config: &aws_config::SdkConfig, table: &str) -> DynamoStore {
        DynamoStore {
            client: Client::new(config),
            table: table.to_owned(),
            last_log_suffix: AtomicU64::new(0),
        }
    }

    /// The table this store uses.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// An item's place for [`StoreError::Aws`]: `table T item CHANNEL#stable/STATE`.
    fn resource(&self, pk: &str, sk: &str) -> String {
        format!("table {} item {pk}/{sk}", self.table)
    }

    /// An item's place for other errors: `DynamoDB table T, item CHANNEL#stable/STATE`.
    fn location(&self, pk: &str, sk: &str) -> String {
        format!("DynamoDB table {}, item {pk}/{sk}", self.table)
    }

    /// The item with this key, read consistently (a commit must see the last commit).
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError> {
        let answer = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| aws_error("GetItem", &self.resource(pk, sk), e))?;
        Ok(answer.item)
    }

    /// Replaces the item with this key by `attributes`.
    async fn put(&self, pk: &str, sk: &str, attributes: Item) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(keyed(pk, sk, attributes)))
            .send()
            .await
            .map_err(|e| aws_error("PutItem", &self.resource(pk, sk), e))?;
        Ok(())
    }

    /// The revision a `STATE` item holds; 0 when there is none.
    fn revision_of(&self, pk: &str, item: Option<&Item>) -> Result<u64, StoreError> {
        let Some(item) = item else { return Ok(0) };
        match item.get("revision") {
            Some(AttributeValue::N(n)) => n.parse().map_err(|_| StoreError::Corrupt {
                location: self.location(pk, STATE_SK),
                detail: format!("attribute `revision`: {n:?} is not a revision number"),
            }),
            _ => Err(StoreError::Corrupt {
                location: self.location(pk, STATE_SK),
                detail: "attribute `revision` is missing or not a number (N)".to_owned(),
            }),
        }
    }

    /// The next decision-log key suffix: the wall-clock time in nanoseconds, or one more than
    /// the last suffix if the clock has not moved past it.
    fn next_log_suffix(&self) -> u64 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        let previous = self
            .last_log_suffix
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |last| {
                Some(now.max(last.saturating_add(1)))
            })
            .unwrap_or_else(|last| last);
        now.max(previous.saturating_add(1))
    }
}

/// Adds a hint to an AWS error's message, keeping its code and request id.
fn with_hint(error: StoreError, hint: &str) -> StoreError {
    match error {
        StoreError::Aws {
            operation,
            resource,
            code,
            message,
            request_id,
        } => StoreError::Aws {
            operation,
            resource,
            code,
            message: format!("{message}; {hint}"),
            request_id,
        },
        other => other,
    }
}

fn s(text: &str) -> AttributeValue {
    AttributeValue::S(text.to_owned())
}

fn keyed(pk: &str, sk: &str, mut attributes: Item) -> Item {
    attributes.insert("pk".to_owned(), s(pk));
    attributes.insert("sk".to_owned(), s(sk));
    attributes
}

fn channel_pk(channel: &ChannelName) -> String {
    format!("CHANNEL#{channel}")
}

/// Times in keys and for the console: fixed width, so that keys sort in time order.
fn key_time(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string()
}

/// Parses a stored JSON document; an error names the item and the field, like the local
/// store's files.
fn parse_json<T: DeserializeOwned>(location: String, text: &str) -> Result<T, StoreError> {
    let de = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        StoreError::Corrupt {
            location,
            detail: if field == "." {
                e.into_inner().to_string()
            } else {
                format!("field `{field}`: {}", e.into_inner())
            },
        }
    })
}

/// The string attribute that holds an item's JSON document.
fn document_attribute<'a>(
    item: &'a Item,
    attribute: &str,
    location: &str,
) -> Result<&'a str, StoreError> {
    match item.get(attribute) {
        Some(AttributeValue::S(text)) => Ok(text),
        _ => Err(StoreError::Corrupt {
            location: location.to_owned(),
            detail: format!("attribute `{attribute}` is missing or not a string (S)"),
        }),
    }
}

/// The attribute's type as the console names it, for messages.
fn type_name(value: &AttributeValue) -> &'static str {
    match value {
        AttributeValue::B(_) => "B (binary)",
        AttributeValue::Bs(_) => "BS (binary set)",
        AttributeValue::Bool(_) => "BOOL",
        AttributeValue::L(_) => "L",
        AttributeValue::M(_) => "M",
        AttributeValue::N(_) => "N",
        AttributeValue::Ns(_) => "NS",
        AttributeValue::Null(_) => "NULL",
        AttributeValue::S(_) => "S",
        AttributeValue::Ss(_) => "SS",
        _ => "an unknown type",
    }
}

fn json_number(path: &str, text: &str) -> Result<Value, ConfigError> {
    let trimmed = text.trim();
    // Integers stay integers; anything else DynamoDB accepts (1.5, 1E+2) is a float.
    if let Ok(i) = trimmed.parse::<i64>() {
        return Ok(Value::Number(i.into()));
    }
    trimmed
        .parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .map(Value::Number)
        .ok_or_else(|| ConfigError::Syntax(format!("attribute `{path}`: {text:?} is not a number")))
}

/// Converts an attribute of the config item to JSON, generically, so that the policy crate's
/// document validation names wrong types and unknown attributes exactly as for a file.
fn to_json(path: &str, value: &AttributeValue) -> Result<Value, ConfigError> {
    Ok(match value {
        AttributeValue::S(text) => Value::String(text.clone()),
        AttributeValue::N(text) => json_number(path, text)?,
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::L(values) => Value::Array(
            values
                .iter()
                .enumerate()
                .map(|(i, v)| to_json(&format!("{path}[{i}]"), v))
                .collect::<Result<_, _>>()?,
        ),
        AttributeValue::M(entries) => Value::Object(
            entries
                .iter()
                .map(|(k, v)| Ok((k.clone(), to_json(&format!("{path}.{k}"), v)?)))
                .collect::<Result<_, ConfigError>>()?,
        ),
        AttributeValue::Ss(texts) => {
            Value::Array(texts.iter().cloned().map(Value::String).collect())
        }
        AttributeValue::Ns(texts) => Value::Array(
            texts
                .iter()
                .map(|t| json_number(path, t))
                .collect::<Result<_, _>>()?,
        ),
        other => {
            return Err(ConfigError::Syntax(format!(
            "attribute `{path}`: type {} is not supported (use S, N, BOOL, NULL, L, M, SS or NS)",
            type_name(other)
        )))
        }
    })
}

/// Converts the config item (without its key) to the JSON document form.
fn config_value(item: &Item) -> Result<Value, ConfigError> {
    let mut object = Map::new();
    for (name, value) in item {
        if name != "pk" && name != "sk" {
            object.insert(name.clone(), to_json(name, value)?);
        }
    }
    Ok(Value::Object(object))
}

/// The reverse of [`to_json`]; `None` for nulls, which are left out.
fn to_attribute(value: &Value) -> Option<AttributeValue> {
    Some(match value {
        Value::Null => return None,
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Number(n) => AttributeValue::N(number_text(n)),
        Value::String(text) => AttributeValue::S(text.clone()),
        Value::Array(values) => AttributeValue::L(
            values
                .iter()
                .map(|v| to_attribute(v).unwrap_or(AttributeValue::Null(true)))
                .collect(),
        ),
        Value::Object(entries) => AttributeValue::M(
            entries
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), to_attribute(v)?)))
                .collect(),
        ),
    })
}

/// A number as an operator would type it: `7` rather than the `7.0` of an f64.
fn number_text(n: &Number) -> String {
    match n.as_f64() {
        Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
        _ => n.to_string(),
    }
}

fn gzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes)?;
    encoder.finish()
}

#[async_trait]
impl StateStore for DynamoStore {
    async fn channels(&self) -> Result<Vec<ChannelName>, StoreError> {
        let resource = format!("table {}", self.table);
        let mut names = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("#sk IN (:config, :state)")
                .projection_expression("#pk")
                .expression_attribute_names("#pk", "pk")
                .expression_attribute_names("#sk", "sk")
                .expression_attribute_values(":config", s(CONFIG_SK))
                .expression_attribute_values(":state", s(STATE_SK))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| aws_error("Scan", &resource, e))?;
            for item in page.items() {
                if let Some(AttributeValue::S(pk)) = item.get("pk") {
                    // Anything an operator put there by hand is not a channel.
                    if let Some(Ok(channel)) = pk.strip_prefix("CHANNEL#").map(str::parse) {
                        names.push(channel);
                    }
                }
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        names.sort();
        names.dedup();
        Ok(names)
    }

    async fn config_document(&self, channel: &ChannelName) -> Result<ConfigDocument, StoreError> {
        let Some(item) = self.get(&channel_pk(channel), CONFIG_SK).await? else {
            return Ok(ConfigDocument::default());
        };
        config_value(&item)
            .and_then(ConfigDocument::from_value)
            .map_err(|cause| StoreError::Config {
                location: self.config_location(channel),
                cause,
            })
    }

    async fn save_config(
        &self,
        channel: &ChannelName,
        document: &ConfigDocument,
    ) -> Result<(), StoreError> {
        let value = serde_json::to_value(document).expect("config documents serialize");
        let attributes = match value {
            Value::Object(fields) => fields
                .iter()
                .filter_map(|(name, v)| Some((name.clone(), to_attribute(v)?)))
                .collect(),
            _ => Item::new(),
        };
        self.put(&channel_pk(channel), CONFIG_SK, attributes).await
    }

    fn config_location(&self, channel: &ChannelName) -> String {
        self.location(&channel_pk(channel), CONFIG_SK)
    }

    async fn state(&self, channel: &ChannelName) -> Result<ChannelState, StoreError> {
        let pk = channel_pk(channel);
        let Some(item) = self.get(&pk, STATE_SK).await? else {
            return Ok(ChannelState::default());
        };
        let location = self.location(&pk, STATE_SK);
        let state: ChannelState = parse_json(
            location.clone(),
            document_attribute(&item, "document", &location)?,
        )?;
        // The commit condition reads `revision`; if someone edited one but not the other, the
        // next commit would fail or win against the wrong revision.
        let revision = self.revision_of(&pk, Some(&item))?;
        if revision != state.revision {
            return Err(StoreError::Corrupt {
                location,
                detail: format!(
                    "attribute `revision` is {revision} but the document's revision is {}",
                    state.revision
                ),
            });
        }
        Ok(state)
    }

    async fn commit(&self, channel: &ChannelName, state: &ChannelState) -> Result<(), StoreError> {
        let pk = channel_pk(channel);
        let conflict = |found| StoreError::Conflict {
            channel: channel.clone(),
            expected: state.revision.saturating_sub(1),
            found,
        };
        if state.revision == 0 {
            // No stored revision is one less than 0; nothing is written.
            let found = self.revision_of(&pk, self.get(&pk, STATE_SK).await?.as_ref())?;
            return Err(conflict(found));
        }
        let document = serde_json::to_string(state).expect("channel states serialize");
        let mut attributes = Item::from([
            (
                "revision".to_owned(),
                AttributeValue::N(state.revision.to_string()),
            ),
            ("document".to_owned(), AttributeValue::S(document)),
        ]);
        if let Some(approved) = &state.approved {
            attributes.insert("version".to_owned(), s(&approved.version.to_string()));
            attributes.insert(
                "approved_at".to_owned(),
                s(&approved
                    .approved_at
                    .to_rfc3339_opts(SecondsFormat::AutoSi, true)),
            );
        }
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(keyed(&pk, STATE_SK, attributes)))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let request = if state.revision == 1 {
            request.condition_expression("attribute_not_exists(pk)")
        } else {
            request
                .condition_expression("#revision = :previous")
                .expression_attribute_names("#revision", "revision")
                .expression_attribute_values(
                    ":previous",
                    AttributeValue::N((state.revision - 1).to_string()),
                )
        };
        match request.send().await {
            Ok(_) => Ok(()),
            Err(e) => {
                // DynamoDB returns the item that failed the check; without it (an emulator that
                // does not), the stored revision is read.
                let returned = match e.as_service_error() {
                    Some(PutItemError::ConditionalCheckFailedException(failed)) => {
                        Some(failed.item.clone())
                    }
                    _ => None,
                };
                let Some(returned) = returned else {
                    return Err(aws_error("PutItem", &self.resource(&pk, STATE_SK), e));
                };
                let stored = match returned {
                    Some(item) => Some(item),
                    None => self.get(&pk, STATE_SK).await?,
                };
                Err(conflict(self.revision_of(&pk, stored.as_ref())?))
            }
        }
    }

    async fn append_log(&self, entry: &LogEntry) -> Result<(), StoreError> {
        let pk = channel_pk(&entry.channel);
        let at = key_time(&entry.at);
        let json = serde_json::to_string(entry).expect("log entries serialize");
        let mut attributes = Item::from([
            ("entry".to_owned(), AttributeValue::S(json)),
            ("at".to_owned(), s(&at)),
        ]);
        if let Some(version) = entry.decision.as_ref().and_then(|d| d.outcome.version()) {
            attributes.insert("version".to_owned(), s(&version.to_string()));
        }
        if let Some(error) = &entry.error {
            attributes.insert("error".to_owned(), s(error));
        }
        if let Some(change) = &entry.change {
            attributes.insert("change".to_owned(), s(change));
        }
        let mut attempt = 1;
        loop {
            let sk = format!("{DECISION_PREFIX}{at}#{:020}", self.next_log_suffix());
            let sent = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(keyed(&pk, &sk, attributes.clone())))
                .condition_expression("attribute_not_exists(sk)")
                .send()
                .await;
            match sent {
                Ok(_) => return Ok(()),
                // Another process wrote an entry with the same time in the same nanosecond:
                // take the next key rather than overwrite its entry.
                Err(e)
                    if attempt < LOG_KEY_ATTEMPTS
                        && e.as_service_error()
                            .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
                {
                    attempt += 1;
                }
                Err(e) => return Err(aws_error("PutItem", &self.resource(&pk, &sk), e)),
            }
        }
    }

    async fn log(&self, channel: &ChannelName, limit: usize) -> Result<Vec<LogEntry>, StoreError> {
        let pk = channel_pk(channel);
        let resource = self.resource(&pk, &format!("{DECISION_PREFIX}*"));
        let mut entries = Vec::new();
        let mut start = None;
        while entries.len() < limit {
            let wanted = i32::try_from(limit - entries.len()).unwrap_or(i32::MAX);
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":pk", s(&pk))
                .expression_attribute_values(":prefix", s(DECISION_PREFIX))
                .scan_index_forward(false)
                .limit(wanted)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| aws_error("Query", &resource, e))?;
            for item in page.items() {
                let sk = match item.get("sk") {
                    Some(AttributeValue::S(sk)) => sk.as_str(),
                    _ => "?",
                };
                let location = self.location(&pk, sk);
                let text = document_attribute(item, "entry", &location)?;
                entries.push(parse_json(location, text)?);
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        entries.truncate(limit);
        Ok(entries)
    }

    async fn release_cache(&self) -> Result<Option<ReleaseCache>, StoreError> {
        // Eventually consistent is enough: a stale cache only costs a few full pages.
        let answer = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(CACHE_PK))
            .key("sk", s(CACHE_SK))
            .send()
            .await
            .map_err(|e| aws_error("GetItem", &self.resource(CACHE_PK, CACHE_SK), e))?;
        let Some(item) = answer.item else {
            return Ok(None);
        };
        let location = self.location(CACHE_PK, CACHE_SK);
        let corrupt = |detail: String| StoreError::Corrupt {
            location: location.clone(),
            detail,
        };
        let Some(AttributeValue::B(compressed)) = item.get("pages_gz") else {
            return Err(corrupt(
                "attribute `pages_gz` is missing or not binary (B)".to_owned(),
            ));
        };
        let mut json = String::new();
        GzDecoder::new(compressed.as_ref())
            .read_to_string(&mut json)
            .map_err(|e| {
                corrupt(format!(
                    "attribute `pages_gz` is not gzip-compressed JSON: {e}"
                ))
            })?;
        parse_json(location.clone(), &json).map(Some)
    }

    async fn save_release_cache(&self, cache: &ReleaseCache) -> Result<(), StoreError> {
        let json = serde_json::to_vec(cache).expect("caches serialize");
        let compressed = gzip(&json).map_err(|cause| StoreError::Io {
            location: self.location(CACHE_PK, CACHE_SK),
            cause,
        })?;
        let attributes = Item::from([(
            "pages_gz".to_owned(),
            AttributeValue::B(Blob::new(compressed)),
        )]);
        self.put(CACHE_PK, CACHE_SK, attributes).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_convert_to_json_and_back() {
        let item = Item::from([
            ("soak_days".to_owned(), AttributeValue::N("7".into())),
            ("min_age_days".to_owned(), AttributeValue::N("1.5".into())),
            (
                "platforms".to_owned(),
                AttributeValue::Ss(vec!["linux-x64".into()]),
            ),
            (
                "blocked_versions".to_owned(),
                AttributeValue::M(HashMap::from([(
                    "2.1.0".to_owned(),
                    AttributeValue::M(HashMap::from([("reason".to_owned(), s("broken"))])),
                )])),
            ),
            ("pk".to_owned(), s("CHANNEL#stable")),
        ]);
        let value = config_value(&item).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"soak_days": 7, "min_age_days": 1.5, "platforms": ["linux-x64"],
                               "blocked_versions": {"2.1.0": {"reason": "broken"}}})
        );
        let document = ConfigDocument::from_value(value).unwrap();
        let back = to_attribute(&serde_json::to_value(&document).unwrap()).unwrap();
        let AttributeValue::M(back) = back else {
            panic!("a document is a map")
        };
        assert_eq!(back["soak_days"], AttributeValue::N("7".into()));
        assert_eq!(back["min_age_days"], AttributeValue::N("1.5".into()));
        assert_eq!(back["platforms"], AttributeValue::L(vec![s("linux-x64")]));
        assert!(!back.contains_key("pin_version"), "nulls are left out");
    }

    #[test]
    fn unsupported_types_name_the_attribute() {
        let item = Item::from([(
            "blocked_versions".to_owned(),
            AttributeValue::M(HashMap::from([(
                "2.1.0".to_owned(),
                AttributeValue::B(Blob::new(vec![1])),
            )])),
        )]);
        let err = config_value(&item).unwrap_err().to_string();
        assert_eq!(
            err,
            "attribute `blocked_versions.2.1.0`: type B (binary) is not supported \
             (use S, N, BOOL, NULL, L, M, SS or NS)"
        );
    }

    #[test]
    fn key_times_sort_as_times() {
        let at = DateTime::parse_from_rfc3339("2024-06-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(key_time(&at), "2024-06-01T10:00:00.000000000Z");
    }
}
