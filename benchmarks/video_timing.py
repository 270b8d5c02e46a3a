"""How long the Video tab takes, and how much of it is encoding: prints a Markdown table.

    python -m benchmarks.video_timing [--model dark-light] [--out DIR] [--skip-30s]

Makes two clips like the ones people upload (H.264 + AAC MP4 from a phone: a slow pan and
zoom over a real photo, with a tone as sound): 8 s at 640x480 and 30 s at 1280x720, both
30 frames/s. For each it times

- the encoders alone on the same frames (OpenCV's VP9, VP8 and MPEG-4 Part 2, which the
  app and the CLI used before, and PyAV's H.264, which they use now), and
- the whole request as the app runs it: `humanmatting.app.videos.matte_video` (decode,
  model, compose, encode, audio copied), with the shipped model.

The target (issue 14): a 30 s 720p clip in at most 2x its duration on a 2-core machine.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from humanmatting.app.limits import VideoLimits
from humanmatting.app.registry import ModelRegistry
from humanmatting.app.videos import matte_video
from humanmatting.pipeline import Background
from humanmatting.preprocess import load_rgb
from humanmatting.video import encode_frames

REPO_ROOT = Path(__file__).resolve().parents[1]

CLIPS = {"8 s 640x480": (8, 640, 480), "30 s 1280x720": (30, 1280, 720)}
FPS = 30
SAMPLE_FRAMES = 150
OPENCV_ENCODERS = {
    "OpenCV VP9 (.webm, app before)": ("VP90", ".webm"),
    "OpenCV VP8 (.webm)": ("VP80", ".webm"),
    "OpenCV MPEG-4 Part 2 (.mp4, CLI before)": ("mp4v", ".mp4"),
}


def pan_frames(photo: np.ndarray, seconds: float, width: int, height: int):
    """A slow pan and zoom over `photo`, as RGB frames of width x height."""
    count = round(seconds * FPS)
    photo_h, photo_w = photo.shape[:2]
    for index in range(count):
        t = index / max(count - 1, 1)
        zoom = 0.75 + 0.2 * np.sin(np.pi * t)
        crop_h = int(photo_h * zoom)
        crop_w = min(photo_w, int(crop_h * width / height))
        crop_h = int(crop_w * height / width)
        top = int((photo_h - crop_h) * (0.5 + 0.4 * np.sin(2 * np.pi * t)) / 1)
        left = int((photo_w - crop_w) * t)
        crop = photo[max(top, 0) : max(top, 0) + crop_h, left : left + crop_w]
        yield cv2.resize(crop, (width, height), interpolation=cv2.INTER_LINEAR)


def make_clip(path: Path, photo: np.ndarray, seconds: float, width: int, height: int) -> Path:
    """An H.264 + AAC MP4 such as a phone records."""
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"preset": "veryfast", "crf": "23"}
        audio = container.add_stream("aac", rate=44100, layout="mono")
        samples_per_frame = 1024
        for rgb in pan_frames(photo, seconds, width, height):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        total = int(seconds * 44100)
        for start in range(0, total, samples_per_frame):
            t = np.arange(start, min(start + samples_per_frame, total)) / 44100
            tone = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :]
            frame = av.AudioFrame.from_ndarray(tone, format="flt", layout="mono")
            frame.sample_rate, frame.pts = 44100, start
            frame.time_base = Fraction(1, 44100)
            for packet in audio.encode(frame):
                container.mux(packet)
        for packet in audio.encode():
            container.mux(packet)
    return path


def time_opencv(frames: list[np.ndarray], fourcc: str, path: Path) -> float:
    started = time.perf_counter()
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), FPS, (width, height))
    for rgb in frames:
        writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    writer.release()
    return time.perf_counter() - started


def time_pyav(frames: list[np.ndarray], path: Path) -> float:
    started = time.perf_counter()
    encode_frames(iter(frames), path, FPS)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="default: the registry's default model")
    parser.add_argument("--out", help="folder for the clips and results (default: temporary)")
    parser.add_argument("--skip-30s", action="store_true", help="only the 8 s clip")
    args = parser.parse_args(argv)
    out = Path(args.out or tempfile.mkdtemp(prefix="humanmatting-video-timing-"))
    out.mkdir(parents=True, exist_ok=True)
    photo = load_rgb(REPO_ROOT / "examples" / "grace_hopper.jpg")
    registry = ModelRegistry()
    limits = VideoLimits(max_megabytes=500, max_seconds=60)
    rows = []
    for label, (seconds, width, height) in CLIPS.items():
        if args.skip_30s and seconds > 10:
            continue
        clip = make_clip(out / f"clip-{seconds}s-{height}p.mp4", photo, seconds, width, height)
        # Encoders alone on the first SAMPLE_FRAMES frames, scaled to the whole clip
        # (OpenCV's VP9 takes about 15 minutes for the 30 s clip).
        frames = list(pan_frames(photo, seconds, width, height))[:SAMPLE_FRAMES]
        scale = seconds * FPS / len(frames)
        for name, (fourcc, suffix) in OPENCV_ENCODERS.items():
            spent = time_opencv(frames, fourcc, out / f"enc-{fourcc}{suffix}") * scale
            rows.append((label, f"encode only: {name}", spent, seconds))
        spent = time_pyav(frames, out / "enc-h264.mp4") * scale
        rows.append((label, "encode only: PyAV H.264 (.mp4, now)", spent, seconds))
        del frames
        started = time.perf_counter()
        matte_video(
            registry,
            clip,
            args.model,
            Background("blur"),
            limits=limits,
            output_dir=out,
        )
        spent = time.perf_counter() - started
        rows.append((label, "whole request (app.videos.matte_video, blur, now)", spent, seconds))
        print(f"done: {label}", file=sys.stderr, flush=True)
    print("| clip | what | seconds | x clip duration |")
    print("|---|---|---:|---:|")
    for label, what, spent, seconds in rows:
        print(f"| {label} | {what} | {spent:.1f} | {spent / seconds:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
