#!/usr/bin/env bash
# Installs what building `lightgbm3` (feature `openmp`) needs and is not yet on this machine:
#   - CMake >= 3.28 on PATH (LightGBM 4.7's CMakeLists requires it; Debian 12 ships 3.25),
#     from PyPI, because Debian has no newer one;
#   - clang and libclang (bindgen parses LightGBM's c_api.h with libclang);
#   - a C++ compiler and make (usually present already; libgomp comes with g++).
# Idempotent and silent when everything is present; safe for CI (CI=true, no stdin).
# Prints what it installs, and on a failure the tail of the installer's log.
set -euo pipefail

MIN_CMAKE=3.28
log=$(mktemp)
trap 'rm -f "$log"' EXIT

say() { printf 'setup-build-deps: %s\n' "$*" >&2; }
fail() {
    say "$*"
    [ -s "$log" ] && tail -n 30 "$log" >&2
    exit 1
}

# True when version $1 >= version $2 (dotted numbers).
version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n 1)" = "$2" ]; }

cmake_version() {
    command -v cmake >/dev/null 2>&1 || return 1
    cmake --version 2>/dev/null | awk 'NR == 1 { print $3 }'
}

cmake_ok() {
    local v
    v=$(cmake_version) || return 1
    [ -n "$v" ] && version_ge "$v" "$MIN_CMAKE"
}

have_libclang() {
    # clang-sys (bindgen) loads libclang.so from LLVM's lib dirs or the multiarch lib dir.
    compgen -G '/usr/lib/llvm-*/lib/libclang*.so*' >/dev/null ||
        compgen -G '/usr/lib/*-linux-gnu/libclang*.so*' >/dev/null
}

have_pkg() { [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]; }

# --- Debian packages -------------------------------------------------------------------------
apt_missing=()
command -v clang >/dev/null 2>&1 || apt_missing+=(clang)
if ! have_libclang || ! have_pkg libclang-dev; then apt_missing+=(libclang-dev); fi
command -v g++ >/dev/null 2>&1 || apt_missing+=(g++)
command -v make >/dev/null 2>&1 || apt_missing+=(make)

if [ ${#apt_missing[@]} -gt 0 ]; then
    say "installing ${apt_missing[*]} (apt-get)"
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo -n"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq >"$log" 2>&1 || fail "apt-get update failed"
    $SUDO apt-get install -y -qq "${apt_missing[@]}" </dev/null >>"$log" 2>&1 ||
        fail "apt-get install ${apt_missing[*]} failed"
    command -v clang >/dev/null 2>&1 || fail "clang still missing after apt-get install"
    have_libclang || fail "libclang still missing after apt-get install"
fi

# --- CMake >= 3.28 -----------------------------------------------------------------------------
if ! cmake_ok; then
    say "installing cmake>=$MIN_CMAKE from PyPI (found: $(cmake_version || echo none))"
    PY=$(command -v python3 || true)
    [ -n "$PY" ] || fail "python3 is needed to install cmake from PyPI"
    "$PY" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
        "cmake>=$MIN_CMAKE" </dev/null >"$log" 2>&1 || fail "pip install cmake failed"
    command -v pyenv >/dev/null 2>&1 && pyenv rehash >/dev/null 2>&1 || true
    hash -r
    if ! cmake_ok; then
        # pip put cmake in this Python's scripts dir, which is not (first) on PATH: link it
        # into /usr/local/bin, which comes before /usr/bin and Debian's older cmake.
        scripts=$("$PY" -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
        [ -x "$scripts/cmake" ] || fail "pip installed cmake but $scripts/cmake is missing"
        ln -sf "$scripts/cmake" /usr/local/bin/cmake || fail "cannot link cmake into /usr/local/bin"
        hash -r
    fi
    cmake_ok || fail "cmake on PATH is $(cmake_version || echo none), need >= $MIN_CMAKE ($(command -v cmake || true))"
    say "cmake $(cmake_version) at $(command -v cmake)"
fi
