#!/usr/bin/env bash
# Profiles a running chat server with `perf record -g` and renders an SVG
# flame graph with inferno.
#
#   perf/flamegraph.sh [PID] [SECONDS] [OUT.svg]
#
# PID defaults to the first running chat-server; any process can be given
# (`pgrep -x mariadbd` profiles the database: its exported symbols name most
# frames). Put load on it first (for example `imbench p2p ...` in another
# terminal). On VMs without hardware
# counters perf samples on the cpu-clock software event, which is fine for
# a flame graph. Installs linux-perf (apt, as root) and inferno (cargo) when
# missing; if the kernel does not allow perf events it says how to allow them.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/lib.sh

pid="${1:-$(pgrep -x chat-server | head -1 || true)}"
seconds="${2:-10}"
out="${3:-perf/results/flamegraph-$(date -u +%Y%m%d-%H%M%S).svg}"
if [[ -z $pid ]] || ! kill -0 "$pid" 2>/dev/null; then
    echo "no running chat-server to profile (give its PID; start a cluster with tools/up.sh)" >&2
    exit 1
fi
ensure_packages "perf, the profiler" linux-perf:perf
if ! need inferno-flamegraph; then
    step "installing inferno (flame graph rendering) with cargo"
    cargo install inferno --locked
fi
mkdir -p "$(dirname "$out")"
data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
name=$(cat "/proc/$pid/comm")
step "sampling $name $pid for $seconds s"
if ! perf record -F 499 -g -o "$data/perf.data" -p "$pid" -- sleep "$seconds" 2>"$data/err"; then
    cat "$data/err" >&2
    echo "perf cannot sample here. As root: sysctl kernel.perf_event_paranoid=1 (or run this script as root)." >&2
    exit 1
fi
perf script -i "$data/perf.data" 2>/dev/null | inferno-collapse-perf | inferno-flamegraph --title "$name $pid, ${seconds}s" >"$out"
step "flame graph written to $out"
