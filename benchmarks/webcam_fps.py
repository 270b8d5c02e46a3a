"""Frames per second of the live webcam tab in headless Chromium (fake 640x480 camera).

    python benchmarks/webcam_fps.py --weights DIR [--seconds 10] [--sizes 320 512]

Starts app.py, opens the Webcam tab in Debian's chromium with a fake camera, records for
SECONDS per network input size and counts the processed frames that reach the page. The
browser, its fake camera and the app share this machine's CPU, as they would on a laptop.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.app_harness import CHROMIUM, CHROMIUM_ARGS, REPO_ROOT, clean_env, launch_app  # noqa: E402


def frame_number(page) -> int:
    text = page.locator("#readout textarea").input_value()
    match = re.search(r"frame (\d+)", text)
    return int(match.group(1)) if match else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", required=True)
    parser.add_argument("--model", default="dark-light")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--sizes", type=int, nargs="+", default=[320, 512])
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    workdir = Path(tempfile.mkdtemp(prefix="webcam-fps-"))
    app = launch_app(
        REPO_ROOT / "app.py",
        workdir,
        ["--weights", args.weights],
        clean_env(PYTHONPATH=str(REPO_ROOT), HF_HOME=str(workdir / "hf")),
    )
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            context = browser.new_context(permissions=["camera"])
            for size in args.sizes:
                page = context.new_page()
                page.goto(app.url, wait_until="domcontentloaded")
                page.get_by_role("tab", name="Webcam").click()
                size_box = page.locator("#network-size input[type=number]")
                size_box.fill(str(size))
                size_box.press("Enter")
                page.locator("#camera").get_by_text("Click to Access Webcam").click()
                page.locator("#camera").get_by_role("button", name="capture photo").click()
                page.wait_for_function(
                    "document.querySelector('#readout textarea').value.includes('frame 10')",
                    timeout=60_000,
                )
                first, started = frame_number(page), time.perf_counter()
                page.wait_for_timeout(args.seconds * 1000)
                last, elapsed = frame_number(page), time.perf_counter() - started
                readout = page.locator("#readout textarea").input_value()
                print(
                    f"{args.model}, network long side {size}: {(last - first) / elapsed:.1f} "
                    f"frames/s reached the page over {elapsed:.0f} s (last readout: {readout})"
                )
                page.close()
            browser.close()
    finally:
        app.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
