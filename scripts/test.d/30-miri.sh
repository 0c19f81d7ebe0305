# Miri over the x86 AES-NI backend's unsafe leaf code (about 1-2 minutes on 2 cores, most of it building
# Miri's std). Miri interprets the AES-NI, PCLMULQDQ and SSSE3 intrinsics when they are enabled as target
# features; the soft reference is pinned to the `aes` crate's portable code (`aes_backend="soft"`) because
# Miri cannot run `aeskeygenassist`, which that crate's AES-NI path uses (ours does not).
#
# What runs here: the aesni leaf tests (SSE variant; the AVX variant needs YMM state, which Miri is not
# given), the shared key schedule / GHASH arithmetic tests, and the selection tables. What does not: the
# vaes-avx2 backend, whose 256-bit VAES/VPCLMULQDQ intrinsics Miri does not implement. Its unsafe code uses
# the same pointer discipline (`ld`/`st` on ranges checked by the callers, tails through a stack buffer) and
# is covered natively by tests/x86_stress.rs (every length 0..=1100, every AAD length 0..=300, unaligned and
# distinct buffers) and the whole core suite, which loop over every backend the host supports.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib.sh
if [ "$(uname -m)" != "x86_64" ]; then
  echo "skipped: the Miri section covers the x86_64 leaf modules"
  exit 0
fi
rustup_component nightly rust-src miri
cargo +nightly miri setup
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}/miri-x86"
RUSTFLAGS='-C target-feature=+aes,+pclmulqdq,+ssse3 --cfg aes_backend="soft"' \
  cargo +nightly miri test --locked -p atrest-core --lib -- backend::x86
