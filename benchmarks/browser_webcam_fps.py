"""Frames per second of the Webcam tab's in-browser matting, in headless Chromium.

    python -m benchmarks.browser_webcam_fps [--seconds 20] [--models ...] [--sizes ...]
        [--weights DIR] [--output FILE.md]

Starts app.py (the models shipped in the package, or --weights), opens the Webcam tab in
Debian's chromium with a 640x480 fake camera playing real photos (EG1800's test split from
$HUMANMATTING_SHARED or ../shared when present, else the example photos), and for each
model and network size streams SECONDS in the page. It reports the frames/s the page
shows, the median time per frame in the browser (all of it, and the model's part), the
CPU time the browser spent per frame (all its processes, and of it the page's renderer
process: the page, its model worker and compositor), and the CPU time the server spent
over the same seconds (with its idle use measured first, for comparison): no frame reaches
the server, so that should be its idle use. The machine's load is printed too: the browser shares
this CPU with whatever else runs, and frames/s follow that; CPU time per frame does not.
"""

from __future__ import annotations

import argparse
import os
import statistics
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
    wait_until_camera_ready,
)
from harness.fake_camera import as_frame, shared_test_photos, write_y4m
from humanmatting.preprocess import load_rgb, model_input_size


def process_kind(process) -> str:
    """'renderer' (the page, its worker and compositor) or 'rest' (the browser process, the
    GPU process's software compositing, the camera's capture service)."""
    try:
        return "renderer" if "--type=renderer" in process.cmdline() else "rest"
    except psutil.Error:
        return "rest"


def cpu_by_kind(processes) -> dict[str, float]:
    totals = {"renderer": 0.0, "rest": 0.0}
    for process in processes:
        totals[process_kind(process)] += cpu_seconds([process])
    return totals


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", help="model folders (default: the shipped models)")
    parser.add_argument("--models", nargs="+", default=["dark-light", "dark", "night"])
    parser.add_argument("--sizes", type=int, nargs="+", default=[160, 256, 320, 512])
    parser.add_argument(
        "--refine",
        nargs="+",
        choices=["on", "off"],
        default=["on", "off"],
        help="the page's Refine edges box (on: the server stream's matte; off: the network's)",
    )
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--warmup", type=float, default=3, help="seconds before measuring")
    parser.add_argument("--output", help="also write the table to this Markdown file")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    workdir = Path(tempfile.mkdtemp(prefix="browser-webcam-fps-"))
    photos = shared_test_photos(8) or sorted((REPO_ROOT / "examples").glob("*.jpg"))
    camera = write_y4m(workdir / "camera.y4m", [as_frame(load_rgb(p)) for p in photos], 30)
    app = launch_app(
        REPO_ROOT / "app.py",
        workdir,
        ["--weights", args.weights] if args.weights else [],
        clean_env(PYTHONPATH=str(REPO_ROOT), HF_HOME=str(workdir / "hf")),
    )
    server = psutil.Process(app.process.pid)
    rows = []
    load_before = os.getloadavg()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM,
                args=[*CHROMIUM_ARGS, f"--use-file-for-fake-video-capture={camera}"],
            )
            context = browser.new_context(permissions=["camera"])
            page = context.new_page()
            page.goto(app.url, wait_until="domcontentloaded")
            page.get_by_role("tab", name="Webcam").click()
            wait_until_camera_ready(page)
            idle_before, idle_started = cpu_seconds([server]), time.perf_counter()
            page.wait_for_timeout(10_000)
            idle_per_s = (cpu_seconds([server]) - idle_before) / (
                time.perf_counter() - idle_started
            )
            page.locator("#browser-camera .hm-start").click()
            page.wait_for_function("window.humanmattingWebcam?.stats().frames > 0", timeout=120_000)
            refine_box = page.locator("#browser-camera .hm-refine input")
            runs = [(m, s, r) for r in args.refine for m in args.models for s in args.sizes]
            for model, size, refine in runs:
                refine_box.set_checked(refine == "on")
                page.evaluate(
                    "(s) => window.humanmattingWebcam.configure(s)",
                    {"model": model, "size": size},
                )
                page.wait_for_timeout(args.warmup * 1000)
                chromium = browser_processes()
                stats = page.evaluate("window.humanmattingWebcam.stats()")
                server_before, kinds_before = cpu_seconds([server]), cpu_by_kind(chromium)
                first, started = stats["frames"], time.perf_counter()
                shown, totals, models, prepares, refines, placed = [], [], [], [], [], []
                while time.perf_counter() - started < args.seconds:
                    page.wait_for_timeout(1000)
                    stats = page.evaluate("window.humanmattingWebcam.stats()")
                    shown.append(stats["frames_per_second"])
                    totals.append(stats["total_ms"])
                    models.append(stats["model_ms"])
                    prepares.append(stats["prepare_ms"])
                    refines.append(stats["refine_ms"])
                    placed.append(stats["coefficients_in_worker"] or 0)
                elapsed = time.perf_counter() - started
                server_cpu = cpu_seconds([server]) - server_before
                kinds_after = cpu_by_kind(chromium)
                kinds = {kind: kinds_after[kind] - kinds_before[kind] for kind in kinds_after}
                browser_cpu = sum(kinds.values())
                frames = max(stats["frames"] - first, 1)
                height, width = model_input_size(480, 640, size)
                row = {
                    "model": model,
                    "long side": size,
                    "network": f"{width}x{height}",
                    "graph": stats["signature"],
                    "edges": "refined" if stats["refined"] else "network's",
                    "frames/s": frames / elapsed,
                    "frames/s shown": statistics.median(shown),
                    "ms/frame": statistics.median(totals),
                    "model ms": statistics.median(models),
                    "preprocess ms": statistics.median(prepares),
                    "refine ms": statistics.median(refines),
                    # refined: the share of frames whose working-size part ran in the worker
                    "in worker": statistics.mean(placed) if stats["refined"] else None,
                    "browser CPU ms/frame": browser_cpu * 1e3 / frames,
                    "page CPU ms/frame": kinds["renderer"] * 1e3 / frames,
                    "server CPU s": server_cpu,
                    "server idle CPU s": idle_per_s * elapsed,
                    "seconds": elapsed,
                    "load": os.getloadavg()[0],
                }
                rows.append(row)
                print(row, flush=True)
            page.locator("#browser-camera .hm-start").click()
            browser.close()
    finally:
        app.stop()

    cores = os.cpu_count()
    lines = [
        f"In-browser matting, headless Chromium {CHROMIUM}, 640x480 fake camera, "
        f"{len(photos)} photos; {args.seconds:g} s per row; {cores} CPU cores; load average "
        f"{load_before[0]:.1f} at the start, {os.getloadavg()[0]:.1f} at the end.",
        "",
        "| model | long side | network | graph | edges | frames/s | shown in the page "
        "| ms per frame | model ms | preprocess ms | edges ms | working-size part in the worker "
        "| browser CPU ms/frame "
        "| of it the page's | server CPU s (idle) | load |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        in_worker = "-" if row["in worker"] is None else f"{row['in worker']:.0%} of frames"
        lines.append(
            f"| {row['model']} | {row['long side']} | {row['network']} | {row['graph']} | "
            f"{row['edges']} | **{row['frames/s']:.1f}** | {row['frames/s shown']:.1f} | "
            f"{row['ms/frame']:.0f} | {row['model ms']:.0f} | {row['preprocess ms']:.0f} | "
            f"{row['refine ms']:.0f} | "
            f"{in_worker} | "
            f"{row['browser CPU ms/frame']:.0f} | {row['page CPU ms/frame']:.0f} | "
            f"{row['server CPU s']:.2f} "
            f"({row['server idle CPU s']:.2f}) | {row['load']:.1f} |"
        )
    table = "\n".join(lines)
    print(table)
    if args.output:
        Path(args.output).write_text(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
