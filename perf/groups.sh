#!/usr/bin/env bash
# Group fan-out (issue 17), side by side in one run: a group of --members
# users split over the two chat servers of each cluster (the embedded store
# and MariaDB) and mosquitto fanning the same messages out to the same
# number of QoS 1 subscribers, at --rate messages per second and at half of
# it, interleaved run by run (chat embedded, chat MariaDB, mosquitto, ...),
# --runs times; then MariaDB's CPU per group message for groups of 10, 100
# and 500 members at one rate (imbench reads it around its send phase). Medians of the runs go to
# perf/results/<date>-groups.md (and the reports beside it, .json).
#
#   perf/groups.sh [--runs 3] [--members 500] [--rate 400] [--cpu-rate 200] [--seconds 10]
#
# MariaDB comes from IM_BENCH_MYSQL_URL (default mysql://root@127.0.0.1:3306;
# the database im_bench is dropped and created). Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/lib.sh

runs=3 members=500 rate=400 cpu_rate=200 seconds=10
while (($#)); do
    case $1 in
        --runs) runs=$2; shift 2 ;;
        --members) members=$2; shift 2 ;;
        --rate) rate=$2; shift 2 ;;
        --cpu-rate) cpu_rate=$2; shift 2 ;;
        --seconds) seconds=$2; shift 2 ;;
        *) echo "usage: $0 [--runs N] [--members M] [--rate R] [--cpu-rate R] [--seconds S]" >&2; exit 2 ;;
    esac
done
ensure_rust
ensure_build_tools
ensure_packages "the peer run" mosquitto:mosquitto mariadb-client:mariadb
build_bins
source perf/bench-lib.sh
half=$((rate / 2))

# One group run: $1 store, $2 members, $3 rate, $4 report name (also the
# users' prefix: every run has users and a group of its own).
group_run() {
    local before after started ended
    before=$(mariadb_cpu) started=$(date +%s.%N)
    # shellcheck disable=SC2046
    "$bin/imbench" group --status "127.0.0.1:${ports[$1]}" $(store_args "$1") --members "$2" \
        --rate "$3" --seconds "$seconds" --prefix "${4//-/}" --json "$json/$4.json" | tail -3
    after=$(mariadb_cpu) ended=$(date +%s.%N)
    if [[ $1 == mysql ]]; then
        add_mariadb_cpu "$json/$4.json" "$before" "$after" "$started" "$ended"
    fi
}

mqtt_run() { # $1 rate, $2 report name
    "$bin/imbench" mqtt --broker 127.0.0.1:18830 --fanout "$((members - 1))" --rate "$1" \
        --seconds "$seconds" --json "$json/$2.json" | tail -3
}

start_bench_services

for run in $(seq "$runs"); do
    for r in "$rate" "$half"; do
        for store in embedded mysql; do
            step "group $store: $members members, $r msg/s, run $run"
            group_run "$store" "$members" "$r" "group-$store-$members-$r-$run"
        done
        step "mosquitto: $((members - 1)) subscribers, $r msg/s, run $run"
        mqtt_run "$r" "mqtt-$r-$run"
    done
done
for run in $(seq "$runs"); do
    for m in 10 100 500; do
        step "MariaDB CPU: $m members, $cpu_rate msg/s, run $run"
        group_run mysql "$m" "$cpu_rate" "cpu-$m-$run"
    done
done
measure_fsync end

step "medians and table"
python3 - "$json" "perf/results/$stamp-groups" "$runs" "$members" "$rate" "$half" "$cpu_rate" <<'PY'
import json, os, statistics, sys
src, out, runs, members, rate, half, cpu_rate = sys.argv[1:8]
runs = int(runs)
load = lambda name: json.load(open(os.path.join(src, name + ".json")))
med = lambda xs: statistics.median(xs) if xs else float("nan")
def rate_name(r):
    r = float(r)
    return str(int(r)) if r == int(r) else str(r)
rows, everything = [], {}
for r in (rate, half):
    for system, name in (("chat, embedded", "group-embedded-%s-%s" % (members, rate_name(r))),
                         ("chat, MariaDB", "group-mysql-%s-%s" % (members, rate_name(r))),
                         ("mosquitto QoS 1", "mqtt-%s" % rate_name(r))):
        reports = [load("%s-%d" % (name, n)) for n in range(1, runs + 1)]
        everything[name] = reports
        res = [x["result"] for x in reports]
        g = [x["group"] for x in res]
        rows.append({
            "system": system, "rate": float(r),
            "offered": med([x["deliveries_offered_per_s"] for x in g]),
            "delivered_per_s": med([x["delivered_per_s"] for x in res]),
            "lost": max(x["lost"] for x in res),
            "acknowledged_share": med([x["acknowledged"] / max(x["sent"], 1) for x in res]),
            "p50": med([x["latency_ms"]["p50"] for x in res]),
            "p99": med([x["latency_ms"]["p99"] for x in res]),
            "last_p50": med([x["last_recipient_ms"]["p50"] for x in g]),
            "last_p99": med([x["last_recipient_ms"]["p99"] for x in g]),
            "last_max": med([x["last_recipient_ms"]["max"] for x in g]),
            "lateness_p99": med([x["generator_lateness_ms"]["p99"] for x in res]),
            "missed": max(x["messages_some_recipient_missed"] for x in g),
        })
cpu = []
for m in (10, 100, 500):
    reports = [load("cpu-%d-%d" % (m, n)) for n in range(1, runs + 1)]
    everything["cpu-%d" % m] = reports
    cpu.append({"members": m,
                "us_per_message": med([x["result"]["group"]["database_cpu_us_per_message"] for x in reports]),
                "with_setup": med([x["mariadb_cpu_us_per_message"] for x in reports]),
                "chat_cpu_s": med([x["result"]["group"]["chat_servers_cpu_seconds"] for x in reports]),
                "delivered_per_s": med([x["result"]["delivered_per_s"] for x in reports])})
fsync = {k: json.load(open(os.path.join(src, "fsync-%s.json" % k))) for k in ("start", "end")}
with open(out + ".md", "w") as f:
    f.write("# Group fan-out, medians of %d runs\n\n" % runs)
    f.write("One group of %s members split over two chat servers; mosquitto fans the same messages out to %d QoS 1 subscribers of one topic. Interleaved run by run. fsync p50 %.2f ms at the start, %.2f ms at the end.\n\n" % (members, int(members) - 1, fsync["start"]["p50_ms"], fsync["end"]["p50_ms"]))
    f.write("| system | msg/s | deliveries/s offered | delivered/s | lost | p50 ms | p99 ms | last recipient p50 | p99 | max | generator lateness p99 | messages some recipient missed |\n")
    f.write("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
    for x in rows:
        f.write("| %s | %g | %.0f | %.0f | %d | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %d |\n" % (
            x["system"], x["rate"], x["offered"], x["delivered_per_s"], x["lost"], x["p50"], x["p99"],
            x["last_p50"], x["last_p99"], x["last_max"], x["lateness_p99"], x["missed"]))
    for r in (rate, half):
        chat = [x for x in rows if x["rate"] == float(r) and x["system"].startswith("chat")]
        peer = [x for x in rows if x["rate"] == float(r) and x["system"].startswith("mosquitto")][0]
        for x in chat:
            f.write("\nAt %g msg/s, %s delivered %.2f× what mosquitto did." % (float(r), x["system"], x["delivered_per_s"] / max(peer["delivered_per_s"], 1)))
    f.write("\n\n## MariaDB CPU per group message (%s msg/s, one sender)\n\nWhile the messages flow (imbench reads MariaDB's CPU around its send phase, its idle rate subtracted); beside it, the same over the whole run, users and group made and logged in.\n\n| members | MariaDB us per message | whole run | chat servers' CPU s | delivered/s |\n|---:|---:|---:|---:|---:|\n" % cpu_rate)
    for x in cpu:
        f.write("| %d | %.1f | %.1f | %.2f | %.0f |\n" % (x["members"], x["us_per_message"], x["with_setup"], x["chat_cpu_s"], x["delivered_per_s"]))
json.dump(everything, open(out + ".json", "w"))
print(open(out + ".md").read())
PY
echo "written: perf/results/$stamp-groups.md"
