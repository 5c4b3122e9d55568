#!/usr/bin/env bash
# Builds the C corpus (corpus/c/*.c) to Wasm with Debian's clang and wasi-libc, at -O0 and
# -O2, into corpus/c/wasm/<name>.O0.wasm / .O2.wasm. The built files are committed, so
# `npm test` needs no compiler; run this after changing a source. Installs the toolchain
# with apt when clang is missing (Debian bookworm: clang 14, lld, wasi-libc, compiler-rt).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v clang >/dev/null || [ ! -f /usr/lib/wasm32-wasi/libc.a ] || ! ls /usr/lib/llvm-*/lib/clang/*/lib/wasi/libclang_rt.builtins-wasm32.a >/dev/null 2>&1; then
  echo "installing clang, lld, wasi-libc and compiler-rt for wasm32 (apt)" >&2
  apt-get install -y --no-install-recommends clang lld wasi-libc libclang-rt-14-dev-wasm32
fi
mkdir -p corpus/c/wasm
for src in corpus/c/*.c; do
  name=$(basename "$src" .c)
  exports=$(grep -oE '^[a-z][a-z0-9_ ]*[ *]([a-z_][a-z0-9_]*)\(' "$src" | sed -E 's/.*[ *]([a-z_][a-z0-9_]*)\($/\1/' | sort -u)
  flags=()
  for e in $exports; do flags+=("-Wl,--export=$e"); done
  for opt in 0 2; do
    # -nostartfiles --no-entry: a library of kernels, no main; the name section (kept by default) names libm's functions
    clang --target=wasm32-wasi -isystem /usr/include/wasm32-wasi -L/usr/lib/wasm32-wasi "-O$opt" \
      -nostartfiles -Wl,--no-entry "${flags[@]}" -o "corpus/c/wasm/$name.O$opt.wasm" "$src" -lm
    echo "corpus/c/wasm/$name.O$opt.wasm ($exports)" >&2
  done
done
