#!/usr/bin/env bash
# The reconnect storm at the production password cost (issue 14): 10,000
# users logged in on one chat server, which is then killed (kill -9); every
# user comes back on the survivor through the gate, with jittered retries.
#
#   perf/storm.sh [--users 10000] [--rate 0.2] [--runs 3] [--password-runs 1]
#
# Each run is a fresh `imctl up` cluster on the embedded store. The users'
# passwords are hashed at the gate's default argon2id cost (19 MiB, t=2), so
# the first login storm is what it would be in production (~77 logins/s
# here). chat-2 is paused (SIGSTOP) during those logins, so that everyone
# lands on chat-1, and let go before the kill. Each sender (half the users,
# in friend pairs) sends --rate msg/s throughout, resending what has no 1018
# (imbench fault mode), so the run also counts acknowledged messages lost.
# Runs alternate: resume by session token (the client's way), and, for
# --password-runs of them, a password login again (what it costs without
# session tokens). Reported per run: time from the kill until every user is
# connected again (and stays so for 1 s), gate logins made, the peak CPU
# (1-s windows, 100% = one core) of the gate, the status server, the chat
# servers and imbench itself, messages, and imbench's own lateness.
# Table: perf/results/<date>-storm.md. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/lib.sh

users=10000 rate=0.2 runs=3 password_runs=1
while (($#)); do
    case $1 in
        --users) users=$2; shift 2 ;;
        --rate) rate=$2; shift 2 ;;
        --runs) runs=$2; shift 2 ;;
        --password-runs) password_runs=$2; shift 2 ;;
        *) echo "usage: $0 [--users N] [--rate R] [--runs N] [--password-runs N]" >&2; exit 2 ;;
    esac
done
ensure_rust
ensure_build_tools
build_bins
stamp=$(date -u +%Y-%m-%d-%H%M)
work=$(mktemp -d)
mkdir -p perf/results
port_base=17900
on_exit 'stop_imctl; [[ -n ${IM_STORM_KEEP:-} ]] && echo "kept $work" || rm -rf "$work"'

# One run: $1 "resume" or "password", $2 the run's number.
run() {
    local how=$1 n=$2 data="$work/data-$2" log="$work/up-$2.log"
    step "run $n: reconnect by $how"
    start_imctl "$log" up --conf conf --data "$data" --port-base "$port_base"
    local chat1 chat2
    chat1=$(imctl_daemon_pid chat-server chat1.toml)
    chat2=$(imctl_daemon_pid chat-server chat2.toml)
    local args=(storm --gate "127.0.0.1:$((port_base + 2))" --data "$data" --users "$users"
        --clients 8 --cost default --alone "$chat2" --kill "$chat1" --kill-after 3
        --rate "$rate" --json "$work/$n.json")
    if [[ $how == resume ]]; then
        args+=(--resume --seconds 25)
    else
        args+=(--seconds $((users / 50 + 30))) # ~77 password logins/s here
    fi
    "$bin/imbench" "${args[@]}" | tee "$work/$n.out" | grep -E "login storm|reconnect storm|lateness"
    stop_imctl
    echo "$how $work/$n.json" >>"$work/runs"
}

n=0
for ((i = 0; i < runs || i < password_runs; i++)); do
    if ((i < runs)); then n=$((n + 1)); run resume "$n"; fi
    if ((i < password_runs)); then n=$((n + 1)); run password "$n"; fi
done

out="perf/results/$stamp-storm.md"
python3 - "$work/runs" "$users" "$rate" >"$out" <<'PY'
import json, statistics, sys
runs = [line.split() for line in open(sys.argv[1])]
users, rate = int(sys.argv[2]), float(sys.argv[3])
print(f"# Reconnect storm, {users} users on one chat server, kill -9\n")
print(f"`perf/storm.sh --users {users} --rate {rate}`: passwords at the gate's default argon2id "
      f"cost; {users // 2} senders × {rate} msg/s through it all.\n")
print("| run | back by | first login storm s | connections lost | all back s after the kill | gate logins | "
      "CPU peak %: gate | status | chat servers | imbench | gate CPU s | acknowledged | lost | stored twice | "
      "generator lateness p99 ms |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
back = {}
fmt = lambda v: "-" if v is None else f"{v:,.2f}"
for n, (how, path) in enumerate(runs, 1):
    report = json.load(open(path))
    report = report.get("result", report)
    r = report["reconnect"]
    m = r["messages"]
    back.setdefault(how, []).append(r["all_back_seconds"] if r["all_back_seconds"] is not None else float("inf"))
    print(f"| {n} | {'session token' if how == 'resume' else 'password'} | {report['storm_seconds']:.1f} | "
          f"{r['connections_lost']} | {fmt(r['all_back_seconds'])} | {r['gate_logins']} | "
          f"{r['gate-server_peak_cpu_percent']} | {r['status-server_peak_cpu_percent']} | "
          f"{r['chat-server_peak_cpu_percent']} | {r['imbench_peak_cpu_percent']} | "
          f"{r['gate-server_cpu_seconds']} | {m['acknowledged']} | {m['lost']} | {m['stored_twice']} | "
          f"{fmt(r.get('generator_lateness_p99_ms'))} |")
print()
for how, values in back.items():
    print(f"median all-back time, {how}: {statistics.median(values):.2f} s over {len(values)} runs")
PY
cat "$out"
echo "written to $out"
