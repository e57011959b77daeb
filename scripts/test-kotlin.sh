#!/usr/bin/env bash
# The Kotlin binding tests on a plain JVM (what `make test-kotlin` runs):
#   1. installs the toolchain if missing (scripts/kotlin/install.sh; cached in .cache/),
#   2. builds outpost-ffi and generates Kotlin + Swift in library mode (scripts/gen-bindings.sh;
#      the Swift is generated too, so an export Swift cannot take fails here),
#   3. compiles the generated Kotlin with android/src/test/kotlin using kotlinc,
#   4. builds the sync server (cargo build -p outpost-server) for the sync tests, which start
#      the real binary on a free port (its path goes to the JVM as -Doutpost.server.bin),
#   5. runs the tests against the host cdylib through JNA; the last line is
#      "N passed, N failed" and the exit status is non-zero when a test failed.
# OUTPOST_TEST_FILTER=Suite.method runs a subset.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CACHE="${OUTPOST_CACHE_DIR:-$ROOT/.cache}"

"$ROOT/scripts/kotlin/install.sh"
# shellcheck source=/dev/null
source "$CACHE/kotlin-env.sh"

LIB_DIR="$("$ROOT/scripts/gen-bindings.sh" | tail -n 1)"
# Same profile and target directory as the library gen-bindings.sh just built.
cargo build -p outpost-server >&2
SERVER_BIN="$LIB_DIR/outpost-server"
[ -x "$SERVER_BIN" ] || { echo "test-kotlin: $SERVER_BIN was not built" >&2; exit 1; }

OUT="$LIB_DIR/kotlin-tests"
mkdir -p "$OUT"
CP="$JNA_JAR:$KOTLIN_LIB/kotlinx-coroutines-core-jvm.jar:$KOTLIN_LIB/kotlin-test.jar"

# Sources: the generated bindings, any hand-written main sources, and the tests. Files named
# *JUnit*.kt are only for Gradle's JUnit run (JUnit is not installed here).
SOURCES=()
while IFS= read -r -d '' f; do SOURCES+=("$f"); done < <(
    find "$ROOT/android/src/main/kotlin" "$ROOT/android/src/test/kotlin" -name '*.kt' \
        ! -name '*JUnit*' -print0 | sort -z
)

# Recompile only when a source (or the compiler) changed: kotlinc takes ~30 s.
STAMP="$OUT/sources.sha256"
NEW_SUM="$( (echo "$KOTLINC"; cat "${SOURCES[@]}") | sha256sum | cut -d' ' -f1)"
if [ ! -f "$OUT/tests.jar" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$NEW_SUM" ]; then
    echo "test-kotlin: compiling ${#SOURCES[@]} Kotlin files" >&2
    rm -f "$OUT/tests.jar" "$STAMP"
    "$KOTLINC" -nowarn -jvm-target 17 -cp "$CP" -d "$OUT/tests.jar" "${SOURCES[@]}"
    echo "$NEW_SUM" >"$STAMP"
fi

echo "test-kotlin: running on $(java -version 2>&1 | head -n 1)" >&2
# The scan tests give the scanner this model directory (scripts/fetch-models.sh fills it).
"$ROOT/scripts/fetch-models.sh"
MODELS="${OUTPOST_MODELS:-${XDG_CACHE_HOME:-$HOME/.cache}/outpost/models}"
exec java -Xss4m \
    -Djna.library.path="$LIB_DIR" \
    -Doutpost.server.bin="$SERVER_BIN" \
    -Doutpost.models="$MODELS" \
    -cp "$OUT/tests.jar:$CP:$KOTLIN_LIB/kotlin-stdlib.jar" \
    app.outpost.MainKt
