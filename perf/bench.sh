#!/usr/bin/env bash
# The standard load scenarios against fresh local clusters, on the embedded
# store and on MariaDB, and the same shape on mosquitto (QoS 1), each run 3
# times; medians, a table and a PNG plot go to perf/results/<date>.md/.png.
#
#   perf/bench.sh [--runs N] [--rates "50 250 500"] [--pairs 100] [--conns 5000] [--devices-rate R]
#
# This machine's speed drifts within minutes, so the systems are
# interleaved run by run (chat embedded, chat MariaDB, mosquitto, then again
# for the next run), never all of one system then all of another: both
# clusters and the broker run side by side for the whole script (idle ones
# cost little). Beside each figure it records what bounds it: the disk's
# fsync time (p50, at the start and the end), the generator's own lateness
# (in every imbench report), and MariaDB's CPU per delivered message (from
# /proc, around each MariaDB run). A last series runs each user on two
# devices (--devices 2, at --devices-rate, default the first rate)
# interleaved with one device at the same rate.
#
# Scenarios: imbench p2p (friend pairs across the two chat servers, each
# sender at a fixed rate) at each rate; imbench mqtt against mosquitto;
# imbench conn (idle logged-in connections). MariaDB comes from
# IM_BENCH_MYSQL_URL (default mysql://root@127.0.0.1:3306; the database
# im_bench is dropped and created). Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/lib.sh

runs=3 rates="50 200 400" pairs=100 conns=5000 devices_rate=""
while (($#)); do
    case $1 in
        --runs) runs=$2; shift 2 ;;
        --rates) rates=$2; shift 2 ;;
        --pairs) pairs=$2; shift 2 ;;
        --conns) conns=$2; shift 2 ;;
        --devices-rate) devices_rate=$2; shift 2 ;;
        *) echo "usage: $0 [--runs N] [--rates \"R...\"] [--pairs N] [--conns N] [--devices-rate R]" >&2; exit 2 ;;
    esac
done
[[ -n $devices_rate ]] || devices_rate=${rates%% *}
ensure_rust
ensure_build_tools
ensure_packages "the peer run and the plot" mosquitto:mosquitto gnuplot-nox:gnuplot mariadb-client:mariadb
build_bins
source perf/bench-lib.sh

# One p2p run: $1 store, $2 rate, $3 run, $4 devices, $5 report name (also
# the users' prefix: every run has users of its own).
p2p_run() {
    local before after started ended
    before=$(mariadb_cpu) started=$(date +%s.%N)
    # shellcheck disable=SC2046
    "$bin/imbench" p2p --status "127.0.0.1:${ports[$1]}" $(store_args "$1") --pairs "$pairs" --rate "$2" \
        --devices "$4" --seconds 10 --prefix "${5//-/}" --json "$json/$5.json" | tail -4
    after=$(mariadb_cpu) ended=$(date +%s.%N)
    if [[ $1 == mysql ]]; then
        add_mariadb_cpu "$json/$5.json" "$before" "$after" "$started" "$ended"
    fi
}

start_bench_services

# Idle connections first, on fresh servers, so their memory is measured alone.
for run in $(seq "$runs"); do
    for store in embedded mysql; do
        step "conn $store: $conns connections, run $run"
        # shellcheck disable=SC2046
        "$bin/imbench" conn --status "127.0.0.1:${ports[$store]}" $(store_args "$store") --conns "$conns" \
            --ramp 5000 --hold 5 --sources 2 --prefix "conn${run}" --json "$json/conn-$store-$run.json" | tail -3
    done
done
for rate in $rates; do
    for run in $(seq "$runs"); do
        for store in embedded mysql; do
            step "p2p $store: $pairs pairs × $rate msg/s, run $run"
            p2p_run "$store" "$rate" "$run" 1 "p2p-$store-$rate-$run"
        done
        step "mqtt: $pairs pairs × $rate msg/s, run $run"
        "$bin/imbench" mqtt --broker 127.0.0.1:18830 --pairs "$pairs" --rate "$rate" --seconds 10 \
            --json "$json/mqtt-mosquitto-$rate-$run.json" | tail -2
    done
done
for run in $(seq "$runs"); do
    for store in embedded mysql; do
        for devices in 1 2; do
            step "devices $store: $pairs pairs × $devices_rate msg/s on $devices device(s), run $run"
            p2p_run "$store" "$devices_rate" "$run" "$devices" "devices-$store-$devices-$run"
        done
    done
done
measure_fsync end

step "medians, table and plot"
python3 perf/summarize.py "$json" "perf/results/$stamp" "$runs"
echo "written: perf/results/$stamp.md and perf/results/$stamp.png"
