"""The app's cold start and resident memory with the LiteRT backend, as a visitor meets it.

    python -m benchmarks.app_cold_start --weights DIR [--runs 3] [--app-args "--max-shapes 1"]

Each run starts `python app.py` on a free 127.0.0.1 port and times launch -> first page
served and launch -> first /matte request answered (a 1280x720 JPEG through gradio_client,
whose connection is part of the time, as it is for any client). Then it sends photos of the
sizes people upload (each network input shape once, then again) and reads the server's
resident memory (RSS, and the peak VmHWM) after each step. It also says whether TensorFlow
was ever loaded into the app (it must not be). Medians over the runs are printed last.
Timings depend on the machine's load: on a shared machine, compare runs made together.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from harness.app_harness import api_client, clean_env, launch_app, memory_mib, tensorflow_loaded

REPO_ROOT = Path(__file__).resolve().parents[1]

# (label, width, height): the first is the cold-start request; the rest a typical session.
PHOTOS = [
    ("1280x720 landscape", 1280, 720),
    ("3024x4032 phone portrait", 3024, 4032),
    ("640x480 webcam-size", 640, 480),
    ("4032x3024 phone landscape", 4032, 3024),
    ("1080x1920 story", 1080, 1920),
    ("1280x720 landscape again", 1280, 720),
    ("3024x4032 phone portrait again", 3024, 4032),
]


def make_photos(folder: Path) -> list[tuple[str, Path]]:
    source = Image.open(REPO_ROOT / "examples" / "grace_hopper.jpg").convert("RGB")
    photos = []
    for label, width, height in PHOTOS:
        path = folder / f"{width}x{height}.jpg"
        if not path.exists():
            source.resize((width, height), Image.Resampling.BILINEAR).save(path, quality=90)
        photos.append((label, path))
    return photos


def one_run(args, photos, workdir: Path, run: int) -> dict[str, float]:
    from gradio_client import handle_file

    arguments = ["--weights", args.weights, *args.app_args.split()]
    env = clean_env(PYTHONPATH=str(REPO_ROOT), HF_HOME=str(workdir / "hf-home"))
    # Not audited (the app alone is timed and weighed); polled every 20 ms for the timing.
    running = launch_app(
        REPO_ROOT / "app.py",
        workdir / f"run-{run}",
        arguments,
        env,
        timeout_s=300,
        audited=False,
        poll_s=0.02,
    )
    app, log_path, started = running.process, running.output, running.launched
    figures: dict[str, float] = {"page_s": running.started_s}
    try:
        client = api_client(running.url)
        label, first = photos[0]
        client.predict(handle_file(str(first)), api_name="/matte")
        figures["first_request_s"] = time.perf_counter() - started
        figures["rss_after_first_mib"], _ = memory_mib(app.pid)
        print(
            f"run {run}: page served {figures['page_s']:.2f} s, first /matte ({label}) "
            f"answered {figures['first_request_s']:.2f} s after launch; "
            f"RSS {figures['rss_after_first_mib']:.0f} MiB"
        )
        for label, path in photos[1:]:
            begin = time.perf_counter()
            *_, summary = client.predict(handle_file(str(path)), api_name="/matte")
            rss, peak = memory_mib(app.pid)
            network = summary.split("network input ")[1].split(";")[0]
            print(
                f"    {label:>31}: {(time.perf_counter() - begin) * 1e3:5.0f} ms "
                f"(network {network}), RSS {rss:4.0f} MiB, peak {peak:4.0f} MiB"
            )
        figures["rss_after_session_mib"], figures["peak_mib"] = memory_mib(app.pid)
        figures["tensorflow"] = float(tensorflow_loaded(app.pid))
        startup = [line for line in log_path.read_text().splitlines() if "after start" in line]
        if startup:
            print(f"    app's own account: {startup[0]}")
    finally:
        running.stop()
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", required=True, help="folder with dark-light/ (and others)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--app-args", default="", help='more arguments for app.py, e.g. "--max-shapes 1"'
    )
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="app-cold-start-"))
    photos = make_photos(workdir)
    runs = [one_run(args, photos, workdir, run) for run in range(1, args.runs + 1)]

    def median(key: str) -> float:
        return statistics.median(run[key] for run in runs)

    print(
        f"\nmedian of {len(runs)} runs: page served {median('page_s'):.2f} s; first /matte "
        f"answered {median('first_request_s'):.2f} s after launch (target <= 3 s); RSS after it "
        f"{median('rss_after_first_mib'):.0f} MiB, after the session "
        f"{median('rss_after_session_mib'):.0f} MiB, peak {median('peak_mib'):.0f} MiB "
        f"(target <= 400 MB = 381 MiB); TensorFlow loaded: {any(r['tensorflow'] for r in runs)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
