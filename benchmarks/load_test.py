"""A bounded load test of the app on loopback: many users at once, nothing may fail or leak.

    python -m benchmarks.load_test --weights DIR            # starts app.py on a free port
    python -m benchmarks.load_test --url http://127.0.0.1:7860/ --pid PID   # a running app

8 concurrent gradio_client clients send 200 photo requests of mixed sizes (mostly 320x240
to 1920x1080, some 12 MP phone photos; JPEG and PNG, portrait and landscape), 8
webcam-style bursts (one client sending 10 640x480 frames back to back) and 5 broken
uploads per round, which must be answered with an error while everything else keeps
working. The work runs in two rounds after a warm-up; the server's resident memory (with
its children) is sampled throughout. Endpoint names are parameters (--endpoint,
--burst-endpoint); every request sends one image file as the first argument.

It prints p50/p95/max latency per kind of request, throughput, the server's memory (after
warm-up, after each round, peak), and exits 0 only when no valid request failed, every
broken upload got an error, the second round grew memory by at most --max-growth-mb, and
the whole run finished within --max-seconds (it stops sending when that time is up).
Latencies depend on the machine's load: on a shared machine, compare runs, not absolutes.
"""

from __future__ import annotations

import argparse
import io
import os
import queue
import random
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import psutil
from PIL import Image

from harness.app_harness import api_client, launch_app, wait_until_serving

REPO_ROOT = Path(__file__).resolve().parents[1]

# (width, height, format, share of the requests): what a public demo receives.
PHOTO_MIX = [
    (320, 240, "JPEG", 3),
    (640, 480, "JPEG", 3),
    (1280, 720, "JPEG", 2),
    (720, 1280, "JPEG", 2),
    (1920, 1080, "JPEG", 2),
    (1024, 1024, "PNG", 1),
    (4000, 3000, "JPEG", 1),  # a 12 MP phone photo
]
FRAME_SIZE = (640, 480)


@dataclass
class Result:
    kind: str
    seconds: float
    ok: bool
    error: str = ""


@dataclass
class Job:
    kind: str  # a photo size label, "burst" or "broken"
    files: list[Path]
    expect_error: bool = False


@dataclass
class Stats:
    results: list[Result] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, result: Result) -> None:
        with self.lock:
            self.results.append(result)


def _source_picture() -> np.ndarray:
    """A real photo of a person if scikit-image is installed, else a synthetic one."""
    try:
        import skimage.data

        return skimage.data.astronaut()
    except ImportError:
        y, x = np.mgrid[0:512, 0:512]
        person = ((x - 256) ** 2 / 90**2 + (y - 300) ** 2 / 200**2) < 1
        picture = np.stack([x // 2, y // 2, np.full_like(x, 128)], -1).astype(np.uint8)
        picture[person] = (200, 160, 140)
        return picture


def make_inputs(folder: Path) -> tuple[dict[str, Path], list[Path], list[Path]]:
    """Photos of every size, webcam frames, and broken uploads, written to `folder`."""
    source = Image.fromarray(_source_picture())
    photos = {}
    for width, height, fmt, _ in PHOTO_MIX:
        path = folder / f"photo-{width}x{height}.{fmt.lower().replace('jpeg', 'jpg')}"
        source.resize((width, height), Image.Resampling.BILINEAR).save(path, fmt)
        photos[f"{width}x{height}"] = path
    frames = []
    for index in range(5):
        frame = source.resize(FRAME_SIZE).rotate(index * 3)  # a moving camera
        path = folder / f"frame{index}.jpg"
        frame.save(path, "JPEG", quality=80)
        frames.append(path)
    broken = []
    try:
        from harness.bad_media import make_images

        bad = make_images(folder / "bad")
        names = ["zero-bytes.jpg", "text-named.jpg", "truncated.jpg", "truncated.png", "bomb.png"]
        broken = [bad[name] for name in names]
    except ImportError:  # outside a checkout: two simple broken files
        (folder / "text.jpg").write_text("not a picture")
        buffer = io.BytesIO()
        source.save(buffer, "PNG")
        (folder / "cut.png").write_bytes(buffer.getvalue()[:500])
        broken = [folder / "text.jpg", folder / "cut.png"]
    return photos, frames, broken


class MemorySampler(threading.Thread):
    """Samples the server's resident memory (with its children) every `interval` seconds."""

    def __init__(self, pid: int | None, interval: float = 0.25):
        super().__init__(daemon=True)
        self.process = psutil.Process(pid) if pid else None
        self.interval = interval
        self.peak = 0
        self.stopped = threading.Event()

    def rss(self) -> int:
        if self.process is None:
            return 0
        total = self.process.memory_info().rss
        for child in self.process.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        return total

    def run(self) -> None:
        while not self.stopped.is_set():
            self.peak = max(self.peak, self.rss())
            self.stopped.wait(self.interval)


def call(client, endpoint: str, path: Path, timeout: float):
    from gradio_client import handle_file

    return client.submit(handle_file(str(path)), api_name=endpoint).result(timeout=timeout)


def worker(client, jobs: queue.Queue, stats: Stats, args, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            job = jobs.get_nowait()
        except queue.Empty:
            return
        endpoint = args.burst_endpoint if job.kind == "burst" else args.endpoint
        for path in job.files:
            started = time.perf_counter()
            try:
                call(client, endpoint, path, args.request_timeout)
                ok, error = not job.expect_error, ""
                if job.expect_error:
                    error = "a broken upload was answered without an error"
            except Exception as exception:  # AppError, TimeoutError, connection errors
                message = str(exception).splitlines()[0][:160] if str(exception) else ""
                ok, error = job.expect_error, f"{type(exception).__name__}: {message}"
            stats.add(Result(job.kind, time.perf_counter() - started, ok, error))


def run_round(clients, jobs: list[Job], args, deadline: float) -> tuple[Stats, float]:
    pending: queue.Queue = queue.Queue()
    for job in jobs:
        pending.put(job)
    stats = Stats()
    threads = [
        threading.Thread(target=worker, args=(client, pending, stats, args, deadline), daemon=True)
        for client in clients
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()) + args.request_timeout)
    return stats, time.perf_counter() - started


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) * 1e3 if values else float("nan")


def report(name: str, stats: Stats, seconds: float, expected: int) -> list[str]:
    """Print one round's figures; returns the problems found."""
    results = stats.results
    problems = [f"{r.kind}: {r.error}" for r in results if not r.ok]
    valid = [r for r in results if r.kind != "broken"]
    print(
        f"\n{name}: {len(results)}/{expected} requests in {seconds:.1f} s "
        f"({len(valid) / seconds:.1f} valid requests/s), {len(problems)} failed"
    )
    kinds = sorted({r.kind for r in results}, key=lambda k: (k in ("burst", "broken"), k))
    for kind in kinds:
        latencies = [r.seconds for r in results if r.kind == kind]
        print(
            f"  {kind:>10}: {len(latencies):4d} requests  p50 {percentile(latencies, 50):7.0f} ms"
            f"  p95 {percentile(latencies, 95):7.0f} ms  max {max(latencies) * 1e3:7.0f} ms"
        )
    latencies = [r.seconds for r in valid]
    print(
        f"  {'all valid':>10}: {len(latencies):4d} requests  p50 {percentile(latencies, 50):7.0f}"
        f" ms  p95 {percentile(latencies, 95):7.0f} ms"
    )
    if len(results) < expected:
        problems.append(f"only {len(results)} of {expected} requests were sent in time")
    return problems


def build_jobs(photos, frames, broken, args, rng: random.Random) -> list[Job]:
    """One round: half the photo requests and bursts, and every broken upload once."""
    sizes = [f"{width}x{height}" for width, height, _, share in PHOTO_MIX for _ in range(share)]
    jobs = [Job(size, [photos[size]]) for size in (sizes * args.requests)[: args.requests // 2]]
    for _ in range(args.bursts // 2):
        jobs.append(Job("burst", [frames[i % len(frames)] for i in range(args.burst_frames)]))
    jobs += [Job("broken", [path], expect_error=True) for path in broken]
    rng.shuffle(jobs)
    return jobs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--weights", help="start app.py with these weights on a free port")
    target.add_argument("--url", help="a running app, e.g. http://127.0.0.1:7860/")
    parser.add_argument("--pid", type=int, help="with --url: the app's process id, for memory")
    parser.add_argument("--app", type=Path, default=REPO_ROOT / "app.py")
    parser.add_argument("--endpoint", default="/matte", help="photo endpoint (api_name)")
    parser.add_argument(
        "--burst-endpoint",
        default="/matte",
        help="endpoint for webcam-style frames (the live /webcam stream cannot be driven "
        "by gradio_client; a per-frame endpoint can be named here)",
    )
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=200, help="photo requests in all")
    parser.add_argument("--bursts", type=int, default=8, help="webcam-style bursts in all")
    parser.add_argument("--burst-frames", type=int, default=10, help="frames per burst")
    parser.add_argument(
        "--no-broken", action="store_true", help="do not send the broken uploads (5 per round)"
    )
    parser.add_argument("--request-timeout", type=float, default=60)
    parser.add_argument("--max-seconds", type=float, default=150)
    parser.add_argument("--max-growth-mb", type=float, default=150)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="load-test-"))
    photos, frames, broken = make_inputs(workdir)
    broken = [] if args.no_broken else broken
    app = None
    url, pid = args.url, args.pid
    started = time.monotonic()
    if args.weights:  # the app alone is measured: not audited
        arguments = ["--weights", args.weights]
        app = launch_app(args.app.resolve(), workdir, arguments, dict(os.environ), audited=False)
        url, pid = app.url, app.process.pid
        print(f"started {args.app.name} at {url} (pid {pid}); log: {app.output}")
    deadline = started + args.max_seconds
    sampler = MemorySampler(pid)
    problems: list[str] = []
    memory: dict[str, int] = {}
    try:
        if app is None:
            wait_until_serving(url)
        client = api_client(url)
        launched = time.monotonic() - started
        # Warm-up, one request per size (and a frame): the model's interpreters and
        # Gradio's caches are built here, so the rounds measure steady state.
        for path in [*photos.values(), frames[0]]:
            call(client, args.endpoint, path, args.request_timeout)
        warm = time.monotonic() - started
        print(f"app answering after {launched:.1f} s; warm-up done after {warm:.1f} s")
        clients = [api_client(url) for _ in range(args.clients)]
        sampler.start()
        memory["after warm-up"] = sampler.rss()
        rng = random.Random(args.seed)
        for round_number in (1, 2):
            jobs = build_jobs(photos, frames, broken, args, rng)
            expected = sum(len(job.files) for job in jobs)
            stats, seconds = run_round(clients, jobs, args, deadline)
            problems += report(f"round {round_number}", stats, seconds, expected)
            time.sleep(1.0)  # let the last responses be freed
            memory[f"after round {round_number}"] = sampler.rss()
        # After everything, a plain request must still be served normally.
        call(client, args.endpoint, photos["640x480"], args.request_timeout)
    except Exception as error:  # the run itself broke (the app died, a timeout in warm-up)
        problems.append(f"run aborted: {type(error).__name__}: {error}")
    finally:
        sampler.stopped.set()
        if app is not None:
            app.stop()
    total = time.monotonic() - started

    if pid and memory.get("after round 2"):
        mib = {key: value / 2**20 for key, value in memory.items()}
        growth = mib["after round 2"] - mib["after round 1"]
        print(
            "\nserver memory (RSS): "
            + ", ".join(f"{key} {value:.0f} MiB" for key, value in mib.items())
            + f", peak {sampler.peak / 2**20:.0f} MiB; growth in round 2: {growth:+.0f} MiB"
        )
        if growth > args.max_growth_mb:
            problems.append(f"memory grew {growth:.0f} MiB in round 2 (> {args.max_growth_mb})")
    elif not pid:
        print("\nserver memory: not measured (pass --pid with --url)")
    print(f"total time {total:.1f} s (limit {args.max_seconds:.0f} s)")
    if total > args.max_seconds + args.request_timeout:
        problems.append(f"the run took {total:.0f} s")
    return verdict(problems, "no failed request, every broken upload answered with an error")


def verdict(problems: list[str], success: str, shown: int = 20) -> int:
    """Print the run's outcome (the first `shown` distinct problems, or `success`); the exit
    status: 1 with problems, else 0."""
    if problems:
        print(f"\nFAILED: {len(problems)} problems")
        for line in sorted(set(problems))[:shown]:
            print(f"  {line}")
        return 1
    print(f"\nOK: {success}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
