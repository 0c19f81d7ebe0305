# Debian packages the workspace tests need, installed before they run (section 20).
# softhsm2: the PKCS#11 token that atrest-keys' tests/pkcs11_softhsm.rs runs against (module and softhsm2-util).
# Run time: a few seconds when already installed, about half a minute for a fresh install.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
apt_install softhsm2
command -v softhsm2-util >/dev/null || { echo "ERROR: softhsm2-util missing after installing softhsm2" >&2; exit 1; }
