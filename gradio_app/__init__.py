"""The Gradio app layer, on top of the runtime (nothing in `humanmatting` imports it).

- `server`: the start (settings, the server's own temporary folder, models, launch);
  app.py only calls it. `settings`: the HUMANMATTING_* variables and options, read once.
- `page` assembles the tabs, one module each in `tabs/` (image, webcam with the in-browser
  camera, video), from the shared `controls` and the Gradio subclasses in `components`.
- `errors` and `uploads`: how failures and uploaded files are handled for every request.
- `serving`: the request policy, without UI code (model registry, backgrounds, output
  folders, request limits, video and stream sessions); `browser`: what the in-browser
  camera needs from the server; `heap`: heap trimming for long-running servers.
"""
