#!/usr/bin/env bash
# Runs every test of the project: formatting, lints, and the whole test suite.
#
# This is the command README.md gives, and the one CI runs (.ci/run).
# It installs what the tests need when it is missing and it can (cargo-nextest),
# and otherwise stops with a message that says what to install.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }
need() { command -v "$1" >/dev/null 2>&1; }

if ! need cargo; then
    echo "cargo is missing: install Rust with rustup (https://rustup.rs), then run $0 again." >&2
    exit 1
fi
# grpcio compiles the gRPC C core with cmake and a C++ compiler (about 15
# minutes the first time; cached in the target directory afterwards).
missing=()
need cmake || missing+=(cmake)
need g++ || missing+=(g++)
need make || missing+=(make)
if ((${#missing[@]})); then
    if [[ $(id -u) == 0 ]] && need apt-get; then
        step "installing ${missing[*]} (needed to build grpcio's C core)"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
    else
        echo "missing: ${missing[*]}. On Debian/Ubuntu: sudo apt-get install ${missing[*]}" >&2
        exit 1
    fi
fi

if ! cargo nextest --version >/dev/null 2>&1; then
    step "installing cargo-nextest (once)"
    cargo install cargo-nextest --locked
fi

# Tests, clippy and the servers all use the release profile, so that the
# dependencies are compiled once for everything.
step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (release, all targets, warnings are errors)"
cargo clippy --release --workspace --all-targets -- -D warnings

step "cargo nextest run (release)"
cargo nextest run --release --workspace --profile "${NEXTEST_PROFILE:-default}"
