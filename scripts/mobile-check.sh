#!/usr/bin/env bash
# What can be checked of the Android and iOS builds on a machine without the Android NDK, Xcode
# or the phones' Rust standard libraries (`make mobile-check`):
#
#   1. the dependency graph of outpost-ffi for every phone target (`cargo tree --target`):
#      no crate that needs a system library, vendored builds switched on (tests/it/mobile_deps.rs);
#   2. the generated Kotlin and Swift (scripts/gen-bindings.sh), and every call the Swift tests
#      (ios/Tests) and streams (ios/Sources/Outpost/Streams.swift) make on the store exists in
#      the generated Swift, since `swift test` runs only on a Mac;
#   3. the host library in the `mobile` profile (what build-android.sh and build-xcframework.sh
#      ship per ABI), its size printed beside the OCR models' size, which an app ships too.
#
# The phone builds themselves: android/build-android.sh (NDK) and ios/build-xcframework.sh
# (macOS), as bindings/README.md describes.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

TARGETS=(aarch64-linux-android armv7-linux-androideabi x86_64-linux-android
    aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios)

echo "mobile-check: 1/3 dependency graphs of outpost-ffi for the phone targets"
for target in "${TARGETS[@]}"; do
    n=$(cargo tree -p outpost-ffi --no-default-features -e normal,build --target "$target" \
        --prefix none --format '{p}' | sort -u | wc -l)
    printf '  %-26s %4d crates\n' "$target" "$n"
done
cargo test -q -p outpost-tests --test it mobile_deps 2>&1 | grep -E '^test result|FAILED|panicked' || {
    echo "mobile-check: the mobile dependency test failed" >&2
    exit 1
}

echo "mobile-check: 2/3 generated Kotlin and Swift"
scripts/gen-bindings.sh >/dev/null
SWIFT=(ios/Sources/Outpost/Outpost.swift ios/Sources/Outpost/OutpostCore.swift)
for f in android/src/main/kotlin/app/outpost/ffi/outpost_ffi.kt \
    android/src/main/kotlin/app/outpost/core/outpost_core.kt "${SWIFT[@]}"; do
    printf '  %-58s %7d lines\n' "$f" "$(wc -l < "$f")"
done
missing=0
# `store.name(` in the Swift tests, `self.name(` / `self?.name(` in the hand-written streams: a
# method the generated Swift must declare.
for name in $(grep -ohE '(store|self\??)\.[a-zA-Z]+\(' ios/Tests/OutpostTests/*.swift \
    ios/Sources/Outpost/Streams.swift | sed -E 's/.*\.([a-zA-Z]+)\(/\1/' | sort -u); do
    # Declared by the tests or streams themselves (a test's own helper, a stream function).
    grep -qE "func ${name}\(" ios/Tests/OutpostTests/*.swift ios/Sources/Outpost/Streams.swift && continue
    if ! grep -qE "func ${name}\(" "${SWIFT[@]}"; then
        echo "  the Swift tests or streams call ${name}, which the generated Swift does not declare" >&2
        missing=1
    fi
done
[ "$missing" = 0 ] || exit 1
echo "  every store method the Swift tests and streams call is generated"

echo "mobile-check: 3/3 the host library in the mobile profile (size-optimised, LTO, stripped)"
cargo build -q -p outpost-ffi --lib --no-default-features --profile mobile
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps \
    | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
TARGET_DIR="${TARGET_DIR:-${CARGO_TARGET_DIR:-$ROOT/target}}"
case "$(uname -s)" in
    Darwin) LIB="$TARGET_DIR/mobile/liboutpost_ffi.dylib" ;;
    *) LIB="$TARGET_DIR/mobile/liboutpost_ffi.so" ;;
esac
MODELS="${XDG_CACHE_HOME:-$HOME/.cache}/outpost/models"
lib_bytes=$(stat -c %s "$LIB")
models_bytes=0
if [ -d "$MODELS" ]; then
    models_bytes=$(find "$MODELS" -name '*.onnx' -printf '%s\n' | awk '{s += $1} END {print s + 0}')
fi
mb() { awk -v b="$1" 'BEGIN {printf "%.1f MB", b / 1000000}'; }
printf '  %-34s %s (%s)\n' "library ($(uname -m))" "$(mb "$lib_bytes")" "$LIB"
printf '  %-34s %s (%s)\n' "OCR models (shipped beside it)" "$(mb "$models_bytes")" "$MODELS"
printf '  %-34s %s\n' "an app carries" "$(mb $((lib_bytes + models_bytes)))"
