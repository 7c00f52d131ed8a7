#!/usr/bin/env bash
# Builds every daemon and starts a local cluster (status, verify, two chat
# servers, gate) on the embedded store, in the foreground. Ctrl-C stops it.
#
# This is the first of the two commands README.md gives a newcomer. It needs
# only Rust; what else the build needs (cmake, a C++ compiler, make) it
# installs with apt-get when run as root, or says exactly what to install.
# Arguments go to `imctl up` (for example --profile mysql, --port-base 17000).
set -euo pipefail
cd "$(dirname "$0")/.."

source tools/lib.sh
ensure_rust
ensure_build_tools
step "cargo build --release --workspace --bins (the first build compiles gRPC's C core: about 15 minutes on 2 cores)"
cargo build --release --workspace --bins
exec "${CARGO_TARGET_DIR:-target}/release/imctl" up "$@"
