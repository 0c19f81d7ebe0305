# Helpers shared by the scripts/test.d sections. Source it; do not run it.

# apt_install PKG... : installs Debian packages that are missing, saying clearly when that fails.
apt_install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing Debian packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  if [ ! -f /tmp/.atrest-apt-updated ]; then
    $sudo apt-get update -qq || { echo "ERROR: apt-get update failed; cannot install ${missing[*]}" >&2; return 1; }
    touch /tmp/.atrest-apt-updated
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    || { echo "ERROR: apt-get install ${missing[*]} failed" >&2; return 1; }
}

# rustup_component TOOLCHAIN COMPONENT...
rustup_component() {
  local tc=$1; shift
  rustup toolchain list | grep -q "^$tc" || rustup toolchain install --profile minimal "$tc" \
    || { echo "ERROR: rustup could not install toolchain $tc" >&2; return 1; }
  rustup component add --toolchain "$tc" "$@" \
    || { echo "ERROR: rustup could not add $* to $tc" >&2; return 1; }
}

# rustup_target TARGET : adds a target to the pinned toolchain.
rustup_target() {
  rustup target add "$1" || { echo "ERROR: rustup could not add target $1" >&2; return 1; }
}
