# The whole workspace's tests on the host, with the auto-selected backend, then with each supported backend
# forced through ATREST_BACKEND (the core suite also loops over every backend by itself).
set -euo pipefail
cargo test --workspace --locked
for b in $(cargo run -q --locked -p atrest-core --example backends -- --names); do
  echo "--- atrest-core suite with ATREST_BACKEND=$b"
  ATREST_BACKEND=$b cargo test --locked -p atrest-core
done
