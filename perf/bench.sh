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
mysql_server="${IM_BENCH_MYSQL_URL:-mysql://root@127.0.0.1:3306}"
stamp=$(date -u +%Y-%m-%d-%H%M)
work=$(mktemp -d)
json="$work/json"
mkdir -p "$json" perf/results
declare -A cluster_pids=()
broker_pid=""
cleanup() {
    for pid in "${cluster_pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    done
    [[ -n $broker_pid ]] && kill "$broker_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
declare -A ports=([embedded]=17500 [mysql]=17600)

start_cluster() { # $1: embedded|mysql
    local data="$work/data-$1" log="$work/up-$1.log"
    rm -rf "$data"
    local args=(up --conf conf --data "$data" --port-base "${ports[$1]}" --profile "$1")
    if [[ $1 == mysql ]]; then
        local host_part=${mysql_server#mysql://}
        local user=${host_part%%@*} hostport=${host_part#*@}
        mariadb -u"${user%%:*}" -h"${hostport%%:*}" -P"${hostport##*:}" -e "DROP DATABASE IF EXISTS im_bench"
        IM_GATE_STORE__MYSQL_URL="$mysql_server/im_bench" IM_CHAT_STORE__MYSQL_URL="$mysql_server/im_bench" \
            "$bin/imctl" "${args[@]}" >"$log" 2>&1 &
    else
        "$bin/imctl" "${args[@]}" >"$log" 2>&1 &
    fi
    cluster_pids[$1]=$!
    for _ in $(seq 300); do grep -q "imctl: ready" "$log" && return 0; sleep 0.1; done
    cat "$log" >&2
    echo "the $1 cluster did not start" >&2
    exit 1
}

store_args() { # $1: embedded|mysql
    if [[ $1 == mysql ]]; then
        echo --store mysql --mysql-url "$mysql_server/im_bench"
    else
        echo --data "$work/data-embedded"
    fi
}

# The disk's fsync time: 200 rewrites of a 4 KiB block, each fsynced (what a
# durable commit costs at least), p50 and p99 in ms, into $json/fsync-$1.json.
measure_fsync() {
    python3 - "$work/fsync.bin" "$json/fsync-$1.json" <<'PY'
import json, os, sys, time
path, out = sys.argv[1], sys.argv[2]
fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
samples = []
for _ in range(200):
    os.pwrite(fd, os.urandom(4096), 0)
    start = time.perf_counter()
    os.fsync(fd)
    samples.append((time.perf_counter() - start) * 1000)
os.close(fd)
samples.sort()
result = {"p50_ms": samples[100], "p99_ms": samples[197]}
json.dump(result, open(out, "w"))
print(f"fsync: p50 {result['p50_ms']:.2f} ms, p99 {result['p99_ms']:.2f} ms")
PY
}

# CPU seconds (user + system) of the MariaDB server so far; 0 if not found.
mariadb_cpu() {
    local pid
    pid=$(pgrep -x mariadbd || pgrep -x mysqld || true)
    [[ -n $pid ]] || { echo 0; return; }
    awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/${pid%% *}/stat"
}

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
        python3 - "$json/$5.json" "$before" "$after" "$started" "$ended" "$mariadb_idle" <<'PY'
import json, sys
path = sys.argv[1]
before, after, started, ended, idle = map(float, sys.argv[2:7])
report = json.load(open(path))
delivered = max(report["result"]["acknowledged"], 1)
# What MariaDB spends idle (both clusters connected, nothing sent) is not the messages'.
busy = after - before - idle * (ended - started)
report["mariadb_cpu_us_per_message"] = max(busy, 0) * 1e6 / delivered
report["mariadb_idle_cpu_per_s"] = idle
json.dump(report, open(path, "w"))
print(f"  MariaDB CPU per acknowledged message: {report['mariadb_cpu_us_per_message']:.1f} us")
PY
    fi
}

step "this disk's fsync"
measure_fsync start
for store in embedded mysql; do
    step "cluster on the $store store"
    start_cluster "$store"
done
step "the peer run's broker: mosquitto, QoS 1"
printf 'listener 18830 127.0.0.1\nallow_anonymous true\n' >"$work/mosquitto.conf"
mosquitto -c "$work/mosquitto.conf" >/dev/null 2>&1 &
broker_pid=$!
sleep 0.5
step "MariaDB's own CPU while idle (subtracted from every run's)"
idle_before=$(mariadb_cpu)
sleep 5
mariadb_idle=$(python3 -c "print(($(mariadb_cpu) - $idle_before) / 5)")
echo "MariaDB idle: $mariadb_idle CPU-seconds per second"

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
