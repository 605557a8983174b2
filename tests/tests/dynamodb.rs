//! `DynamoStore` against a real DynamoDB API (moto): the table check, commits and their
//! conflicts, the decision log's order, the hand-edited config item and its errors, the
//! compressed release cache, and the channel listing.

use std::collections::HashMap;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use e2e_tests::moto::{moto, unique_name};
use mirror::{
    Approved, CachedPage, ChannelName, ChannelState, DynamoStore, Failure, LogEntry, ReleaseCache,
    StateStore, StoreError, StoredArtifact,
};
use policy::{
    AssetCheck, Block, BlockDocument, ChannelConfig, ConfigDocument, Evaluation, Freeze, Overrides,
    Pin, Platform, Policy, Version,
};

type Item = HashMap<String, AttributeValue>;

async fn client() -> Client {
    Client::new(&moto().sdk_config().await)
}

/// Creates a table with the given key attributes: (name, key type, attribute type).
async fn create_table(client: &Client, keys: &[(&str, KeyType, ScalarAttributeType)]) -> String {
    let table = unique_name("state");
    let mut request = client
        .create_table()
        .table_name(&table)
        .billing_mode(BillingMode::PayPerRequest);
    for (name, key_type, attribute_type) in keys {
        request = request
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(*name)
                    .key_type(key_type.clone())
                    .build()
                    .unwrap(),
            )
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(*name)
                    .attribute_type(attribute_type.clone())
                    .build()
                    .unwrap(),
            );
    }
    request.send().await.unwrap();
    table
}

/// A table of the layout the store needs: `pk` (HASH, S) and `sk` (RANGE, S).
async fn create_state_table(client: &Client) -> String {
    create_table(
        client,
        &[
            ("pk", KeyType::Hash, ScalarAttributeType::S),
            ("sk", KeyType::Range, ScalarAttributeType::S),
        ],
    )
    .await
}

/// A store on a fresh table, and a client to look at the table directly.
async fn store() -> (Client, String, DynamoStore) {
    let client = client().await;
    let table = create_state_table(&client).await;
    let store = DynamoStore::new(&moto().sdk_config().await, &table)
        .await
        .unwrap();
    (client, table, store)
}

fn channel(name: &str) -> ChannelName {
    name.parse().unwrap()
}

fn time(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn s(text: &str) -> AttributeValue {
    AttributeValue::S(text.to_owned())
}

fn n(text: &str) -> AttributeValue {
    AttributeValue::N(text.to_owned())
}

async fn put_item(client: &Client, table: &str, pk: &str, sk: &str, attributes: Item) {
    let mut item = attributes;
    item.insert("pk".into(), s(pk));
    item.insert("sk".into(), s(sk));
    client
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .send()
        .await
        .unwrap();
}

async fn get_item(client: &Client, table: &str, pk: &str, sk: &str) -> Option<Item> {
    client
        .get_item()
        .table_name(table)
        .key("pk", s(pk))
        .key("sk", s(sk))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
}

fn history() -> policy::ReleaseList {
    let text = std::fs::read_to_string(e2e_tests::fixture("actions-runner-releases.json")).unwrap();
    policy::parse_releases(&text).unwrap()
}

/// A real decision: the SPEC's replay approves 2.317.0 on 2024-06-07.
fn decision() -> policy::DecisionRecord {
    let releases = history();
    policy::decide(&Evaluation {
        releases: &releases,
        now: time("2024-06-07T00:00:00Z"),
        previous: None,
        config: &ChannelConfig::default(),
        assets: AssetCheck::Ignored,
    })
}

fn approved_state(revision: u64, version: &str) -> ChannelState {
    let version: Version = version.parse().unwrap();
    let artifact = |platform| StoredArtifact {
        key: mirror::ArtifactKey::new(version.clone(), platform),
        sha256: "2d0e4c2b8e2c1c8c0c6f5ad8a8f6b5a3a1b0f0d0e0c0b0a09080706050403020"
            .parse()
            .unwrap(),
        size: 180_000_000,
    };
    ChannelState {
        revision,
        approved: Some(Approved {
            version: version.clone(),
            approved_at: time("2024-06-07T00:00:00.123456789Z"),
            artifacts: [Platform::LinuxX64, Platform::LinuxArm64]
                .into_iter()
                .map(|p| (p, artifact(p)))
                .collect(),
        }),
        last_decision: Some(decision()),
        last_failure: None,
    }
}

#[tokio::test]
async fn new_refuses_a_missing_table() {
    let table = unique_name("absent");
    let err = DynamoStore::new(&moto().sdk_config().await, &table)
        .await
        .err()
        .expect("a missing table is refused");
    assert!(matches!(err, StoreError::Aws { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.starts_with(&format!(
            "DescribeTable on table {table} failed: ResourceNotFound"
        )),
        "{message}"
    );
    assert!(
        message.contains("there is no such table in region us-east-1")
            && message.contains("pk (HASH, S) and sk (RANGE, S)"),
        "{message}"
    );
}

#[tokio::test]
async fn new_refuses_a_table_with_another_key_schema() {
    let client = client().await;
    let config = moto().sdk_config().await;
    let only_id = create_table(&client, &[("id", KeyType::Hash, ScalarAttributeType::S)]).await;
    let err = DynamoStore::new(&config, &only_id).await.err().unwrap();
    assert_eq!(
        err.to_string(),
        format!(
            "DynamoDB table {only_id}: its key schema is id (HASH, S), but runner-mirror needs \
             pk (HASH, S) and sk (RANGE, S)"
        )
    );

    let numeric_sk = create_table(
        &client,
        &[
            ("pk", KeyType::Hash, ScalarAttributeType::S),
            ("sk", KeyType::Range, ScalarAttributeType::N),
        ],
    )
    .await;
    let err = DynamoStore::new(&config, &numeric_sk).await.err().unwrap();
    assert_eq!(
        err.to_string(),
        format!(
            "DynamoDB table {numeric_sk}: its key schema is pk (HASH, S) and sk (RANGE, N), but \
             runner-mirror needs pk (HASH, S) and sk (RANGE, S)"
        )
    );
}

#[tokio::test]
async fn state_round_trip() {
    let (client, table, store) = store().await;
    let stable = channel("stable");
    assert_eq!(store.state(&stable).await.unwrap(), ChannelState::default());

    let first = ChannelState {
        revision: 1,
        last_failure: Some(Failure {
            at: time("2024-06-06T00:00:00Z"),
            error: "GitHub answered 502".into(),
        }),
        ..Default::default()
    };
    store.commit(&stable, &first).await.unwrap();
    assert_eq!(store.state(&stable).await.unwrap(), first);
    let item = get_item(&client, &table, "CHANNEL#stable", "STATE")
        .await
        .unwrap();
    assert_eq!(item["revision"], n("1"));
    assert!(
        !item.contains_key("version"),
        "nothing approved yet: {item:?}"
    );

    let second = approved_state(2, "2.317.0");
    store.commit(&stable, &second).await.unwrap();
    assert_eq!(store.state(&stable).await.unwrap(), second);
    // What a person sees in the console, besides the document.
    let item = get_item(&client, &table, "CHANNEL#stable", "STATE")
        .await
        .unwrap();
    assert_eq!(item["revision"], n("2"));
    assert_eq!(item["version"], s("2.317.0"));
    assert_eq!(item["approved_at"], s("2024-06-07T00:00:00.123456789Z"));

    // Other channels are untouched.
    assert_eq!(
        store.state(&channel("canary")).await.unwrap(),
        ChannelState::default()
    );
}

#[tokio::test]
async fn a_corrupt_state_names_the_item_and_field() {
    let (client, table, store) = store().await;
    put_item(
        &client,
        &table,
        "CHANNEL#stable",
        "STATE",
        Item::from([
            ("revision".into(), n("2")),
            ("document".into(), s(r#"{"revision": "two"}"#)),
        ]),
    )
    .await;
    let err = store.state(&channel("stable")).await.unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    assert!(
        err.to_string().starts_with(&format!(
            "DynamoDB table {table}, item CHANNEL#stable/STATE is corrupt: field `revision`"
        )),
        "{err}"
    );
}

#[tokio::test]
async fn racing_commits_have_one_winner() {
    let (_client, table, store) = store().await;
    // Two evaluations as two processes would run them: each with its own store and client.
    let other = DynamoStore::new(&moto().sdk_config().await, &table)
        .await
        .unwrap();
    let stable = channel("stable");
    let a = approved_state(1, "2.317.0");
    let b = approved_state(1, "2.316.1");
    let (result_a, result_b) = tokio::join!(store.commit(&stable, &a), other.commit(&stable, &b));
    let winner = match (&result_a, &result_b) {
        (Ok(()), Err(_)) => &a,
        (Err(_), Ok(())) => &b,
        _ => panic!("exactly one commit wins: {result_a:?} {result_b:?}"),
    };
    let loser = result_a.err().or(result_b.err()).unwrap();
    assert!(
        matches!(
            loser,
            StoreError::Conflict {
                expected: 0,
                found: 1,
                ..
            }
        ),
        "{loser}"
    );
    assert_eq!(&store.state(&stable).await.unwrap(), winner);

    // From an existing revision, with more writers.
    let candidates: Vec<ChannelState> = ["2.318.0", "2.319.0", "2.319.1", "2.320.0"]
        .into_iter()
        .map(|v| approved_state(2, v))
        .collect();
    let results = futures_util::future::join_all(
        candidates
            .iter()
            .enumerate()
            .map(|(i, state)| [&store, &other][i % 2].commit(&stable, state)),
    )
    .await;
    let winners: Vec<&ChannelState> = candidates
        .iter()
        .zip(&results)
        .filter(|(_, r)| r.is_ok())
        .map(|(state, _)| state)
        .collect();
    assert_eq!(winners.len(), 1, "exactly one commit wins: {results:?}");
    for result in &results {
        if let Err(e) = result {
            assert!(
                matches!(
                    e,
                    StoreError::Conflict {
                        expected: 1,
                        found: 2,
                        ..
                    }
                ),
                "{e}"
            );
        }
    }
    assert_eq!(&other.state(&stable).await.unwrap(), winners[0]);
}

#[tokio::test]
async fn a_stale_commit_conflicts_and_writes_nothing() {
    let (_client, _table, store) = store().await;
    let stable = channel("stable");
    store
        .commit(&stable, &approved_state(1, "2.316.1"))
        .await
        .unwrap();
    let current = approved_state(2, "2.317.0");
    store.commit(&stable, &current).await.unwrap();

    for (revision, expected) in [(2, 1), (1, 0), (5, 4)] {
        let err = store
            .commit(&stable, &approved_state(revision, "2.318.0"))
            .await
            .unwrap_err();
        match &err {
            StoreError::Conflict {
                channel,
                expected: e,
                found,
            } => {
                assert_eq!((channel, *e, *found), (&stable, expected, 2), "{err}");
            }
            other => panic!("expected a conflict, got {other}"),
        }
        assert_eq!(
            err.to_string(),
            format!(
                "channel stable changed concurrently (it is at revision 2, this evaluation \
                 started from {expected}); nothing was written"
            )
        );
    }
    assert_eq!(store.state(&stable).await.unwrap(), current);
}

#[tokio::test]
async fn the_decision_log_is_newest_first() {
    let (client, table, store) = store().await;
    let stable = channel("stable");
    assert_eq!(store.log(&stable, 10).await.unwrap(), []);

    let failed = |at: &str, error: &str| LogEntry {
        channel: stable.clone(),
        at: time(at),
        decision: None,
        error: Some(error.into()),
        change: None,
    };
    let first = failed("2024-06-06T00:00:00Z", "GitHub answered 502");
    // Two entries at the same instant stay apart and in write order.
    let second = failed(
        "2024-06-07T00:00:00Z",
        "the download of linux-x64 was cut off",
    );
    let third = LogEntry {
        channel: stable.clone(),
        at: time("2024-06-07T00:00:00Z"),
        decision: Some(decision()),
        error: None,
        change: None,
    };
    for entry in [&first, &second, &third] {
        store.append_log(entry).await.unwrap();
    }
    // Another channel's entry is not in this log.
    store
        .append_log(&LogEntry {
            channel: channel("canary"),
            ..first.clone()
        })
        .await
        .unwrap();

    assert_eq!(
        store.log(&stable, 10).await.unwrap(),
        [third.clone(), second.clone(), first.clone()]
    );
    assert_eq!(store.log(&stable, 2).await.unwrap(), [third, second]);
    assert_eq!(store.log(&stable, 0).await.unwrap(), []);
    assert_eq!(store.log(&channel("canary"), 10).await.unwrap().len(), 1);

    // For the console: the time, and the chosen version or the error.
    let items = client
        .query()
        .table_name(&table)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", s("CHANNEL#stable"))
        .send()
        .await
        .unwrap()
        .items
        .unwrap();
    assert_eq!(items.len(), 3);
    let sk = |item: &Item| match &item["sk"] {
        AttributeValue::S(sk) => sk.clone(),
        other => panic!("sk is a string: {other:?}"),
    };
    assert!(
        sk(&items[0]).starts_with("DECISION#2024-06-06T00:00:00.000000000Z#"),
        "{}",
        sk(&items[0])
    );
    assert_eq!(sk(&items[0]).len(), "DECISION#".len() + 30 + 1 + 20);
    assert_eq!(items[0]["at"], s("2024-06-06T00:00:00.000000000Z"));
    assert_eq!(items[0]["error"], s("GitHub answered 502"));
    assert_eq!(items[2]["version"], s("2.317.0"));
    assert!(!items[2].contains_key("error"));
}

/// Every attribute an operator may set, typed as the console types them.
fn full_config_item(platforms: AttributeValue) -> Item {
    Item::from([
        ("min_age_days".into(), n("2")),
        ("support_window_days".into(), n("28")),
        ("soak_days".into(), n("10.5")),
        ("platforms".into(), platforms),
        ("pin_version".into(), s("2.316.1")),
        ("pin_reason".into(), s("canary fleet")),
        ("pin_expires_at".into(), s("2024-06-01T00:00:00Z")),
        ("freeze_until".into(), s("2024-07-01T00:00:00+02:00")),
        ("freeze_reason".into(), s("release week")),
        (
            "blocked_versions".into(),
            AttributeValue::M(HashMap::from([
                (
                    "2.317.0".into(),
                    AttributeValue::M(HashMap::from([("reason".into(), s("broke docker"))])),
                ),
                (
                    "2.318.0".into(),
                    AttributeValue::M(HashMap::from([
                        ("reason".into(), s("bad")),
                        ("expires_at".into(), s("2024-08-01T00:00:00Z")),
                    ])),
                ),
            ])),
        ),
        ("updated_by".into(), s("alice")),
        ("updated_at".into(), s("2024-05-30T12:00:00Z")),
    ])
}

fn full_config() -> ChannelConfig {
    let version = |v: &str| v.parse::<Version>().unwrap();
    ChannelConfig {
        policy: Policy::new(
            TimeDelta::days(2),
            TimeDelta::days(28),
            TimeDelta::hours(252),
            vec![Platform::LinuxX64, Platform::WinX64],
        )
        .unwrap(),
        overrides: Overrides {
            pin: Some(Pin {
                version: version("2.316.1"),
                reason: "canary fleet".into(),
                expires_at: Some(time("2024-06-01T00:00:00Z")),
            }),
            freeze: Some(Freeze {
                until: Utc.with_ymd_and_hms(2024, 6, 30, 22, 0, 0).unwrap(),
                reason: "release week".into(),
            }),
            blocks: vec![
                Block {
                    version: version("2.317.0"),
                    reason: "broke docker".into(),
                    expires_at: None,
                },
                Block {
                    version: version("2.318.0"),
                    reason: "bad".into(),
                    expires_at: Some(time("2024-08-01T00:00:00Z")),
                },
            ],
        },
    }
}

#[tokio::test]
async fn config_items_written_by_hand() {
    let (client, table, store) = store().await;
    let stable = channel("stable");
    assert_eq!(
        store.config_document(&stable).await.unwrap(),
        ConfigDocument::default()
    );
    assert_eq!(
        store.config(&stable).await.unwrap(),
        ChannelConfig::default()
    );
    assert_eq!(
        store.config_location(&stable),
        format!("DynamoDB table {table}, item CHANNEL#stable/CONFIG")
    );

    let platforms = AttributeValue::L(vec![s("win-x64"), s("linux-x64")]);
    put_item(
        &client,
        &table,
        "CHANNEL#stable",
        "CONFIG",
        full_config_item(platforms),
    )
    .await;
    assert_eq!(store.config(&stable).await.unwrap(), full_config());
    let document = store.config_document(&stable).await.unwrap();
    assert_eq!(document.updated_by.as_deref(), Some("alice"));
    assert_eq!(document.soak_days, Some(10.5));

    // A string set is as good as a list.
    let platforms = AttributeValue::Ss(vec!["linux-x64".into(), "win-x64".into()]);
    put_item(
        &client,
        &table,
        "CHANNEL#canary",
        "CONFIG",
        full_config_item(platforms),
    )
    .await;
    assert_eq!(
        store.config(&channel("canary")).await.unwrap(),
        full_config()
    );
}

#[tokio::test]
async fn bad_config_items_name_the_attribute() {
    let (client, table, store) = store().await;
    let stable = channel("stable");
    let location = format!("DynamoDB table {table}, item CHANNEL#stable/CONFIG");
    let cases: Vec<(Item, &str)> = vec![
        (
            Item::from([("soak_days".into(), s("7"))]),
            "attribute `soak_days`: invalid type: string \"7\", expected f64",
        ),
        (
            Item::from([("pin_verison".into(), s("2.316.1"))]),
            "unknown field `pin_verison`",
        ),
        (
            Item::from([
                ("pin_version".into(), s("latest")),
                ("pin_reason".into(), s("newest")),
            ]),
            "attribute `pin_version`: \"latest\" is not a runner version such as 2.316.1",
        ),
        (
            Item::from([
                ("freeze_until".into(), s("friday")),
                ("freeze_reason".into(), s("release week")),
            ]),
            "attribute `freeze_until`: \"friday\" is not an RFC 3339 time",
        ),
        (
            Item::from([(
                "platforms".into(),
                AttributeValue::L(vec![s("linux-x64"), s("linux-x86")]),
            )]),
            "attribute `platforms`: \"linux-x86\" is not",
        ),
        (
            Item::from([(
                "pin_reason".into(),
                AttributeValue::B(Blob::new(b"why".to_vec())),
            )]),
            "attribute `pin_reason`: type B (binary) is not supported",
        ),
    ];
    for (item, expected) in cases {
        put_item(&client, &table, "CHANNEL#stable", "CONFIG", item).await;
        let err = store.config(&stable).await.unwrap_err();
        assert!(matches!(err, StoreError::Config { .. }), "{err}");
        let message = err.to_string();
        assert!(
            message.starts_with(&format!("{location}: ")) && message.contains(expected),
            "{message:?} should say {expected:?}"
        );
    }
}

#[tokio::test]
async fn saved_config_reads_back_as_flat_attributes() {
    let (client, table, store) = store().await;
    let stable = channel("stable");
    let document = ConfigDocument {
        min_age_days: Some(2.0),
        support_window_days: Some(28.0),
        soak_days: Some(10.5),
        platforms: Some(vec!["linux-x64".into(), "win-x64".into()]),
        pin_version: Some("2.316.1".into()),
        pin_reason: Some("canary fleet".into()),
        pin_expires_at: Some("2024-06-01T00:00:00Z".into()),
        freeze_until: Some("2024-07-01T00:00:00+02:00".into()),
        freeze_reason: Some("release week".into()),
        blocked_versions: [
            (
                "2.317.0".to_owned(),
                BlockDocument {
                    reason: "broke docker".into(),
                    expires_at: None,
                },
            ),
            (
                "2.318.0".to_owned(),
                BlockDocument {
                    reason: "bad".into(),
                    expires_at: Some("2024-08-01T00:00:00Z".into()),
                },
            ),
        ]
        .into(),
        updated_by: Some("alice".into()),
        updated_at: Some("2024-05-30T12:00:00Z".into()),
    };
    store.save_config(&stable, &document).await.unwrap();
    assert_eq!(store.config_document(&stable).await.unwrap(), document);
    assert_eq!(store.config(&stable).await.unwrap(), full_config());

    // The item an operator sees: the same attributes as a hand-written one.
    let item = get_item(&client, &table, "CHANNEL#stable", "CONFIG")
        .await
        .unwrap();
    let mut expected = full_config_item(AttributeValue::L(vec![s("linux-x64"), s("win-x64")]));
    expected.insert("pk".into(), s("CHANNEL#stable"));
    expected.insert("sk".into(), s("CONFIG"));
    assert_eq!(item, expected);

    // Saving replaces the item: attributes the new document lacks are gone.
    let smaller = ConfigDocument {
        soak_days: Some(7.0),
        ..Default::default()
    };
    store.save_config(&stable, &smaller).await.unwrap();
    assert_eq!(store.config_document(&stable).await.unwrap(), smaller);
    let item = get_item(&client, &table, "CHANNEL#stable", "CONFIG")
        .await
        .unwrap();
    assert_eq!(item.len(), 3, "{item:?}");
    assert_eq!(item["soak_days"], n("7"));
}

#[tokio::test]
async fn release_cache_round_trip() {
    let (client, table, store) = store().await;
    assert_eq!(store.release_cache().await.unwrap(), None);

    let history = history();
    let single =
        std::fs::read_to_string(e2e_tests::fixture("github-release-v2.296.2.json")).unwrap();
    let single = policy::parse_releases(&single).unwrap();
    let api = "https://api.github.com/repos/actions/runner/releases";
    let cache = ReleaseCache {
        pages: vec![
            CachedPage {
                url: format!("{api}?per_page=100"),
                etag: "W/\"first\"".into(),
                next: Some(format!("{api}?per_page=100&page=2")),
                releases: history.releases().to_vec(),
                skipped: history.skipped().to_vec(),
            },
            CachedPage {
                url: format!("{api}?per_page=100&page=2"),
                etag: "W/\"second\"".into(),
                next: None,
                releases: single.releases().to_vec(),
                skipped: single.skipped().to_vec(),
            },
        ],
    };
    store.save_release_cache(&cache).await.unwrap();
    assert_eq!(store.release_cache().await.unwrap(), Some(cache.clone()));

    let item = get_item(&client, &table, "CACHE", "GITHUB_RELEASES")
        .await
        .unwrap();
    let AttributeValue::B(compressed) = &item["pages_gz"] else {
        panic!("pages_gz is binary: {item:?}")
    };
    let json = serde_json::to_vec(&cache).unwrap();
    assert!(
        compressed.as_ref().len() * 4 < json.len(),
        "{} bytes compressed from {}",
        compressed.as_ref().len(),
        json.len()
    );

    put_item(
        &client,
        &table,
        "CACHE",
        "GITHUB_RELEASES",
        Item::from([(
            "pages_gz".into(),
            AttributeValue::B(Blob::new(b"not gzip".to_vec())),
        )]),
    )
    .await;
    let err = store.release_cache().await.unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    assert!(
        err.to_string().starts_with(&format!(
            "DynamoDB table {table}, item CACHE/GITHUB_RELEASES is corrupt: attribute `pages_gz`"
        )),
        "{err}"
    );
}

#[tokio::test]
async fn channels_are_those_with_a_config_or_a_state() {
    let (client, table, store) = store().await;
    assert_eq!(store.channels().await.unwrap(), []);

    store
        .save_config(&channel("canary"), &ConfigDocument::default())
        .await
        .unwrap();
    store
        .commit(
            &channel("stable"),
            &ChannelState {
                revision: 1,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    store
        .save_config(&channel("stable"), &ConfigDocument::default())
        .await
        .unwrap();
    // A log alone does not make a channel; neither does the cache or a stray item.
    store
        .append_log(&LogEntry {
            channel: channel("edge"),
            at: time("2024-06-07T00:00:00Z"),
            decision: None,
            error: Some("GitHub answered 502".into()),
            change: None,
        })
        .await
        .unwrap();
    store
        .save_release_cache(&ReleaseCache::default())
        .await
        .unwrap();
    put_item(&client, &table, "CHANNEL#Not_A_Name", "CONFIG", Item::new()).await;

    assert_eq!(
        store.channels().await.unwrap(),
        [channel("canary"), channel("stable")]
    );
}

/// The redirect opens its table unchecked (no request at a cold start): a wrong table then
/// shows in every read, with its name, and the route answers a JSON 500 instead of a redirect.
#[tokio::test]
async fn an_unchecked_store_on_a_missing_table_fails_each_read_with_its_name() {
    let table = unique_name("absent");
    let config = moto().sdk_config().await;
    let state = DynamoStore::unchecked(&config, &table);
    let err = state
        .state(&ChannelName::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains(&format!("table {table}")), "{err}");
    assert!(err.contains("ResourceNotFound"), "{err}");

    let artifacts = mirror::S3Store::unchecked(&config, "no-request-is-made");
    let response = mirror::routes::respond(
        &axum::http::Method::GET,
        "/stable/linux-x64",
        &state,
        &artifacts,
    )
    .await;
    assert_eq!(response.status(), 500);
    let body: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
    assert_eq!(body["route"], "/stable/linux-x64");
}
