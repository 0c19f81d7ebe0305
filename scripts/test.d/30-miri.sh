# Miri over the x86 backends' unsafe leaf code: the aesni, vaes-avx2 and vaes-avx512 leaf tests (seal/open
# through the shared GCM frame against soft across the stride and tail paths, in place and between buffers,
# and a rejected tag), the shared key schedule / GHASH arithmetic tests and the selection tables. About 5
# minutes on 2 cores, most of it building; the tests themselves take about 1.5 minutes.
#
# Miri interprets the x86 intrinsics that are enabled as target features, so the suite runs three times:
#   1. +aes,+pclmulqdq,+ssse3: no AVX, so the aesni key takes its SSE variant (the wider leaf tests print
#      that they were skipped and why);
#   2. + avx, avx2, vaes, vpclmulqdq: the aesni AVX variant and vaes-avx2 (vaes-avx512 prints its skip);
#   3. + avx512f, avx512bw, avx512vl: vaes-avx512 too. Every intrinsic that leaf uses runs under current
#      nightly Miri: 512-bit VAES (llvm.x86.aesni.aesenc.512/aesenclast.512) and VPCLMULQDQ
#      (llvm.x86.pclmulqdq.512), vpternlogd and 512-bit vpshufb (Miri's avx512 shims), and the masked
#      loads/stores, maskz moves, broadcasts and lane inserts/extracts, which std lowers to generic SIMD
#      operations Miri implements at any width. Miri's avx512 shims cover only pternlog.d.*, pshuf.b.512,
#      psad.bw.512, pmaddubs.w.512, permvar.si.512 and vpdpbusd.*; any other llvm.x86.avx512.* intrinsic
#      (e.g. vpermi2/vpermt2, compress/expand, conflict, the rounding conversions) stops Miri with
#      "unsupported operation", so a change that starts using one fails here rather than passing silently.
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
  cargo +nightly miri test --locked -p atrest-core --lib -- backend::x86 --nocapture
echo "--- Miri, with AVX2, VAES and VPCLMULQDQ (aesni AVX variant, vaes-avx2)"
RUSTFLAGS="-C target-feature=+aes,+pclmulqdq,+ssse3,+avx,+avx2,+vaes,+vpclmulqdq $soft" \
  cargo +nightly miri test --locked -p atrest-core --lib -- backend::x86 --nocapture
echo "--- Miri, with AVX-512 F/BW/VL as well (vaes-avx512)"
RUSTFLAGS="-C target-feature=+aes,+pclmulqdq,+ssse3,+avx,+avx2,+vaes,+vpclmulqdq,+avx512f,+avx512bw,+avx512vl $soft" \
  cargo +nightly miri test --locked -p atrest-core --lib -- backend::x86 --nocapture
echo "--- Miri, the C ABI's unsafe pointer handling (atrest-ffi, called from Rust, soft backend)"
ATREST_BACKEND=soft RUSTFLAGS="$soft" cargo +nightly miri test --locked -p atrest-ffi --test rust_calls
ATREST_BACKEND=soft RUSTFLAGS="$soft" MIRIFLAGS="${MIRIFLAGS:-} -Zmiri-disable-isolation" \
  cargo +nightly miri test --locked -p atrest-ffi --test rust_calls_pages
