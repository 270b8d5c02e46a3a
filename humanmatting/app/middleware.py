"""ASGI middleware: every request body bounded before the application works on it."""

from __future__ import annotations

# Gradio routes this app never uses, answered 404 before their body is read: the screen
# recorder's (each body it got stayed on disk until the server stopped).
UNUSED_ROUTES = ("/process_recording",)
# Upload requests carry a multipart envelope around the file: a few kB at most.
UPLOAD_ENVELOPE_BYTES = 64 * 2**10


class RequestTooLargeError(Exception):
    """A request body went over BodyLimit's limit while it was being read."""


class BodyLimit:
    """ASGI middleware: bounds every request body before the application works on it.

    A body over the limit (`upload_bytes` for file uploads, which the server streams to
    disk; `max_bytes` for everything else, JSON with any data: URLs in it, which is read
    into memory) is answered 413 at once when its Content-Length says so, or as soon as
    that many bytes have arrived. Other bodies are read whole (at most `max_bytes`) before
    the application sees them, so no framework code runs on an over-long one. Gradio
    routes this app never uses (UNUSED_ROUTES) are answered 404 before anything is read.
    """

    def __init__(self, app, max_bytes: int, upload_bytes: int, upload_suffix: str = "/upload"):
        self.app = app
        self.max_bytes = max_bytes
        self.upload_bytes = upload_bytes
        self.upload_suffix = upload_suffix

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if scope["path"].rstrip("/").endswith(UNUSED_ROUTES):
            return await self._refuse(send, 0, 404, "This server has no such page.")
        upload = scope["path"].rstrip("/").endswith(self.upload_suffix)
        limit = self.upload_bytes if upload else self.max_bytes
        headers = dict(scope.get("headers") or ())
        try:
            declared = int(headers.get(b"content-length", b"0"))
        except ValueError:
            declared = 0
        if declared > limit:
            return await self._refuse(send, limit)
        if upload:  # streamed by the application: count as it reads
            return await self._streamed(scope, receive, send, limit)
        body, more = bytearray(), True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > limit:
                return await self._refuse(send, limit)
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _streamed(self, scope, receive, send, limit: int):
        received, started = 0, False

        async def counted():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise RequestTooLargeError
            return message

        async def watched(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except RequestTooLargeError:
            if not started:
                await self._refuse(send, limit)

    @staticmethod
    async def _refuse(send, limit: int, status: int = 413, text: str | None = None):
        text = (
            text
            or f"The request is larger than this server's limit of {limit / 1e6:g} MB; "
            "send a smaller file."
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"content-length", str(len(text)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": text})
