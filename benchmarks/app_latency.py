"""End-to-end latency of the app's image endpoint through gradio_client, cold start, memory.

    python -m benchmarks.app_latency --weights DIR [--calls 50] [--mode transparent]

Starts `python app.py` on a free 127.0.0.1 port (LiteRT backend), times launch -> first
answered /matte request, then sends a 1280x720 JPEG CALLS times and prints the median and
spread of the round trip (upload, queue, matting, PNG encoding, download), and the app's
resident memory. Numbers depend on machine load: run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from harness.app_harness import api_client, launch_app, memory_mib, tensorflow_loaded

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_photo(path: Path) -> Path:
    """A real photo as a 1280x720 JPEG (Grace Hopper, cropped to 16:9 and enlarged)."""
    photo = Image.open(REPO_ROOT / "examples" / "grace_hopper.jpg").convert("RGB")
    width = photo.width
    crop = photo.crop((0, 100, width, 100 + round(width * 9 / 16)))
    crop.resize((1280, 720), Image.Resampling.LANCZOS).save(path, quality=90)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", required=True, help="folder with dark-light/ (and others)")
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--mode", default="transparent", help="background mode for /matte")
    args = parser.parse_args()

    from gradio_client import handle_file

    workdir = Path(tempfile.mkdtemp(prefix="app-latency-"))
    photo = test_photo(workdir / "photo-1280x720.jpg")
    # Not audited: the app alone is timed and weighed; polled every 0.1 s.
    running = launch_app(
        REPO_ROOT / "app.py",
        workdir,
        ["--weights", args.weights],
        dict(os.environ),
        timeout_s=300,
        audited=False,
        poll_s=0.1,
    )
    app, started = running.process, running.launched
    try:
        client = api_client(running.url, workdir)
        client.predict(handle_file(str(photo)), background=args.mode, api_name="/matte")
        cold_start = time.perf_counter() - started
        print(f"cold start (launch -> first /matte answered): {cold_start:.2f} s")

        latencies, summaries = [], []
        for _ in range(args.calls):
            begin = time.perf_counter()
            *_, summary = client.predict(
                handle_file(str(photo)), background=args.mode, api_name="/matte"
            )
            latencies.append((time.perf_counter() - begin) * 1e3)
            summaries.append(summary)
        values = np.array(latencies)
        print(
            f"/matte 1280x720 JPEG, mode {args.mode}, {args.calls} calls: median "
            f"{statistics.median(latencies):.0f} ms, p10 {np.percentile(values, 10):.0f} ms, "
            f"p90 {np.percentile(values, 90):.0f} ms"
        )
        print(f"server side, last call: {summaries[-1]}")
        resident, peak = memory_mib(app.pid)
        print(f"app resident memory: {resident:.0f} MiB (peak {peak:.0f} MiB)")
        print(f"TensorFlow loaded in the app: {tensorflow_loaded(app.pid)}")
    finally:
        running.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
