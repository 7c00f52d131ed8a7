# The benchmark scripts' shared parts (perf/bench.sh, perf/groups.sh):
# two local clusters side by side (the embedded store and MariaDB), the
# peer broker, and what bounds a figure (fsync, MariaDB's CPU). Source it
# after tools/lib.sh and `build_bins`; it sets up $work (a temporary
# directory, removed at exit) and $json (the reports) and stops what it
# started at exit.
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
on_exit cleanup
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

# start_broker: mosquitto (QoS 1, the peer run) on 127.0.0.1:18830.
start_broker() {
    printf 'listener 18830 127.0.0.1\nallow_anonymous true\n' >"$work/mosquitto.conf"
    mosquitto -c "$work/mosquitto.conf" >/dev/null 2>&1 &
    broker_pid=$!
    sleep 0.5
}

# measure_mariadb_idle: MariaDB's own CPU while idle, per second, into
# $mariadb_idle (subtracted from every run's).
measure_mariadb_idle() {
    local idle_before
    idle_before=$(mariadb_cpu)
    sleep 5
    mariadb_idle=$(python3 -c "print(($(mariadb_cpu) - $idle_before) / 5)")
    echo "MariaDB idle: $mariadb_idle CPU-seconds per second"
}

# add_mariadb_cpu REPORT BEFORE AFTER STARTED ENDED: writes MariaDB's CPU
# per acknowledged message of the run (its idle CPU subtracted) into REPORT.
add_mariadb_cpu() {
    python3 - "$1" "$2" "$3" "$4" "$5" "$mariadb_idle" <<'PY'
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
}

# start_bench_services: what every benchmark here runs beside its load: the
# disk's fsync measured, both clusters started, the broker, MariaDB's idle CPU.
start_bench_services() {
    step "this disk's fsync"
    measure_fsync start
    for store in embedded mysql; do
        step "cluster on the $store store"
        start_cluster "$store"
    done
    step "the peer run's broker: mosquitto, QoS 1"
    start_broker
    step "MariaDB's own CPU while idle (subtracted from every run's)"
    measure_mariadb_idle
}
