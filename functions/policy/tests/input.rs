//! Release input: the real GitHub API response and the shipped history in both formats.

use policy::{parse_releases, Platform, ShaClaim};

#[test]
fn the_real_v2_296_2_response() {
    let list = parse_releases(include_str!(
        "../../../tests/fixtures/github-release-v2.296.2.json"
    ))
    .unwrap();
    assert!(list.skipped().is_empty());
    let [release] = list.releases() else {
        panic!("one release expected")
    };
    assert_eq!(release.version.to_string(), "2.296.2");
    assert_eq!(
        release.published_at.to_rfc3339(),
        "2022-09-08T17:46:24+00:00"
    );
    assert!(!release.prerelease);
    // 30 assets, of which the full packages of the six platforms that existed then.
    let platforms: Vec<Platform> = release.assets.keys().copied().collect();
    assert_eq!(platforms, Platform::ALL[..6]);
    let x64 = &release.assets[&Platform::LinuxX64];
    assert_eq!(x64.name, "actions-runner-linux-x64-2.296.2.tar.gz");
    assert_eq!(
        x64.download_url,
        "https://github.com/actions/runner/releases/download/v2.296.2/actions-runner-linux-x64-2.296.2.tar.gz"
    );
    assert!(x64.size > 100_000_000, "{}", x64.size);
    assert_eq!(
        x64.digest,
        ShaClaim::Absent,
        "assets of 2022 have no digest"
    );
    // 24 markers in the body, 6 of them for full packages.
    assert_eq!(release.markers.len(), 6);
    let artifact = release.artifact(Platform::LinuxX64).unwrap();
    assert_eq!(
        artifact.sha256.to_string(),
        "34a8f34956cdacd2156d4c658cce8dd54c5aef316a16bbbc95eb3ca4fd76429a"
    );
    assert_eq!(artifact.size, x64.size);
    let arm64 = release.artifact(Platform::LinuxArm64).unwrap();
    assert_eq!(
        arm64.sha256.to_string(),
        "0297855418398e0efcc487fe3dc581469c38534252f713fba22a603037eaa6b0"
    );
    assert!(release.artifact(Platform::WinArm64).is_err());
}

#[test]
fn the_shipped_history_is_the_same_in_both_formats() {
    let json = parse_releases(include_str!(
        "../../../tests/fixtures/actions-runner-releases.json"
    ))
    .unwrap();
    let tsv = parse_releases(include_str!(
        "../../../tests/fixtures/actions-runner-releases.tsv"
    ))
    .unwrap();
    assert_eq!(json.releases().len(), 144);
    assert_eq!(json, tsv);
    let prereleases = json.releases().iter().filter(|r| r.prerelease).count();
    assert_eq!(prereleases, 9, "the nine backports created as prereleases");
}
