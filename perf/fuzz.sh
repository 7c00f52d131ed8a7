#!/usr/bin/env bash
# Fuzzes one parser with libFuzzer for SECONDS, keeps what reached new
# coverage, and records the run.
#
#   perf/fuzz.sh TARGET SECONDS      TARGET: frame | bodies | http | config
#
# The targets are the checks of perf/fuzz/src/lib.rs (what each input must
# satisfy), built by cargo-fuzz from perf/fuzz/targets. The fuzzer starts
# from the committed corpus (perf/fuzz/corpus/TARGET) and writes what it
# finds to a scratch directory; at the end the corpus becomes the fewest
# inputs that cover every edge found so far (commit it: the normal test
# suite replays every one, tests/corpus_replay.rs). A crash is saved under
# perf/fuzz/artifacts/TARGET/; fix it, then copy the input into the corpus
# so that the suite checks it from then on. One line per run goes to
# perf/results/fuzz.md: target, seconds, executions, crashes, corpus size.
#
# cargo-fuzz needs instrumentation flags of a nightly compiler; on a stable
# toolchain RUSTC_BOOTSTRAP=1 unlocks them (no sanitizer is used: safe Rust,
# and the check's assertions are the oracle). cargo-fuzz is installed from
# crates.io if it is missing. The build has its own target directory (the
# coverage flags would otherwise rebuild the main one): the first build
# compiles grpcio's C core once more (~15 minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/lib.sh

usage() { echo "usage: $0 frame|bodies|http|config SECONDS" >&2; exit 2; }
(($# == 2)) || usage
target=$1 seconds=$2
[[ $target =~ ^(frame|bodies|http|config)$ ]] || usage
[[ $seconds =~ ^[0-9]+$ ]] || usage

ensure_rust
ensure_build_tools
if ! cargo fuzz --help >/dev/null 2>&1; then
    step "installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi
# Stable compilers refuse -Z flags unless told this is a bootstrap build.
rustc -V | grep -q nightly || export RUSTC_BOOTSTRAP=1

fuzz_dir=perf/fuzz/targets
corpus=perf/fuzz/corpus/$target
artifacts=perf/fuzz/artifacts/$target
target_dir=${IM_FUZZ_TARGET_DIR:-$HOME/.cache/im-backend/fuzz-target}
scratch=$(mktemp -d) started=$(mktemp)
on_exit "rm -rf '$scratch' '$started'"
mkdir -p "$artifacts"
before=$(find "$corpus" -type f | wc -l)

step "building the $target fuzzer"
cargo fuzz build --fuzz-dir "$fuzz_dir" --target-dir "$target_dir" --sanitizer none --release "$target"
binary=$(find "$target_dir" -path "*/release/$target" -type f -perm -u+x | head -1)
[[ -x $binary ]] || { echo "no $target fuzzer binary under $target_dir" >&2; exit 1; }

step "fuzzing $target for $seconds s (new inputs in $scratch, crashes in $artifacts)"
log=$scratch/fuzz.log
set +e
"$binary" "$scratch" "$corpus" -max_total_time="$seconds" -max_len=8192 \
    -artifact_prefix="$artifacts/" -print_final_stats=1 2>&1 | tee "$log" | grep -E '^#[0-9]+.*(pulse|DONE)|ERROR|panicked|crash-'
status=${PIPESTATUS[0]}
set -e
runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo 0)
crashes=$(find "$artifacts" -type f -name 'crash-*' -newer "$started" | wc -l)

# The committed corpus stays small: the fewest inputs that cover every edge
# the old corpus and this run's finds cover (counters and value profiles
# would keep thousands). Hand-written seeds (seed-*) and past crashes
# (crash-*) are kept as they are, whether or not they add coverage.
step "keeping the fewest inputs that cover every edge in $corpus"
minimized=$(mktemp -d)
on_exit "rm -rf '$minimized'"
"$binary" -set_cover_merge=1 -use_counters=0 "$minimized" "$corpus" "$scratch" -max_len=8192 2>&1 |
    grep -E 'MERGE-OUTER: [0-9]+ new files' || true
find "$corpus" -type f ! -name 'seed-*' ! -name 'crash-*' -delete
cp -n "$minimized"/* "$corpus"/ 2>/dev/null || true
after=$(find "$corpus" -type f | wc -l)

row="| $(date -u +%F) | $target | $seconds | $runs | $crashes | $before → $after |"
results=perf/results/fuzz.md
if [[ ! -f $results ]]; then
    printf '# Fuzz runs (perf/fuzz.sh)\n\n| date | target | seconds | executions | crashes | corpus files |\n|---|---|---:|---:|---:|---|\n' >"$results"
fi
echo "$row" >>"$results"
echo "$row"
if ((status != 0 || crashes > 0)); then
    echo "the fuzzer stopped with status $status and $crashes crash(es): see $artifacts" >&2
    exit 1
fi
