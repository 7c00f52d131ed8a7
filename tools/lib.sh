# Shared by tools/up.sh and tools/test.sh (sourced, not run).

step() { printf '\n==> %s\n' "$*"; }
need() { command -v "$1" >/dev/null 2>&1; }

# ensure_packages WHY PACKAGE:COMMAND...: installs the Debian packages whose
# command is missing (with apt-get, when running as root), or stops with the
# exact command to run.
ensure_packages() {
    local why=$1
    shift
    local missing=() entry
    for entry in "$@"; do
        need "${entry#*:}" || missing+=("${entry%%:*}")
    done
    ((${#missing[@]})) || return 0
    if [[ $(id -u) == 0 ]] && need apt-get; then
        step "installing ${missing[*]} ($why)"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
    else
        echo "missing: ${missing[*]} ($why). On Debian/Ubuntu: sudo apt-get install ${missing[*]}" >&2
        exit 1
    fi
}

ensure_rust() {
    if ! need cargo; then
        echo "cargo is missing: install Rust with rustup (https://rustup.rs), then run $0 again." >&2
        exit 1
    fi
}

# grpcio compiles the gRPC C core with cmake and a C++ compiler (about 15
# minutes the first time; cached in the target directory afterwards).
ensure_build_tools() {
    ensure_packages "grpcio's C core" cmake:cmake g++:g++ make:make
}

# build_bins: builds the workspace's binaries (release profile) and sets
# $bin to the directory they are in.
build_bins() {
    step "cargo build --release --workspace --bins"
    cargo build --release --workspace --bins
    bin="${CARGO_TARGET_DIR:-target}/release"
}

# start_imctl LOG [NAME=VALUE...] ARGS...: runs `$bin/imctl ARGS` in the
# background with the environment NAME=VALUE..., its output in LOG, waits
# (up to 30 s) until it says it is ready, and sets $up_pid. A cluster that
# does not start ends the script, with its log.
start_imctl() {
    local log=$1 envs=()
    shift
    while [[ ${1:-} == *=* ]]; do envs+=("$1"); shift; done
    env "${envs[@]}" "$bin/imctl" "$@" >"$log" 2>&1 &
    up_pid=$!
    for _ in $(seq 300); do grep -q "imctl: ready" "$log" && return 0; sleep 0.1; done
    cat "$log" >&2
    echo "imctl $* did not become ready" >&2
    exit 1
}
# stop_imctl: stops the cluster of start_imctl (SIGTERM, waited for); safe
# to call when none runs.
stop_imctl() {
    if [[ -n ${up_pid:-} ]]; then
        kill -TERM "$up_pid" 2>/dev/null && wait "$up_pid" 2>/dev/null || true
        up_pid=""
    fi
}
# imctl_daemon_pid BINARY CONFIG: the pid of the cluster's daemon running
# BINARY with the configuration file conf/CONFIG.
imctl_daemon_pid() {
    pgrep -P "$up_pid" -f "$1 --config conf/$2" | head -1
}

# on_exit COMMAND: runs COMMAND (a string, evaluated) when the script exits,
# after the ones registered before it in reverse order. One EXIT trap for
# every helper, so that no helper's trap replaces another's.
exit_hooks=()
run_exit_hooks() {
    local i
    for ((i = ${#exit_hooks[@]} - 1; i >= 0; i--)); do eval "${exit_hooks[i]}" || true; done
}
on_exit() {
    exit_hooks+=("$1")
    trap run_exit_hooks EXIT
}

# ensure_test_mysql: exports IM_TEST_MYSQL_URL, a MySQL/MariaDB server for
# tests to create their own databases on. In order of preference:
# IM_TEST_MYSQL_URL if set; the server on 127.0.0.1:3306 (root, no password)
# if it answers; a throwaway mariadbd on a temporary data directory and port,
# stopped when the script exits (forced with IM_TEST_MYSQL=throwaway).
mysql_answers() { # host port
    if need mariadb-admin; then
        mariadb-admin --protocol=tcp -h "$1" -P "$2" -uroot --connect-timeout=2 ping >/dev/null 2>&1
    else
        (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
    fi
}
start_throwaway_mariadb() {
    if ! need mariadbd || ! need mariadb-install-db; then
        echo "No MySQL/MariaDB server for the tests: none answers on 127.0.0.1:3306 and" >&2
        echo "mariadbd is not installed. Install it (sudo apt-get install mariadb-server) or set" >&2
        echo "IM_TEST_MYSQL_URL=mysql://user:password@host:port." >&2
        exit 1
    fi
    mysql_dir=$(mktemp -d)
    # Below the ephemeral range (32768 and up here), where a client socket of
    # a load run may hold the port, and above the tests' port bases.
    mysql_port=$((32000 + RANDOM % 700)) mysql_pid=""
    [[ -v mysql_options ]] || mysql_options=()
    step "starting a throwaway mariadbd on 127.0.0.1:$mysql_port ($mysql_dir)"
    mariadb-install-db --no-defaults --datadir="$mysql_dir/data" --user="$(id -un)" \
        --auth-root-authentication-method=normal >"$mysql_dir/install.log" 2>&1
    on_exit 'kill "$mysql_pid" 2>/dev/null; wait "$mysql_pid" 2>/dev/null; rm -rf "$mysql_dir"'
    run_throwaway_mariadb
    export IM_TEST_MYSQL_URL="mysql://root@127.0.0.1:$mysql_port"
}
# run_throwaway_mariadb: (re)starts mariadbd on $mysql_dir and $mysql_port
# (set by start_throwaway_mariadb) and waits until it answers; $mysql_pid.
# Extra server options (an array) in $mysql_options.
run_throwaway_mariadb() {
    mariadbd --no-defaults --datadir="$mysql_dir/data" --port="$mysql_port" --bind-address=127.0.0.1 \
        --socket="$mysql_dir/mysqld.sock" --user="$(id -un)" --skip-grant-tables \
        --log-error="$mysql_dir/error.log" "${mysql_options[@]}" &
    mysql_pid=$!
    for _ in $(seq 1 60); do
        mysql_answers 127.0.0.1 "$mysql_port" && break
        sleep 0.5
    done
    mysql_answers 127.0.0.1 "$mysql_port" || { cat "$mysql_dir/error.log" >&2; exit 1; }
}
ensure_test_mysql() {
    [[ -z ${IM_TEST_MYSQL_URL:-} ]] || return 0
    if [[ ${IM_TEST_MYSQL:-} != throwaway ]] && mysql_answers 127.0.0.1 3306; then
        export IM_TEST_MYSQL_URL="mysql://root@127.0.0.1:3306"
    else
        start_throwaway_mariadb
    fi
}
