# PyKMIP's KMIP server, which atrest-keys' tests/kmip_pykmip.rs starts on 127.0.0.1 (with certificates it
# generates) to test the KMIP provider. Installed from PyPI into a virtual environment in ~/.cache/atrest/pykmip,
# with the versions the test was written against. Run time: a second when present, about 30 s to install.
set -euo pipefail
venv="${HOME}/.cache/atrest/pykmip"
if [ -x "$venv/bin/pykmip-server" ]; then exit 0; fi
command -v python3 >/dev/null || { echo "ERROR: python3 is needed to install PyKMIP (pykmip-server)" >&2; exit 1; }
python3 -m venv "$venv" || { echo "ERROR: python3 -m venv $venv failed (Debian: apt-get install python3-venv)" >&2; exit 1; }
"$venv/bin/pip" install -q "pykmip==0.11.0" "cryptography==50.0.2" "sqlalchemy==2.1.9" \
  || { echo "ERROR: pip could not install pykmip into $venv" >&2; exit 1; }
[ -x "$venv/bin/pykmip-server" ] || { echo "ERROR: pykmip-server missing after installing pykmip" >&2; exit 1; }
