# Debian packages the SQLite proof (crates/atrest-sqlite) needs: the sqlite3 shell and libsqlite3 its tests
# run the atrest VFS in, the C compiler and pkg-config that build the VFS and the C ABI tests (atrest-ffi's
# tests check atrest.pc with pkg-config), and SQLCipher, the peer of its benchmark.
# Run time: a few seconds when already installed, about half a minute for a fresh install.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
apt_install sqlite3 libsqlite3-dev sqlcipher libsqlcipher-dev gcc pkg-config
command -v sqlite3 >/dev/null || { echo "ERROR: the sqlite3 shell is missing after installing sqlite3" >&2; exit 1; }
[ -f /usr/include/sqlite3.h ] || { echo "ERROR: sqlite3.h is missing after installing libsqlite3-dev" >&2; exit 1; }
