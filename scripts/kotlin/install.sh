#!/usr/bin/env bash
# Installs what the Kotlin binding tests need, once, and caches it under <repo>/.cache.
#
#   - a JDK (Debian `default-jdk-headless`), only when `javac` is missing;
#   - JNA (Debian `libjna-java`, /usr/share/java/jna.jar);
#   - the Kotlin compiler from the npm package `kotlin-compiler` (it ships the
#     Kotlin stdlib, kotlin-test and kotlinx-coroutines jars).
#
# Idempotent: a second run changes nothing and prints the same paths. Nothing else
# downloads anything; the tests themselves run offline.
# Output: writes "$OUTPOST_CACHE_DIR/kotlin-env.sh" (default <repo>/.cache/kotlin-env.sh),
# which exports KOTLINC, KOTLIN_LIB, JNA_JAR for scripts/test-kotlin.sh.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE="${OUTPOST_CACHE_DIR:-$ROOT/.cache}"
KOTLIN_VERSION="${KOTLIN_VERSION:-2.4.20}"
KOTLIN_HOME="$CACHE/kotlin-compiler-$KOTLIN_VERSION"
JNA_JAR="${JNA_JAR:-/usr/share/java/jna.jar}"

log() { printf 'install-kotlin: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
fi

APT_UPDATED=0
apt_install() {
    command -v apt-get >/dev/null 2>&1 \
        || die "apt-get not found; install $* with your system's package manager"
    if [ "$APT_UPDATED" -eq 0 ]; then
        log "apt-get update"
        $SUDO apt-get update -qq
        APT_UPDATED=1
    fi
    log "apt-get install $*"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq -o=Dpkg::Use-Pty=0 --no-install-recommends "$@" >&2
}

# 1. JDK (17 on Debian 12). Keep any JDK that is already there.
if ! command -v javac >/dev/null 2>&1; then
    apt_install default-jdk-headless
fi
command -v java >/dev/null 2>&1 || die "java is still missing after installing the JDK"

# 2. JNA, the bridge the generated Kotlin uses to call the Rust cdylib.
if [ ! -f "$JNA_JAR" ]; then
    apt_install libjna-java
fi
[ -f "$JNA_JAR" ] || die "JNA jar not found at $JNA_JAR after installing libjna-java"

# 3. Kotlin compiler from npm, unpacked once into the cache.
if [ ! -x "$KOTLIN_HOME/package/bin/kotlinc" ]; then
    command -v npm >/dev/null 2>&1 || apt_install npm
    command -v npm >/dev/null 2>&1 || die "npm is needed to fetch kotlin-compiler@$KOTLIN_VERSION"
    mkdir -p "$CACHE"
    tmp="$(mktemp -d "$CACHE/.kotlin-download.XXXXXX")"
    trap 'rm -rf "$tmp"' EXIT
    log "npm pack kotlin-compiler@$KOTLIN_VERSION"
    (cd "$tmp" && npm pack --silent "kotlin-compiler@$KOTLIN_VERSION" >/dev/null)
    tarball="$(find "$tmp" -maxdepth 1 -name 'kotlin-compiler-*.tgz' | head -n 1)"
    [ -n "$tarball" ] || die "npm pack produced no tarball"
    mkdir -p "$tmp/unpacked"
    tar -xzf "$tarball" -C "$tmp/unpacked"
    [ -f "$tmp/unpacked/package/bin/kotlinc" ] || die "kotlin-compiler package has no bin/kotlinc"
    chmod +x "$tmp/unpacked/package/bin/"*
    rm -rf "$KOTLIN_HOME"
    mv "$tmp/unpacked" "$KOTLIN_HOME"
    rm -rf "$tmp"
    trap - EXIT
fi

KOTLIN_LIB="$KOTLIN_HOME/package/lib"
for jar in kotlin-stdlib.jar kotlin-test.jar kotlinx-coroutines-core-jvm.jar; do
    [ -f "$KOTLIN_LIB/$jar" ] || die "$jar missing from kotlin-compiler@$KOTLIN_VERSION ($KOTLIN_LIB)"
done

mkdir -p "$CACHE"
cat >"$CACHE/kotlin-env.sh" <<ENV
# Written by scripts/kotlin/install.sh; sourced by scripts/test-kotlin.sh.
export KOTLINC="$KOTLIN_HOME/package/bin/kotlinc"
export KOTLIN_LIB="$KOTLIN_LIB"
export JNA_JAR="$JNA_JAR"
ENV
log "ready: kotlinc $KOTLIN_VERSION, $(javac -version 2>&1), JNA $JNA_JAR"
