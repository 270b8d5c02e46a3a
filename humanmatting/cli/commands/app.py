"""`humanmatting app [options]`: serve the Gradio app, as python app.py does (humanmatting.app,
imported when it runs; the [app] extra). The app parses its own options, --help included."""

from __future__ import annotations

import time

SUMMARY = "serve the Gradio app, as python app.py does [app]"


def main(argv: list[str]) -> int:
    """Serve until stopped; the app exits with status 2 itself on a bad start."""
    started = time.perf_counter()
    from humanmatting.app import server  # the package sets Gradio's telemetry off first

    server.main(argv, started=started)
    return 0
