"""RapidOCR baseline for `outpost-bench scan` (issue 18): reads the image paths listed one per
line in argv[1], runs rapidocr-onnxruntime on each raw photo with one inference thread, and
prints one JSON object on stdout: versions, the model load time and, per image, the time of the
whole call (decode, detection, direction, recognition) in ms and the text read.

Run by the benchmark with the virtualenv that scripts/bench-scan-baselines.sh creates; nothing
is downloaded (the models ship inside the wheel).
"""

import json
import os
import sys
import time


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: bench_rapidocr.py LIST_OF_IMAGE_PATHS", file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding="utf-8") as f:
        paths = [line.strip() for line in f if line.strip()]

    import importlib.metadata as md

    started = time.perf_counter()
    from rapidocr_onnxruntime import RapidOCR

    # Global thread settings are copied into the Det, Cls and Rec sessions.
    engine = RapidOCR(intra_op_num_threads=1, inter_op_num_threads=1)
    load_ms = (time.perf_counter() - started) * 1000.0
    threads = [
        engine.text_det.infer.session.get_session_options().intra_op_num_threads
        if hasattr(engine.text_det, "infer")
        else None
    ]

    # One untimed call so that lazy initialisation is not charged to the first photo.
    if paths:
        engine(paths[0])

    images = []
    for path in paths:
        started = time.perf_counter()
        result, _ = engine(path)
        ms = (time.perf_counter() - started) * 1000.0
        text = "\n".join(r[1] for r in (result or []))
        images.append({"path": path, "ms": ms, "text": text})

    json.dump(
        {
            "rapidocr_version": md.version("rapidocr-onnxruntime"),
            "onnxruntime_version": md.version("onnxruntime"),
            "intra_op_num_threads": threads[0],
            "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
            "load_ms": load_ms,
            "images": images,
        },
        sys.stdout,
        ensure_ascii=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
