"""The mixed photo load of benchmarks/load_test.py with issue 16's attacks sent alongside.

    python -m benchmarks.attack_load_test --weights DIR               # 16 clients, 2 rounds
    python -m benchmarks.attack_load_test --weights DIR --clients 2 --rounds 1 --requests 10
    python -m benchmarks.attack_load_test --weights DIR --cgroup /sys/fs/cgroup/memory/NAME

Starts app.py on a free loopback port (harness/app_harness.py, with its temporary files in
a folder of this run), warms it up, then runs rounds of load_test.py's photo mix (sizes
from 320x240 to 12 MP, webcam-style bursts, broken uploads) from --clients gradio_client
clients while one attacker thread sends, again and again until the round ends, what the
probe of issue 16 sent: file payloads naming files outside the upload folder, a 60 MB
`data:` URL body, a `data:` URL bomb, a QOI picture, an ICO whose directory lies, a
progressive JPEG of 1000 scans, uploads cut off mid-way, a picture too wide for a PNG,
videos whose headers lie or that stop early, and 12 MP background pictures; and what the
probe of issue 29 sent: a video with 10 minutes of 8-channel sound, camera sessions of a
2000x2000 frame each left after one answer, a 1x1000 background picture, a video cancelled
mid-way, a 38 kB PNG of 39.7 MP (several at once), connections trickling header bytes,
uploads of other files and /process_recording bodies, values of the wrong type, 8 MB
data: URLs from new sessions, and /monitoring.

It prints p50/p95 per kind of request, what each attack got, the server's memory (after
warm-up, peak during the rounds, after them) and, once the app has stopped (SIGTERM), the
listing of its temporary folder; it exits 0 only when no valid request failed, every
attack got its expected answer, the memory came back within --max-growth-mb of its start
and no file was left behind.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import random
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.load_test import (
    MemorySampler,
    build_jobs,
    call,
    make_inputs,
    percentile,
    report,
    run_round,
    verdict,
)
from harness.app_harness import (
    MATTE_SETTINGS,
    NOT_AN_UPLOAD,
    api_client,
    clean_env,
    cut_off_uploads,
    fn_index,
    launch_app,
    queue_call,
)
from harness.bad_media import (
    _mjpeg,
    bomb_png,
    ico_with_lying_directory,
    jpeg_scan_bomb,
    make_videos,
    png_with_damaged_exif,
    sound_bomb,
)
from humanmatting.video import encode_frames

REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Attack:
    name: str
    send: object  # () -> (answered as expected, what came back)


@dataclass
class Outcome:
    attack: str
    seconds: float
    ok: bool
    detail: str


def attack_files(folder: Path) -> dict[str, Path]:
    """The attack files, written once."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    files = {}
    noise = Image.fromarray(rng.integers(0, 256, (600, 800, 3), np.uint8))
    noise.save(folder / "holiday.jpg", "QOI")  # a QOI named .jpg
    files["qoi"] = folder / "holiday.jpg"
    (folder / "icon.png").write_bytes(ico_with_lying_directory(bomb_png(13000, 13000)))
    files["ico"] = folder / "icon.png"
    (folder / "scans.jpg").write_bytes(jpeg_scan_bomb())
    files["scan-bomb"] = folder / "scans.jpg"
    Image.new("L", (1_000_001, 1)).save(folder / "panorama.png")
    files["too-wide"] = folder / "panorama.png"
    photo = rng.integers(0, 256, (480, 640, 3), np.uint8)
    (folder / "exif.png").write_bytes(png_with_damaged_exif(photo))
    files["damaged-exif"] = folder / "exif.png"
    y, x = np.mgrid[0:3000, 0:4000]
    for index in range(4):  # 12 MP backgrounds, each different
        picture = np.stack([(x + index * 50) % 256, y % 256, (x ^ y) % 256], -1).astype(np.uint8)
        Image.fromarray(picture).save(folder / f"background{index}.jpg", quality=80)
        files[f"background{index}"] = folder / f"background{index}.jpg"
    videos = make_videos(folder / "videos")
    files.update({name: videos[name] for name in ("huge-frames.avi", "cut-short.avi")})
    (folder / "secret.png").write_bytes(b"\x89PNG not for visitors " + os.urandom(16))
    files["secret"] = folder / "secret.png"
    clip = _mjpeg(100, fps=10)
    (folder / "stops-early.avi").write_bytes(clip[: len(clip) // 3])
    files["stops-early"] = folder / "stops-early.avi"
    # Issue 29.
    files["sound-bomb"] = sound_bomb(folder / "sound-bomb.mp4", minutes=10)
    Image.fromarray(rng.integers(0, 256, (1000, 1000, 3), np.uint8)).save(folder / "square.png")
    files["square"] = folder / "square.png"
    Image.new("RGB", (1, 1000), "teal").save(folder / "strip.png")
    files["strip"] = folder / "strip.png"
    Image.new("L", (6300, 6300)).save(folder / "zeros.png")  # 39.7 MP in about 40 kB
    files["zeros"] = folder / "zeros.png"
    encode_frames((np.zeros((480, 640, 3), np.uint8) for _ in range(300)), folder / "ten.mp4", 30)
    files["ten-seconds"] = folder / "ten.mp4"
    (folder / "noise.bin").write_bytes(os.urandom(2_000_000))
    files["noise"] = folder / "noise.bin"
    return files


def png_data_url(width: int, height: int) -> dict:
    """A frame of zeros as a PNG data: URL, as a camera sends one."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height)).save(buffer, "PNG")
    return {"url": "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()}


WEBCAM_SETTINGS = ["dark-light", "blur", "#00b140", None, 15, "soft", True, 320]
FILE_META = {"_type": "gradio.FileData"}


def attacks(url: str, port: int, files: dict[str, Path], client) -> list[Attack]:
    import httpx
    from gradio_client import handle_file

    matte = fn_index(url, "matte")
    secret = files["secret"].read_bytes()

    def refused(path: Path, expected: str, endpoint="/matte", **options):
        def send():
            try:
                client.predict(handle_file(str(path)), api_name=endpoint, **options)
            except Exception as error:  # the AppError with the message
                return expected in str(error), str(error).splitlines()[0][:120]
            return False, "answered without an error"

        return send

    def served(path: Path, endpoint="/matte", **options):
        def send():
            try:
                client.predict(handle_file(str(path)), api_name=endpoint, **options)
            except Exception as error:
                return False, str(error).splitlines()[0][:120]
            return True, "served"

        return send

    def file_read():
        answers = [
            queue_call(url, matte, [{"path": path}, *MATTE_SETTINGS], timeout_s=30)
            for path in (str(files["secret"]), "/etc/hostname", "/no/such/file.png")
        ]
        same = {answer.error for answer in answers}
        leaked = any(secret[4:24] in answer.raw for answer in answers)
        ok = len(same) == 1 and NOT_AN_UPLOAD in (same.pop() or "") and not leaked
        return ok, "refused, same words, no byte" if ok else f"{answers[0].error}, {leaked=}"

    def huge_body():
        body = b'{"data": [{"url": "data:image/png;base64,' + b"A" * (60 * 2**20) + b'"}]}'
        answer = queue_call(url, matte, [], body=body)
        return answer.status == 413, f"HTTP {answer.status}"

    def data_url_bomb():
        data = base64.b64encode(bomb_png(13000, 13000)).decode()
        answer = queue_call(url, matte, [{"url": "data:image/png;base64," + data}, *MATTE_SETTINGS])
        return "169,000,000 pixels" in (answer.error or ""), (answer.error or "")[:120]

    def cut_off():
        cut_off_uploads(port, 5, declared=20_000_000, sent=2_000_000, pause_s=0.2)
        return True, "5 cut off (leftovers checked after the run)"

    def backgrounds():
        for index in range(4):
            background = handle_file(str(files[f"background{index}"]))
            client.predict(
                handle_file(str(files["damaged-exif"])),
                background="image",
                picture=background,
                api_name="/matte",
            )
        return True, "4 distinct 12 MP backgrounds served"

    def camera_sessions():
        frame = png_data_url(2000, 2000)
        webcam = fn_index(url, "webcam")
        for _ in range(3):  # new sessions, each left after its first answer
            answer = queue_call(
                url,
                webcam,
                [frame, *WEBCAM_SETTINGS, None],
                until=("process_streaming", "process_completed"),
            )
            if not answer.messages or "output" not in answer.messages[-1]:
                return False, f"no frame back: {answer.messages[-1:]}"
        return True, "3 sessions of a 2000x2000 frame served and left"

    def strip_background():
        client.predict(
            handle_file(str(files["square"])),
            background="image",
            picture=handle_file(str(files["strip"])),
            api_name="/matte",
        )
        return True, "1x1000 background behind 1000x1000 served"

    def cancelled_video():
        session = os.urandom(8).hex()
        index = fn_index(url, "matte_video")
        video = {"path": client_upload(files["ten-seconds"]), "meta": FILE_META}
        payload = {
            "data": [video, None, "matte", "#00b140", None, 15, "soft", True],
            "fn_index": index,
            "session_hash": session,
            "trigger_id": None,
        }
        with httpx.Client(base_url=url, timeout=120) as http:
            event_id = http.post("gradio_api/queue/join", json=payload).json()["event_id"]
            with http.stream("GET", "gradio_api/queue/data", params={"session_hash": session}) as s:
                for line in s.iter_lines():
                    if line.startswith("data:") and json.loads(line[5:])["msg"] in (
                        "progress",
                        "process_completed",
                    ):
                        break
            cancel = {"session_hash": session, "fn_index": index, "event_id": event_id}
            status = http.post("gradio_api/cancel", json=cancel).status_code
        return status == 200, f"cancelled (HTTP {status})"

    def many_pixels():
        answers = []

        def one():
            try:
                client.predict(handle_file(str(files["zeros"])), api_name="/matte")
                answers.append("served")
            except Exception as error:
                answers.append(str(error).splitlines()[0][:80])

        threads = [threading.Thread(target=one) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        refusals = ("Another large photo", "the limit of")  # the lane, or the pixel limit
        ok = all(a == "served" or any(r in a for r in refusals) for a in answers)
        return ok, f"{answers.count('served')} of 4 served, others refused at once"

    def trickling():
        import socket

        connections = []
        for _ in range(100):
            connection = socket.create_connection(("127.0.0.1", port), timeout=5)
            connection.sendall(b"GET /config HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: a")
            connections.append(connection)
        deadline, closed = time.monotonic() + 25, 0
        while connections and time.monotonic() < deadline:
            for connection in list(connections):
                try:
                    connection.sendall(b"a")
                    connection.settimeout(0.01)
                    gone = connection.recv(1) == b""
                except TimeoutError:
                    gone = False
                except OSError:
                    gone = True
                if gone:
                    connections.remove(connection)
                    connection.close()
                    closed += 1
            time.sleep(1)
        for connection in connections:
            connection.close()
        return not connections, f"{closed} of 100 closed by the server"

    def other_uploads():
        with open(files["noise"], "rb") as file:
            upload = httpx.post(f"{url}gradio_api/upload", files={"files": file}, timeout=30)
        with open(files["noise"], "rb") as file:
            recording = httpx.post(
                f"{url}gradio_api/process_recording",
                files={"video": ("screen.mp4", file)},
                timeout=30,
            )
        ok = upload.status_code == 400 and recording.status_code == 404
        return ok, f"upload HTTP {upload.status_code}, process_recording {recording.status_code}"

    def wrong_types():
        answer = queue_call(url, matte, [123, *MATTE_SETTINGS], timeout_s=30)
        return "is not an image" in (answer.error or ""), (answer.error or "")[:120]

    def big_data_urls():
        blob = "data:image/png;base64," + base64.b64encode(os.urandom(6_000_000)).decode()
        for _ in range(3):
            answer = queue_call(url, matte, [{"url": blob}, *MATTE_SETTINGS], timeout_s=60)
        return "Cannot read the uploaded data" in (answer.error or ""), (answer.error or "")[:80]

    def monitoring():
        status = httpx.get(f"{url}monitoring/summary", timeout=10).status_code
        return status in (403, 404), f"HTTP {status}"

    def client_upload(path: Path) -> str:
        with open(path, "rb") as file:
            response = httpx.post(f"{url}gradio_api/upload", files={"files": file}, timeout=60)
        response.raise_for_status()
        return response.json()[0]

    return [
        Attack("sound bomb video (valid)", served(files["sound-bomb"], "/matte_video")),
        Attack("camera sessions left", camera_sessions),
        Attack("1x1000 background (valid)", strip_background),
        Attack("cancelled video", cancelled_video),
        Attack("39.7 MP PNG x4", many_pixels),
        Attack("trickled headers", trickling),
        Attack("other uploads", other_uploads),
        Attack("wrong value types", wrong_types),
        Attack("8 MB data: URLs", big_data_urls),
        Attack("monitoring", monitoring),
        Attack("file read", file_read),
        Attack("60 MB body", huge_body),
        Attack("data: URL bomb", data_url_bomb),
        Attack("QOI named .jpg", refused(files["qoi"], "Cannot read holiday.jpg as an image")),
        Attack("lying ICO", refused(files["ico"], "Cannot read icon.png as an image")),
        Attack("1000-scan JPEG", refused(files["scan-bomb"], "more than 100 scans")),
        Attack("1000001x1 PNG", refused(files["too-wide"], "at most 1,000,000 pixels a side")),
        Attack("damaged EXIF (valid)", served(files["damaged-exif"])),
        Attack("cut-off uploads", cut_off),
        Attack("12 MP backgrounds (valid)", backgrounds),
        Attack(
            "5760x5760 video",
            refused(
                files["huge-frames.avi"], "frames of 5760x5760", "/matte_video", background="matte"
            ),
        ),
        Attack(
            "truncated video",
            refused(
                files["stops-early"], "damaged or truncated", "/matte_video", background="matte"
            ),
        ),
    ]


def attacker(attack_list, outcomes: list, stop: threading.Event, rng: random.Random) -> None:
    """Sends every attack, in a new order each pass, pass after pass until `stop` (the
    pass under way is finished, so each round sees each attack at least once)."""
    while not stop.is_set():
        for attack in rng.sample(attack_list, len(attack_list)):
            started = time.perf_counter()
            try:
                ok, detail = attack.send()
            except Exception as error:  # the attack itself broke: a connection error, ...
                ok, detail = False, f"{type(error).__name__}: {str(error)[:100]}"
            outcomes.append(Outcome(attack.name, time.perf_counter() - started, ok, detail))


def report_attacks(outcomes: list[Outcome]) -> list[str]:
    by_attack = defaultdict(list)
    for outcome in outcomes:
        by_attack[outcome.attack].append(outcome)
    print("\nattacks:")
    problems = []
    for name, results in by_attack.items():
        failed = [r for r in results if not r.ok]
        seconds = [r.seconds for r in results]
        print(
            f"  {name:>26}: {len(results):3d} sent, {len(failed)} unexpected, "
            f"p50 {percentile(seconds, 50):6.0f} ms, max {max(seconds) * 1e3:6.0f} ms; "
            f"{(failed or results)[0].detail}"
        )
        problems += [f"attack {name}: {r.detail}" for r in failed]
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", required=True, help="start app.py with these weights")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--requests", type=int, default=200, help="photo requests in all")
    parser.add_argument("--bursts", type=int, default=8, help="webcam-style bursts in all")
    parser.add_argument("--burst-frames", type=int, default=10)
    parser.add_argument("--request-timeout", type=float, default=120)
    parser.add_argument("--max-seconds", type=float, default=900)
    parser.add_argument("--max-growth-mb", type=float, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--settle-s",
        type=float,
        default=3.0,
        help="seconds after the rounds before the memory is read (issue 29 asks for 60)",
    )
    parser.add_argument(
        "--max-pixels",
        type=int,
        help="the server's HUMANMATTING_MAX_PIXELS (default: its own, 40 MP; one photo of "
        "40 MP holds about 560 MiB while it is matted)",
    )
    parser.add_argument(
        "--cgroup",
        type=Path,
        help="a memory cgroup folder (made beforehand, with its limit set) to move the "
        "server into once it serves, so that a regression shows as a kill, not as swap",
    )
    args = parser.parse_args(argv)
    args.endpoint = args.burst_endpoint = "/matte"
    args.requests = args.requests * 2 // args.rounds  # build_jobs sends half per round

    workdir = Path(tempfile.mkdtemp(prefix="attack-load-test-"))
    temp = workdir / "tmp"  # the app's $TMPDIR: everything it writes goes below
    temp.mkdir()
    photos, frames, broken = make_inputs(workdir)
    files = attack_files(workdir / "attacks")
    env = clean_env(PYTHONPATH=str(REPO_ROOT), TMPDIR=str(temp), HF_HOME=str(workdir / "hf"))
    if args.max_pixels:
        env["HUMANMATTING_MAX_PIXELS"] = str(args.max_pixels)
    app = launch_app(REPO_ROOT / "app.py", workdir / "app", ["--weights", args.weights], env)
    pid = app.process.pid
    print(f"started app.py at {app.url} (pid {pid}); log: {app.output}")
    if args.cgroup is not None:
        (args.cgroup / "cgroup.procs").write_text(str(pid))
        print(f"moved the server into the cgroup {args.cgroup}")
    problems: list[str] = []
    memory: dict[str, float] = {}
    sampler = MemorySampler(pid)
    outcomes: list[Outcome] = []
    deadline = time.monotonic() + args.max_seconds
    try:
        client = api_client(app.url)
        for path in [*photos.values(), frames[0]]:  # warm-up, as load_test.py
            call(client, args.endpoint, path, args.request_timeout)
        attack_list = attacks(app.url, app.port, files, api_client(app.url))
        # ... and what the attacks use in their valid form: the video lane's model, the
        # background pictures' cache (at most 64 MB by design), the camera's model, so that
        # what is measured after the rounds is what the attacks left, not the warm state.
        warm = {attack.name: attack for attack in attack_list}
        assert warm["12 MP backgrounds (valid)"].send()[0]
        # The camera's model (its own interpreters) and its sessions' budget (32 MB).
        assert warm["camera sessions left"].send()[0]
        from gradio_client import handle_file

        good_video = make_videos(workdir / "good")["good.avi"]
        client.predict(handle_file(str(good_video)), background="matte", api_name="/matte_video")
        clients = [api_client(app.url) for _ in range(args.clients)]
        time.sleep(2.0)
        memory["after warm-up"] = sampler.rss() / 2**20
        sampler.start()
        rng = random.Random(args.seed)
        for round_number in range(1, args.rounds + 1):
            stop = threading.Event()
            thread = threading.Thread(
                target=attacker, args=(attack_list, outcomes, stop, rng), daemon=True
            )
            thread.start()
            jobs = build_jobs(photos, frames, broken, args, rng)
            expected = sum(len(job.files) for job in jobs)
            stats, seconds = run_round(clients, jobs, args, deadline)
            stop.set()
            thread.join(args.request_timeout)
            problems += report(f"round {round_number}", stats, seconds, expected)
        time.sleep(args.settle_s)  # let the last responses be freed
        memory["peak during the rounds"] = sampler.peak / 2**20
        memory["after the rounds"] = sampler.rss() / 2**20
        call(client, args.endpoint, photos["640x480"], args.request_timeout)  # still serves
    except Exception as error:
        problems.append(f"run aborted: {type(error).__name__}: {error}")
    finally:
        sampler.stopped.set()
        if app.process.poll() is not None:
            problems.append(f"the server died (status {app.process.returncode}): killed?")
        app.stop()  # SIGTERM
    problems += report_attacks(outcomes)
    print(
        "\nserver memory (RSS): "
        + ", ".join(f"{key} {value:.0f} MiB" for key, value in memory.items())
    )
    if "after the rounds" in memory:
        growth = memory["after the rounds"] - memory["after warm-up"]
        print(f"  after the rounds vs after warm-up: {growth:+.0f} MiB")
        if growth > args.max_growth_mb:
            problems.append(f"memory grew {growth:.0f} MiB (> {args.max_growth_mb:g})")
    left = sorted(str(path.relative_to(temp)) for path in temp.rglob("*"))
    print(f"\nthe app's temporary folder {temp} after it stopped: {left}")
    if [name for name in left if name != "humanmatting-app"]:
        problems.append(f"{len(left) - 1} files or folders left behind")
    if "Traceback" in app.log():
        problems.append(f"a traceback in the app's log {app.output}")
    success = "no failed valid request, every attack answered as expected, nothing left"
    return verdict(problems, success, shown=30)


if __name__ == "__main__":
    sys.exit(main())
