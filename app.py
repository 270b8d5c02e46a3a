"""humanmatting in the browser: photos, the live camera and videos, plus a named-endpoint API.

    python app.py [--weights DIR] [--download] [--port 7860]

Everything runs on this machine: no analytics, no share link, no run history in the
browser, no request to the internet (weights come from --weights, $HUMANMATTING_WEIGHTS_DIR
or the Hugging Face cache; the Hub only with --download or on a Hugging Face Space).
The page is built by the app layer, gradio_app/ (gradio_app/page.py and one module per
tab in gradio_app/tabs/); this file only starts it.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

STARTED_AT = time.perf_counter()
# Before Gradio is imported: it reads these at import time.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

from gradio_app import server  # noqa: E402

if __name__ == "__main__":
    server.main(sys.argv[1:], root=Path(__file__).resolve().parent, started=STARTED_AT)
