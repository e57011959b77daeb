#!/usr/bin/env bash
# Prepares the baselines `outpost-bench scan` measures beside our scanner, on the same raw photos
# and with one thread each (issue 18, "Benchmark"):
#   - RapidOCR: rapidocr-onnxruntime 1.4.4 on onnxruntime (PyPI), in a virtualenv at
#     ${XDG_CACHE_HOME:-$HOME/.cache}/outpost/bench-venv (or $OUTPOST_BENCH_VENV);
#   - raw Tesseract: Debian tesseract-ocr with the chi_sim data.
# Only the benchmark needs these; `make test` does not. Idempotent: quiet when both are there.
# Everything is installed here, beforehand: the benchmark itself runs offline.
set -euo pipefail

VENV="${OUTPOST_BENCH_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/outpost/bench-venv}"
RAPIDOCR_VERSION="1.4.4"

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
updated=0
apt_install() {
    if [ "$updated" -eq 0 ]; then
        $SUDO apt-get update -qq
        updated=1
    fi
    echo "bench-scan-baselines: installing Debian packages: $*" >&2
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

need=()
command -v tesseract >/dev/null 2>&1 || need+=(tesseract-ocr)
dpkg -s tesseract-ocr-chi-sim >/dev/null 2>&1 || need+=(tesseract-ocr-chi-sim)
dpkg -s tesseract-ocr-eng >/dev/null 2>&1 || need+=(tesseract-ocr-eng)
command -v python3 >/dev/null 2>&1 || need+=(python3)
# `python3 -m venv` needs ensurepip, which Debian ships in python3-venv.
if command -v python3 >/dev/null 2>&1 && ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    need+=(python3-venv)
fi
if ((${#need[@]})); then
    apt_install "${need[@]}"
fi

if ! "$VENV/bin/python" -c "import rapidocr_onnxruntime, onnxruntime" >/dev/null 2>&1 \
    || [ "$("$VENV/bin/python" -m pip show rapidocr-onnxruntime 2>/dev/null | sed -n 's/^Version: //p')" != "$RAPIDOCR_VERSION" ]; then
    echo "bench-scan-baselines: creating $VENV with rapidocr-onnxruntime $RAPIDOCR_VERSION" >&2
    rm -rf "$VENV"
    mkdir -p "$(dirname "$VENV")"
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        "rapidocr-onnxruntime==$RAPIDOCR_VERSION" onnxruntime
fi

echo "bench-scan-baselines: $("$VENV/bin/python" -m pip show rapidocr-onnxruntime onnxruntime 2>/dev/null \
    | sed -n 's/^\(Name\|Version\): //p' | paste -sd' ')," \
    "$(tesseract --version 2>&1 | head -n 1)," \
    "tesseract languages: $(tesseract --list-langs 2>/dev/null | tail -n +2 | paste -sd' ')" >&2
