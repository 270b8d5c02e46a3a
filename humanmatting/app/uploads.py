"""What a request may name as its input: files uploaded to this server (never any other
path on its disk) and base64 data: URLs; and no file left behind by a cut-off upload."""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path

import gradio as gr
import gradio.route_utils
import gradio.utils
from starlette.formparsers import MultiPartException
from starlette.requests import ClientDisconnect

from humanmatting.preprocess import IMAGE_SUFFIXES, InvalidImageError
from humanmatting.video import VIDEO_SUFFIXES

# The one answer for a file payload that is not an upload of this server, whether or not
# the path exists, so that it tells nothing about the server's files.
NOT_AN_UPLOAD = "The file was not uploaded to this server (or is gone); upload it again."


def not_an_upload() -> gr.Error:
    return gr.Error(NOT_AN_UPLOAD, print_exception=False)


def uploaded_file(path: str | os.PathLike) -> str:
    """`path` if it is a file uploaded to this server (in Gradio's upload folder, where
    uploads and cached examples live), else a gr.Error that is the same whether or not
    the path exists.

    Every file a request names passes here before it is opened: Gradio checks the files
    of payloads that carry its "meta" key, but an image payload without it reaches the
    component as it was sent, with any path on the server's disk.
    """
    folder = Path(gradio.utils.get_upload_folder()).resolve()
    try:
        resolved = Path(path).resolve()
        inside = resolved.is_relative_to(folder) and resolved.is_file()
    except (OSError, ValueError, TypeError):
        inside = False
    if not inside:
        raise not_an_upload()
    return str(path)  # as sent (inside the folder): messages name it by its file name


def data_url_bytes(url: str) -> bytes:
    """The bytes of a base64 data: URL (its size is bounded by the request body limit)."""
    header, _, data = url.partition(",")
    if ";base64" not in header:
        raise InvalidImageError("The pasted picture is not base64 data; paste it again.")
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidImageError("The pasted picture is damaged (invalid base64).") from None


# What the page's uploads take: photos and background pictures, videos. Any other file is
# refused as its part's headers arrive, before a byte of it is stored.
ACCEPTED_SUFFIXES = frozenset(IMAGE_SUFFIXES | VIDEO_SUFFIXES)
NOT_ACCEPTED = (
    "Only pictures ({images}) and videos ({videos}) can be uploaded to this server."
).format(images=", ".join(sorted(IMAGE_SUFFIXES)), videos=", ".join(sorted(VIDEO_SUFFIXES)))


def accept_only_pictures_and_videos() -> None:
    """Make Gradio's upload parser refuse a file whose name is not a picture's or a
    video's (ACCEPTED_SUFFIXES), as soon as its part's headers are read: the upload route
    stored any bytes (20 x 40 MB of random data in 7 s, kept about an hour). The refusal
    is Gradio's own for a malformed upload (400, with NOT_ACCEPTED); the parser removes
    the file it had opened."""
    parser = gradio.route_utils.GradioMultiPartParser
    if getattr(parser.on_headers_finished, "checks_suffixes", False):
        return
    headers_finished = parser.on_headers_finished

    def check_suffix(self) -> None:
        headers_finished(self)
        upload = self._current_part.file
        if upload is not None and Path(upload.filename or "").suffix.lower() not in (
            ACCEPTED_SUFFIXES
        ):
            raise MultiPartException(NOT_ACCEPTED)

    check_suffix.checks_suffixes = True
    parser.on_headers_finished = check_suffix


def remove_uploads_cut_off() -> None:
    """Make Gradio delete the files of an upload that did not arrive whole.

    Gradio's multipart parser streams each uploaded file into a temporary file in the
    upload folder and deletes it when the upload is malformed or too large, but not when
    the client goes away mid-way (or BodyLimit stops it): 20 cut-off uploads left 210 MiB.
    This wraps the parser (a class of Gradio's, not a component: Gradio offers no hook
    for it) so that any failure deletes them.
    """
    parser = gradio.route_utils.GradioMultiPartParser
    if getattr(parser.parse, "removes_partial_files", False):
        return
    parse = parser.parse

    async def parse_or_remove(self):
        try:
            return await parse(self)
        except BaseException as error:
            for file in self._files_to_close_on_error:
                file.close()
                Path(file.name).unlink(missing_ok=True)
            if isinstance(error, ClientDisconnect):  # answered as Gradio's own upload errors
                raise MultiPartException("The upload was cut off.") from None
            raise

    parse_or_remove.removes_partial_files = True
    parser.parse = parse_or_remove
