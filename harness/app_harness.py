"""The harness that tests and benchmarks share: start app.py as a person would (a
subprocess on 127.0.0.1), wait until it serves, call its API (gradio_client, or raw HTTP as
the page sends it), drive its page in Chromium, and read what the process used."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO_ROOT / "test-artifacts"
AUDITED_RUN = Path(__file__).with_name("audited_run.py")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]


def cpu_seconds(processes) -> float:
    """User + system CPU seconds of psutil processes so far (ended ones count nothing)."""
    import psutil

    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def browser_processes() -> list:
    """The Chromium processes this process started (psutil), for their CPU time."""
    import psutil

    return [child for child in psutil.Process().children(recursive=True) if "chrom" in child.name()]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (the OS picks it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_serving(
    url: str,
    process: subprocess.Popen | None = None,
    timeout_s: float = 120,
    poll_s: float = 0.3,
    log: Path | None = None,
) -> None:
    """Poll `url` until it answers 200 (the app's page: its start-up is over).

    Raises RuntimeError, with the log's text, as soon as `process` exits, and TimeoutError
    after `timeout_s`. `poll_s` is the time resolution of what is measured from launch.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            output = log.read_text(errors="replace") if log else ""
            raise RuntimeError(f"the app exited with status {process.returncode}:\n{output}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(poll_s)
    output = log.read_text(errors="replace") if log else ""
    raise TimeoutError(f"{url} did not answer within {timeout_s} s:\n{output}")


@dataclass
class RunningApp:
    process: subprocess.Popen
    url: str
    output: Path  # stdout + stderr
    audit: Path  # JSON lines: non-loopback connections, forbidden imports
    launched: float  # time.perf_counter() just before the process started
    started_s: float = 0.0  # launch to first served page

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1].strip("/"))

    def log(self) -> str:
        return self.output.read_text(errors="replace")

    def audit_events(self) -> list[dict]:
        if not self.audit.exists():
            return []
        return [json.loads(line) for line in self.audit.read_text().splitlines() if line]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> RunningApp:  # `with launch_app(...) as app:` stops it at the end
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()


def launch_app(
    app_path: Path,
    workdir: Path,
    args: list[str],
    env: dict[str, str],
    timeout_s: float = 120,
    audited: bool = True,
    poll_s: float = 0.3,
) -> RunningApp:
    """Run `python app_path --port N ARGS` in app_path's folder and wait until it serves.

    `audited`: under harness/audited_run.py, which records what the app must never do (reach
    past loopback, import TensorFlow) for `RunningApp.audit_events`; benchmarks that time
    or weigh the app itself run it plainly.
    """
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    output = workdir / f"app-{port}.log"
    audit = workdir / f"audit-{port}.jsonl"
    runner = [str(AUDITED_RUN), str(audit)] if audited else []
    command = [sys.executable, *runner, str(app_path), "--port", str(port), *args]
    with open(output, "wb") as sink:
        launched = time.perf_counter()
        process = subprocess.Popen(
            command,
            cwd=app_path.parent,
            env={**env, "PYTHONUNBUFFERED": "1"},
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    app = RunningApp(process, f"http://127.0.0.1:{port}/", output, audit, launched)
    try:
        wait_until_serving(app.url, process, timeout_s, poll_s, output)
    except TimeoutError:
        app.stop()
        raise
    app.started_s = time.perf_counter() - launched
    return app


def api_client(url: str, downloads: Path | None = None):
    """A quiet gradio_client Client of the app at `url`; the files it receives are
    downloaded to `downloads` (None: not downloaded, their server paths are returned)."""
    from gradio_client import Client

    return Client(url, verbose=False, download_files=str(downloads) if downloads else False)


def wait_for_text(
    page,
    selector: str,
    text: str,
    prop: str = "textContent",
    exact: bool = False,
    timeout_ms: float = 60_000,
) -> None:
    """Wait until the page's `selector` element has `text` in its `prop` (textContent,
    innerText, value): equal to it with `exact`, else containing it.

    Null-safe: Gradio renders and re-renders its components while the page runs, so an
    element or property not there yet counts as "not yet", never as an error.
    """
    predicate = (
        "([selector, prop, text, exact]) => {"
        " const value = document.querySelector(selector)?.[prop];"
        " return typeof value === 'string' && (exact ? value === text : value.includes(text));"
        " }"
    )
    page.wait_for_function(predicate, arg=[selector, prop, text, exact], timeout=timeout_ms)


def wait_until_camera_ready(page, timeout_ms: float = 120_000) -> None:
    """Wait until the Webcam tab's in-browser camera (web/) has loaded its model."""
    ready = "Ready: press Start the camera."
    wait_for_text(page, "#browser-camera .hm-readout", ready, exact=True, timeout_ms=timeout_ms)


# /matte's inputs after the photo, in the order the page sends them: model, background, colour,
# background picture, blur, edges, download format, quality.
MATTE_SETTINGS = ["dark-light", "transparent", "#00b140", None, 15, "soft", "png", "best"]
# The app's one answer to a file payload that is not one of its uploads, whatever it names.
NOT_AN_UPLOAD = "The file was not uploaded to this server (or is gone); upload it again."


@dataclass
class QueueAnswer:
    """What the server answered one event sent to /gradio_api/queue/join (as the page does)."""

    status: int  # of the join request: 200, 413 (body too large), 503 (queue full), ...
    messages: list[dict]  # the event's messages from /gradio_api/queue/data, in order
    raw: bytes  # every byte the server sent for the join and the event stream

    @property
    def final(self) -> dict:
        return next((m for m in self.messages if m.get("msg") == "process_completed"), {})

    @property
    def error(self) -> str | None:
        """The gr.Error message (None when the event succeeded or never ran)."""
        final = self.final
        if final and not final.get("success"):
            output = final.get("output") or {}
            return str(output.get("error") or final.get("title") or "error")
        return None

    @property
    def data(self) -> list | None:
        final = self.final
        return (final.get("output") or {}).get("data") if final.get("success") else None


def fn_index(url: str, api_name: str) -> int:
    """The index of the event handler called `api_name` in the app's /config."""
    with urllib.request.urlopen(f"{url}config", timeout=10) as response:
        config = json.load(response)
    for dependency in config["dependencies"]:
        if dependency.get("api_name") == api_name.lstrip("/"):
            return dependency["id"]
    raise KeyError(api_name)


def queue_call(
    url: str,
    index: int,
    data: list,
    timeout_s: float = 60,
    body: bytes | None = None,
    until: tuple[str, ...] = ("process_completed", "unexpected_error"),
) -> QueueAnswer:
    """POST one event to /gradio_api/queue/join with raw HTTP (no gradio_client, so the
    payload is exactly `data`, or the bytes `body`), then read its event stream until the
    event completes (a message in `until`: add "process_streaming" to hang up after a
    stream's first answer) or `timeout_s` passes."""
    import secrets

    import httpx

    session = secrets.token_hex(8)
    if body is None:
        payload = {"data": data, "fn_index": index, "session_hash": session, "trigger_id": None}
        body = json.dumps(payload).encode()
    raw = bytearray()
    with httpx.Client(base_url=url, timeout=timeout_s) as client:
        join = client.post(
            "gradio_api/queue/join", content=body, headers={"content-type": "application/json"}
        )
        raw += join.content
        if join.status_code != 200:
            return QueueAnswer(join.status_code, [], bytes(raw))
        messages = []
        deadline = time.monotonic() + timeout_s
        params = {"session_hash": session}
        with client.stream("GET", "gradio_api/queue/data", params=params) as stream:
            for line in stream.iter_lines():
                raw += line.encode() + b"\n"
                if line.startswith("data:"):
                    message = json.loads(line[5:])
                    messages.append(message)
                    if message.get("msg") in until:
                        break
                if time.monotonic() > deadline:
                    break
    return QueueAnswer(join.status_code, messages, bytes(raw))


def upload_part(boundary: str, filename: str) -> bytes:
    """The head of one multipart/form-data file part of /gradio_api/upload's "files"."""
    return (
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{filename}"'
        "\r\nContent-Type: image/png\r\n\r\n"
    ).encode()


def cut_off_uploads(
    port: int, count: int, declared: int, sent: int, pause_s: float, boundary: str = "cut-off"
) -> None:
    """`count` uploads that announce `declared` bytes, send `sent` of them and hang up
    (after `pause_s`, in which the server writes what came to a temporary file)."""
    head = (
        b"POST /gradio_api/upload HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        + f"Content-Type: multipart/form-data; boundary={boundary}\r\n".encode()
        + f"Content-Length: {declared}\r\n\r\n".encode()
        + upload_part(boundary, "big.png")
    )
    for _ in range(count):
        with socket.create_connection(("127.0.0.1", port)) as connection:
            connection.sendall(head + b"\0" * sent)
            time.sleep(pause_s)


def memory_mib(pid: int) -> tuple[float, float]:
    """(resident, peak resident) memory of a process in MiB: VmRSS and VmHWM (Linux)."""
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    fields = dict(line.split(":", 1) for line in status if ":" in line)
    return tuple(int(fields[key].split()[0]) / 1024 for key in ("VmRSS", "VmHWM"))


def tensorflow_loaded(pid: int) -> bool:
    """Whether TensorFlow's native library is mapped into a process (Linux)."""
    maps = Path(f"/proc/{pid}/maps").read_text()
    return "libtensorflow" in maps or "_pywrap_tensorflow" in maps


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without this session's weights/Hub settings, plus `extra`."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("HUMANMATTING_", "GRADIO_", "HF_")) and key != "PYTHONPATH"
    }
    env.update(extra)
    return env
