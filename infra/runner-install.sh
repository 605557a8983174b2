#!/usr/bin/env bash
# Installs the GitHub Actions runner that runner-mirror approves, and registers it: what a
# self-hosted runner's boot script runs. The checksum comes from the mirror's checksum route
# and is checked before anything is extracted; the runner is configured with --disableupdate,
# because the mirror, not the runner, decides when to update.
#
# Settings come from the environment (run with --help for the list). The registration token
# is read from RUNNER_TOKEN or RUNNER_TOKEN_FILE, never from an argument: arguments are visible
# to every local user in `ps`.
#
# Exit codes: 0 installed (and configured); 1 a step failed (download, checksum, extraction,
# config.sh), the message says which; 2 a setting is missing or wrong.
#
# Written for bash 3.2 (macOS) and later: no ${x,,}, no mapfile, no empty "${array[@]}".
set -euo pipefail

readonly prog=runner-install

usage() {
    cat <<'EOF'
Usage: runner-install.sh [--no-config]

Installs the runner that runner-mirror approves for a channel, verifies its SHA-256, and
configures it with --unattended --disableupdate.

  --no-config   install only (for baking an image); RUNNER_URL and the token are not needed

Environment:
  MIRROR_URL          where runner-mirror answers, e.g. http://mirror.internal:8080 (required)
  RUNNER_URL          the GitHub organization or repository to register with (required
                      unless --no-config)
  RUNNER_TOKEN        the registration token, or
  RUNNER_TOKEN_FILE   a file holding it (one of the two is required unless --no-config)
  RUNNER_CHANNEL      the mirror's channel (default: stable)
  RUNNER_PLATFORM     linux-x64, linux-arm64, linux-arm, osx-x64 or osx-arm64
                      (default: this machine's, from uname)
  RUNNER_DIR          where to install (default: /opt/actions-runner)
  RUNNER_NAME         the runner's name (default: the runner's own, the host name)
  RUNNER_LABELS       extra labels, comma-separated
  RUNNER_CONFIG_ARGS  more config.sh arguments, split on spaces (e.g. "--ephemeral")

Exit codes: 0 installed; 1 a step failed; 2 a setting is missing or wrong.
EOF
}

die() {
    printf '%s: error: %s\n' "$prog" "$*" >&2
    exit 1
}

setting_error() {
    printf '%s: error: %s\n' "$prog" "$*" >&2
    exit 2
}

say() {
    printf '%s: %s\n' "$prog" "$*"
}

configure=1
for arg in "$@"; do
    case $arg in
        --no-config) configure=0 ;;
        -h | --help)
            usage
            exit 0
            ;;
        # The argument itself is not repeated: it may be a token passed by mistake.
        *) setting_error "unknown argument (the only ones are --no-config and --help; settings come from the environment)" ;;
    esac
done

mirror_url=${MIRROR_URL:-}
[[ -n $mirror_url ]] || setting_error "MIRROR_URL is not set: the base URL of runner-mirror, e.g. http://mirror.internal:8080"
mirror_url=${mirror_url%/}
case $mirror_url in
    https://*) redirect_proto='=https' ;;
    # Plain HTTP is for a mirror on a trusted network or loopback; the checksum still guards
    # the bytes.
    http://*) redirect_proto='=http,https' ;;
    *) setting_error "MIRROR_URL must start with http:// or https://: $mirror_url" ;;
esac

channel=${RUNNER_CHANNEL:-stable}
[[ $channel =~ ^[a-z0-9-]+$ ]] || setting_error "RUNNER_CHANNEL $channel is not a channel name (lower-case letters, digits, -)"

if [[ -n ${RUNNER_PLATFORM:-} ]]; then
    platform=$RUNNER_PLATFORM
else
    case "$(uname -s)/$(uname -m)" in
        Linux/x86_64) platform=linux-x64 ;;
        Linux/aarch64 | Linux/arm64) platform=linux-arm64 ;;
        Linux/armv7l) platform=linux-arm ;;
        Darwin/x86_64) platform=osx-x64 ;;
        Darwin/arm64) platform=osx-arm64 ;;
        *) setting_error "the runner is not built for $(uname -s) $(uname -m); set RUNNER_PLATFORM if this machine can run one of its platforms" ;;
    esac
fi
case $platform in
    linux-x64 | linux-arm64 | linux-arm | osx-x64 | osx-arm64) ;;
    win-x64 | win-arm64) setting_error "RUNNER_PLATFORM $platform: Windows runners ship as .zip and register with config.cmd; this script installs linux and osx runners only" ;;
    *) setting_error "RUNNER_PLATFORM $platform is not one of linux-x64, linux-arm64, linux-arm, osx-x64, osx-arm64" ;;
esac

runner_dir=${RUNNER_DIR:-/opt/actions-runner}
# config.sh refuses a second registration, and replacing the files under a registered runner
# would break it: such a directory is the operator's to remove (config.sh remove).
[[ ! -e $runner_dir/.runner ]] || die "RUNNER_DIR $runner_dir already holds a configured runner; remove it first (config.sh remove) or choose another RUNNER_DIR"

token=
if ((configure)); then
    runner_url=${RUNNER_URL:-}
    [[ -n $runner_url ]] || setting_error "RUNNER_URL is not set: the GitHub organization or repository to register with, e.g. https://github.com/ORG (or pass --no-config to install only)"
    if [[ -n ${RUNNER_TOKEN:-} && -n ${RUNNER_TOKEN_FILE:-} ]]; then
        setting_error "both RUNNER_TOKEN and RUNNER_TOKEN_FILE are set; set one"
    elif [[ -n ${RUNNER_TOKEN_FILE:-} ]]; then
        [[ -f $RUNNER_TOKEN_FILE && -r $RUNNER_TOKEN_FILE ]] || setting_error "RUNNER_TOKEN_FILE $RUNNER_TOKEN_FILE is not a readable file"
        token=$(<"$RUNNER_TOKEN_FILE")
    else
        token=${RUNNER_TOKEN:-}
    fi
    # Registration tokens have no spaces; a file usually ends with a newline.
    token=${token//[[:space:]]/}
    [[ -n $token ]] || setting_error "no registration token: set RUNNER_TOKEN or RUNNER_TOKEN_FILE (or pass --no-config to install only)"
fi
# Nothing this script starts needs the token in its environment but config.sh, which gets it
# under its own name below.
unset RUNNER_TOKEN

command -v curl >/dev/null 2>&1 || die "curl is not installed (it downloads the runner)"
command -v tar >/dev/null 2>&1 || die "tar is not installed (it extracts the runner)"
if command -v sha256sum >/dev/null 2>&1; then
    hasher=(sha256sum)
elif command -v shasum >/dev/null 2>&1; then
    hasher=(shasum -a 256)
else
    die "neither sha256sum nor shasum is installed (one verifies the download)"
fi

work=$(mktemp -d) || die "cannot create a temporary directory (TMPDIR=${TMPDIR:-/tmp})"
trap 'rm -rf "$work"' EXIT

fetch() {
    curl --fail --silent --show-error --location --retry 3 --connect-timeout 10 \
        --proto '=http,https' --proto-redir "$redirect_proto" "$@"
}

# The first header `name` (lower case) among the responses curl saw; empty when absent.
header() {
    awk -F': *' -v name="$1" 'tolower($1) == name { sub(/\r$/, "", $2); print $2; exit }' "$work/headers"
}

sha_url=$mirror_url/$channel/$platform.sha256
tarball_url=$mirror_url/$channel/$platform
archive=$work/actions-runner-$platform.tar.gz

expected=$(fetch "$sha_url") || die "could not fetch the checksum from $sha_url"
expected=${expected//[[:space:]]/}
[[ $expected =~ ^[0-9a-f]{64}$ ]] || die "$sha_url did not answer a SHA-256 (64 lower-case hex digits) but: ${expected:0:80}"

say "downloading $tarball_url"
fetch --dump-header "$work/headers" --output "$archive" "$tarball_url" || die "could not download the runner from $tarball_url"
version=$(header x-runner-version)
announced=$(header x-runner-sha256)

actual=$("${hasher[@]}" "$archive") || die "could not hash the download of $tarball_url"
actual=${actual%% *}
if [[ $actual != "$expected" ]]; then
    rm -f "$archive"
    if [[ -n $announced && $announced != "$expected" ]]; then
        why="the approval moved between the two requests (the redirect announced $announced for ${version:-another version}): run this again"
    else
        why="a corrupt download, or the approval moved between the two requests: run this again; if it persists, the mirror's copy is damaged"
    fi
    die "SHA-256 mismatch for $tarball_url: expected $expected (from $sha_url), got $actual; the download was deleted. Likely $why"
fi

mkdir -p "$runner_dir" || die "cannot create RUNNER_DIR $runner_dir"
# Files belong to whoever runs this, not to the uid recorded in the tarball.
tar --no-same-owner -xzf "$archive" -C "$runner_dir" || die "could not extract $tarball_url into $runner_dir"
say "installed runner ${version:-(version not announced)} for $platform in $runner_dir (SHA-256 $expected)"

if ((configure)); then
    config_args=(--unattended --disableupdate --url "$runner_url")
    [[ -z ${RUNNER_NAME:-} ]] || config_args+=(--name "$RUNNER_NAME")
    [[ -z ${RUNNER_LABELS:-} ]] || config_args+=(--labels "$RUNNER_LABELS")
    if [[ -n ${RUNNER_CONFIG_ARGS:-} ]]; then
        read -r -a extra <<<"$RUNNER_CONFIG_ARGS"
        config_args+=(${extra[@]+"${extra[@]}"})
    fi
    say "configuring the runner for $runner_url"
    # The token is passed in ACTIONS_RUNNER_INPUT_TOKEN, which the runner reads in place of
    # --token (then masks in its logs and removes from its environment): as an argument it
    # would be in every local user's `ps`. It is never printed.
    (cd "$runner_dir" && ACTIONS_RUNNER_INPUT_TOKEN=$token ./config.sh "${config_args[@]}") ||
        die "config.sh failed (exit $?) in $runner_dir; the runner is installed but not registered"
    say "registered with $runner_url"
fi
