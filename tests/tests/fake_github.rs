//! Self-tests of the fake GitHub: the end-to-end tests trust it to behave like github.com, so
//! its shape, its pagination, its downloads and every fault switch are checked here, through
//! real HTTP.

use std::collections::BTreeSet;
use std::io::{BufRead as _, BufReader, Read as _};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

use chrono::{DateTime, TimeZone as _, Utc};
use e2e_tests::fake_github::{shipped_platforms, ChecksumFault, FakeGithub, FakeRelease};
use futures_util::StreamExt as _;
use policy::{Artifact, ArtifactProblem, Platform, ShaClaim, Version};
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .expect("a plain HTTP client")
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("an RFC 3339 time")
        .with_timezone(&Utc)
}

fn v(text: &str) -> Version {
    text.parse().expect("a version")
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("ASCII header"))
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("a UTF-8 body")
    }
}

async fn get(url: &str) -> Answer {
    get_with(url, &[]).await
}

async fn get_with(url: &str, headers: &[(&str, &str)]) -> Answer {
    let mut request = client().get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("the fake answers");
    Answer {
        status: response.status(),
        headers: response.headers().clone(),
        body: response.bytes().await.expect("a whole body").to_vec(),
    }
}

fn releases_url(fake: &FakeGithub, query: &str) -> String {
    format!("{}/repos/{}/releases{query}", fake.api_url(), fake.repo())
}

/// Every page of the listing, following `rel="next"` like a client must.
async fn all_pages(fake: &FakeGithub, per_page: usize) -> Vec<Answer> {
    let mut url = Some(releases_url(fake, &format!("?per_page={per_page}")));
    let mut pages = Vec::new();
    while let Some(next) = url.take() {
        let page = get(&next).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text());
        url = page.header("link").and_then(|link| rel(link, "next"));
        pages.push(page);
        assert!(pages.len() < 100, "pagination does not end");
    }
    pages
}

/// The URL of one relation of a `Link` header.
fn rel(link: &str, relation: &str) -> Option<String> {
    link.split(", ").find_map(|part| {
        let (url, rel) = part.split_once("; ")?;
        (rel == format!("rel=\"{relation}\""))
            .then(|| url.trim_start_matches('<').trim_end_matches('>').to_owned())
    })
}

async fn listing(fake: &FakeGithub) -> policy::ReleaseList {
    let text: Vec<String> = all_pages(fake, 100)
        .await
        .iter()
        .map(|page| page.text().to_owned())
        .collect();
    policy::parse_releases(&text.join("\n")).expect("the listing parses")
}

async fn release_json(fake: &FakeGithub, version: &str) -> Value {
    let tag = format!("v{version}");
    all_pages(fake, 100)
        .await
        .iter()
        .flat_map(|page| page.json().as_array().expect("a page is an array").clone())
        .find(|r| r["tag_name"] == tag)
        .unwrap_or_else(|| panic!("{tag} is listed"))
}

async fn artifact(
    fake: &FakeGithub,
    version: &str,
    platform: Platform,
) -> Result<Artifact, ArtifactProblem> {
    let list = listing(fake).await;
    list.get(&v(version))
        .unwrap_or_else(|| panic!("{version} is listed"))
        .artifact(platform)
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn assert_api_headers(answer: &Answer) {
    assert_eq!(
        answer.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    for name in [
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
    ] {
        let value = answer
            .header(name)
            .unwrap_or_else(|| panic!("{name} is set"));
        value
            .parse::<u64>()
            .unwrap_or_else(|_| panic!("{name} {value:?} is a number"));
    }
}

fn keys(value: &Value) -> BTreeSet<String> {
    value
        .as_object()
        .expect("an object")
        .keys()
        .cloned()
        .collect()
}

#[tokio::test]
async fn the_listing_is_the_history_in_the_shape_of_github() {
    let fake = FakeGithub::start(FakeGithub::history());
    let pages = all_pages(&fake, 100).await;
    assert_eq!(pages.len(), 2);
    pages.iter().for_each(assert_api_headers);

    let text: Vec<&str> = pages.iter().map(Answer::text).collect();
    let list = policy::parse_releases(&text.join("\n")).expect("the listing parses");
    assert_eq!(list.releases().len(), 144);
    assert!(list.skipped().is_empty(), "{:?}", list.skipped());

    let digests_since = at("2025-06-01T00:00:00Z");
    let mut with_digests = 0;
    for release in list.releases() {
        let version = &release.version;
        let platforms = shipped_platforms(version);
        assert_eq!(
            release.assets.keys().copied().collect::<Vec<_>>(),
            platforms,
            "{version}"
        );
        if *version >= v("2.277.0") {
            assert_eq!(
                release.markers.keys().copied().collect::<Vec<_>>(),
                platforms,
                "{version}"
            );
        } else {
            assert!(release.markers.is_empty(), "{version} predates markers");
        }
        let has_digests = release.published_at >= digests_since;
        with_digests += usize::from(has_digests);
        for (platform, asset) in &release.assets {
            let truth = fake.sha256_hex(&version.to_string(), *platform);
            assert_eq!(
                asset.size,
                fake.asset_bytes(&version.to_string(), *platform).len() as u64
            );
            match (&asset.digest, has_digests) {
                (ShaClaim::Valid(sha), true) => assert_eq!(sha.to_string(), truth),
                (ShaClaim::Absent, false) => {}
                (other, _) => panic!("{version} {platform}: digest {other:?}"),
            }
            let placeholder =
                *platform == Platform::WinArm64 && [v("2.297.0"), v("2.298.0")].contains(version);
            match release.markers.get(platform) {
                None => assert!(*version < v("2.277.0")),
                Some(ShaClaim::Malformed(text)) if placeholder => {
                    assert_eq!(text, "<WIN_ARM64_SHA>")
                }
                Some(ShaClaim::Valid(sha)) if !placeholder => assert_eq!(sha.to_string(), truth),
                Some(other) => panic!("{version} {platform}: marker {other:?}"),
            }
        }
    }
    assert!(
        (1..144).contains(&with_digests),
        "some but not all releases have digests: {with_digests}"
    );

    // Newest first by publication, drafts aside.
    let published: Vec<DateTime<Utc>> = pages
        .iter()
        .flat_map(|p| p.json().as_array().unwrap().clone())
        .map(|r| at(r["published_at"].as_str().unwrap()))
        .collect();
    assert!(published.windows(2).all(|w| w[0] >= w[1]));

    // The real v2.296.2 next to ours: same assets, same markers, the real field set.
    let real_text =
        std::fs::read_to_string(e2e_tests::fixture("github-release-v2.296.2.json")).unwrap();
    let real: Value = serde_json::from_str(&real_text).unwrap();
    let ours = release_json(&fake, "2.296.2").await;
    let names = |release: &Value| -> BTreeSet<String> {
        release["assets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names(&ours), names(&real));
    let real_list = policy::parse_releases(&real_text).unwrap();
    let real_release = &real_list.releases()[0];
    let our_release = list.get(&v("2.296.2")).unwrap();
    assert_eq!(
        real_release
            .assets
            .values()
            .map(|a| &a.name)
            .collect::<Vec<_>>(),
        our_release
            .assets
            .values()
            .map(|a| &a.name)
            .collect::<Vec<_>>()
    );
    let labels = |body: &str| -> BTreeSet<String> {
        body.split("<!-- BEGIN SHA ")
            .skip(1)
            .map(|rest| rest.split(" -->").next().unwrap().to_owned())
            .collect()
    };
    let real_labels = labels(real["body"].as_str().unwrap());
    assert_eq!(real_labels.len(), 24);
    assert_eq!(labels(ours["body"].as_str().unwrap()), real_labels);

    let mut release_fields = keys(&real);
    release_fields.remove("reactions");
    assert!(
        release_fields.is_subset(&keys(&ours)),
        "missing {:?}",
        release_fields.difference(&keys(&ours)).collect::<Vec<_>>()
    );
    let mut asset_fields = keys(&real["assets"][0]);
    asset_fields.insert("digest".into());
    assert_eq!(asset_fields, keys(&ours["assets"][0]));
    for person in [&ours["author"], &ours["assets"][0]["uploader"]] {
        assert_eq!(person["login"], "github-actions[bot]");
        assert_eq!(person["type"], "Bot");
        assert!(person["id"].is_u64());
    }
    assert_eq!(ours["tag_name"], "v2.296.2");
    assert_eq!(ours["name"], "v2.296.2");
    assert_eq!(ours["assets"][0]["state"], "uploaded");
    assert_eq!(
        ours["assets"][0]["content_type"],
        "application/octet-stream"
    );
    assert!(ours["assets"][0]["digest"].is_null());
}

#[tokio::test]
async fn pages_are_linked_like_github() {
    let fake = FakeGithub::start(FakeGithub::history());
    let api = fake.api_url();
    let url = |per_page: usize, page: usize| {
        format!("<{api}/repos/actions/runner/releases?per_page={per_page}&page={page}>")
    };

    // Without parameters: 30 a page, 5 pages.
    let first = get(&releases_url(&fake, "")).await;
    assert_eq!(first.json().as_array().unwrap().len(), 30);
    assert_eq!(
        first.header("link"),
        Some(format!("{}; rel=\"next\", {}; rel=\"last\"", url(30, 2), url(30, 5)).as_str())
    );

    // 100 is GitHub's maximum, and the switch caps it further.
    let big = get(&releases_url(&fake, "?per_page=500")).await;
    assert_eq!(big.json().as_array().unwrap().len(), 100);
    fake.set_max_per_page(50);
    let capped = get(&releases_url(&fake, "?per_page=100&page=2")).await;
    assert_eq!(capped.json().as_array().unwrap().len(), 50);
    assert_eq!(
        capped.header("link"),
        Some(
            format!(
                "{}; rel=\"prev\", {}; rel=\"next\", {}; rel=\"last\", {}; rel=\"first\"",
                url(50, 1),
                url(50, 3),
                url(50, 3),
                url(50, 1)
            )
            .as_str()
        )
    );
    let last = get(&releases_url(&fake, "?per_page=100&page=3")).await;
    assert_eq!(last.json().as_array().unwrap().len(), 44);
    assert_eq!(
        last.header("link"),
        Some(
            format!(
                "{}; rel=\"prev\", {}; rel=\"first\"",
                url(50, 2),
                url(50, 1)
            )
            .as_str()
        )
    );
    let beyond = get(&releases_url(&fake, "?per_page=100&page=4")).await;
    assert_eq!(beyond.status, StatusCode::OK);
    assert_eq!(beyond.text(), "[]");

    // Following `next` visits every release once, newest first.
    let pages = all_pages(&fake, 100).await;
    assert_eq!(pages.len(), 3);
    let tags: Vec<String> = pages
        .iter()
        .flat_map(|p| p.json().as_array().unwrap().clone())
        .map(|r| r["tag_name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(tags.len(), 144);
    assert_eq!(tags.iter().collect::<BTreeSet<_>>().len(), 144);
    assert_eq!(tags[0], "v2.336.0");

    // One page: no Link header at all.
    let small = FakeGithub::start(FakeGithub::history().into_iter().take(3).collect());
    let only = get(&releases_url(&small, "?per_page=100")).await;
    assert_eq!(only.json().as_array().unwrap().len(), 3);
    assert_eq!(only.header("link"), None);
}

#[tokio::test]
async fn an_unchanged_page_answers_not_modified() {
    let fake = FakeGithub::start(FakeGithub::history());
    let url = releases_url(&fake, "?per_page=100");
    let first = get(&url).await;
    let etag = first.header("etag").expect("an ETag").to_owned();
    assert!(
        etag.len() == 66 && etag.starts_with('"') && etag.ends_with('"'),
        "a strong quoted tag: {etag}"
    );
    assert_eq!(
        get(&url).await.header("etag"),
        Some(etag.as_str()),
        "stable"
    );

    let cached = get_with(&url, &[("if-none-match", &etag)]).await;
    assert_eq!(cached.status, StatusCode::NOT_MODIFIED);
    assert!(cached.body.is_empty());
    assert_eq!(cached.header("etag"), Some(etag.as_str()));
    assert!(cached.header("x-ratelimit-remaining").is_some());

    let other = get_with(&url, &[("if-none-match", "\"0123\"")]).await;
    assert_eq!(other.status, StatusCode::OK);

    // A new release changes the first page, hence its tag.
    fake.publish(FakeRelease::new("2.400.0", Utc::now()));
    let changed = get_with(&url, &[("if-none-match", &etag)]).await;
    assert_eq!(changed.status, StatusCode::OK);
    assert_ne!(changed.header("etag"), Some(etag.as_str()));
}

#[tokio::test]
async fn only_the_configured_repository_exists() {
    let fake = FakeGithub::start(FakeGithub::history());
    for path in [
        "/repos/octo/runner/releases",
        "/repos/actions/runner/releases/latest",
        "/repos/actions/other/releases?per_page=100",
    ] {
        let answer = get(&format!("{}{path}", fake.api_url())).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
        assert_api_headers(&answer);
        let body = answer.json();
        assert_eq!(body["message"], "Not Found");
        assert!(body["documentation_url"]
            .as_str()
            .unwrap()
            .starts_with("https://docs.github.com/"));
    }

    let octo = FakeGithub::start_with_repo("octo/runner", FakeGithub::history());
    assert_eq!(octo.repo(), "octo/runner");
    let not_found = get(&format!("{}/repos/actions/runner/releases", octo.api_url())).await;
    assert_eq!(not_found.status, StatusCode::NOT_FOUND);
    let release = release_json(&octo, "2.316.1").await;
    let url = release["assets"][0]["browser_download_url"]
        .as_str()
        .unwrap();
    assert!(
        url.starts_with(&format!(
            "{}/octo/runner/releases/download/v2.316.1/",
            octo.api_url()
        )),
        "{url}"
    );
    assert_eq!(get(url).await.status, StatusCode::FOUND);
    let elsewhere = url.replace("/octo/runner/", "/actions/runner/");
    assert_eq!(get(&elsewhere).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_download_redirects_to_a_real_runner_package() {
    let fake = FakeGithub::start(FakeGithub::history());
    let (version, platform) = ("2.316.1", Platform::LinuxX64);
    let name = fake.asset_name(version, platform);
    assert_eq!(name, "actions-runner-linux-x64-2.316.1.tar.gz");
    let release = release_json(&fake, version).await;
    let listed = release["assets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == name.as_str())
        .expect("listed")
        .clone();
    let url = fake.download_url(version, platform);
    assert_eq!(listed["browser_download_url"], url.as_str());

    let redirect = get(&url).await;
    assert_eq!(redirect.status, StatusCode::FOUND);
    let location = redirect.header("location").expect("a Location").to_owned();
    assert_eq!(
        location,
        format!("{}/objects/v{version}/{name}", fake.api_url())
    );

    let object = get(&location).await;
    assert_eq!(object.status, StatusCode::OK);
    assert_eq!(
        object.header("content-type"),
        Some("application/octet-stream")
    );
    assert_eq!(
        object.header("content-length"),
        Some(listed["size"].to_string().as_str())
    );
    assert_eq!(object.body, fake.asset_bytes(version, platform));
    let sha = sha256_hex(&object.body);
    assert_eq!(sha, fake.sha256_hex(version, "linux-x64"));
    assert!(release["body"].as_str().unwrap().contains(&format!(
        "<!-- BEGIN SHA linux-x64 -->{sha}<!-- END SHA linux-x64 -->"
    )));

    // A real gzip'd tar with fixed metadata, and a config.sh that runs.
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(&object.body[..]));
    let mut entries = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let header = entry.header();
        assert_eq!((header.uid().unwrap(), header.gid().unwrap()), (0, 0));
        assert_eq!(header.mtime().unwrap(), 1_577_836_800);
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        let mut text = String::new();
        entry.read_to_string(&mut text).unwrap();
        entries.push((path, text));
    }
    let paths: Vec<&str> = entries.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        [
            "bin/",
            "config.sh",
            "run.sh",
            "bin/Runner.Listener",
            "VERSION"
        ]
    );
    assert_eq!(entries[4].1, "2.316.1");
    assert!(entries[3].1.contains("2.316.1") && entries[3].1.contains("linux-x64"));

    let dir = tempfile::tempdir().unwrap();
    tar::Archive::new(flate2::read::GzDecoder::new(&object.body[..]))
        .unpack(dir.path())
        .unwrap();
    let configured = Command::new("sh")
        .arg(dir.path().join("config.sh"))
        .args(["--url", "https://github.com/octo", "--token", "T0KEN"])
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    assert!(configured.status.success(), "{configured:?}");
    assert!(String::from_utf8_lossy(&configured.stdout)
        .contains("--url https://github.com/octo --token T0KEN"));
    assert_eq!(
        std::fs::read_to_string(dir.path().join(".configured")).unwrap(),
        "--url https://github.com/octo --token T0KEN\n"
    );
    let ran = Command::new("sh")
        .arg(dir.path().join("run.sh"))
        .output()
        .unwrap();
    assert!(ran.status.success());

    // Deterministic: another fake serves the same bytes; platforms differ.
    let again = FakeGithub::start(vec![FakeRelease::new(version, at("2024-05-01T00:00:00Z"))]);
    assert_eq!(again.sha256_hex(version, platform), sha);
    assert_ne!(fake.sha256_hex(version, Platform::LinuxArm64), sha);

    // Windows packages download too.
    let zip = get(&fake.download_url(version, "win-x64")).await;
    let zip = get(zip.header("location").unwrap()).await;
    assert_eq!(zip.body, fake.asset_bytes(version, Platform::WinX64));

    // Anything else is not found.
    let api = fake.api_url();
    for url in [
        format!("{api}/actions/runner/releases/download/v{version}/actions-runner-linux-x86-{version}.tar.gz"),
        format!("{api}/actions/runner/releases/download/v9.9.9/actions-runner-linux-x64-9.9.9.tar.gz"),
        format!("{api}/actions/runner/releases/download/v2.160.0/actions-runner-linux-arm64-2.160.0.tar.gz"),
        format!("{api}/objects/v{version}/nothing.tar.gz"),
        format!("{api}/objects/latest/{name}"),
    ] {
        assert_eq!(get(&url).await.status, StatusCode::NOT_FOUND, "{url}");
    }
}

#[tokio::test]
async fn checksum_faults_change_only_what_the_listing_claims() {
    let fake = FakeGithub::start(vec![
        FakeRelease::new("2.270.0", at("2020-06-01T00:00:00Z")), // no marker, no digest
        FakeRelease::new("2.316.1", at("2024-05-01T00:00:00Z")), // marker only
        FakeRelease::new("2.330.0", at("2025-07-01T00:00:00Z")), // marker and digest
    ]);
    let linux = Platform::LinuxX64;
    let truth = |version: &str| fake.sha256_hex(version, linux);
    let ok_sha =
        |result: Result<Artifact, ArtifactProblem>| result.expect("verifiable").sha256.to_string();

    assert_eq!(
        ok_sha(artifact(&fake, "2.316.1", linux).await),
        truth("2.316.1")
    );
    assert_eq!(
        ok_sha(artifact(&fake, "2.330.0", linux).await),
        truth("2.330.0")
    );
    assert!(matches!(
        artifact(&fake, "2.270.0", linux).await,
        Err(ArtifactProblem::NoChecksum { .. })
    ));

    // WrongSha256: every claim names other bytes, consistently.
    for version in ["2.270.0", "2.316.1", "2.330.0"] {
        fake.set_checksum_fault(version, linux, ChecksumFault::WrongSha256);
        let claimed = ok_sha(artifact(&fake, version, linux).await);
        assert_ne!(claimed, truth(version), "{version}");
    }
    let release = listing(&fake).await;
    let r = release.get(&v("2.330.0")).unwrap();
    assert!(matches!(r.assets[&linux].digest, ShaClaim::Valid(_)));
    assert!(matches!(
        release.get(&v("2.316.1")).unwrap().assets[&linux].digest,
        ShaClaim::Absent
    ));
    fake.clear_checksum_faults();
    assert_eq!(
        ok_sha(artifact(&fake, "2.330.0", linux).await),
        truth("2.330.0")
    );

    // Placeholder: nothing to verify against.
    fake.set_checksum_fault("2.330.0", "linux-x64", ChecksumFault::Placeholder);
    match artifact(&fake, "2.330.0", linux).await {
        Err(ArtifactProblem::NoChecksum { digest, marker, .. }) => {
            assert_eq!(digest, ShaClaim::Absent);
            assert_eq!(marker, ShaClaim::Malformed("<LINUX_X64_SHA>".into()));
        }
        other => panic!("{other:?}"),
    }
    // Other platforms and releases are untouched.
    assert_eq!(
        ok_sha(artifact(&fake, "2.330.0", Platform::LinuxArm64).await),
        fake.sha256_hex("2.330.0", Platform::LinuxArm64)
    );

    // DigestMarkerDisagree: a correct digest (added where there is none) against a wrong marker.
    for version in ["2.316.1", "2.330.0"] {
        fake.set_checksum_fault(version, linux, ChecksumFault::DigestMarkerDisagree);
        match artifact(&fake, version, linux).await {
            Err(ArtifactProblem::Disagree { digest, marker, .. }) => {
                assert_eq!(digest.to_string(), truth(version));
                assert_ne!(marker.to_string(), truth(version));
            }
            other => panic!("{version}: {other:?}"),
        }
    }

    // The bytes never change, only the claims.
    let bytes = fake.asset_bytes("2.316.1", linux);
    assert_eq!(sha256_hex(&bytes), truth("2.316.1"));
    fake.clear_checksum_faults();
    assert_eq!(
        ok_sha(artifact(&fake, "2.316.1", linux).await),
        truth("2.316.1")
    );
}

/// A downloaded body as the client saw it.
struct Download {
    content_length: Option<u64>,
    received: Vec<u8>,
    /// Set when the connection broke before the body was complete.
    error: Option<String>,
}

async fn download(url: &str) -> Download {
    let response = client().get(url).send().await.expect("the fake answers");
    assert_eq!(response.status(), StatusCode::OK);
    let content_length = response.content_length();
    let mut stream = response.bytes_stream();
    let mut received = Vec::new();
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(chunk) => received.extend_from_slice(&chunk),
            Err(e) => {
                return Download {
                    content_length,
                    received,
                    error: Some(e.to_string()),
                }
            }
        }
    }
    Download {
        content_length,
        received,
        error: None,
    }
}

#[tokio::test]
async fn truncated_downloads_break_off_halfway() {
    const LARGE: u64 = 3 * 1024 * 1024 + 5;
    let fake = FakeGithub::start(vec![FakeRelease::new(
        "2.316.1",
        at("2024-05-01T00:00:00Z"),
    )]);
    fake.set_large_asset("2.316.1", "osx-x64", LARGE);
    let object = |platform: Platform| {
        format!(
            "{}/objects/v2.316.1/{}",
            fake.api_url(),
            fake.asset_name("2.316.1", platform)
        )
    };
    let small = fake.asset_bytes("2.316.1", Platform::LinuxX64);

    fake.truncate_downloads(true);
    for (platform, size) in [
        (Platform::LinuxX64, small.len() as u64),
        (Platform::OsxX64, LARGE),
    ] {
        let cut = download(&object(platform)).await;
        assert_eq!(
            cut.content_length,
            Some(size),
            "the full length is promised"
        );
        assert!(cut.error.is_some(), "{platform}: the client sees the break");
        // The headers and up to half the bytes arrive before the connection breaks (all of
        // the half, unless the server could not flush it in time).
        let received = cut.received.len() as u64;
        assert!(
            0 < received && received <= size / 2,
            "{platform}: {received} bytes"
        );
    }
    let cut = download(&object(Platform::LinuxX64)).await;
    assert_eq!(cut.received, small[..small.len() / 2], "a true prefix");

    fake.truncate_downloads(false);
    let whole = download(&object(Platform::LinuxX64)).await;
    assert_eq!(whole.error, None);
    assert_eq!(whole.received, small);
}

#[tokio::test]
async fn api_failures_and_rate_limits_answer_like_github() {
    let fake = FakeGithub::start(FakeGithub::history());
    let url = releases_url(&fake, "?per_page=100");

    let before: u64 = get(&url)
        .await
        .header("x-ratelimit-remaining")
        .unwrap()
        .parse()
        .unwrap();
    let after: u64 = get(&url)
        .await
        .header("x-ratelimit-remaining")
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(after + 1, before, "each call counts");

    fake.fail_api(2);
    for _ in 0..2 {
        let failed = get(&url).await;
        assert_eq!(failed.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_api_headers(&failed);
        assert_eq!(failed.json()["message"], "Server Error");
    }
    assert_eq!(get(&url).await.status, StatusCode::OK);

    // Downloads are not the API: they keep working and do not use up the failures.
    fake.fail_api(1);
    let download = get(&fake.download_url("2.316.1", Platform::LinuxX64)).await;
    assert_eq!(download.status, StatusCode::FOUND);
    assert_eq!(
        get(download.header("location").unwrap()).await.status,
        StatusCode::OK
    );
    assert_eq!(get(&url).await.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(get(&url).await.status, StatusCode::OK);

    let reset = Utc.with_ymd_and_hms(2030, 1, 2, 3, 4, 5).unwrap();
    fake.rate_limit(reset);
    let limited = get(&url).await;
    assert_eq!(limited.status, StatusCode::FORBIDDEN);
    assert_api_headers(&limited);
    assert_eq!(limited.header("x-ratelimit-remaining"), Some("0"));
    assert_eq!(
        limited.header("x-ratelimit-reset"),
        Some(reset.timestamp().to_string().as_str())
    );
    let body = limited.json();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("API rate limit exceeded for 127.0.0.1."),
        "{body}"
    );
    assert_eq!(
        body["documentation_url"],
        "https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting"
    );
    assert_eq!(
        get(&url).await.status,
        StatusCode::FORBIDDEN,
        "until cleared"
    );
    fake.clear_rate_limit();
    assert_eq!(get(&url).await.status, StatusCode::OK);

    fake.rate_limit_429(7);
    let throttled = get(&url).await;
    assert_eq!(throttled.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(throttled.header("retry-after"), Some("7"));
    assert_api_headers(&throttled);
    fake.clear_rate_limit();
    assert_eq!(get(&url).await.status, StatusCode::OK);
}

#[tokio::test]
async fn releases_published_at_run_time_are_listed_and_served() {
    let fake = FakeGithub::start(vec![
        FakeRelease::new("2.316.0", at("2024-04-01T00:00:00Z")),
        FakeRelease::new("2.316.1", at("2024-05-01T00:00:00Z")),
    ]);
    let now = Utc::now();
    fake.publish(FakeRelease::new("2.400.0", now));
    let page = get(&releases_url(&fake, "")).await.json();
    assert_eq!(page[0]["tag_name"], "v2.400.0");
    let list = listing(&fake).await;
    assert_eq!(list.releases().len(), 3);
    let new = list.get(&v("2.400.0")).unwrap();
    assert_eq!(new.assets.len(), 7, "every platform");
    for platform in Platform::ALL {
        let artifact = new.artifact(platform).expect("digest and marker agree");
        assert_eq!(
            artifact.sha256.to_string(),
            fake.sha256_hex("2.400.0", platform)
        );
    }
    let download = get(&fake.download_url("2.400.0", "win-arm64")).await;
    assert_eq!(download.status, StatusCode::FOUND);

    // A draft is listed without a publication time, skipped by parsers, not downloadable.
    fake.publish(FakeRelease {
        draft: true,
        ..FakeRelease::new("2.401.0", now + chrono::TimeDelta::hours(1))
    });
    let page = get(&releases_url(&fake, "")).await.json();
    assert_eq!(page[0]["tag_name"], "v2.401.0");
    assert_eq!(page[0]["draft"], true);
    assert!(page[0]["published_at"].is_null());
    let list = listing(&fake).await;
    assert_eq!(list.releases().len(), 3);
    assert_eq!(list.skipped().len(), 1);
    assert_eq!(list.skipped()[0].reason, policy::SkipReason::Draft);
    assert_eq!(
        get(&fake.download_url("2.401.0", "linux-x64")).await.status,
        StatusCode::NOT_FOUND
    );

    // Publishing the draft replaces it.
    fake.publish(FakeRelease {
        prerelease: true,
        ..FakeRelease::new("2.401.0", now + chrono::TimeDelta::hours(2))
    });
    let list = listing(&fake).await;
    assert_eq!(list.releases().len(), 4);
    assert!(list.skipped().is_empty());
    assert!(list.get(&v("2.401.0")).unwrap().prerelease);
    assert_eq!(
        get(&fake.download_url("2.401.0", "linux-x64")).await.status,
        StatusCode::FOUND
    );
}

#[tokio::test]
async fn a_large_asset_streams_and_matches_its_advertised_hash() {
    const SIZE: u64 = 20 * 1024 * 1024;
    let fake = FakeGithub::start(vec![
        FakeRelease::new("2.316.1", at("2024-05-01T00:00:00Z")),
        FakeRelease::new("2.330.0", at("2025-07-01T00:00:00Z")),
    ]);
    fake.set_large_asset("2.330.0", Platform::LinuxX64, SIZE);

    let artifact = artifact(&fake, "2.330.0", Platform::LinuxX64)
        .await
        .expect("verifiable");
    assert_eq!(artifact.size, SIZE);
    assert_eq!(
        artifact.sha256.to_string(),
        fake.sha256_hex("2.330.0", "linux-x64")
    );

    let redirect = get(&artifact.download_url).await;
    let response = client()
        .get(redirect.header("location").unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.content_length(), Some(SIZE));
    let mut stream = response.bytes_stream();
    let mut hasher = Sha256::new();
    let mut received = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.expect("the whole body");
        received += chunk.len() as u64;
        hasher.update(&chunk);
    }
    assert_eq!(received, SIZE);
    assert_eq!(hex::encode(hasher.finalize()), artifact.sha256.to_string());

    // Only that asset changed.
    let other = fake.asset_bytes("2.330.0", Platform::LinuxArm64);
    assert!(other.len() < 4096);
    // The handle stays usable after a helper panicked (the panic poisons no switch).
    let held = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        fake.asset_bytes("2.330.0", Platform::LinuxX64)
    }));
    assert!(held.is_err(), "a large asset is never held in memory");
    assert_eq!(fake.asset_bytes("2.330.0", Platform::LinuxArm64), other);
}

#[tokio::test]
async fn downloads_can_be_paced_like_a_network_link() {
    const SIZE: u64 = 1024 * 1024;
    let fake = FakeGithub::start(vec![FakeRelease::new(
        "2.316.1",
        at("2024-05-01T00:00:00Z"),
    )]);
    fake.set_large_asset("2.316.1", Platform::LinuxX64, SIZE);
    // 4 MiB/s: the whole body cannot arrive in less than a quarter of a second.
    fake.set_download_rate(Some(4 * SIZE));

    let started = std::time::Instant::now();
    let redirect = get(&fake.download_url("2.316.1", "linux-x64")).await;
    let paced = download(redirect.header("location").unwrap()).await;
    let elapsed = started.elapsed();
    assert_eq!(paced.error, None);
    assert_eq!(paced.received.len() as u64, SIZE);
    assert_eq!(
        hex::encode(Sha256::digest(&paced.received)),
        fake.sha256_hex("2.316.1", "linux-x64"),
        "pacing holds bytes back, it does not change them"
    );
    // A lower bound only: a pace never hurries bytes, however busy the machine.
    assert!(elapsed >= Duration::from_millis(250), "{elapsed:?}");

    // Small assets are paced too, and `None` lifts the pace.
    let small_url = get(&fake.download_url("2.316.1", "linux-arm64")).await;
    let small_url = small_url.header("location").unwrap();
    let small = download(small_url).await;
    assert_eq!(small.error, None);
    assert_eq!(small.received, fake.asset_bytes("2.316.1", "linux-arm64"));
    fake.set_download_rate(None);
    assert_eq!(download(small_url).await.received, small.received);
}

#[tokio::test]
async fn every_request_is_logged_in_order() {
    let fake = FakeGithub::start(FakeGithub::history());
    get_with(
        &releases_url(&fake, "?per_page=100&page=2"),
        &[
            ("Authorization", "Bearer t0ken"),
            ("X-GitHub-Api-Version", "2022-11-28"),
        ],
    )
    .await;
    let download = get(&fake.download_url("2.316.1", "linux-x64")).await;
    get(download.header("location").unwrap()).await;
    get(&format!("{}/nowhere", fake.api_url())).await;

    let seen = fake.requests();
    let paths: Vec<&str> = seen.iter().map(|r| r.path_and_query.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/repos/actions/runner/releases?per_page=100&page=2",
            "/actions/runner/releases/download/v2.316.1/actions-runner-linux-x64-2.316.1.tar.gz",
            "/objects/v2.316.1/actions-runner-linux-x64-2.316.1.tar.gz",
            "/nowhere",
        ]
    );
    assert!(seen.iter().all(|r| r.method == "GET"));
    assert_eq!(seen[0].header("authorization"), Some("Bearer t0ken"));
    assert_eq!(seen[0].header("x-github-api-version"), Some("2022-11-28"));
    assert!(seen[0]
        .headers
        .iter()
        .all(|(name, _)| *name == name.to_lowercase()));
    assert_eq!(seen[1].header("authorization"), None);

    fake.clear_requests();
    assert!(fake.requests().is_empty());
}

#[test]
fn it_binds_loopback_only_and_stops_when_dropped() {
    let refused = FakeGithub::builder(Vec::new())
        .listen("0.0.0.0:0".parse().unwrap())
        .start()
        .expect_err("a public address is refused");
    assert_eq!(refused.kind(), std::io::ErrorKind::InvalidInput);
    assert!(refused.to_string().contains("loopback"), "{refused}");

    let fake = FakeGithub::start(Vec::new());
    let addr: SocketAddr = fake.addr();
    assert!(addr.ip().is_loopback());
    assert_ne!(addr.port(), 0);
    assert_eq!(fake.api_url(), format!("http://127.0.0.1:{}", addr.port()));
    assert!(TcpStream::connect(addr).is_ok());
    drop(fake);
    assert!(
        TcpStream::connect(addr).is_err(),
        "the port is closed once dropped"
    );
}

fn fake_github_binary() -> Command {
    Command::new(env!("CARGO_BIN_EXE_fake-github"))
}

/// A started `fake-github`, killed if the test fails before stopping it properly.
struct Running(std::process::Child);

impl Running {
    fn spawn(args: &[&str]) -> (Running, String) {
        let mut child = fake_github_binary()
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let running = Running(child);
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        (running, line)
    }

    /// SIGTERM, as a harness stops it; the process must exit cleanly.
    fn terminate(mut self) {
        let killed = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let status = self.0.wait().unwrap();
        assert!(status.success(), "a clean exit on SIGTERM: {status}");
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

#[tokio::test]
async fn the_binary_prints_its_url_and_stops_on_sigterm() {
    let (running, line) = Running::spawn(&[
        "--max-per-page",
        "10",
        "--large-asset",
        "2.316.1:linux-x64:1MiB",
        "--download-rate",
        "1GiB",
    ]);
    let api = line
        .trim_end()
        .strip_prefix("api=http://127.0.0.1:")
        .map(|port| format!("http://127.0.0.1:{port}"))
        .unwrap_or_else(|| panic!("the first line names the API: {line:?}"));
    assert!(
        api["http://127.0.0.1:".len()..].parse::<u16>().is_ok(),
        "{api}"
    );

    let page = get(&format!("{api}/repos/actions/runner/releases?per_page=100")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.json().as_array().unwrap().len(), 10);
    assert!(page
        .header("link")
        .unwrap()
        .contains("page=15>; rel=\"last\""));
    let redirect = get(&format!(
        "{api}/actions/runner/releases/download/v2.316.1/actions-runner-linux-x64-2.316.1.tar.gz"
    ))
    .await;
    let large = download(redirect.header("location").unwrap()).await;
    assert_eq!(large.content_length, Some(1024 * 1024));
    assert_eq!(large.error, None);
    assert_eq!(large.received.len(), 1024 * 1024);

    running.terminate();
}

#[test]
fn the_binary_stops_cleanly_on_sigterm_right_after_printing_its_url() {
    for _ in 0..3 {
        let (running, line) = Running::spawn(&[]);
        assert!(line.starts_with("api=http://127.0.0.1:"), "{line:?}");
        running.terminate();
    }
}

#[test]
fn the_binary_refuses_bad_arguments_clearly() {
    for (args, expected) in [
        (&["--listen", "0.0.0.0:0"][..], "loopback"),
        (&["--listen", "192.168.1.1:8080"][..], "loopback"),
        (
            &["--large-asset", "9.9.9:linux-x64:10"][..],
            "no release 9.9.9",
        ),
        (
            &["--large-asset", "2.160.0:linux-arm64:10"][..],
            "ships no linux-arm64",
        ),
        (
            &["--large-asset", "2.316.1:linux-x64:lots"][..],
            "not a positive size",
        ),
        (&["--download-rate", "fast"][..], "not a positive size"),
        (&["--max-per-page", "0"][..], "positive"),
        (&["--frobnicate"][..], "unknown argument"),
    ] {
        let output = fake_github_binary()
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(!output.status.success(), "{args:?}");
        assert!(output.stdout.is_empty(), "{args:?}: nothing on stdout");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}

#[tokio::test]
async fn the_binary_serves_a_release_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("releases.tsv");
    std::fs::write(
        &file,
        "version\tpublished_at\tprerelease\n\
         2.316.0\t2024-04-01T00:00:00Z\tfalse\n\
         2.316.1\t2024-05-01T00:00:00Z\ttrue\n",
    )
    .unwrap();
    let (running, line) = Running::spawn(&[
        "--releases",
        file.to_str().unwrap(),
        "--repo",
        "octo/runner",
    ]);
    let api = line
        .trim_end()
        .strip_prefix("api=")
        .expect("the URL line")
        .to_owned();
    let page = get(&format!("{api}/repos/octo/runner/releases"))
        .await
        .json();
    let tags: Vec<&str> = page
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["tag_name"].as_str().unwrap())
        .collect();
    assert_eq!(tags, ["v2.316.1", "v2.316.0"]);
    assert_eq!(page[0]["prerelease"], true);
    running.terminate();
}
