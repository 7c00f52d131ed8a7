#!/usr/bin/env bash
# The fault matrix (issue 14): each fault injected under `imbench p2p
# --retry` load into a fresh local cluster, on the stores where it applies,
# and what it cost, counted per message.
#
#   perf/faults.sh [--only NAME] [--pairs 50] [--rate 40] [--seconds 24] [--at 8]
#
# Each row: a cluster (imctl up --restart: a daemon that dies is started
# again after 2 s, as the systemd units do), the load for --seconds, the
# fault at --at seconds into it, then the load's own drain. imbench in fault
# mode rides through it as a client must (log in again with jittered
# backoff, resend what has no 1018 under the same unique id) and counts:
# acknowledged (first 1018 per message), delivered (after de-duplication by
# message id), lost (acknowledged, never delivered), stored twice (one
# message under two ids), reordered (stored out of its sender's order),
# refused (1105 and other errors; the message is resent). Beside it, probes
# log in through the gate and ask the verify server for a code every 200 ms,
# which is what the gate and verify rows measure. Recovery is read from the
# load's timeline (sampled every 100 ms): from the fault until the backlog
# (due, not yet delivered) is back to normal (50 ms of traffic)
# for good; for the gate and verify rows, from the probes (first success
# after the last failure).
#
# Rows (NAME: fault; stores):
#   chat-kill       kill -9 of chat-1                           embedded, mysql
#   status-kill     kill -9 of the status server                embedded, mysql
#   gate-kill       kill -9 of the gate                         embedded
#   verify-kill     kill -9 of the verify server                embedded
#   mariadb-restart MariaDB stopped (SIGTERM) and started again  mysql
#   mariadb-freeze  MariaDB frozen (SIGSTOP) for 10 s            mysql
#   disk-full       the embedded store's filesystem full for 5 s embedded
#   half-open       the client process frozen (SIGSTOP) past the heartbeat
#                   deadline, then let go                        embedded
#   fd-limit        chat-1 held at its descriptor limit for 5 s  embedded
#   chat-link-cut   the network between chat-1 and chat-2 cut for 10 s  embedded
#   status-link-cut the network between chat-1 and the status server cut
#                   for 10 s                                     embedded
#
# MariaDB rows run on a throwaway mariadbd of the script's own (it is
# stopped and frozen). The disk-full row mounts a tmpfs (root). The network
# rows give status, chat-1 and chat-2 a network namespace each, with its own
# address on a bridge that the root namespace (gate, verify, imbench, the
# probes) joins too (root; `ip netns`); a cut is a blackhole route each way,
# so packets between the two vanish (the MariaDB rows' server listens on
# the root namespace's loopback, so these run on the embedded store). The
# table goes to perf/results/<date>-faults.md. Loopback and the script's
# own namespaces only.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/lib.sh

only="" pairs=50 rate=40 seconds=24 at=8
while (($#)); do
    case $1 in
        --only) only=$2; shift 2 ;;
        --pairs) pairs=$2; shift 2 ;;
        --rate) rate=$2; shift 2 ;;
        --seconds) seconds=$2; shift 2 ;;
        --at) at=$2; shift 2 ;;
        *) echo "usage: $0 [--only NAME] [--pairs N] [--rate R] [--seconds S] [--at S]" >&2; exit 2 ;;
    esac
done
ensure_rust
ensure_build_tools
ensure_packages "the MariaDB rows" mariadb-server:mariadbd mariadb-client:mariadb
build_bins
stamp=$(date -u +%Y-%m-%d-%H%M)
work=$(mktemp -d)
mkdir -p perf/results
tmpfs="" probe_pid=""
# IM_FAULTS_KEEP=1 keeps the reports, logs and probe files (the path is printed).
on_exit 'stop_imctl; netns_down; [[ -n $probe_pid ]] && kill "$probe_pid" 2>/dev/null; [[ -n $tmpfs ]] && umount "$tmpfs" 2>/dev/null; [[ -n ${IM_FAULTS_KEEP:-} ]] && echo "kept $work" || rm -rf "$work"'
start_throwaway_mariadb
mysql_server=$IM_TEST_MYSQL_URL
port_base=17800

# The network rows' hosts: a namespace with a bridge (imf-sw), and one per
# daemon on it, each with its own address; the root namespace joins too.
net=10.79.0
declare -A host_of=([root]=$net.1 [status]=$net.13 [chat-1]=$net.11 [chat-2]=$net.12)
netns_up() {
    netns_down
    ip netns add imf-sw
    ip -n imf-sw link add br0 type bridge
    ip -n imf-sw link set br0 up
    local name
    for name in root status chat-1 chat-2; do
        ip link add "imf-$name" type veth peer name "p-$name" netns imf-sw
        ip -n imf-sw link set "p-$name" master br0 up
        if [[ $name == root ]]; then
            ip addr add "${host_of[root]}/24" dev imf-root
            ip link set imf-root up
        else
            ip netns add "imf-$name"
            ip link set "imf-$name" netns "imf-$name"
            ip -n "imf-$name" addr add "${host_of[$name]}/24" dev "imf-$name"
            ip -n "imf-$name" link set "imf-$name" up
            ip -n "imf-$name" link set lo up
        fi
    done
}
netns_down() {
    ip link del imf-root 2>/dev/null || true
    local ns
    for ns in imf-sw imf-status imf-chat-1 imf-chat-2; do ip netns del "$ns" 2>/dev/null || true; done
}
# Cuts (add) or heals (del) the link between the hosts $2 and $3: in each, a
# blackhole route to the other.
link() {
    ip -n "imf-$2" route "$1" blackhole "${host_of[$3]}/32"
    ip -n "imf-$3" route "$1" blackhole "${host_of[$2]}/32"
}

start_cluster() { # $1 store, $2 data dir; extra environment in $cluster_env, arguments in $cluster_args
    local args=(up --conf conf --data "$2" --port-base "$port_base" --profile "$1" --restart)
    if [[ $1 == mysql ]]; then
        mariadb -uroot -h127.0.0.1 -P"$mysql_port" -e "DROP DATABASE IF EXISTS im_faults"
        # shellcheck disable=SC2086
        start_imctl "$work/up.log" $cluster_env IM_GATE_STORE__MYSQL_URL="$mysql_server/im_faults" \
            IM_CHAT_STORE__MYSQL_URL="$mysql_server/im_faults" "${args[@]}" $cluster_args
    else
        # shellcheck disable=SC2086
        start_imctl "$work/up.log" $cluster_env "${args[@]}" $cluster_args
    fi
}

# Probes through the gate: a login and a verify-code request every 200 ms,
# one line each ("<unix time> login|code <error or down>") into $1, until
# the file $2 exists.
start_probes() {
    python3 - "$port_base" "$1" "$2" "$prefix" <<'PY' &
import json, os, sys, time, urllib.request
base, out, stop, prefix = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
gate = f"http://127.0.0.1:{base + 2}"
def post(path, body):
    request = urllib.request.Request(gate + path, json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=1) as response:
            return json.load(response).get("error", -1)
    except Exception:
        return "down"
with open(out, "w") as log:
    n = 0
    # Stops when told, or when the script's work directory is gone (it died).
    while not os.path.exists(stop) and os.path.isdir(os.path.dirname(stop)):
        n += 1
        login = post("/user_login", {"email": f"{prefix}{n % 20}", "passwd": "bench"})
        code = post("/get_varifycode", {"email": f"probe{n}.{int(time.time())}@example.com"})
        now = time.time()
        log.write(f"{now:.3f} login {login}\n{now:.3f} code {code}\n")
        log.flush()
        time.sleep(0.2)
PY
    probe_pid=$!
}

# Holds chat-1 at its descriptor limit for 5 s: lowers its soft limit to
# what it has open plus 20 (the hard limit stays: raising it again would
# need CAP_SYS_RESOURCE), opens 200 connections (each sends a heartbeat, which is
# answered before login), then closes them and checks a new connection is
# served again. Prints what it saw.
fd_limit_fault() {
    local pid open soft hard
    pid=$(imctl_daemon_pid chat-server chat1.toml)
    open=$(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 | wc -l)
    read -r soft hard < <(prlimit --pid "$pid" --nofile --noheadings --output SOFT,HARD)
    prlimit --pid "$pid" --nofile=$((open + 20)):"$hard"
    python3 - "$((port_base + 10))" >"$work/fd-limit.txt" <<'PY'
import select, socket, struct, sys, time
port = int(sys.argv[1])
frame = struct.pack(">HH", 1023, 2) + b"{}"
def answered_within(sockets, seconds):
    """Sends each a heartbeat; the ones answered (1024) within `seconds`."""
    for s in sockets:
        s.setblocking(False)
        try:
            s.send(frame)
        except OSError:
            pass
    answered, deadline = set(), time.time() + seconds
    while len(answered) < len(sockets) and time.time() < deadline:
        waiting = [s for s in sockets if s not in answered]
        ready, _, _ = select.select(waiting, [], [], max(deadline - time.time(), 0))
        for s in ready:
            try:
                header = s.recv(4)
            except OSError:
                header = b""
            if len(header) == 4 and struct.unpack(">HH", header)[0] == 1024:
                answered.add(s)
            elif not header:
                answered.add(s)  # closed: not counted below
    return sum(1 for s in answered if s.fileno() >= 0 and is_open(s))
def is_open(s):
    try:
        return s.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False
held = []
for _ in range(200):
    s = socket.socket()
    s.settimeout(1.0)
    try:
        s.connect(("127.0.0.1", port))  # completes in the kernel's backlog
        held.append(s)
    except OSError:
        pass
served = answered_within(held, 1.0)
time.sleep(4)
for s in held:
    s.close()
start = time.time()
while True:
    s = socket.create_connection(("127.0.0.1", port), timeout=1)
    ok = answered_within([s], 1.0) == 1
    s.close()
    if ok or time.time() - start > 30:
        break
    time.sleep(0.05)
print(f"{served} of {len(held)} new connections served within 1 s at the limit (the rest wait "
      f"in the backlog); a new one served {time.time() - start:.2f} s after they closed")
PY
    prlimit --pid "$pid" --nofile="$soft":"$hard"
}

# Injects fault $1 (the row's name) into the running cluster.
inject() {
    case $1 in
        chat-kill) kill -9 "$(imctl_daemon_pid chat-server chat1.toml)" ;;
        status-kill) kill -9 "$(imctl_daemon_pid status-server status.toml)" ;;
        gate-kill) kill -9 "$(imctl_daemon_pid gate-server gate.toml)" ;;
        verify-kill) kill -9 "$(imctl_daemon_pid verify-server verify.toml)" ;;
        mariadb-restart)
            kill -TERM "$mysql_pid"
            wait "$mysql_pid" 2>/dev/null || true
            run_throwaway_mariadb
            ;;
        mariadb-freeze) kill -STOP "$mysql_pid"; sleep 10; kill -CONT "$mysql_pid" ;;
        disk-full)
            dd if=/dev/zero of="$tmpfs/filler" bs=1M 2>/dev/null || true
            sleep 5
            rm -f "$tmpfs/filler"
            ;;
        half-open) kill -STOP "$bench_pid"; sleep 15; kill -CONT "$bench_pid" ;;
        fd-limit) fd_limit_fault ;;
        chat-link-cut) link add chat-1 chat-2; sleep 10; link del chat-1 chat-2 ;;
        status-link-cut) link add chat-1 status; sleep 10; link del chat-1 status ;;
    esac
}

# One row: $1 name, $2 store.
row() {
    local name=$1 store=$2 data="$work/data-$1-$2"
    [[ -z $only || $only == "$name" ]] || return 0
    step "$name on the $store store"
    cluster_env="" cluster_args="" status_at="127.0.0.1:$port_base" chat1_at=127.0.0.1 chat2_at=127.0.0.1
    if [[ $name == *-link-cut ]]; then
        netns_up
        cluster_args="--netns status=imf-status:${host_of[status]}"
        cluster_args+=" --netns chat-1=imf-chat-1:${host_of[chat-1]} --netns chat-2=imf-chat-2:${host_of[chat-2]}"
        status_at="${host_of[status]}:$port_base" chat1_at=${host_of[chat-1]} chat2_at=${host_of[chat-2]}
    fi
    if [[ $name == disk-full ]]; then
        tmpfs="$work/tmpfs"
        mkdir -p "$tmpfs"
        mount -t tmpfs -o size=256m tmpfs "$tmpfs"
        data="$tmpfs/data"
    fi
    # The half-open row: a heartbeat deadline short enough to pass while
    # the client is frozen (imbench heartbeats every 10 s).
    [[ $name == half-open ]] && cluster_env="IM_CHAT_IDLE_TIMEOUT_MS=12000"
    start_cluster "$store" "$data"
    prefix="f${name//-/}${store:0:1}"
    local report="$work/$name-$store.json" log="$work/$name-$store.log"
    local store_args=(--data "$data")
    [[ $store == mysql ]] && store_args=(--store mysql --mysql-url "$mysql_server/im_faults")
    # The half-open row's client is frozen for 15 s: it needs that much longer.
    local run_seconds=$seconds
    [[ $name == half-open ]] && run_seconds=$((seconds + 15))
    "$bin/imbench" p2p --status "$status_at" "${store_args[@]}" --pairs "$pairs" \
        --rate "$rate" --seconds "$run_seconds" --retry --prefix "$prefix" --json "$report" >"$log" 2>&1 &
    bench_pid=$!
    for _ in $(seq 600); do grep -q "sending" "$log" && break; sleep 0.05; done
    local started
    started=$(date +%s.%N)
    start_probes "$work/$name-$store.probe" "$work/stop-probes"
    sleep "$at"
    local fault_at
    fault_at=$(date +%s.%N)
    inject "$name"
    local fault_end
    fault_end=$(date +%s.%N)
    wait "$bench_pid" || { cat "$log" >&2; echo "imbench failed in $name" >&2; }
    touch "$work/stop-probes"
    wait "$probe_pid" 2>/dev/null || true
    rm -f "$work/stop-probes"
    local daemon who offset host
    for daemon in gate:2:127.0.0.1 chat-1:12:$chat1_at chat-2:22:$chat2_at; do # their /metrics, for IM_FAULTS_KEEP
        IFS=: read -r who offset host <<<"$daemon"
        curl -s -m 2 "$host:$((port_base + offset))/metrics" >"$work/$name-$store.$who.metrics" || true
    done
    stop_imctl
    [[ $name == *-link-cut ]] && netns_down
    local note=""
    [[ $name == fd-limit ]] && note=$(cat "$work/fd-limit.txt")
    [[ $name == disk-full ]] && note="integrity check: $(python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("PRAGMA integrity_check").fetchone()[0])' "$data/im.sqlite3")"
    python3 - "$report" "$work/$name-$store.probe" "$name" "$store" "$started" "$fault_at" \
        "$fault_end" "$((pairs * rate))" "$note" >>"$work/rows.md" <<'PY'
import json, sys
report_path, probe_path, name, store = sys.argv[1:5]
started, fault_at, fault_end, offered = map(float, sys.argv[5:9])
note = sys.argv[9]
report = json.load(open(report_path))
r = report["result"]
f = r.get("faults", {})
t_fault, t_end = fault_at - started, float(r["seconds"])
# Recovery, from the timeline (every 100 ms): the backlog is what was due
# by then on the open loop's clock (a sender that is disconnected sends
# nothing, but its messages are still due) and is not delivered yet.
# Normal is at most 50 ms of traffic (or four times the worst seen in the
# 3 s before the fault); recovered is the first sample after the fault from
# which it stays normal to the end.
samples = [(t, offered * t - delivered) for t, _, _, delivered, _, _ in r["timeline"] if t <= t_end]
before = [b for t, b in samples if t_fault - 3 <= t < t_fault]
normal = max(0.05 * offered, 4 * max(before, default=0))
after = [(t, b) for t, b in samples if t >= t_fault]
if all(b <= normal for _, b in after):
    recovery = "no effect"
else:
    recovery = "not within the run"
    for i, (t, _) in enumerate(after):
        if all(b <= normal for _, b in after[i:]):
            recovery = f"{t - t_fault:.1f} s"
            break
# The probes: failures after the fault, and the first success after the last one.
down = {"login": [], "code": []}
for line in open(probe_path):
    when, kind, result = line.split()
    if float(when) >= fault_at - 0.2:
        down[kind].append((float(when), result))
def window(kind):
    events = down[kind]
    failed = [t for t, res in events if res != "0"]
    if not failed:
        return "ok throughout"
    after = [t for t, res in events if res == "0" and t > failed[-1]]
    end = after[0] if after else failed[-1]
    return f"failing {end - failed[0]:.1f} s"
refused = r["refused"]
print(f"| {name} | {store} | {recovery} | {r['acknowledged']} | {r['delivered']} | {r['lost']} | "
      f"{f.get('stored_twice', '-')} | {f.get('reordered', '-')} | {refused} | {f.get('resent', '-')} | "
      f"{f.get('reconnected', '-')} | {r['latency_ms']['p99']:.0f} / {r['latency_ms']['max']:.0f} | "
      f"{window('login')} | {window('code')} | {note} |")
PY
    tail -1 "$work/rows.md"
    if [[ $name == disk-full ]]; then
        umount "$tmpfs"
        tmpfs=""
    fi
}

step "fault matrix: $pairs pairs × $rate msg/s for $seconds s, the fault at $at s"
row chat-kill embedded
row chat-kill mysql
row status-kill embedded
row status-kill mysql
row gate-kill embedded
row verify-kill embedded
row mariadb-restart mysql
row mariadb-freeze mysql
row disk-full embedded
row half-open embedded
row fd-limit embedded
row chat-link-cut embedded
row status-link-cut embedded

out="perf/results/$stamp-faults.md"
{
    echo "# Fault matrix, $stamp"
    echo
    echo "\`perf/faults.sh --pairs $pairs --rate $rate --seconds $seconds --at $at\`: $((pairs * rate)) msg/s offered over $pairs pairs, the fault at ${at} s."
    echo "Recovery: from the fault until the backlog (due, not yet delivered) is back to at most 50 ms of traffic for good (100 ms samples)."
    echo "Latency p99 / max: every message of the run, resends timed from their first send."
    echo
    echo "| fault | store | recovery | acknowledged | delivered | lost | stored twice | reordered | refused | resent | reconnected | p99 / max ms | gate login | verify code | note |"
    echo "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|---|"
    cat "$work/rows.md"
} >"$out"
echo
cat "$out"
echo "written to $out"
