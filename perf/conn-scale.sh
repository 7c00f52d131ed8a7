#!/usr/bin/env bash
# Connection scaling past one process's descriptor limit: a status server,
# CHATS chat-server processes, and LOADERS imbench conn processes of
# PER_LOADER connections each (every process here may hold at most ~20,000
# descriptors), spread over 8 loopback source addresses (~28k ephemeral
# ports each). Prints every loader's table and the totals.
#
#   perf/conn-scale.sh [CHATS=6] [LOADERS=6] [PER_LOADER=17000] [HOLD_SECONDS=20]
set -euo pipefail
cd "$(dirname "$0")/.."
chats=${1:-6} loaders=${2:-6} per=${3:-17000} hold=${4:-20}
bin="${CARGO_TARGET_DIR:-target}/release"
work=$(mktemp -d)
pids=()
cleanup() { kill -TERM "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
IM_STATUS_LISTEN=127.0.0.1:17700 IM_LOG=warn "$bin/status-server" >"$work/status.log" 2>&1 &
pids+=($!)
sleep 0.5
for n in $(seq "$chats"); do
    IM_CHAT_NAME="chat-$n" IM_CHAT_LISTEN="127.0.0.1:$((17700 + 10 * n))" IM_CHAT_RPC_LISTEN="127.0.0.1:$((17701 + 10 * n))" \
        IM_CHAT_ADMIN_LISTEN="" IM_CHAT_STATUS_ADDR=127.0.0.1:17700 IM_CHAT_STORE__DATA_DIR="$work/data" \
        IM_CHAT_IO_THREADS=1 IM_CHAT_GRPC_THREADS=1 IM_LOG=warn "$bin/chat-server" >"$work/chat-$n.log" 2>&1 &
    pids+=($!)
done
sleep 2
echo "status + $chats chat servers up; $loaders loaders × $per connections, held $hold s"
loader_pids=()
for k in $(seq "$loaders"); do
    "$bin/imbench" conn --status 127.0.0.1:17700 --data "$work/data" --prefix "scale$k-" --conns "$per" \
        --ramp 1000 --hold "$hold" --sources 8 --threads 1 --json "$work/loader-$k.json" >"$work/loader-$k.log" 2>&1 &
    loader_pids+=($!)
    sleep 1   # provisioning writes to one SQLite file: let each start in turn
done
status=0
for p in "${loader_pids[@]}"; do wait "$p" || status=1; done
for k in $(seq "$loaders"); do tail -1 "$work/loader-$k.log"; done
python3 - "$work" "$loaders" <<'PY'
import json, sys
work, loaders = sys.argv[1], int(sys.argv[2])
reports = [json.load(open(f"{work}/loader-{k}.json")) for k in range(1, loaders + 1)]
total = sum(r["still_connected"] for r in reports)
failed = sum(r["failed"] for r in reports)
# Each loader measures at the end of its own hold; the first to finish does
# so while every loader is still connected (they overlap by design).
rss = max(r["server_rss_kib_after"] for r in reports)
idle = min(r["server_rss_kib_before"] for r in reports)
print(f"total: {total} connections held at once over {reports[0]['chat_servers']} chat servers, {failed} failed; "
      f"chat servers' RSS {idle} KiB idle, {rss} KiB connected: "
      f"{(rss - idle) * 1024 / max(total, 1):.0f} bytes per connection")
PY
exit $status
