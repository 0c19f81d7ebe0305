# Fuzz smoke test: builds every cargo-fuzz target in fuzz/ (its own workspace) and runs each for FUZZ_SECONDS
# (default 20) from a scratch copy of its checked-in seed corpus, so the targets never rot. Uses nightly with
# AddressSanitizer; installs nightly and cargo-fuzz when missing. Where no nightly can be had (a machine that
# cannot fetch toolchains), it falls back to the pinned stable toolchain without a sanitizer and says so.
# Time: about 140 seconds of fuzzing (7 targets: atrest-core pages and AEAD, atrest-json, atrest-keys KMIP TTLV,
# state records and keyring file) plus the build (4-6 minutes on 2 cores from clean, ring and cryptoki included)
# and, where cargo-fuzz is missing, about 2 minutes to install it. Long runs: docs/fuzzing.md.
set -euo pipefail
source scripts/lib.sh
seconds="${FUZZ_SECONDS:-20}"

command -v c++ >/dev/null 2>&1 || apt_install g++ || exit 1   # libFuzzer is C++

toolchain=(+nightly)
sanitizer=()
if ! rustup toolchain list | grep -q '^nightly'; then
  echo "installing the nightly toolchain (cargo-fuzz needs it for AddressSanitizer)"
  if ! rustup toolchain install --profile minimal nightly; then
    echo "WARNING: no nightly toolchain could be installed; fuzzing with the pinned stable toolchain and" \
         "--sanitizer none (panics and assertions are still caught, memory errors are not)" >&2
    toolchain=()
    sanitizer=(--sanitizer none)
  fi
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz"
  cargo install cargo-fuzz --locked \
    || { echo "ERROR: cargo install cargo-fuzz failed (it needs crates.io and a C++ compiler)" >&2; exit 1; }
fi

# The atrest-keys seeds are made by its encoders: check they still are (seconds; see docs/fuzzing.md).
echo "--- checking the atrest-keys seed corpora against their generator"
cargo test --locked -q -p atrest-keys --features fuzzing --test fuzz_seeds \
  || { echo "ERROR: fuzz/corpus seeds of atrest-keys are stale or wrong (see docs/fuzzing.md to rewrite them)" >&2; exit 1; }

cd fuzz
targets=$(cargo "${toolchain[@]}" fuzz list)
[ -n "$targets" ] || { echo "ERROR: cargo fuzz list found no targets in fuzz/" >&2; exit 1; }
echo "--- building fuzz targets with ${toolchain[*]:-the pinned toolchain}: $(echo $targets)"
cargo "${toolchain[@]}" fuzz build "${sanitizer[@]}" \
  || { echo "ERROR: building the fuzz targets failed" >&2; exit 1; }

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for t in $targets; do
  [ -d "corpus/$t" ] && [ -n "$(ls -A "corpus/$t")" ] \
    || { echo "ERROR: fuzz target $t has no seed corpus in fuzz/corpus/$t" >&2; exit 1; }
  mkdir -p "$scratch/$t"
  echo "--- fuzzing $t for ${seconds}s"
  # New inputs go to the scratch directory (listed first); the checked-in seeds are only read.
  if ! cargo "${toolchain[@]}" fuzz run "${sanitizer[@]}" "$t" "$scratch/$t" "corpus/$t" -- \
      -max_total_time="$seconds" >"$scratch/$t.log" 2>&1; then
    tail -n 60 "$scratch/$t.log"
    echo "ERROR: fuzz target $t failed; the crashing input is in fuzz/artifacts/$t/" >&2
    exit 1
  fi
  grep -E '^Done [0-9]+ runs' "$scratch/$t.log" || tail -n 3 "$scratch/$t.log"
done
