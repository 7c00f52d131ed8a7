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
