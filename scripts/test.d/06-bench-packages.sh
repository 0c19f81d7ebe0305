# Debian packages the benchmark crate (benches/, package atrest-benches) needs to build: the `openssl` peer
# links the system OpenSSL (libssl-dev, found with pkg-config), and `ring` compiles its assembly with a C
# compiler. Clippy (section 10) builds every target, benchmarks included, so these come first.
# Run time: a few seconds when already installed.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
apt_install libssl-dev pkg-config gcc
pkg-config --exists openssl || { echo "ERROR: pkg-config cannot find openssl after installing libssl-dev" >&2; exit 1; }
