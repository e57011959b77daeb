#!/usr/bin/env bash
# Installs what `make demo` and `make test` need and the machine lacks. Idempotent; quiet when
# everything is present. Debian packages come from apt-get (we run as root on CI machines).
set -euo pipefail

export PATH="$HOME/.cargo/bin:$PATH"
if ! command -v cargo >/dev/null 2>&1; then
    echo "error: cargo not found. Install the Rust toolchain (https://rustup.rs) and retry." >&2
    exit 1
fi

# Debian packages: a C compiler and pkg-config for the bundled SQLite, python3 for the demo's
# JSON handling.
need=()
command -v cc >/dev/null 2>&1 || need+=(build-essential)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
command -v python3 >/dev/null 2>&1 || need+=(python3)
command -v pip3 >/dev/null 2>&1 || python3 -m pip --version >/dev/null 2>&1 || need+=(python3-pip)
# On-device scanning needs no system library (PP-OCR runs in pure Rust). The fonts render the
# synthetic test corpus: Noto CJK (sans, regular and bold), AR PL UKai and UMing (brush-like Kai
# and Ming faces, as Chinese cards print names). systemd: the packaging test checks the service
# unit with systemd-analyze and systemd-sysusers (systemd need not run).
for pkg in fonts-noto-cjk fonts-arphic-ukai fonts-arphic-uming systemd "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if ((${#need[@]})); then
    echo "installing Debian packages: ${need[*]}" >&2
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

# Node and the JavaScript Automerge implementation for the interop test (from the npm registry,
# pinned by tests/node/package-lock.json).
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "installing Debian packages: nodejs npm" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
if [ ! -d "$ROOT/tests/node/node_modules/@automerge/automerge" ]; then
    echo "installing @automerge/automerge for the interop test" >&2
    (cd "$ROOT/tests/node" && npm ci --no-audit --no-fund --silent)
fi

# The PP-OCR models the scanner reads with (pip download of the rapidocr-onnxruntime wheel,
# sha256-checked, into ~/.cache/outpost/models; quiet when already there).
"$ROOT/scripts/fetch-models.sh"
