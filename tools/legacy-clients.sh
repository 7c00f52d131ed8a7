#!/usr/bin/env bash
# Runs the original Qt clients of the C++ system, unmodified, against a local
# cluster: builds them from their sources, starts `imctl up`, drives each
# client under its own Xvfb display with xdotool, checks each step by what
# the servers record, and saves a screenshot of each step.
#
#   tools/legacy-clients.sh [DIR] [PROFILE...]
#       DIR      the legacy clients' folder (default ../shared/legacy-clients)
#       PROFILE  the store profiles to run on: embedded, mysql (default: both)
#
# Each client's folder is copied to a temporary directory (it may be
# read-only) and built there with Debian's Qt 5 after build fixes only, never
# protocol changes: #include names with the wrong case (and the .ui file that
# names one of them), #include <QPainterPath> where it is used, and the
# Windows-only post-link copy step dropped.
#
# Who talks to whom, on each profile:
#   ling  the llfcchat client      mei  tools/legacy/peer.py (this project's
#   shu   the project_show client       own dialect: accepts, greets, acks)
#   kai   imcli, in tmux
# ling and shu each register through their own dialog with the mailed code,
# log in, befriend mei and answer her greeting; then ling befriends shu (each
# accepts in its own window) and they chat both ways; then kai applies to
# ling (who accepts in llfcchat's dialog) and shu to kai (who accepts in
# imcli), and the three chat; then each logs in a second time
# elsewhere (what the first screen shows), and reads at the next login what
# kai wrote while it was offline.
#
# The steps live in tools/legacy/: lib.sh (screens, input, the store's
# record, the cluster), llfcchat.sh and project_show.sh (each client's
# widgets, at their places on a 1280x1024 screen), together.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/lib.sh

legacy=../shared/legacy-clients
if [[ $# -gt 0 && $1 != embedded && $1 != mysql ]]; then
    legacy=$1
    shift
fi
profiles=("$@")
((${#profiles[@]})) || profiles=(embedded mysql)
for client in llfcchat project_show; do
    [[ -d $legacy/$client ]] || { echo "no $client client in $legacy" >&2; exit 2; }
done
ensure_rust
ensure_build_tools
ensure_packages "building and driving the Qt clients" \
    qtbase5-dev:qmake xvfb:Xvfb xdotool:xdotool imagemagick:import curl:curl python3:python3 \
    tmux:tmux
# project_show keeps a local SQLite cache through Qt's SQL module.
if [[ ! -e /usr/lib/x86_64-linux-gnu/qt5/plugins/sqldrivers/libqsqlite.so ]] &&
    ! find /usr/lib -path '*qt5/plugins/sqldrivers/libqsqlite.so' 2>/dev/null | grep -q .; then
    ensure_packages "project_show's local cache" libqt5sql5-sqlite:/nonexistent-command
fi

step "cargo build --release (imctl, imcli and the daemons)"
cargo build --release -q -p tools -p services --bins
bin="${CARGO_TARGET_DIR:-target}/release"

work=$(mktemp -d)
pids=()
stop_pids() {
    local pid
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
on_exit stop_pids

build_client() { # NAME PROJECT-FILE FIXES-FUNCTION
    step "building $1 in $work/$1"
    cp -r "$legacy/$1" "$work/$1"
    chmod -R u+w "$work/$1"
    (
        cd "$work/$1"
        "$3"
        sed -i '/QMAKE_POST_LINK/d' "$2"
        mkdir -p build && cd build
        qmake "../$2" >qmake.log 2>&1
        make -j"$(nproc)" >make.log 2>&1 || { tail -30 make.log >&2; exit 1; }
    )
}
llfcchat_fixes() {
    sed -i 's/"chatitembase.h"/"ChatItemBase.h"/; s/"chatview.h"/"ChatView.h"/' ./*.h ./*.cpp
    sed -i 's/<header>chatview.h</<header>ChatView.h</' chatpage.ui
    local f
    for f in imagecropperlabel.cpp logindialog.cpp; do
        grep -q '#include <QPainterPath>' "$f" || sed -i '1i #include <QPainterPath>' "$f"
    done
}
project_show_fixes() {
    sed -i 's/"LoginDialog.h"/"logindialog.h"/; s/"RegDialog.h"/"regdialog.h"/' main.cpp
}
build_client llfcchat llfcchat.pro llfcchat_fixes
build_client project_show chatsystem1.pro project_show_fixes
llfcchat_bin="$work/llfcchat/build/bin"
project_show_bin="$work/project_show/build/bin"

source tools/legacy/lib.sh
source tools/legacy/llfcchat.sh
source tools/legacy/project_show.sh
source tools/legacy/together.sh

# LEGACY_PAUSE=STEP stops the run after STEP (a function name below) until
# the file it names is removed: for finding a widget's place by hand, with
# DISPLAY set to the client's display.
pause_after() { # STEP
    [[ ${LEGACY_PAUSE:-} == "$1" ]] || return 0
    touch "$work/paused"
    echo "paused after $1: llfcchat on DISPLAY=${L:-}, project_show on DISPLAY=${S:-};" \
        "rm $work/paused to go on"
    while [[ -e $work/paused ]]; do sleep 1; done
}

# ---- one profile -------------------------------------------------------------

run_profile() {
    profile=$1
    client_pids=()
    shot_count=0
    # project_show keeps a message cache per uid in its working directory
    # (chat_UID.db) and ignores message ids it has seen: each profile's
    # users are new users, on a machine of their own.
    rm -f "$project_show_bin"/chat_*.db
    start_cluster
    python3 tools/legacy/peer.py register "127.0.0.1:$((P + 3))" "$data/mail" mei meipass12 >/dev/null
    python3 tools/legacy/peer.py chat "$gate" mei meipass12 "$peer_log" 600 2>>"$peer_log" &
    pids+=($!)
    wait_for "mei logged in" at_least im_chat_logins_total 1

    llfcchat_start "$L"
    llfcchat_register_and_login
    llfcchat_befriend_mei
    project_show_start "$S"
    project_show_register
    project_show_reset
    project_show_befriend_mei
    pause_after project_show_befriend_mei
    ling_and_shu
    pause_after ling_and_shu
    imcli_start
    all_with_kai
    pause_after all_with_kai
    llfcchat_elsewhere_and_offline
    project_show_elsewhere_and_offline
    pause_after project_show_elsewhere_and_offline

    client_running "$llfcchat_bin/llfcchat|\./llfcchat" || { echo "FAILED: llfcchat exited" >&2; exit 1; }
    client_running chatsystem1 || { echo "FAILED: project_show exited" >&2; exit 1; }
    check "both clients are still running"
    stop_cluster
    echo
    echo "[$profile] every step passed; screenshots in $shots"
}

# Four screens, kept for every profile: each client's, and the one where it
# logs in a second time.
new_display && L=$REPLY
new_display && L2=$REPLY
new_display && S=$REPLY
new_display && S2=$REPLY
for profile in "${profiles[@]}"; do run_profile "$profile"; done
