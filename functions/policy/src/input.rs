//! Release lists from text: the GitHub REST API's JSON, and the TSV history of `shared/data`.
//!
//! Parsing is pure (text in, [`ReleaseList`] out) so the CLI, the Lambda and the tests share it.
//! A release whose tag is not a version, a draft, or one with no publication time is left out and
//! reported; a document that is not in the expected shape is an error that says where.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use chrono::{DateTime, Utc};
use serde::de::value::MapAccessDeserializer;
use serde::de::{MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use crate::artifact::{body_markers, Asset, Platform, ShaClaim};
use crate::release::{Release, ReleaseList, SkipReason, SkippedRelease};
use crate::Version;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error("not JSON at line {line} column {column}: {message}")]
    Json {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("release {index} ({tag}): attribute `{path}`: {message}")]
    Release {
        index: usize,
        tag: String,
        path: String,
        message: String,
    },
    #[error("line {line}: {message}")]
    Tsv { line: usize, message: String },
}

const TSV_HEADER: &str = "version\tpublished_at\tprerelease";

/// Parses either format: a TSV with the header `version<TAB>published_at<TAB>prerelease`, or
/// JSON: one or more arrays of release objects (API pages, possibly concatenated) or single
/// release objects (`GET /repos/{owner}/{repo}/releases/{id}`).
pub fn parse_releases(text: &str) -> Result<ReleaseList, InputError> {
    if text.trim_start().starts_with("version\t") {
        parse_tsv(text)
    } else {
        parse_github_json(text)
    }
}

/// One JSON document of the input: a page of the list API or a single release.
enum Page<T> {
    Many(Vec<T>),
    One(T),
}

// By hand rather than `#[serde(untagged)]`, which buffers the whole page before it tries a
// variant: a page of 100 releases is megabytes.
impl<'de, T: Deserialize<'de>> Deserialize<'de> for Page<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PageVisitor<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for PageVisitor<T> {
            type Value = Page<T>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of releases or one release")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Page<T>, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Page::Many(items))
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Page<T>, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map)).map(Page::One)
            }
        }

        deserializer.deserialize_any(PageVisitor(PhantomData))
    }
}

impl<T> Page<T> {
    fn into_vec(self) -> Vec<T> {
        match self {
            Page::Many(items) => items,
            Page::One(item) => vec![item],
        }
    }
}

#[derive(Deserialize)]
struct RawRelease {
    tag_name: String,
    #[serde(default)]
    draft: bool,
    #[serde(default)]
    prerelease: bool,
    published_at: Option<String>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    assets: Vec<RawAsset>,
}

#[derive(Deserialize)]
struct RawAsset {
    name: String,
    size: u64,
    browser_download_url: String,
    #[serde(default)]
    digest: Option<String>,
}

/// Parses GitHub's release JSON (see [`parse_releases`] for the accepted shapes).
pub fn parse_github_json(text: &str) -> Result<ReleaseList, InputError> {
    // Straight into the fields we read; only a document that fails that way is parsed again,
    // slowly, through `serde_json::Value`, to say which release and attribute are wrong.
    let raw: Result<Vec<Vec<RawRelease>>, _> = serde_json::Deserializer::from_str(text)
        .into_iter::<Page<RawRelease>>()
        .map(|page| page.map(Page::into_vec))
        .collect();
    let raw = match raw {
        Ok(pages) => pages.into_iter().flatten().collect(),
        Err(_) => explain_bad_json(text)?,
    };
    let mut releases = Vec::new();
    let mut skipped = Vec::new();
    for raw in raw {
        let tag = raw.tag_name.clone();
        match release_from_raw(raw) {
            Ok(release) => releases.push(release),
            Err(reason) => skipped.push(SkippedRelease { tag, reason }),
        }
    }
    Ok(ReleaseList::new(releases, skipped))
}

/// Finds where `text` stops being release JSON: the position of a syntax error, or the release
/// (by place and tag) and the attribute that has the wrong type. Returns the releases when there
/// is no such place.
fn explain_bad_json(text: &str) -> Result<Vec<RawRelease>, InputError> {
    let mut raw = Vec::new();
    for page in serde_json::Deserializer::from_str(text).into_iter::<Page<serde_json::Value>>() {
        let values = page.map_err(|e| InputError::Json {
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
        for value in values.into_vec() {
            let release =
                serde_path_to_error::deserialize(&value).map_err(|e| InputError::Release {
                    index: raw.len() + 1,
                    tag: value
                        .get("tag_name")
                        .and_then(|t| t.as_str())
                        .unwrap_or("without tag_name")
                        .to_owned(),
                    path: e.path().to_string(),
                    message: e.into_inner().to_string(),
                })?;
            raw.push(release);
        }
    }
    Ok(raw)
}

fn release_from_raw(raw: RawRelease) -> Result<Release, SkipReason> {
    let version: Version = raw.tag_name.parse()?;
    if raw.draft {
        return Err(SkipReason::Draft);
    }
    let published_at = parse_time(
        raw.published_at
            .as_deref()
            .ok_or(SkipReason::NoPublishedAt)?,
    )?;
    let full_packages: BTreeMap<String, Platform> = Platform::ALL
        .into_iter()
        .map(|p| (p.asset_name(&version), p))
        .collect();
    let assets = raw
        .assets
        .into_iter()
        .filter_map(|a| {
            let platform = *full_packages.get(&a.name)?;
            let asset = Asset {
                digest: ShaClaim::from_digest(a.digest.as_deref()),
                name: a.name,
                size: a.size,
                download_url: a.browser_download_url,
            };
            Some((platform, asset))
        })
        .collect();
    Ok(Release {
        markers: body_markers(raw.body.as_deref().unwrap_or_default()),
        assets,
        version,
        published_at,
        prerelease: raw.prerelease,
    })
}

fn parse_time(text: &str) -> Result<DateTime<Utc>, SkipReason> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| SkipReason::BadPublishedAt(text.to_owned()))
}

/// Parses the TSV history (`version`, `published_at`, `prerelease` per line).
pub fn parse_tsv(text: &str) -> Result<ReleaseList, InputError> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    match lines.next() {
        Some((_, header)) if header.trim_end() == TSV_HEADER => {}
        other => {
            return Err(InputError::Tsv {
                line: other.map_or(1, |(i, _)| i + 1),
                message: format!("expected the header {TSV_HEADER:?}"),
            })
        }
    }
    let mut releases = Vec::new();
    let mut skipped = Vec::new();
    for (i, line) in lines {
        let tsv_error = |message: String| InputError::Tsv {
            line: i + 1,
            message,
        };
        let fields: Vec<&str> = line.trim_end().split('\t').collect();
        let [tag, published_at, prerelease] = fields[..] else {
            return Err(tsv_error(format!(
                "expected 3 tab-separated fields, found {}",
                fields.len()
            )));
        };
        let prerelease = match prerelease {
            "true" => true,
            "false" => false,
            other => {
                return Err(tsv_error(format!(
                    "prerelease {other:?} is not true or false"
                )))
            }
        };
        let published_at = parse_time(published_at).map_err(|e| tsv_error(e.to_string()))?;
        match tag.parse::<Version>() {
            Ok(version) => releases.push(Release::new(version, published_at, prerelease)),
            Err(e) => skipped.push(SkippedRelease {
                tag: tag.to_owned(),
                reason: e.into(),
            }),
        }
    }
    Ok(ReleaseList::new(releases, skipped))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn release_json(tag: &str, extra: &str) -> String {
        format!(
            r#"{{"tag_name": "{tag}", "draft": false, "prerelease": false,
                "published_at": "2024-05-02T14:44:00Z", "body": "", "assets": []{extra}}}"#
        )
    }

    #[test]
    fn concatenated_pages_and_single_objects() {
        let text = format!(
            "[{}, {}]\n[{}]\n{}",
            release_json("v2.3.0", ""),
            release_json("v2.2.0", ""),
            release_json("v2.1.0", ""),
            release_json("v2.0.0", "")
        );
        let list = parse_releases(&text).unwrap();
        let versions: Vec<String> = list
            .releases()
            .iter()
            .map(|r| r.version.to_string())
            .collect();
        assert_eq!(versions, ["2.0.0", "2.1.0", "2.2.0", "2.3.0"]);
        assert!(list.skipped().is_empty());
    }

    #[test]
    fn bad_tags_drafts_and_duplicates_are_skipped_and_named() {
        let text = format!(
            "[{}, {}, {}, {}, {}]",
            release_json("v2.1.0", ""),
            release_json("nightly", ""),
            release_json("v2.1.0", ""),
            r#"{"tag_name": "v2.2.0", "draft": true, "published_at": null}"#,
            r#"{"tag_name": "v2.3.0", "published_at": "yesterday"}"#,
        );
        let list = parse_releases(&text).unwrap();
        assert_eq!(list.releases().len(), 1);
        let skipped: Vec<(String, String)> = list
            .skipped()
            .iter()
            .map(|s| (s.tag.clone(), s.reason.to_string()))
            .collect();
        assert_eq!(skipped.len(), 4, "{skipped:?}");
        assert!(skipped[0].0 == "nightly" && skipped[0].1.contains("`nightly`"));
        assert!(skipped[1].0 == "v2.2.0" && skipped[1].1.contains("draft"));
        assert!(skipped[2].0 == "v2.3.0" && skipped[2].1.contains("\"yesterday\""));
        assert!(skipped[3].0 == "v2.1.0" && skipped[3].1.contains("already"));
    }

    #[test]
    fn wrong_shapes_name_the_release_and_attribute() {
        let err = parse_releases(&format!(
            "[{}, {}]",
            release_json("v2.1.0", ""),
            release_json("v2.2.0", r#", "prerelease": "yes""#)
                .replace(r#""prerelease": false,"#, "")
        ))
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("release 2 (v2.2.0)") && text.contains("`prerelease`"),
            "{text}"
        );

        let err = parse_releases("[{\"tag_name\": ").unwrap_err();
        assert!(matches!(err, InputError::Json { line: 1, .. }), "{err}");
        let err = parse_releases("[]\n42").unwrap_err();
        assert!(
            matches!(err, InputError::Json { line: 2, .. })
                && err
                    .to_string()
                    .contains("expected a list of releases or one release"),
            "{err}"
        );
    }

    #[test]
    fn tsv_rows_and_errors() {
        let list = parse_tsv(
            "version\tpublished_at\tprerelease\n2.1.0\t2024-01-01T00:00:00Z\tfalse\n\
             2.1.1\t2024-01-05T00:00:00Z\ttrue\nbogus\t2024-01-06T00:00:00Z\tfalse\n",
        )
        .unwrap();
        assert_eq!(list.releases().len(), 2);
        assert!(list.releases()[1].prerelease);
        assert_eq!(list.skipped()[0].tag, "bogus");

        let err = parse_tsv("version\tpublished_at\tprerelease\n2.1.0\tsoon\tfalse\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 2: published_at \"soon\" is not an RFC 3339 time"
        );
        let err = parse_tsv("version\tpublished_at\tprerelease\n2.1.0\t2024-01-01T00:00:00Z\n")
            .unwrap_err();
        assert!(err.to_string().starts_with("line 2: expected 3"), "{err}");
        let err = parse_tsv("tag\tdate\n").unwrap_err();
        assert!(err.to_string().contains("header"), "{err}");
    }
}
