# Miri over the x86 backends' unsafe leaf code: the aesni and vaes-avx2 leaf tests (seal/open against soft
# across the stride and tail paths, in place and between buffers), the shared key schedule / GHASH
# arithmetic tests and the selection tables. About 3 minutes on 2 cores, most of it building; the tests
# themselves take about 30 s.
#
# Miri interprets the x86 intrinsics that are enabled as target features, so the suite runs twice:
#   1. +aes,+pclmulqdq,+ssse3: no AVX, so the aesni key takes its SSE variant;
#   2. + avx, avx2, vaes, vpclmulqdq: the aesni AVX variant and vaes-avx2 (256-bit VAES and VPCLMULQDQ run
#      under current Miri; if a Miri version cannot, this second run fails with "unsupported operation"
#      rather than passing silently, and tests/x86_stress.rs plus the core suite remain the native coverage).
# The soft reference is pinned to the `aes` crate's portable code (`aes_backend="soft"`): that crate's AES-NI
# path uses `aeskeygenassist`, which Miri does not implement (our key schedule avoids it).
# Also the C ABI (crates/atrest-ffi): its exported functions called from Rust on the soft backend, so Miri checks
# the raw-pointer handling of every entry point (NULLs, lengths, the out-pointers): the AEADs (rust_calls), and
# the page layer, batches, lookup callback and keyring (rust_calls_pages; the keyring writes files, so that run
# lets Miri reach the file system). About 8 more minutes on 2 cores: Miri interprets the soft backend over
# each 4 KiB page, about 45 seconds a page.
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
soft='--cfg aes_backend="soft"'
echo "--- Miri, AES-NI without AVX (aesni SSE variant)"
RUSTFLAGS="-C target-feature=+aes,+pclmulqdq,+ssse3 $soft" \
  cargo +nightly miri test --locked -p atrest-core --lib -- backend::x86
echo "--- Miri, with AVX2, VAES and VPCLMULQDQ (aesni AVX variant, vaes-avx2)"
RUSTFLAGS="-C target-feature=+aes,+pclmulqdq,+ssse3,+avx,+avx2,+vaes,+vpclmulqdq $soft" \
  cargo +nightly miri test --locked -p atrest-core --lib -- backend::x86
echo "--- Miri, the C ABI's unsafe pointer handling (atrest-ffi, called from Rust, soft backend)"
ATREST_BACKEND=soft RUSTFLAGS="$soft" cargo +nightly miri test --locked -p atrest-ffi --test rust_calls
ATREST_BACKEND=soft RUSTFLAGS="$soft" MIRIFLAGS="${MIRIFLAGS:-} -Zmiri-disable-isolation" \
  cargo +nightly miri test --locked -p atrest-ffi --test rust_calls_pages
