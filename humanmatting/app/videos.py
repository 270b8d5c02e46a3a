"""A video request (the Video tab, /matte_video): checked against the VideoLimits, matted
frame by frame with the library's `matte_frames`, written as an MP4 that browsers play."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from humanmatting.app.caches import with_cached_picture
from humanmatting.app.limits import VIDEO_SUFFIX, VideoLimits
from humanmatting.app.outputs import download_name
from humanmatting.app.registry import ModelRegistry
from humanmatting.pipeline import FRAME_KINDS, Background, Edges, edge_threshold
from humanmatting.video import DEFAULT_SMOOTHING, ProgressFunction, matte_frames, process_video


def matte_video(
    registry: ModelRegistry,
    source: str | os.PathLike,
    model: str | None = None,
    background: Background | None = None,
    edges: Edges = "soft",
    smoothing: float = DEFAULT_SMOOTHING,
    limits: VideoLimits | None = None,
    output_dir: str | os.PathLike | None = None,
    on_progress: ProgressFunction | None = None,
) -> Path:
    """Matte every frame of a video into an MP4 (H.264) that browsers play, with the
    source's sound; named `<source>-<background>.mp4`. `limits`: VideoLimits() by default
    (the app passes the ones its settings read from the environment)."""
    limits = limits or VideoLimits()
    background = background or Background()
    if background.kind == "transparent":
        raise ValueError("Videos have no transparency; choose " + ", ".join(FRAME_KINDS) + ".")
    edge_threshold(edges)  # bad edges fail before the video is read
    budget = limits.check(source)
    matter = registry.matter(model, role="video")
    background = with_cached_picture(background, registry.settings.max_pixels)
    frames = matte_frames(matter, background, edges, smoothing)
    output_dir = Path(output_dir or tempfile.mkdtemp(prefix="humanmatting-video-"))
    destination = output_dir / f"{download_name(source, background.kind)}{VIDEO_SUFFIX}"
    process_video(
        source, destination, frames, progress=False, budget=budget, on_progress=on_progress
    )
    return destination
