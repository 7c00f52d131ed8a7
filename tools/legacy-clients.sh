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
# accepts in its own window) and they chat both ways; then both apply to kai,
# kai accepts in imcli, and the three chat. shu resets its password in its
# reset dialog and logs in with the new one.
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

# ---- helpers shared by every step ------------------------------------------

wait_for() { # description, command...: polls for 15 s
    local what=$1
    shift
    for _ in $(seq 1 75); do "$@" && return 0; sleep 0.2; done
    echo "FAILED: $what" >&2
    echo "  (logs and screenshots so far: $work)" >&2
    exit 1
}
check() { echo "  ok: $*"; }
# Each client has its own X display, so that windows never overlap.
on_display() { # DISPLAY command...
    local display=$1
    shift
    DISPLAY=$display "$@"
}
shot_count=0
shot() { # DISPLAY NAME: numbered in the order taken
    shot_count=$((shot_count + 1))
    local file
    file=$(printf '%s/%02d-%s.png' "$shots" "$shot_count" "$2")
    on_display "$1" import -window root "$file"
    echo "  screenshot: $file"
}
click() { # DISPLAY X Y
    on_display "$1" xdotool mousemove "$2" "$3" click 1
    sleep 0.3
}
type_text() { # DISPLAY TEXT
    on_display "$1" xdotool type --delay 30 "$2"
}
press() { # DISPLAY KEY
    on_display "$1" xdotool key "$2"
    sleep 0.3
}
start_display() { # DISPLAY
    Xvfb "$1" -screen 0 1280x1024x24 >"$work/xvfb$1.log" 2>&1 &
    pids+=($!)
    wait_for "the X server $1" x_answers "$1"
}
x_answers() { on_display "$1" xdotool getmouselocation >/dev/null 2>&1; }
visible_window() { # DISPLAY [NAME]
    on_display "$1" xdotool search --onlyvisible --name "${2:-}" >/dev/null 2>&1
}
window_count() { on_display "$1" xdotool search --onlyvisible --name '' 2>/dev/null | wc -l; }
client_running() { pgrep -f "$1" >/dev/null; }

metric() { # the sum of a counter over both chat servers
    local total=0 n value
    for n in 1 2; do
        value=$(curl -s "127.0.0.1:$((P + 10 * n + 2))/metrics" | awk -v m="$1" '$1 ~ "^"m"\\{" {print $2}')
        total=$((total + ${value:-0}))
    done
    echo "$total"
}
at_least() { [[ $(metric "$1") -ge $2 ]]; }
peer_saw() { grep -q "$1" "$peer_log" 2>/dev/null; }

# sql QUERY: one value from the cluster's store (either backend).
sql() {
    if [[ $profile == mysql ]]; then
        mariadb --protocol=tcp -h "$mysql_host" -P "$mysql_port" -uroot -N -B "$mysql_db" -e "$1"
    else
        python3 -c 'import sqlite3, sys
for row in sqlite3.connect(sys.argv[1]).execute(sys.argv[2]): print(*row)' "$data/im.sqlite3" "$1"
    fi
}
uid_of() { sql "SELECT uid FROM users WHERE name = '$1'"; }
stored_text() { # SENDER RECEIVER TEXT: the message is in the store
    [[ $(sql "SELECT COUNT(*) FROM messages WHERE sender = $(uid_of "$1") \
        AND receiver = $(uid_of "$2") AND content = '$3'") -ge 1 ]]
}
friends() { # A B: both directions of the friendship are stored
    [[ $(sql "SELECT COUNT(*) FROM friends WHERE (uid = $(uid_of "$1") AND friend_uid = \
        $(uid_of "$2")) OR (uid = $(uid_of "$2") AND friend_uid = $(uid_of "$1"))") -eq 2 ]]
}
applied() { # FROM TO
    [[ $(sql "SELECT COUNT(*) FROM friend_applies WHERE from_uid = $(uid_of "$1") \
        AND to_uid = $(uid_of "$2")") -ge 1 ]]
}
mailed_code() { # EMAIL SINCE
    python3 tools/legacy/peer.py code "$data/mail" "$1" "$2"
}

# imcli in tmux, on a socket of this run's own.
tmux_() { tmux -L "legacy-$$" "$@"; }
imcli_screen() { tmux_ capture-pane -p -t kai; }
imcli_shows() { imcli_screen | grep -qF -- "$1"; }
imcli_type() { tmux_ send-keys -t kai -l -- "$1"; }
imcli_key() { tmux_ send-keys -t kai "$1"; }

# ---- the cluster -------------------------------------------------------------

start_cluster() {
    data="$work/$profile/data"
    shots="$work/$profile/screenshots"
    mkdir -p "$data" "$shots"
    # Ports: status P, verify P+1, gate P+2 (llfcchat P+3, project_show P+4),
    # chat-n P+10n (llfcchat P+10n+3, project_show P+10n+4).
    P=$((25000 + RANDOM % 2000 * 10))
    if [[ $profile == mysql ]]; then
        ensure_test_mysql
        local server=${IM_TEST_MYSQL_URL#mysql://}
        server=${server#*@}
        mysql_host=${server%%:*}
        mysql_port=${server##*:}
        mysql_port=${mysql_port%%/*}
        mysql_db="im_legacy_$$_$RANDOM"
        export IM_GATE_STORE__MYSQL_URL="${IM_TEST_MYSQL_URL%/}/$mysql_db"
        export IM_CHAT_STORE__MYSQL_URL="$IM_GATE_STORE__MYSQL_URL"
        need mariadb || ensure_packages "reading the MySQL store" mariadb-client:mariadb
        on_exit "mariadb --protocol=tcp -h $mysql_host -P $mysql_port -uroot -e 'DROP DATABASE IF EXISTS $mysql_db'"
    fi
    step "[$profile] imctl up (ports from $P, data in $data)"
    # Each user asks for a reset code seconds after the registration code;
    # the verify server's one-mail-a-minute limit is shortened for the run.
    IM_VERIFY_RESEND_INTERVAL_MS=2000 "$bin/imctl" up --conf conf --profile "$profile" --data "$data" --port-base "$P" \
        >"$work/$profile/imctl.log" 2>&1 &
    cluster_pid=$!
    pids+=("$cluster_pid")
    for _ in $(seq 1 150); do grep -q "imctl: ready" "$work/$profile/imctl.log" && break; sleep 0.2; done
    grep -q "imctl: ready" "$work/$profile/imctl.log" || { cat "$work/$profile/imctl.log" >&2; exit 1; }
    gate="127.0.0.1:$((P + 2))"
    peer_log="$work/$profile/peer.log"
}

stop_cluster() {
    local pid
    for pid in "${client_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    tmux_ kill-server 2>/dev/null || true
    kill "$cluster_pid" 2>/dev/null || true
    wait "$cluster_pid" 2>/dev/null || true
}

# ---- llfcchat: ling -----------------------------------------------------------
# Coordinates are the client's fixed layout on a 1280x1024 screen.

llfcchat_start() {
    L=":$((90 + RANDOM % 5))"
    start_display "$L"
    printf '[GateServer]\nhost=127.0.0.1\nport=%s\n' "$((P + 3))" >"$llfcchat_bin/config.ini"
    (cd "$llfcchat_bin" && exec env DISPLAY="$L" ./llfcchat >"$work/$profile/llfcchat.log" 2>&1) &
    client_pids+=($!)
    wait_for "llfcchat's window" visible_window "$L"
    sleep 1
}

llfcchat_register_and_login() {
    step "[$profile] ling registers in llfcchat's dialog with the mailed code"
    shot "$L" llfcchat-login
    click "$L" 150 457 # 注册
    sleep 1
    local since code
    since=$(date +%s)
    click "$L" 170 151 && type_text "$L" ling
    click "$L" 170 182 && type_text "$L" ling@example.com
    click "$L" 160 213 && type_text "$L" lingpass1
    click "$L" 160 244 && type_text "$L" lingpass1
    click "$L" 241 275 # 获取
    code=$(mailed_code ling@example.com "$since")
    click "$L" 135 275 && type_text "$L" "$code"
    shot "$L" llfcchat-register-filled
    click "$L" 82 387 # 确认
    wait_for "ling registered" uid_of_nonempty ling
    sleep 1
    shot "$L" llfcchat-registered
    check "ling registered with the code mailed to ling@example.com"
    sleep 5 # the dialog returns to the login form after its 5 s countdown

    step "[$profile] ling resets the password in llfcchat's dialog, logs in with the new one"
    local before
    before=$(sql "SELECT password_hash FROM users WHERE name = 'ling'")
    sleep 1
    click "$L" 260 378 # 忘记密码
    sleep 1
    since=$(date +%s)
    click "$L" 178 132 && type_text "$L" ling
    click "$L" 176 181 && type_text "$L" ling@example.com
    click "$L" 241 230 # 获取
    code=$(mailed_code ling@example.com "$since")
    click "$L" 135 230 && type_text "$L" "$code"
    click "$L" 178 280 && type_text "$L" lingpass2
    shot "$L" llfcchat-reset-filled
    click "$L" 82 398 # 确认
    wait_for "ling's password changed" password_changed ling "$before"
    sleep 1
    shot "$L" llfcchat-reset
    click "$L" 217 398 # 返回
    sleep 1
    local logins
    logins=$(metric im_chat_logins_total)
    click "$L" 160 310 && type_text "$L" ling@example.com
    click "$L" 160 346 && type_text "$L" lingpass2
    click "$L" 150 421 # 登录
    wait_for "ling logged in on a chat server" at_least im_chat_logins_total $((logins + 1))
    sleep 1
    shot "$L" llfcchat-logged-in
    check "the new password works; the client followed the gate's port string to a chat server"
}
password_changed() { [[ $(sql "SELECT password_hash FROM users WHERE name = '$1'") != "$2" ]]; }
uid_of_nonempty() { [[ -n $(uid_of "$1") ]]; }

llfcchat_apply() { # NAME: search for NAME and apply
    click "$L" 165 30
    type_text "$L" "$1"
    sleep 0.5
    click "$L" 180 105
    sleep 1.5
    shot "$L" "llfcchat-found-$1"
    click "$L" 514 453
    sleep 1.5
    click "$L" 440 635
    sleep 0.5
    click "$L" 246 30 # clear the search: the conversation list again
    sleep 1
}

llfcchat_befriend_mei() {
    step "[$profile] ling applies to mei; mei accepts and greets; ling answers"
    llfcchat_apply mei
    wait_for "mei received ling's application (1011)" peer_saw '"id": 1011.*"name": "ling"'
    wait_for "the pair's first message" friends ling mei
    sleep 1
    shot "$L" llfcchat-new-friend
    click "$L" 180 100 # the conversation at the top
    sleep 1.5
    shot "$L" llfcchat-conversation
    llfcchat_say "hi mei, from llfcchat"
    wait_for "mei received ling's message" peer_saw 'hi mei, from llfcchat'
    sleep 1
    shot "$L" llfcchat-answered
    check "ling and mei are friends; text both ways across the two chat servers"
}

llfcchat_say() { # TEXT, in the open conversation
    click "$L" 680 750
    type_text "$L" "$1"
    click "$L" 985 879
}

# ---- project_show: shu -------------------------------------------------------

project_show_start() {
    S=":$((95 + RANDOM % 5))"
    start_display "$S"
    printf '[GateServer]\nhost=127.0.0.1\nport=%s\n' "$((P + 4))" >"$project_show_bin/config.ini"
    (cd "$project_show_bin" && exec env DISPLAY="$S" ./chatsystem1 >"$work/$profile/project_show.log" 2>&1) &
    client_pids+=($!)
    wait_for "project_show's window" visible_window "$S"
    sleep 1
}

project_show_register() {
    step "[$profile] shu registers in project_show's dialog with the mailed code"
    shot "$S" project_show-login
    click "$S" 367 549 # 注册
    sleep 1
    local since code
    since=$(date +%s)
    click "$S" 679 247 && type_text "$S" shu
    click "$S" 669 335 && type_text "$S" shupass12
    click "$S" 669 423 && type_text "$S" shupass12
    click "$S" 679 512 && type_text "$S" shu@example.com
    click "$S" 930 602 # 获取验证码
    code=$(mailed_code shu@example.com "$since")
    sleep 0.5
    press "$S" Return # "sent" message box
    click "$S" 637 602 && type_text "$S" "$code"
    shot "$S" project_show-register-filled
    click "$S" 904 700 # 确认
    wait_for "shu registered" uid_of_nonempty shu
    sleep 1
    shot "$S" project_show-registered
    press "$S" Return # "registered" message box
    sleep 1
    check "shu registered with the code mailed to shu@example.com"
}

project_show_reset() {
    step "[$profile] shu resets the password in project_show's dialog"
    local before since code
    before=$(sql "SELECT password_hash FROM users WHERE name = 'shu'")
    click "$S" 867 549 # 忘记密码
    sleep 1
    since=$(date +%s)
    click "$S" 658 213 && type_text "$S" shupass34
    click "$S" 658 324 && type_text "$S" shupass34
    click "$S" 672 436 && type_text "$S" shu@example.com
    click "$S" 880 546 # 获取验证码
    code=$(mailed_code shu@example.com "$since")
    sleep 0.5
    press "$S" Return # "sent" message box
    click "$S" 590 546 && type_text "$S" "$code"
    shot "$S" project_show-reset-filled
    click "$S" 846 660 # 确认
    wait_for "shu's password changed" password_changed shu "$before"
    sleep 1
    shot "$S" project_show-reset
    press "$S" Return # "reset" message box
    sleep 1
    check "shu's password was reset with the code mailed to shu@example.com"
}

project_show_login() { # PASSWORD SHOT
    local logins
    logins=$(metric im_chat_logins_total)
    click "$S" 669 398 && type_text "$S" shu@example.com
    click "$S" 669 441 && type_text "$S" "$1"
    click "$S" 630 503
    wait_for "shu logged in on a chat server" at_least im_chat_logins_total $((logins + 1))
    sleep 2
    shot "$S" "$2"
}

project_show_apply() { # NAME: the add-friend dialog: search, apply
    click "$S" 110 870
    sleep 1
    click "$S" 640 200 && type_text "$S" "$1"
    click "$S" 930 200 # 查找
    sleep 1.5
    shot "$S" "project_show-found-$1"
    click "$S" 918 323 # 添加
    sleep 1
    press "$S" Return # "sent" message box
}

project_show_say() { # TEXT, in the chat dialog
    # Without a window manager the dialog takes the keyboard only once it
    # has been clicked: the first click activates it, the second focuses
    # the input.
    click "$S" 669 609
    click "$S" 669 609
    type_text "$S" "$1"
    click "$S" 1034 609
}

project_show_befriend_mei() {
    step "[$profile] shu logs in, applies to mei; mei accepts and greets; shu answers"
    project_show_login shupass34 project_show-logged-in
    check "the client followed the gate's port string to a chat server's project_show port"
    project_show_apply mei
    wait_for "mei received shu's application (1011)" peer_saw '"id": 1011.*"name": "shu"'
    wait_for "shu and mei are friends" friends shu mei
    wait_for "mei's greeting to shu stored" stored_text mei shu 'hello from the other dialect'
    sleep 2
    shot "$S" project_show-greeted
    project_show_say "hi mei, from project_show"
    wait_for "mei received shu's message" peer_saw 'hi mei, from project_show'
    sleep 1
    shot "$S" project_show-answered
    check "shu and mei are friends; text both ways"
}

# ---- one profile -------------------------------------------------------------

run_profile() {
    profile=$1
    client_pids=()
    start_cluster
    python3 tools/legacy/peer.py register "127.0.0.1:$((P + 3))" "$data/mail" mei meipass12 >/dev/null
    python3 tools/legacy/peer.py chat "$gate" mei meipass12 "$peer_log" 600 2>>"$peer_log" &
    pids+=($!)
    wait_for "mei logged in" at_least im_chat_logins_total 1

    llfcchat_start
    llfcchat_register_and_login
    llfcchat_befriend_mei
    project_show_start
    project_show_register
    project_show_reset
    project_show_befriend_mei

    client_running "$llfcchat_bin/llfcchat|\./llfcchat" || { echo "FAILED: llfcchat exited" >&2; exit 1; }
    client_running chatsystem1 || { echo "FAILED: project_show exited" >&2; exit 1; }
    check "both clients are still running"
    stop_cluster
    echo
    echo "[$profile] every step passed; screenshots in $shots"
}

for profile in "${profiles[@]}"; do run_profile "$profile"; done
