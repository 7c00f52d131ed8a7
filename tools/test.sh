#!/usr/bin/env bash
# Runs every test of the project: formatting, lints, and the whole test suite.
#
# This is the command README.md gives, and the one CI runs (.ci/run).
# It installs what the tests need when it is missing and it can (cargo-nextest),
# and otherwise stops with a message that says what to install.
set -euo pipefail
cd "$(dirname "$0")/.."

source tools/lib.sh
ensure_rust
ensure_build_tools
# The store's fault tests run a throwaway MariaDB of their own; imcli's test
# drives it in tmux; imbench's peer run starts a mosquitto of its own.
ensure_packages "the store's MariaDB tests, imcli's and imbench's tests" \
    mariadb-server:mariadbd tmux:tmux mosquitto:mosquitto

# The gate and verify tests mail codes through a real SMTP server process:
# aiosmtpd (Python). Tests run the interpreter named by IM_TEST_PYTHON.
if [[ -z ${IM_TEST_PYTHON:-} ]]; then
    cache="${IM_CACHE_DIR:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/im-backend}"
    if need python3 && python3 -c 'import aiosmtpd' 2>/dev/null; then
        IM_TEST_PYTHON=python3
    elif [[ -x $cache/smtp-venv/bin/python ]] && "$cache/smtp-venv/bin/python" -c 'import aiosmtpd' 2>/dev/null; then
        IM_TEST_PYTHON="$cache/smtp-venv/bin/python"
    elif need python3 && python3 -m venv "$cache/smtp-venv" >/dev/null 2>&1 \
        && "$cache/smtp-venv/bin/pip" install -q aiosmtpd; then
        step "installed aiosmtpd (the SMTP test server) in $cache/smtp-venv"
        IM_TEST_PYTHON="$cache/smtp-venv/bin/python"
    elif [[ $(id -u) == 0 ]] && need apt-get; then
        step "installing python3-aiosmtpd (the SMTP test server)"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-aiosmtpd
        IM_TEST_PYTHON=/usr/bin/python3
    else
        echo "the SMTP test server is missing: sudo apt-get install python3-aiosmtpd" \
            "(or pip install aiosmtpd), then run $0 again" >&2
        exit 1
    fi
    export IM_TEST_PYTHON
fi

if ! cargo nextest --version >/dev/null 2>&1; then
    step "installing cargo-nextest (once)"
    cargo install cargo-nextest --locked
fi

# The MySQL store tests need a MySQL/MariaDB server (tools/lib.sh says which).
ensure_test_mysql
step "MySQL for the store tests: $IM_TEST_MYSQL_URL"

# Tests, clippy and the servers all use the release profile, so that the
# dependencies are compiled once for everything.
step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (release, all targets, warnings are errors)"
cargo clippy --release --workspace --all-targets -- -D warnings

step "cargo nextest run (release)"
cargo nextest run --release --workspace --profile "${NEXTEST_PROFILE:-default}"
