"""The Gradio app layer: the request policy (`serving`: model registry, backgrounds,
output folders, request limits, video and stream sessions), what the in-browser camera
needs from the server (`browser`), heap trimming for long-running servers (`heap`).
app.py builds the page from these; nothing in the runtime imports this package."""
