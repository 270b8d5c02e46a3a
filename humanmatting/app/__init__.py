"""The Gradio app layer ([app] extra), on top of the runtime (which never imports it).

- `server`: the start (settings, the server's own temporary folder, models, launch);
  app.py and `humanmatting app` only call it. `settings`: the HUMANMATTING_* variables and options,
  read once.
- `page` assembles the tabs, one module each in `tabs/` (image, webcam with the in-browser
  camera, video), from the shared `controls` and the Gradio subclasses in `components`.
- `errors` and `uploads`: how failures and uploaded files are handled for every request.
- The request policy, without UI code, one job a module: `registry` (which models, each
  loaded once per role), `photos` (a photo or compare request, the large-photo lane),
  `videos` (a video request), `stream` (the server's camera stream), `caches` (background
  pictures, mattes), `outputs` (files for the page, download names, previews), `limits`
  (the numbers, VideoLimits), `middleware` (request bodies), `tempfolder` (the server's
  own folder). Each calls the library's one photo pipeline (humanmatting.pipeline) and
  adds only caching, limits and files. `browser`: what the in-browser camera needs from
  the server; `heap`: heap trimming for long-running servers.
"""

import os

# Before Gradio is imported (every module here imports it through this package): it reads
# these at import time. No analytics, no telemetry.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
