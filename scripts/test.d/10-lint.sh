# Formatting and clippy over the whole workspace, warnings as errors.
set -euo pipefail
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
