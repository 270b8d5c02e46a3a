"""The in-browser camera (web/; built by `npm ci && npm run build` there, never committed).

The page runs the server's own model files with LiteRT.js, so no camera frame leaves the
visitor's device and every visitor's device does its own work. The server only hands out
files: web/dist, camera.json (its preprocessing facts) and the model files.
"""

from __future__ import annotations

import html
from pathlib import Path

import gradio as gr
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from humanmatting.app import browser, stream
from humanmatting.app.components import Radio
from humanmatting.app.registry import ModelRegistry
from humanmatting.compose import DEFAULT_BACKGROUND
from humanmatting.pipeline import EDGES

# Chromium's fake camera (and many webcams) default to 1920x1440: 640x480 is what makes
# live matting fluid, because frame transfer dominates the streaming path.
WEBCAM_OPTIONS = gr.WebcamOptions(constraints={"video": {"width": 640, "height": 480}})
WEB_ROUTES = "humanmatting"  # humanmatting/web/..., humanmatting/camera.json, .../models/
WHERE_CHOICES = [
    ("In this browser: no frame leaves your device", "browser"),
    ("On the server: frames are sent to it and come back matted", "server"),
]
# Runs in the page on load and whenever a setting changes: no request to the server.
CONFIGURE_JS = """
(model, background, color, image, blur, edges, smoothing, size, where) => {
  const settings = {model, background, color, image, blur, edges, smoothing, size, where};
  if (window.humanmattingWebcam) window.humanmattingWebcam.configure(settings);
  else window.humanmattingWebcamSettings = {
    ...(window.humanmattingWebcamSettings || {}), ...settings};
  return [];
}
"""
# The panel hands itself to web/src/webcam.js once that has loaded; if it never does (the
# script could not be fetched), the tab says so and uses the server's stream.
PANEL_JS = """
const attach = () => window.humanmattingWebcam.attach(element);
if (window.humanmattingWebcam) attach();
else {
  window.addEventListener('humanmatting-webcam-ready', attach, {once: true});
  setTimeout(() => {
    if (window.humanmattingWebcam) return;
    const note = document.querySelector('#webcam-note .hm-note');
    if (note) note.textContent = 'In-browser matting is not available (its script did not load); '
      + 'the camera is matted on the server instead.';
    const server = document.querySelector('#webcam-where input[value="server"]');
    if (server && !server.checked) server.click();
  }, 20000);
}
"""
PANEL_HTML = """
<div class="hm-panel">
  <div class="hm-bar">
    <button class="hm-start" type="button">Start the camera</button>
    <label class="hm-refine"><input type="checkbox" checked> Refine edges</label>
    <span class="hm-readout">Loading the in-browser model…</span>
  </div>
  <canvas class="hm-output" width="640" height="480"></canvas>
</div>
"""
PANEL_CSS = """
.hm-bar { display: flex; flex-wrap: wrap; gap: 0.5em 0.75em; align-items: center;
  margin-bottom: 0.5em; }
.hm-start { padding: 0.4em 1em; border-radius: 6px; white-space: nowrap;
  border: 1px solid var(--button-primary-border-color);
  background: var(--button-primary-background-fill); color: var(--button-primary-text-color); }
.hm-refine { white-space: nowrap; font-size: 0.9em; }
.hm-readout { font-size: 0.9em; flex: 1 1 18em; }
.hm-output { width: 100%; height: auto; background: #222; border-radius: 6px; }
"""
BUILT_NOTE = "The camera is matted in this browser: no frame leaves this device."
NOT_BUILT_NOTE = (
    "In-browser matting is not built on this server (npm ci && npm run build in web/); "
    "the camera is matted on the server."
)


def camera_json(registry: ModelRegistry, models: dict) -> bytes:
    """camera.json: the server's preprocessing facts, for the page to compute the same matte."""
    camera = WEBCAM_OPTIONS.constraints["video"]
    return browser.config_json(
        browser.camera_config(
            models,
            registry.default_for_frames,
            camera=(camera["width"], camera["height"]),
            mirror=WEBCAM_OPTIONS.mirror,
            smoothing_weight=stream.StreamSession().smoother.weight,
            hard_threshold=EDGES["hard"],
            default_background=DEFAULT_BACKGROUND,
        )
    )


def routes(registry: ModelRegistry, web_dist: Path) -> list:
    """The files the in-browser camera loads: camera.json, each model's TFLite file (the one
    the server runs) and, when built, `web_dist`. Starlette routes, ahead of Gradio's own."""
    models = browser.browser_models({name: registry.folders[name] for name in registry.available})
    config = camera_json(registry, models)

    async def send_config(request):
        headers = {"cache-control": "no-cache"}
        return Response(config, media_type="application/json", headers=headers)

    async def send_model(request):
        model = models.get(request.path_params["name"])
        if model is None:
            return Response("No such model on this server.", 404, media_type="text/plain")
        return FileResponse(model.path, media_type="application/octet-stream")

    served = [
        Route(f"/{WEB_ROUTES}/camera.json", send_config),
        Route(f"/{WEB_ROUTES}/models/{{name}}.tflite", send_model),
    ]
    if browser.built(web_dist):
        served.append(Mount(f"/{WEB_ROUTES}/web", app=StaticFiles(directory=web_dist)))
    return served


def where_choice(built: bool) -> tuple[gr.Radio, gr.HTML]:
    """Where the camera is matted (in the browser by default, when web/ is built) and the
    one line that says how it goes (web/src/webcam.js rewrites it)."""
    where = Radio(
        WHERE_CHOICES,
        value="browser" if built else "server",
        label="Where the camera is matted",
        elem_id="webcam-where",
        interactive=built,
    )
    text = BUILT_NOTE if built else NOT_BUILT_NOTE
    note = gr.HTML(f'<p class="hm-note">{html.escape(text)}</p>', elem_id="webcam-note")
    return where, note


def panel(built: bool) -> gr.HTML:
    """The in-browser camera: its picture, start button and readout."""
    return gr.HTML(
        PANEL_HTML,
        head=f'<script src="{WEB_ROUTES}/web/webcam.js"></script>' if built else None,
        js_on_load=PANEL_JS if built else None,
        css_template=PANEL_CSS,
        elem_id="browser-camera",
        visible=built,
    )


def parts_shown(where: str) -> list:
    """Updates for [the browser's panel, the server's camera, the server's result column]."""
    in_browser = where == "browser"
    return [gr.update(visible=in_browser)] + [gr.update(visible=not in_browser)] * 2


def wire(where: gr.Radio, panel: gr.HTML, server_parts: tuple, settings: list) -> None:
    """Hand the `settings` to the page's camera on load and on every change (js only:
    nothing is sent), and show the browser's panel or the server's stream (`server_parts`:
    its camera and its result column) when `where` changes."""
    gr.on(None, None, [*settings, where], None, js=CONFIGURE_JS, api_visibility="private")
    where.change(parts_shown, where, [panel, *server_parts], queue=False, api_visibility="private")
