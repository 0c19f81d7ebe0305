# atrest-core on aarch64, under qemu user-mode emulation, in release mode:
#   1. the whole atrest-core suite with `-cpu max` (AES + PMULL present: the armv8 backend is selected and
#      every suite runs on it and on soft);
#   2. the whole suite again with `-cpu cortex-a57,neon=off,vfp=off`, a model that reports neither AES nor
#      PMULL: auto-selection must fall back to soft, and naming armv8 (API or ATREST_BACKEND) must be a clean
#      error (tests/aarch64_detect.rs, with ATREST_EXPECT_NO_ARM_CRYPTO=1);
#   3. `cargo build --workspace --all-targets` for aarch64 (benches included; their OpenSSL peer links
#      Debian's arm64 libssl, unpacked into a private directory).
# Emulated timings are not performance data; nothing here measures speed.
#
# Child processes: tests that re-run their own binary (backend_select.rs) cannot do so under qemu-user,
# whose children would start natively (and, with a binfmt handler, under a different CPU model). Those
# parent tests are skipped here and their child bodies are run directly, one process per ATREST_BACKEND
# value, under the same CPU model, which is what the parents do on a native host.
#
# Run time: 6m20s on the shared 2-core development machine with the apt packages installed and most
# dependencies already compiled; from a cold cargo cache expect roughly 10-15 minutes on 2 cores, almost all
# of it compiling the workspace for aarch64 in release mode. The emulated tests take about 15-45 s per CPU
# model. Emulated timings are not performance data.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=../lib.sh
source scripts/lib.sh
unset ATREST_BACKEND ATREST_EXPECT_ARM_CRYPTO ATREST_EXPECT_NO_ARM_CRYPTO

target=aarch64-unknown-linux-gnu
sysroot=/usr/aarch64-linux-gnu

apt_install gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
rustup_target "$target"
command -v qemu-aarch64 >/dev/null || { echo "ERROR: qemu-aarch64 not found after installing qemu-user" >&2; exit 1; }

# OpenSSL for aarch64, which the benches' `openssl` peer links: Debian's arm64 packages unpacked into a
# private sysroot. They are not installed, because multi-arch installation would force the host's libssl to
# the same version. Only `apt-get download` needs the arm64 architecture known to apt.
arm64_openssl() {
  local root=$1 sudo="" dl
  [ -f "$root/.complete" ] && return 0
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    $sudo dpkg --add-architecture arm64 || { echo "ERROR: dpkg --add-architecture arm64 failed" >&2; return 1; }
  fi
  if ! apt-cache show libssl-dev:arm64 >/dev/null 2>&1; then
    $sudo apt-get update -qq || { echo "ERROR: apt-get update (for arm64 package lists) failed" >&2; return 1; }
  fi
  dl=$(mktemp -d)
  (cd "$dl" && apt-get download -qq libssl-dev:arm64 libssl3:arm64) \
    || { echo "ERROR: apt-get download libssl-dev:arm64 libssl3:arm64 failed" >&2; return 1; }
  rm -rf "$root" && mkdir -p "$root"
  for deb in "$dl"/*.deb; do dpkg -x "$deb" "$root"; done
  rm -rf "$dl"
  [ -f "$root/usr/include/openssl/ssl.h" ] && [ -e "$root/usr/lib/aarch64-linux-gnu/libssl.so" ] \
    || { echo "ERROR: the unpacked arm64 OpenSSL in $root lacks ssl.h or libssl.so" >&2; return 1; }
  touch "$root/.complete"
}
ssl_root="${TMPDIR:-/tmp}/atrest-aarch64-openssl"
arm64_openssl "$ssl_root"
export AARCH64_UNKNOWN_LINUX_GNU_OPENSSL_LIB_DIR="$ssl_root/usr/lib/aarch64-linux-gnu"
export AARCH64_UNKNOWN_LINUX_GNU_OPENSSL_INCLUDE_DIR="$ssl_root/usr/include"
# Debian keeps OpenSSL's per-architecture headers (configuration.h) under the multiarch include directory.
export CFLAGS_aarch64_unknown_linux_gnu="-I$ssl_root/usr/include/aarch64-linux-gnu"

export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
# For build scripts that compile C for the target (ring in the benches).
export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
export AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar
# The differential proptests keep their default case count: emulated, they take seconds per CPU model.
# PROPTEST_CASES from the caller's environment still applies.

cargo_aarch64() {
  cargo "$1" --release --locked --target "$target" "${@:2}"
}

# Runs one test of a test binary and requires that exactly it ran and passed.
run_one() {
  local test_file=$1 name=$2 log
  log=$(cargo_aarch64 test -p atrest-core --test "$test_file" -- --ignored --exact "$name" --test-threads=1 2>&1) \
    || { echo "$log"; return 1; }
  grep -q "test result: ok. 1 passed" <<<"$log" \
    || { echo "$log"; echo "ERROR: $test_file::$name did not run exactly once" >&2; return 1; }
}

# The child bodies of backend_select.rs: each supported backend forced, and each unusable value refused.
env_children() {
  local supported all="vaes-avx2 aesni armv8 soft"
  supported=$(cargo_aarch64 run -q -p atrest-core --example backends -- --names)
  echo "supported under this CPU model: $(echo $supported)"
  for b in $supported; do
    ATREST_BACKEND=$b run_one backend_select child_env_forces
  done
  for v in no-such-backend $all; do
    grep -qx "$v" <<<"$supported" && continue
    ATREST_BACKEND=$v run_one backend_select child_env_rejects
  done
}

suite() {
  cargo_aarch64 test -p atrest-core -- \
    --skip env_forces_each_supported_backend_including_keyinit \
    --skip env_with_an_unusable_backend_is_a_clean_error
  env_children
}

echo "--- atrest-core on $target, qemu -cpu max (AES + PMULL)"
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L $sysroot -cpu max"
ATREST_EXPECT_ARM_CRYPTO=1 suite

echo "--- atrest-core on $target, qemu -cpu cortex-a57,neon=off,vfp=off (no AES, no PMULL)"
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L $sysroot -cpu cortex-a57,neon=off,vfp=off"
ATREST_EXPECT_NO_ARM_CRYPTO=1 suite
ATREST_EXPECT_NO_ARM_CRYPTO=1 ATREST_BACKEND=armv8 cargo_aarch64 test -p atrest-core --test aarch64_detect

echo "--- the whole workspace, all targets, for $target"
# Release, like the tests above, so the dependencies they compiled are reused.
cargo_aarch64 build --workspace --all-targets
