"""Start app.py as a person would (a subprocess on 127.0.0.1) and drive it from tests."""

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
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class RunningApp:
    process: subprocess.Popen
    url: str
    output: Path  # stdout + stderr
    audit: Path  # JSON lines: non-loopback connections, forbidden imports
    started_s: float  # launch to first served page

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


def launch_app(
    app_path: Path,
    workdir: Path,
    args: list[str],
    env: dict[str, str],
    timeout_s: float = 120,
) -> RunningApp:
    """Run `python app_path --port N ARGS` under the audit hook; wait until it serves."""
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    output = workdir / f"app-{port}.log"
    audit = workdir / f"audit-{port}.jsonl"
    command = [sys.executable, str(AUDITED_RUN), str(audit), str(app_path), "--port", str(port)]
    started = time.perf_counter()
    with open(output, "wb") as sink:
        process = subprocess.Popen(
            command + args,
            cwd=app_path.parent,
            env={**env, "PYTHONUNBUFFERED": "1"},
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    app = RunningApp(process, f"http://127.0.0.1:{port}/", output, audit, 0.0)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"app.py exited with {process.returncode}:\n{app.log()}")
        try:
            with urllib.request.urlopen(app.url, timeout=2) as response:
                if response.status == 200:
                    app.started_s = time.perf_counter() - started
                    return app
        except OSError:
            time.sleep(0.3)
    app.stop()
    raise TimeoutError(f"app.py did not serve {app.url} within {timeout_s} s:\n{app.log()}")


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
    url: str, index: int, data: list, timeout_s: float = 60, body: bytes | None = None
) -> QueueAnswer:
    """POST one event to /gradio_api/queue/join with raw HTTP (no gradio_client, so the
    payload is exactly `data`, or the bytes `body`), then read its event stream until the
    event completes or `timeout_s` passes."""
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
                    if message.get("msg") in ("process_completed", "unexpected_error"):
                        break
                if time.monotonic() > deadline:
                    break
    return QueueAnswer(join.status_code, messages, bytes(raw))


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
