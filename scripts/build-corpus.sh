#!/usr/bin/env bash
# Builds the C corpus (corpus/c/*.c) to Wasm with Debian's clang and wasi-libc, and the Rust
# corpus (corpus/rust/*.rs) with Debian's rustc for wasm32-unknown-unknown, at -O0 and -O2,
# into corpus/{c,rust}/wasm/<name>.O0.wasm / .O2.wasm. The built files are committed, so
# `npm test` needs no compiler; run this after changing a source. Installs the toolchains
# with apt when missing (Debian bookworm: clang 14, lld, wasi-libc, compiler-rt; rustc 1.63
# and its wasm32 std).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v clang >/dev/null || [ ! -f /usr/lib/wasm32-wasi/libc.a ] || ! ls /usr/lib/llvm-*/lib/clang/*/lib/wasi/libclang_rt.builtins-wasm32.a >/dev/null 2>&1; then
  echo "installing clang, lld, wasi-libc and compiler-rt for wasm32 (apt)" >&2
  apt-get install -y --no-install-recommends clang lld wasi-libc libclang-rt-14-dev-wasm32
fi
# builds each C file of a folder at -O0 and -O2 into <dir>/<out>/<name>.O<n>.wasm, every non-static function exported
build_c() {
  local dir=$1 out=$2
  mkdir -p "$dir/$out"
  for src in "$dir"/*.c; do
    name=$(basename "$src" .c)
    exports=$(grep -vE '^static' "$src" | grep -oE '^[a-z][a-z0-9_ ]*[ *]([a-z_][a-z0-9_]*)\(' | sed -E 's/.*[ *]([a-z_][a-z0-9_]*)\($/\1/' | sort -u)
    flags=()
    for e in $exports; do flags+=("-Wl,--export=$e"); done
    for opt in 0 2; do
      # -nostartfiles --no-entry: a library of kernels, no main; the name section (kept by default) names libm's functions
      clang --target=wasm32-wasi -isystem /usr/include/wasm32-wasi -L/usr/lib/wasm32-wasi "-O$opt" \
        -nostartfiles -Wl,--no-entry "${flags[@]}" -o "$dir/$out/$name.O$opt.wasm" "$src" -lm
      echo "$dir/$out/$name.O$opt.wasm ($exports)" >&2
    done
  done
}
build_c corpus/c wasm
# test fixtures in C (kernels from adversarial reviews)
build_c test/fixtures/pointer-words .

# Rust: /usr/bin/rustc explicitly, since a rustup rustc earlier on PATH may lack the wasm32 target
if [ ! -x /usr/bin/rustc ] || ! ls /usr/lib/rustlib/wasm32-unknown-unknown/lib/libstd-*.rlib >/dev/null 2>&1; then
  echo "installing rustc and its wasm32 std (apt)" >&2
  apt-get install -y --no-install-recommends rustc libstd-rust-dev-wasm32
fi
mkdir -p corpus/rust/wasm
for src in corpus/rust/*.rs; do
  name=$(basename "$src" .rs)
  for opt in 0 2; do
    # a cdylib exports the #[no_mangle] pub extern "C" functions (and memory); strip=debuginfo
    # drops the DWARF of Debian's prebuilt std (~5 MB) but keeps the name section, which names
    # the rest (__rust_alloc, libm's sin/exp/tanh, ...)
    /usr/bin/rustc --edition 2021 --target wasm32-unknown-unknown --crate-type cdylib -C opt-level=$opt \
      -C debuginfo=0 -C strip=debuginfo -o "corpus/rust/wasm/$name.O$opt.wasm" "$src"
    echo "corpus/rust/wasm/$name.O$opt.wasm" >&2
  done
done

