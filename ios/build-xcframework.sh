#!/usr/bin/env bash
# Builds ios/OutpostFFI.xcframework (static liboutpost_ffi.a + OutpostFFI.h + module.modulemap)
# for iOS devices (aarch64-apple-ios), the simulator (aarch64-apple-ios-sim + x86_64-apple-ios)
# and macOS (aarch64/x86_64-apple-darwin, so that `swift test` can run the XCTests on the Mac),
# and generates ios/Sources/Outpost/Outpost.swift in uniffi library mode.
#
# Needs macOS with Xcode's command line tools (xcodebuild, lipo) and rustup.
# Profile: OUTPOST_CARGO_PROFILE (default `mobile`: size-optimised, LTO, stripped; see the
# workspace Cargo.toml). `release` builds faster and is larger.
# Then: cd ios && swift test
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PROFILE="${OUTPOST_CARGO_PROFILE:-mobile}"

if [ "$(uname -s)" != "Darwin" ]; then
    cat >&2 <<MSG
build-xcframework.sh: an XCFramework can only be built on macOS with Xcode (this is $(uname -s)).
  Nothing was built. Here, scripts/test-kotlin.sh still generates the Swift sources and the
  C module map, so an export that Swift cannot take fails on any machine.
MSG
    exit 1
fi
for tool in xcodebuild lipo; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "build-xcframework.sh: $tool not found; install Xcode's command line tools (xcode-select --install)" >&2
        exit 1
    }
done

TARGETS=(aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios aarch64-apple-darwin x86_64-apple-darwin)
if command -v rustup >/dev/null 2>&1; then
    rustup target add "${TARGETS[@]}" >&2
fi

TARGET_DIR="$(cargo metadata --format-version 1 --no-deps \
    | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
TARGET_DIR="${TARGET_DIR:-${CARGO_TARGET_DIR:-$ROOT/target}}"
# cargo puts `--profile dev` into debug/; every other profile into a folder of its name.
PROFILE_DIR="$PROFILE"
[ "$PROFILE" = "dev" ] && PROFILE_DIR=debug

# Only the static library, without the uniffi-bindgen tool (--no-default-features).
for target in "${TARGETS[@]}"; do
    cargo rustc -p outpost-ffi --lib --crate-type staticlib --no-default-features \
        --profile "$PROFILE" --target "$target"
done

# Swift + header + module map, generated from a host build.
"$ROOT/scripts/gen-bindings.sh" >/dev/null

BUILD="$ROOT/ios/build"
rm -rf "$BUILD" "$ROOT/ios/OutpostFFI.xcframework"
mkdir -p "$BUILD/headers" "$BUILD/ios-simulator" "$BUILD/macos"
cp "$ROOT/ios/Generated/OutpostFFI/OutpostFFI.h" "$ROOT/ios/Generated/OutpostFFI/OutpostCoreFFI.h" \
    "$ROOT/ios/Generated/OutpostFFI/module.modulemap" "$BUILD/headers/"

lib() { echo "$TARGET_DIR/$1/$PROFILE_DIR/liboutpost_ffi.a"; }
lipo -create "$(lib aarch64-apple-ios-sim)" "$(lib x86_64-apple-ios)" -output "$BUILD/ios-simulator/liboutpost_ffi.a"
lipo -create "$(lib aarch64-apple-darwin)" "$(lib x86_64-apple-darwin)" -output "$BUILD/macos/liboutpost_ffi.a"

xcodebuild -create-xcframework \
    -library "$(lib aarch64-apple-ios)" -headers "$BUILD/headers" \
    -library "$BUILD/ios-simulator/liboutpost_ffi.a" -headers "$BUILD/headers" \
    -library "$BUILD/macos/liboutpost_ffi.a" -headers "$BUILD/headers" \
    -output "$ROOT/ios/OutpostFFI.xcframework"

echo "build-xcframework.sh: ios/OutpostFFI.xcframework and ios/Sources/Outpost/Outpost.swift are ready; run: cd ios && swift test"
