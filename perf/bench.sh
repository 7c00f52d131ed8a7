#!/usr/bin/env bash
# The standard load scenarios against a fresh local cluster, on the embedded
# store and on MariaDB, each run 3 times; medians, a table and a PNG plot go
# to perf/results/<date>.md and perf/results/<date>.png.
#
#   perf/bench.sh [--runs N] [--rates "50 200 400"] [--pairs 100] [--conns 5000]
#
# Scenarios: imbench p2p (friend pairs across the two chat servers, each
# sender at a fixed rate) at each rate; the same shape against mosquitto
# with QoS 1 (the peer run, a broker this script starts); imbench conn
# (idle logged-in connections). MariaDB comes from IM_BENCH_MYSQL_URL
# (default mysql://root@127.0.0.1:3306; the database im_bench is dropped
# and created for each cluster). Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/lib.sh

runs=3 rates="50 200 400" pairs=100 conns=5000
while (($#)); do
    case $1 in
        --runs) runs=$2; shift 2 ;;
        --rates) rates=$2; shift 2 ;;
        --pairs) pairs=$2; shift 2 ;;
        --conns) conns=$2; shift 2 ;;
        *) echo "usage: $0 [--runs N] [--rates \"R...\"] [--pairs N] [--conns N]" >&2; exit 2 ;;
    esac
done
ensure_rust
ensure_build_tools
ensure_packages "the peer run and the plot" mosquitto:mosquitto gnuplot-nox:gnuplot mariadb-client:mariadb
step "cargo build --release --workspace --bins"
cargo build --release --workspace --bins
bin="${CARGO_TARGET_DIR:-target}/release"
mysql_server="${IM_BENCH_MYSQL_URL:-mysql://root@127.0.0.1:3306}"
stamp=$(date -u +%Y-%m-%d-%H%M)
work=$(mktemp -d)
json="$work/json"
mkdir -p "$json" perf/results
cluster_pid=""
broker_pid=""
cleanup() {
    [[ -n $cluster_pid ]] && kill -TERM "$cluster_pid" 2>/dev/null && wait "$cluster_pid" 2>/dev/null
    [[ -n $broker_pid ]] && kill "$broker_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
port=17500

start_cluster() { # $1: embedded|mysql
    local data="$work/data-$1" log="$work/up-$1.log"
    rm -rf "$data"
    local args=(up --conf conf --data "$data" --port-base "$port" --profile "$1")
    if [[ $1 == mysql ]]; then
        local host_part=${mysql_server#mysql://}
        local user=${host_part%%@*} hostport=${host_part#*@}
        mariadb -u"${user%%:*}" -h"${hostport%%:*}" -P"${hostport##*:}" -e "DROP DATABASE IF EXISTS im_bench" 
        export IM_GATE_STORE__MYSQL_URL="$mysql_server/im_bench" IM_CHAT_STORE__MYSQL_URL="$mysql_server/im_bench"
    fi
    "$bin/imctl" "${args[@]}" >"$log" 2>&1 &
    cluster_pid=$!
    for _ in $(seq 300); do grep -q "imctl: ready" "$log" && return 0; sleep 0.1; done
    cat "$log" >&2
    echo "the cluster did not start" >&2
    exit 1
}

stop_cluster() {
    kill -TERM "$cluster_pid"
    wait "$cluster_pid" || true
    cluster_pid=""
    unset IM_GATE_STORE__MYSQL_URL IM_CHAT_STORE__MYSQL_URL
}

store_args() { # $1: embedded|mysql
    if [[ $1 == mysql ]]; then
        echo --store mysql --mysql-url "$mysql_server/im_bench"
    else
        echo --data "$work/data-embedded"
    fi
}

for store in embedded mysql; do
    step "cluster on the $store store"
    start_cluster "$store"
    # Idle connections first, on fresh servers, so their memory is measured alone.
    for run in $(seq "$runs"); do
        step "conn $store: $conns connections, run $run"
        # shellcheck disable=SC2046
        "$bin/imbench" conn --status "127.0.0.1:$port" $(store_args "$store") --conns "$conns" --ramp 5000 \
            --hold 5 --sources 2 --prefix "conn${run}" --json "$json/conn-$store-$run.json" | tail -3
    done
    for rate in $rates; do
        for run in $(seq "$runs"); do
            step "p2p $store: $pairs pairs × $rate msg/s, run $run"
            # shellcheck disable=SC2046
            "$bin/imbench" p2p --status "127.0.0.1:$port" $(store_args "$store") --pairs "$pairs" --rate "$rate" \
                --seconds 10 --prefix "p2p${rate}r${run}" --json "$json/p2p-$store-$rate-$run.json" | tail -3
        done
    done
    stop_cluster
done

step "the peer run: mosquitto, QoS 1"
printf 'listener 18830 127.0.0.1\nallow_anonymous true\n' >"$work/mosquitto.conf"
mosquitto -c "$work/mosquitto.conf" >/dev/null 2>&1 &
broker_pid=$!
sleep 0.5
for rate in $rates; do
    for run in $(seq "$runs"); do
        "$bin/imbench" mqtt --broker 127.0.0.1:18830 --pairs "$pairs" --rate "$rate" --seconds 10 \
            --json "$json/mqtt-mosquitto-$rate-$run.json" | tail -1
    done
done

step "medians, table and plot"
python3 perf/summarize.py "$json" "perf/results/$stamp" "$runs"
echo "written: perf/results/$stamp.md and perf/results/$stamp.png"
