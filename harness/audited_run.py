"""Run a Python script while recording what it must never do: reach past loopback, load TF.

    python harness/audited_run.py LOG SCRIPT [ARGS...]

Python's audit hooks see every socket connection and name lookup and every module import
in the process; the ones that break the app's promises (offline, private, no TensorFlow)
are appended to LOG as JSON lines, which the tests read.
"""

from __future__ import annotations

import ipaddress
import json
import runpy
import sys
from pathlib import Path

LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "0.0.0.0", "", None}
FORBIDDEN_MODULES = ("tensorflow", "keras", "torch")


def is_loopback(host) -> bool:
    if isinstance(host, bytes):
        host = host.decode()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def main() -> None:
    log_path, script, *arguments = sys.argv[1:]
    log = open(log_path, "a", buffering=1)  # noqa: SIM115 - open for the process's lifetime

    def record(kind: str, detail) -> None:
        log.write(json.dumps({"event": kind, "detail": repr(detail)}) + "\n")

    def hook(event: str, args: tuple) -> None:
        if event == "socket.connect":
            address = args[1]
            if isinstance(address, tuple) and not is_loopback(address[0]):
                record("connect", address)
        elif event == "socket.getaddrinfo":
            if not is_loopback(args[0]):
                record("getaddrinfo", args[:2])
        elif event == "import":
            if args[0].split(".")[0] in FORBIDDEN_MODULES:
                record("import", args[0])

    sys.addaudithook(hook)
    sys.argv = [script, *arguments]
    sys.path[0] = str(Path(script).resolve().parent)  # as `python SCRIPT` would
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
