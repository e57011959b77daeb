#!/usr/bin/env bash
# Builds the outpost-ffi cdylib for this machine and generates the Kotlin and Swift
# bindings from it in uniffi library mode. The generated files are build outputs
# (git-ignored), never edited by hand:
#
#   android/src/main/kotlin/app/outpost/ffi/outpost_ffi.kt     Kotlin (package app.outpost.ffi)
#   android/src/main/kotlin/app/outpost/core/outpost_core.kt   the records (app.outpost.core)
#   ios/Sources/Outpost/{Outpost,OutpostCore}.swift            Swift module `Outpost`
#   ios/Generated/OutpostFFI/{OutpostFFI.h,OutpostCoreFFI.h,module.modulemap}
#                                                              its C module `OutpostFFI`
#
# Usage: scripts/gen-bindings.sh [--release]
# Prints the directory holding the built cdylib on its last line of stdout.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PROFILE_DIR=debug
CARGO_PROFILE=()
case "${1:-}" in
    "") ;;
    --release) PROFILE_DIR=release; CARGO_PROFILE=(--release) ;;
    *) echo "usage: $0 [--release]" >&2; exit 2 ;;
esac

# Honour CARGO_TARGET_DIR / .cargo/config through cargo itself.
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps \
    | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
TARGET_DIR="${TARGET_DIR:-${CARGO_TARGET_DIR:-$ROOT/target}}"

case "$(uname -s)" in
    Darwin) LIB_FILE=liboutpost_ffi.dylib ;;
    MINGW* | MSYS* | CYGWIN*) LIB_FILE=outpost_ffi.dll ;;
    *) LIB_FILE=liboutpost_ffi.so ;;
esac

# Default features include `cli`, which also builds the uniffi-bindgen binary.
cargo build -p outpost-ffi "${CARGO_PROFILE[@]}" >&2
LIB_DIR="$TARGET_DIR/$PROFILE_DIR"
LIB="$LIB_DIR/$LIB_FILE"
BINDGEN="$LIB_DIR/uniffi-bindgen"
[ -f "$LIB" ] || { echo "gen-bindings: $LIB was not built" >&2; exit 1; }
[ -x "$BINDGEN" ] || { echo "gen-bindings: $BINDGEN was not built" >&2; exit 1; }

STAGE="$TARGET_DIR/uniffi-generated"
rm -rf "$STAGE"
mkdir -p "$STAGE/kotlin" "$STAGE/swift"
# --no-format: ktlint / swift-format are not needed (nor installed) to build.
"$BINDGEN" generate --no-format --library "$LIB" --language kotlin --out-dir "$STAGE/kotlin" >&2
"$BINDGEN" generate --no-format --library "$LIB" --language swift --out-dir "$STAGE/swift" >&2

# Two uniffi crates live in the one library: outpost-ffi (the store, app.outpost.ffi) and
# outpost-core's record types (feature `ffi`, app.outpost.core; core/uniffi.toml).
KT_SRC="$STAGE/kotlin/app/outpost/ffi/outpost_ffi.kt"
KT_CORE_SRC="$STAGE/kotlin/app/outpost/core/outpost_core.kt"
for f in "$KT_SRC" "$KT_CORE_SRC" "$STAGE/swift/Outpost.swift" "$STAGE/swift/OutpostCore.swift" \
    "$STAGE/swift/OutpostFFI.h" "$STAGE/swift/OutpostCoreFFI.h"; do
    [ -s "$f" ] || { echo "gen-bindings: uniffi-bindgen did not write $f" >&2; exit 1; }
done

KT_DEST="$ROOT/android/src/main/kotlin/app/outpost"
mkdir -p "$KT_DEST/ffi" "$KT_DEST/core" "$ROOT/ios/Sources/Outpost" "$ROOT/ios/Generated/OutpostFFI"
cp "$KT_SRC" "$KT_DEST/ffi/outpost_ffi.kt"
cp "$KT_CORE_SRC" "$KT_DEST/core/outpost_core.kt"
# Both Swift files go into the one Swift module `Outpost`, both headers into the one C module
# `OutpostFFI`.
cp "$STAGE/swift/Outpost.swift" "$STAGE/swift/OutpostCore.swift" "$ROOT/ios/Sources/Outpost/"
cp "$STAGE/swift/OutpostFFI.h" "$STAGE/swift/OutpostCoreFFI.h" "$ROOT/ios/Generated/OutpostFFI/"
cat >"$ROOT/ios/Generated/OutpostFFI/module.modulemap" <<'MAP'
module OutpostFFI {
    header "OutpostFFI.h"
    header "OutpostCoreFFI.h"
    export *
}
MAP

echo "gen-bindings: Kotlin -> android/src/main/kotlin/app/outpost/ffi, Swift -> ios/Sources/Outpost, C header -> ios/Generated/OutpostFFI" >&2
echo "$LIB_DIR"
