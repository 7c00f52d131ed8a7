# The legacy-client run's shared steps: X displays and input, the store's
# record, imcli in tmux, and the cluster.
# Sourced by tools/legacy-clients.sh, which sets the variables they use
# (work, bin, P, profile, data, shots, the displays L, L2, S, S2, ...).

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
next_display=90
new_display() { # starts an X server on a free display; its name in REPLY
    while [[ -e /tmp/.X$next_display-lock ]]; do next_display=$((next_display + 1)); done
    REPLY=":$next_display"
    next_display=$((next_display + 1))
    Xvfb "$REPLY" -screen 0 1280x1024x24 >"$work/xvfb$REPLY.log" 2>&1 &
    pids+=($!)
    wait_for "the X server $REPLY" x_answers "$REPLY"
}
x_answers() { on_display "$1" xdotool getmouselocation >/dev/null 2>&1; }
visible_window() { # DISPLAY [NAME]
    on_display "$1" xdotool search --onlyvisible --name "${2:-}" >/dev/null 2>&1
}
# close_dialog DISPLAY TITLE: Escape, sent to that dialog (there is no window
# manager to draw a close button, and a click could land on another window
# that opened meanwhile).
close_dialog() {
    local id
    id=$(on_display "$1" xdotool search --onlyvisible --name "^$2\$" | head -1)
    [[ -n $id ]] || return 0
    on_display "$1" xdotool windowfocus --sync "$id" key Escape
    sleep 0.3
}
# start_qt_client DIR PROGRAM GATE_PORT DISPLAY: a client pointed at the
# gate's port (its config.ini), on DISPLAY, logging to PROGRAM.log; its pid
# in REPLY once its window shows.
start_qt_client() {
    printf '[GateServer]\nhost=127.0.0.1\nport=%s\n' "$3" >"$1/config.ini"
    (cd "$1" && exec env DISPLAY="$4" "./$2" >>"$work/$profile/$2.log" 2>&1) &
    REPLY=$!
    client_pids+=("$REPLY")
    wait_for "$2's window" visible_window "$4"
    sleep 1
}
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
uid_of_nonempty() { [[ -n $(uid_of "$1") ]]; }
password_changed() { # NAME HASH-BEFORE
    [[ $(sql "SELECT password_hash FROM users WHERE name = '$1'") != "$2" ]]
}
stored_text() { # SENDER RECEIVER TEXT: the message is in the store
    [[ $(sql "SELECT COUNT(*) FROM messages WHERE sender = $(uid_of "$1") \
        AND receiver = $(uid_of "$2") AND content = '$3'") -ge 1 ]]
}
delivered() { # SENDER RECEIVER TEXT: stored, and the receiver's watermark covers it
    [[ $(sql "SELECT COUNT(*) FROM messages m WHERE sender = $(uid_of "$1") \
        AND receiver = $(uid_of "$2") AND content = '$3' AND EXISTS (SELECT 1 \
        FROM watermarks w WHERE w.uid = m.receiver AND w.thread_id = m.thread_id \
        AND w.seq >= m.seq)") -ge 1 ]]
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
