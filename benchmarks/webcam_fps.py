"""Frames per second of the webcam tab's server stream in headless Chromium (fake 640x480
camera); the in-browser matting has its own: benchmarks/browser_webcam_fps.py.

    python -m benchmarks.webcam_fps --weights DIR [--seconds 10] [--sizes 320 512]

Starts app.py, opens the Webcam tab in Debian's chromium with a fake camera, records for
SECONDS per network input size and counts the processed frames that reach the page. The
browser, its fake camera and the app share this machine's CPU, as they would on a laptop.
It also prints the CPU time the server and the browser spent per frame: on a machine that
other work shares, frames/s swing with that work, but CPU time per frame does not.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import psutil

from harness.app_harness import (
    CHROMIUM,
    CHROMIUM_ARGS,
    REPO_ROOT,
    browser_processes,
    clean_env,
    cpu_seconds,
    launch_app,
    wait_for_text,
)


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
    parser.add_argument(
        "--app-args", default="", help='more arguments for app.py, e.g. "--threads 1"'
    )
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    workdir = Path(tempfile.mkdtemp(prefix="webcam-fps-"))
    app = launch_app(
        REPO_ROOT / "app.py",
        workdir,
        ["--weights", args.weights, *args.app_args.split()],
        clean_env(PYTHONPATH=str(REPO_ROOT), HF_HOME=str(workdir / "hf")),
    )
    server = psutil.Process(app.process.pid)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            context = browser.new_context(permissions=["camera"])
            for size in args.sizes:
                page = context.new_page()
                page.goto(app.url, wait_until="domcontentloaded")
                page.get_by_role("tab", name="Webcam").click()
                on_the_server = page.locator('#webcam-where input[value="server"]')
                if not on_the_server.is_checked():  # the server's stream, not the browser's
                    on_the_server.click()
                size_box = page.locator("#network-size input[type=number]")
                size_box.fill(str(size))
                size_box.press("Enter")
                page.locator("#camera").get_by_text("Click to Access Webcam").click()
                page.locator("#camera").get_by_role("button", name="capture photo").click()
                wait_for_text(page, "#readout textarea", "frame 10", prop="value")
                browsers = browser_processes()
                cpu_before = cpu_seconds([server]), cpu_seconds(browsers)
                first, started = frame_number(page), time.perf_counter()
                page.wait_for_timeout(args.seconds * 1000)
                last, elapsed = frame_number(page), time.perf_counter() - started
                cpu_after = cpu_seconds([server]), cpu_seconds(browsers)
                readout = page.locator("#readout textarea").input_value()
                frames = max(last - first, 1)
                server_ms, browser_ms = (
                    (after - before) * 1e3 / frames
                    for before, after in zip(cpu_before, cpu_after, strict=True)
                )
                print(
                    f"{args.model}, network long side {size}: {(last - first) / elapsed:.1f} "
                    f"frames/s reached the page over {elapsed:.0f} s; CPU per frame: server "
                    f"{server_ms:.0f} ms, browser {browser_ms:.0f} ms; server RSS "
                    f"{server.memory_info().rss / 2**20:.0f} MiB; machine load "
                    f"{os.getloadavg()[0]:.1f} (last readout: {readout})"
                )
                page.close()
            browser.close()
    finally:
        app.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
