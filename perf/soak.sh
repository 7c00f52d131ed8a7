#!/usr/bin/env bash
# The soak: a local cluster on MariaDB under steady load for a long time,
# sampled every minute, to show what grows (memory, descriptors) and what
# drifts (latency, losses).
#
#   perf/soak.sh [--minutes 30] [--pairs 5000] [--rate 4] [--idle 500] [--churn 50]
#
# Defaults: 10,000 users in 5,000 pairs across the two chat servers (mixed:
# every other pair has its sender on the other server, so both commit and
# both forward), each sender at 4 msg/s (20,000 msg/s in all), plus 500 idle users of whom 50 a
# second log out and log in again (imbench p2p --retry --idle --churn), for
# 30 minutes. A message with no 1018 is resent after 10 s (doubling), not
# imbench's fault-mode 1 s: near capacity answers take longer than a second,
# and resending them would double the load. Every minute: each daemon's RSS
# and open descriptors (from
# /proc), and from imbench the messages acknowledged and delivered, those
# acknowledged and not delivered yet, and that minute's latency p50/p99.
# At the end, the verdicts (RSS within 10% after a 5-minute warm-up,
# descriptors flat, 0 lost, p99 stable), a table and a PNG plot go to
# perf/results/<date>-soak.md/.png. MariaDB: a throwaway mariadbd of the
# soak's own, configured as conf/deploy/mariadb-im.cnf recommends for this
# message rate (a 1 GB redo log and buffer pool; durable commits), or the
# server at IM_BENCH_MYSQL_URL if set (its database im_soak is dropped and
# created). Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/lib.sh

minutes=30 pairs=5000 rate=4 idle=500 churn=50
while (($#)); do
    case $1 in
        --minutes) minutes=$2; shift 2 ;;
        --pairs) pairs=$2; shift 2 ;;
        --rate) rate=$2; shift 2 ;;
        --idle) idle=$2; shift 2 ;;
        --churn) churn=$2; shift 2 ;;
        *) echo "usage: $0 [--minutes M] [--pairs N] [--rate R] [--idle M] [--churn N]" >&2; exit 2 ;;
    esac
done
ensure_rust
ensure_build_tools
ensure_packages "the soak's database and plot" mariadb-client:mariadb gnuplot-nox:gnuplot
build_bins
if [[ -n ${IM_BENCH_MYSQL_URL:-} ]]; then
    mysql_server=$IM_BENCH_MYSQL_URL
else
    ensure_packages "the soak's own MariaDB" mariadb-server:mariadbd
    # conf/deploy/mariadb-im.cnf's settings.
    mysql_options=(--innodb-log-file-size=1G --innodb-buffer-pool-size=1G --innodb-flush-log-at-trx-commit=1)
    start_throwaway_mariadb
    mysql_server=$IM_TEST_MYSQL_URL
fi
host_part=${mysql_server#mysql://}
user=${host_part%%@*} hostport=${host_part#*@}
mariadb -u"${user%%:*}" -h"${hostport%%:*}" -P"${hostport##*:}" -e "DROP DATABASE IF EXISTS im_soak"
stamp=$(date -u +%Y-%m-%d-%H%M)
work=$(mktemp -d)
port_base=17900
bench_pid=""
on_exit '[[ -n $bench_pid ]] && kill "$bench_pid" 2>/dev/null; stop_imctl; rm -rf "$work"'

step "cluster on MariaDB ($mysql_server/im_soak)"
start_imctl "$work/up.log" IM_GATE_STORE__MYSQL_URL="$mysql_server/im_soak" \
    IM_CHAT_STORE__MYSQL_URL="$mysql_server/im_soak" \
    up --conf conf --data "$work/data" --port-base "$port_base" --profile mysql

step "load: $pairs pairs × $rate msg/s, $idle idle users ($churn/s churn), $minutes minutes"
seconds=$((minutes * 60))
"$bin/imbench" p2p --status "127.0.0.1:$port_base" --store mysql --mysql-url "$mysql_server/im_soak" \
    --pairs "$pairs" --rate "$rate" --seconds "$seconds" --mixed --retry --resend-after 10000 \
    --idle "$idle" --churn "$churn" \
    --report-every 60 --prefix soak --json "$work/imbench.json" >"$work/imbench.log" 2>&1 &
bench_pid=$!
for _ in $(seq 1200); do grep -q "sending" "$work/imbench.log" && break; sleep 0.1; done
grep -q "sending" "$work/imbench.log" || { cat "$work/imbench.log" >&2; exit 1; }

# Every minute, as imbench's own rows: each daemon's RSS (KiB) and open
# descriptors, one line per daemon: "<minute> <name> <rss> <fds>".
samples="$work/samples.txt"
for minute in $(seq 1 "$minutes"); do
    sleep 60
    for name in status:status-server:status.toml chat-1:chat-server:chat1.toml \
        chat-2:chat-server:chat2.toml gate:gate-server:gate.toml verify:verify-server:verify.toml; do
        IFS=: read -r label binary file <<<"$name"
        pid=$(imctl_daemon_pid "$binary" "$file" || true)
        [[ -n $pid ]] || { echo "$minute $label 0 0" >>"$samples"; continue; }
        rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
        fds=$(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 | wc -l)
        echo "$minute $label $rss $fds" >>"$samples"
    done
    tail -1 "$work/imbench.log" | cut -c1-160
done
wait "$bench_pid" || { tail -20 "$work/imbench.log" >&2; echo "imbench failed" >&2; exit 1; }
bench_pid=""

mkdir -p perf/results
out="perf/results/$stamp-soak"
python3 - "$work/imbench.json" "$samples" "$out" "$minutes" "$pairs" "$rate" "$idle" "$churn" <<'PY'
import json, statistics, sys
report_path, samples_path, out = sys.argv[1:4]
minutes, pairs, rate, idle, churn = (float(v) for v in sys.argv[4:9])
report = json.load(open(report_path))
result = report["result"]
rows = result["intervals"]
daemons = ["status", "chat-1", "chat-2", "gate", "verify"]
rss = {d: {} for d in daemons}
fds = {d: {} for d in daemons}
for line in open(samples_path):
    minute, name, r, f = line.split()
    rss[name][int(minute)] = int(r)
    fds[name][int(minute)] = int(f)
lines = [f"# Soak, {out.split('/')[-1].removesuffix('-soak')}", "",
         f"`perf/soak.sh --minutes {minutes:.0f} --pairs {pairs:.0f} --rate {rate:g} --idle {idle:.0f} --churn {churn:g}`: "
         f"{2 * pairs + idle:.0f} logged-in users over two chat servers on MariaDB, {pairs * rate:,.0f} msg/s offered, "
         f"{churn:g} logins/logouts per second.", "",
         "| minute | acknowledged /min | delivered /min | acknowledged, not delivered yet | p50 ms | p99 ms | churned | "
         + " | ".join(f"{d} RSS MiB" for d in daemons) + " | chat-1 fds | chat-2 fds |",
         "|" + "---:|" * (7 + len(daemons) + 2)]
previous = {"acknowledged": 0, "delivered": 0}
for i, row in enumerate(rows, start=1):
    lines.append(
        f"| {i} | {row['acknowledged'] - previous['acknowledged']:,} | {row['delivered'] - previous['delivered']:,} | "
        f"{row['undelivered_now']:,} | {row['latency_ms']['p50']:.1f} | {row['latency_ms']['p99']:.1f} | {row['churned']:,} | "
        + " | ".join(f"{rss[d].get(i, 0) / 1024:.1f}" for d in daemons)
        + f" | {fds['chat-1'].get(i, 0)} | {fds['chat-2'].get(i, 0)} |")
    previous = row
warm = 5
verdicts = []
for d in daemons:
    after = [v for m, v in rss[d].items() if m > warm]
    if after:
        spread = (max(after) - min(after)) / max(min(after), 1)
        verdicts.append(f"{d} RSS after minute {warm}: {min(after) / 1024:.1f}-{max(after) / 1024:.1f} MiB "
                        f"({spread:.1%} spread; {'flat' if spread <= 0.10 else 'NOT flat'} within 10%)")
for d in ("chat-1", "chat-2"):
    after = [v for m, v in fds[d].items() if m > warm]
    if after:
        verdicts.append(f"{d} descriptors after minute {warm}: {min(after)}-{max(after)}")
p99s = [row["latency_ms"]["p99"] for row in rows[warm:]]
if p99s:
    median = statistics.median(p99s)
    verdicts.append(f"p99 per minute after minute {warm}: median {median:.1f} ms, max {max(p99s):.1f} ms "
                    f"({'stable' if max(p99s) <= 3 * median else 'NOT stable'}: max within 3x the median)")
verdicts.append(f"whole run: {result['acknowledged']:,} acknowledged, {result['delivered']:,} delivered, "
                f"lost {result['lost']}, stored twice {report.get('faults', result.get('faults', {})).get('stored_twice', '-')}, "
                f"p50 {result['latency_ms']['p50']:.1f} ms, p99 {result['latency_ms']['p99']:.1f} ms, "
                f"generator lateness p99 {result['generator_lateness_ms']['p99']:.1f} ms")
lines += ["", *[f"* {v}" for v in verdicts], "", f"![RSS and p99 per minute]({out.split('/')[-1]}.png)", ""]
open(out + ".md", "w").write("\n".join(lines))
with open(out + ".dat", "w") as dat:
    for i, row in enumerate(rows, start=1):
        dat.write(f"{i} {row['latency_ms']['p99']} " + " ".join(str(rss[d].get(i, 0) / 1024) for d in daemons) + "\n")
print("\n".join(lines))
PY
gnuplot <<GP
set terminal png size 1000,600
set output "$out.png"
set title "Soak: RSS per daemon and p99 latency, per minute"
set xlabel "minute"
set ylabel "RSS MiB"
set y2label "p99 ms"
set y2tics
set key outside
plot "$out.dat" using 1:3 with lines title "status RSS", \
     "$out.dat" using 1:4 with lines title "chat-1 RSS", \
     "$out.dat" using 1:5 with lines title "chat-2 RSS", \
     "$out.dat" using 1:6 with lines title "gate RSS", \
     "$out.dat" using 1:7 with lines title "verify RSS", \
     "$out.dat" using 1:2 axes x1y2 with linespoints title "p99 ms"
GP
rm -f "$out.dat"
echo "written to $out.md and $out.png"
