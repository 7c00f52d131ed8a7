#!/usr/bin/env bash
# Runs an original Qt client of the C++ system, unmodified, against a local
# cluster: builds it from its sources, starts `imctl up`, drives the client
# under Xvfb with xdotool, checks each step by what the servers record, and
# saves a screenshot of each step.
#
#   tools/legacy-clients.sh [DIR]      DIR: the legacy clients' folder
#                                      (default ../shared/legacy-clients)
#
# The client's folder is copied to a temporary directory (it may be
# read-only) and built there with Debian's Qt 5 after build fixes only, never
# protocol changes: two #include names with the wrong case (and the .ui file
# that names one of them), #include <QPainterPath> where it is used, and the
# Windows-only post-link copy step dropped. The other side of every
# conversation is tools/legacy/peer.py, a user of this project's protocol.
#
# Covered now: llfcchat (login, search, friend request and acceptance, text
# both ways across the two chat servers, delivery to the other side).
# Not yet: llfcchat's own registration and reset dialogs (its users are
# registered through the same gate routes by peer.py), and project_show.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/lib.sh

legacy=${1:-../shared/legacy-clients}
[[ -d $legacy/llfcchat ]] || { echo "no llfcchat client in $legacy" >&2; exit 2; }
ensure_rust
ensure_build_tools
ensure_packages "building and driving the Qt client" \
    qtbase5-dev:qmake xvfb:Xvfb xdotool:xdotool imagemagick:import curl:curl python3:python3

step "cargo build --release (imctl and the daemons)"
cargo build --release -q -p tools -p services --bins
bin="${CARGO_TARGET_DIR:-target}/release"

work=$(mktemp -d)
shots="$work/screenshots"
mkdir -p "$shots"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT

step "building llfcchat in $work/llfcchat"
cp -r "$legacy/llfcchat" "$work/llfcchat"
chmod -R u+w "$work/llfcchat"
(
    cd "$work/llfcchat"
    sed -i 's/"chatitembase.h"/"ChatItemBase.h"/; s/"chatview.h"/"ChatView.h"/' ./*.h ./*.cpp
    sed -i 's/<header>chatview.h</<header>ChatView.h</' chatpage.ui
    for f in imagecropperlabel.cpp logindialog.cpp; do
        grep -q '#include <QPainterPath>' "$f" || sed -i '1i #include <QPainterPath>' "$f"
    done
    sed -i '/QMAKE_POST_LINK/d' llfcchat.pro
    mkdir -p build && cd build
    qmake ../llfcchat.pro >qmake.log 2>&1
    make -j"$(nproc)" >make.log 2>&1 || { tail -30 make.log >&2; exit 1; }
)
client_dir="$work/llfcchat/build/bin"

# Ports: status P, verify P+1, gate P+2 (llfcchat P+3), chat-n P+10n (llfcchat P+10n+3).
P=$((25000 + RANDOM % 2000 * 10))
step "imctl up (embedded store, ports from $P)"
"$bin/imctl" up --conf conf --data "$work/data" --port-base "$P" >"$work/imctl.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 150); do grep -q "imctl: ready" "$work/imctl.log" && break; sleep 0.2; done
grep -q "imctl: ready" "$work/imctl.log" || { cat "$work/imctl.log" >&2; exit 1; }
gate="127.0.0.1:$((P + 2))"
llfcchat_gate="127.0.0.1:$((P + 3))"

metric() { # sum of a counter over both chat servers
    local total=0 n value
    for n in 1 2; do
        value=$(curl -s "127.0.0.1:$((P + 10 * n + 2))/metrics" | awk -v m="$1" '$1 ~ "^"m"\\{" {print $2}')
        total=$((total + ${value:-0}))
    done
    echo "$total"
}
wait_for() { # description, command...: polls for 15 s
    local what=$1
    shift
    for _ in $(seq 1 75); do "$@" && return 0; sleep 0.2; done
    echo "FAILED: $what" >&2
    exit 1
}
check() { echo "  ok: $*"; }

step "users: ling (the Qt client) and mei (tools/legacy/peer.py)"
python3 tools/legacy/peer.py register "$llfcchat_gate" "$work/data/mail" ling lingpass1 >/dev/null
python3 tools/legacy/peer.py register "$llfcchat_gate" "$work/data/mail" mei meipass12 >/dev/null
check "both registered with mailed codes through the gate's llfcchat routes"

display=":$((90 + RANDOM % 9))"
Xvfb "$display" -screen 0 1280x1024x24 >"$work/xvfb.log" 2>&1 &
pids+=($!)
export DISPLAY=$display
sleep 1
printf '[GateServer]\nhost=127.0.0.1\nport=%s\n' "$((P + 3))" >"$client_dir/config.ini"
(cd "$client_dir" && exec ./llfcchat >"$work/llfcchat.log" 2>&1) &
pids+=($!)
visible_window() { xdotool search --onlyvisible --name '' >/dev/null 2>&1; }
wait_for "the client's window" visible_window
sleep 1
shot() { import -window root "$shots/$1.png"; echo "  screenshot: $shots/$1.png"; }
click() { xdotool mousemove "$1" "$2" click 1; sleep 0.3; }
at_least() { [[ $(metric "$1") -ge $2 ]]; }
peer_saw() { grep -q "$1" "$work/peer.log" 2>/dev/null; }

step "log in (the login dialog: e-mail, password, the login button)"
shot 01-login-dialog
click 160 310
xdotool type --delay 20 "ling@example.com"
click 160 346
xdotool type --delay 20 "lingpass1"
click 150 421
wait_for "ling logged in on a chat server" at_least im_chat_logins_total 1
sleep 1
shot 02-logged-in
check "the client followed the gate's port string to a chat server's llfcchat port and logged in"

python3 tools/legacy/peer.py chat "$gate" mei meipass12 "$work/peer.log" 120 &
pids+=($!)
wait_for "mei logged in" at_least im_chat_logins_total 2

step "search for mei and apply (search box, the find item, add, confirm)"
click 165 30
xdotool type --delay 40 "mei"
sleep 0.5
click 180 105
sleep 1.5
shot 03-found
click 514 453
sleep 1.5
shot 04-apply-dialog
click 440 635
wait_for "mei received ling's application (1011)" peer_saw '"id": 1011'
wait_for "mei's acceptance answered (1014 with the first message)" peer_saw '"id": 1014'
wait_for "the greeting stored (1018)" peer_saw '"id": 1018'
sleep 1.5
click 246 30 # clear the search: the conversation list again
sleep 1
shot 05-new-friend
check "the application reached mei, her acceptance reached the client (1015 with chat_datas)"

step "open the conversation, read the greeting, answer"
click 180 100
sleep 1.5
shot 06-conversation
click 680 750
xdotool type --delay 30 "hi mei, from the Qt client"
click 985 879
wait_for "mei received the client's message (1019)" peer_saw 'hi mei, from the Qt client'
sleep 1
shot 07-answered
check "text both ways across the two chat servers"
pgrep -f "$client_dir/llfcchat|\./llfcchat" >/dev/null || { echo "FAILED: the client exited" >&2; tail -20 "$work/llfcchat.log" >&2; exit 1; }
check "the client is still running (it used to crash on 1015 and at every login)"

echo
echo "llfcchat: every step passed; screenshots in $shots"
