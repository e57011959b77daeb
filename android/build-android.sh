#!/usr/bin/env bash
# Cross-builds liboutpost_ffi.so for the Android ABIs arm64-v8a, armeabi-v7a and x86_64 with
# cargo-ndk into android/src/main/jniLibs/<abi>/, and generates the Kotlin bindings into
# android/src/main/kotlin (from a host build, in uniffi library mode).
#
# Needs the Android NDK: set ANDROID_NDK_HOME (e.g. $ANDROID_HOME/ndk/27.2.12479018).
# Profile: OUTPOST_CARGO_PROFILE (default `mobile`: size-optimised, LTO, stripped; see the
# workspace Cargo.toml). `release` builds faster and is larger.
# API level: OUTPOST_ANDROID_API (default 24, the module's minSdk).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PROFILE="${OUTPOST_CARGO_PROFILE:-mobile}"
API="${OUTPOST_ANDROID_API:-24}"

if [ -z "${ANDROID_NDK_HOME:-}" ] || [ ! -d "${ANDROID_NDK_HOME}" ]; then
    cat >&2 <<MSG
build-android.sh: the Android NDK was not found (ANDROID_NDK_HOME is ${ANDROID_NDK_HOME:-unset}).
  Install it (Android Studio > SDK Manager > NDK, or sdkmanager "ndk;27.2.12479018") and run:
    ANDROID_NDK_HOME=\$ANDROID_HOME/ndk/<version> android/build-android.sh
  Nothing was built. (The Kotlin tests do not need the NDK: scripts/test-kotlin.sh runs them
  on the host JVM.)
MSG
    exit 1
fi

if ! command -v cargo-ndk >/dev/null 2>&1; then
    echo "build-android.sh: installing cargo-ndk" >&2
    cargo install cargo-ndk --locked
fi
if command -v rustup >/dev/null 2>&1; then
    rustup target add aarch64-linux-android armv7-linux-androideabi x86_64-linux-android >&2
fi

# --no-default-features: leave the uniffi-bindgen tool out of the shipped library.
cargo ndk \
    -t arm64-v8a -t armeabi-v7a -t x86_64 \
    --platform "$API" \
    -o "$ROOT/android/src/main/jniLibs" \
    build -p outpost-ffi --lib --no-default-features --profile "$PROFILE"

"$ROOT/scripts/gen-bindings.sh" >/dev/null

for abi in arm64-v8a armeabi-v7a x86_64; do
    so="$ROOT/android/src/main/jniLibs/$abi/liboutpost_ffi.so"
    [ -f "$so" ] || { echo "build-android.sh: $so was not produced" >&2; exit 1; }
    echo "$abi: $(du -h "$so" | cut -f1) $so"
done
