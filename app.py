"""humanmatting in the browser: photos, the live camera and videos, plus a named-endpoint API.

    python app.py [--weights DIR] [--download] [--port 7860]    (or: humanmatting app ...)

Everything runs on this machine: no analytics, no share link, no run history in the
browser, no request to the internet (weights come from --weights, $HUMANMATTING_WEIGHTS_DIR
or the Hugging Face cache; the Hub only with --download or on a Hugging Face Space).
The app is the package's app layer, humanmatting/app/; this file (what a Hugging Face
Space runs) only starts it, with examples/ and web/dist beside it.
"""

import sys
import time
from pathlib import Path

STARTED_AT = time.perf_counter()

from humanmatting.app import server  # noqa: E402 (after the clock starts)

if __name__ == "__main__":
    server.main(sys.argv[1:], root=Path(__file__).resolve().parent, started=STARTED_AT)
