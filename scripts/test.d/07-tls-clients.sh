# The TLS peers that atrest-rustls' interoperability tests talk to (run by the workspace tests, section 20):
# curl (libcurl on OpenSSL), the openssl command line (s_client, s_server), and Python's ssl module through
# `requests` for the `python3` on PATH (ATREST_TEST_PYTHON names another interpreter).
# Run time: a few seconds when already installed, under a minute for a fresh install.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
apt_install curl openssl ca-certificates
command -v curl >/dev/null || { echo "ERROR: curl missing after installing the Debian package curl" >&2; exit 1; }
command -v openssl >/dev/null || { echo "ERROR: openssl missing after installing the Debian package openssl" >&2; exit 1; }

python="${ATREST_TEST_PYTHON:-python3}"
if ! command -v "$python" >/dev/null; then
  apt_install python3 || exit 1
fi
has_requests() { "$python" -c 'import requests' 2>/dev/null; }
if ! has_requests && [ "$(command -v "$python")" = /usr/bin/python3 ]; then
  apt_install python3-requests || true
fi
if ! has_requests; then
  echo "installing requests for $python with pip"
  "$python" -m pip install --quiet requests 2>/dev/null \
    || "$python" -m pip install --quiet --break-system-packages requests \
    || { echo "ERROR: could not install the Python package requests for $python (pip install requests failed)" >&2; exit 1; }
fi
has_requests || { echo "ERROR: $python still cannot import requests" >&2; exit 1; }
echo "TLS peers: $(curl --version | head -n 1 | cut -d' ' -f1-2), $(openssl version), $("$python" -c 'import sys, ssl, requests; print("Python", sys.version.split()[0], ssl.OPENSSL_VERSION, "requests", requests.__version__)')"
