#!/usr/bin/env bash
# Puts the PP-OCR models the scanner reads with into the per-user cache (or $1 / $OUTPOST_MODELS):
#   ch_PP-OCRv4_det_infer.onnx          text detection (DBNet)
#   ch_ppocr_mobile_v2.0_cls_infer.onnx text direction (0 or 180 degrees)
#   ch_PP-OCRv4_rec_infer.onnx          line recognition (CRNN, 6,623 characters)
# They come from the PyPI wheel rapidocr-onnxruntime 1.4.4 (Apache-2.0), fetched with
# `pip download`, and each file's sha256 is checked. Idempotent and quiet when the files are
# already there. Nothing downloads at run time: apps ship these three files as assets and pass
# their directory to the scanner.
set -euo pipefail

DEST="${1:-${OUTPOST_MODELS:-${XDG_CACHE_HOME:-$HOME/.cache}/outpost/models}}"
WHEEL_VERSION="1.4.4"
FILES=(
    "ch_PP-OCRv4_det_infer.onnx d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9"
    "ch_PP-OCRv4_rec_infer.onnx 48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b"
    "ch_ppocr_mobile_v2.0_cls_infer.onnx e47acedf663230f8863ff1ab0e64dd2d82b838fceb5957146dab185a89d6215c"
)

sha_ok() { # FILE SHA256
    [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]
}

missing=0
for entry in "${FILES[@]}"; do
    read -r name sum <<<"$entry"
    sha_ok "$DEST/$name" "$sum" || missing=1
done
[ "$missing" -eq 0 ] && exit 0

PIP=()
if command -v pip3 >/dev/null 2>&1; then PIP=(pip3)
elif command -v pip >/dev/null 2>&1; then PIP=(pip)
elif command -v python3 >/dev/null 2>&1 && python3 -m pip --version >/dev/null 2>&1; then PIP=(python3 -m pip)
else
    echo "fetch-models: pip is missing (Debian: apt-get install python3-pip)" >&2
    exit 1
fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
echo "fetch-models: downloading rapidocr-onnxruntime $WHEEL_VERSION (15 MB) from PyPI" >&2
"${PIP[@]}" download --quiet --no-deps --disable-pip-version-check \
    --dest "$WORK" "rapidocr-onnxruntime==$WHEEL_VERSION" >&2
WHEEL="$(ls "$WORK"/rapidocr_onnxruntime-*.whl 2>/dev/null | head -n 1)"
[ -n "$WHEEL" ] || { echo "fetch-models: pip produced no wheel in $WORK" >&2; exit 1; }

mkdir -p "$DEST"
for entry in "${FILES[@]}"; do
    read -r name sum <<<"$entry"
    # A wheel is a zip file; python3's zipfile reads it without unzip installed.
    python3 - "$WHEEL" "rapidocr_onnxruntime/models/$name" "$WORK/$name" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
    if ! sha_ok "$WORK/$name" "$sum"; then
        echo "fetch-models: $name from the wheel has sha256 $(sha256sum "$WORK/$name" | cut -d' ' -f1), expected $sum" >&2
        exit 1
    fi
    mv -f "$WORK/$name" "$DEST/$name"
done
echo "fetch-models: models in $DEST" >&2
