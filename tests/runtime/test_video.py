import numpy as np
import pytest

from humanmatting.video import (
    AlphaSmoother,
    FrameBudget,
    InvalidVideoError,
    VideoTooLargeError,
    process_video,
)


def test_smoother_is_an_exponential_average_and_resets_on_new_size():
    smoother = AlphaSmoother(0.75)  # keeps 0.75 of the last matte: the new frame counts 0.25
    assert smoother.weight == 0.25
    assert np.all(smoother(np.zeros((2, 2), np.float32)) == 0)
    assert np.allclose(smoother(np.ones((2, 2), np.float32)), 0.25)
    assert np.allclose(smoother(np.ones((2, 2), np.float32)), 0.4375)
    assert np.allclose(smoother(np.ones((3, 2), np.float32)), 1.0)
    for bad in (1, -0.1, float("nan"), True):
        with pytest.raises(ValueError, match="smoothing must be a number from 0 to below 1"):
            AlphaSmoother(bad)


def test_failure_mid_video_leaves_no_output(tmp_path):
    import cv2

    source = tmp_path / "in.avi"
    writer = cv2.VideoWriter(str(source), cv2.VideoWriter_fourcc(*"MJPG"), 10, (32, 32))
    for _ in range(5):
        writer.write(np.zeros((32, 32, 3), np.uint8))
    writer.release()
    calls = []

    def failing(frame):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("boom")
        return frame

    with pytest.raises(RuntimeError):
        process_video(source, tmp_path / "out.mp4", failing, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.avi"]


class FakeCamera:
    """A cv2.VideoCapture of a camera: gray frames, as many as asked for."""

    released = False

    def read(self):
        return True, np.full((48, 64, 3), 128, np.uint8)

    def release(self):
        self.released = True


def test_a_camera_stopped_by_ctrl_c_keeps_the_frames_it_matted(tmp_path, monkeypatch):
    import cv2

    from humanmatting import video

    camera = FakeCamera()
    info = video.VideoInfo(fps=10.0, frame_count=0, width=64, height=48)
    monkeypatch.setattr(video, "open_video", lambda source: (camera, info))
    heard, matted = [], []

    def interrupted_at_the_fifth(frame):
        matted.append(frame.shape)
        if len(matted) == 5:
            raise KeyboardInterrupt
        return frame

    out = tmp_path / "camera.mp4"
    on_progress = lambda done, total, _: heard.append((done, total))  # noqa: E731
    assert (
        process_video(0, out, interrupted_at_the_fifth, progress=False, on_progress=on_progress)
        == 4
    )
    assert heard == [(1, None), (2, None), (3, None), (4, None)] and camera.released
    written = cv2.VideoCapture(str(out))
    assert int(written.get(cv2.CAP_PROP_FRAME_COUNT)) == 4 and written.read()[0]
    written.release()
    assert [path.name for path in tmp_path.iterdir()] == ["camera.mp4"]  # no temporary left


def test_missing_video(tmp_path):
    with pytest.raises(InvalidVideoError, match="No such video"):
        process_video(tmp_path / "none.mp4", tmp_path / "out.mp4", lambda f: f, progress=False)


# --- work bounded by what is decoded; truncation reported -----------------------------------


def counting(calls: list):
    def frame_function(frame):
        calls.append(frame.shape)
        return frame

    return frame_function


def test_a_video_that_stops_early_is_damaged_not_a_shorter_result(bad_videos, tmp_path):
    """26 of 100 frames came back as a success; now: how many frames could be read."""
    calls = []
    with pytest.raises(InvalidVideoError, match="damaged or truncated: only 8 of its 100 frames"):
        process_video(
            bad_videos["cut-short.avi"], tmp_path / "out.mp4", counting(calls), progress=False
        )
    assert len(calls) == 8 and list(tmp_path.iterdir()) == []
    # ... while a complete video, and a camera-style stop at max_frames, are fine.
    assert process_video(bad_videos["good.avi"], tmp_path / "ok.mp4", lambda f: f, None, False) == 6
    assert process_video(bad_videos["cut-short.avi"], tmp_path / "few.mp4", lambda f: f, 5, False)


def frames_before_refusal(video, budget: FrameBudget, message: str, out) -> list:
    """The shapes of the frames worked on before `budget` refused `video` with `message`."""
    calls = []
    with pytest.raises(VideoTooLargeError, match=message):
        process_video(video, out, counting(calls), progress=False, budget=budget)
    return calls


def test_frame_budget_counts_the_frames_decoded_not_the_header(bad_videos, tmp_path):
    out = tmp_path / "out.mp4"
    # 1,000,000 frames/s: the header says 100 frames last 0.1 ms, the budget counts frames.
    budget = FrameBudget(max_frames=60, max_seconds=30)
    calls = frames_before_refusal(bad_videos["million-fps.avi"], budget, "more than 60 frames", out)
    assert len(calls) == 60
    # "1 frame": the duration is the decoded frames' (10 frames/s), refused at 5 s.
    budget = FrameBudget(max_frames=1000, max_seconds=5)
    message = "is longer than 5 s"
    calls = frames_before_refusal(bad_videos["claims-one-frame.avi"], budget, message, out)
    assert len(calls) == 50
    # Frames x pixels, and the size of each frame as decoded, before any work on it.
    budget = FrameBudget(max_pixels=64 * 48 * 10)
    message = "more work than the limit of 30,720 pixels"
    calls = frames_before_refusal(bad_videos["claims-one-frame.avi"], budget, message, out)
    assert len(calls) == 10 and calls[0] == (48, 64, 3)
    budget = FrameBudget(max_frame_pixels=3000)
    message = "frames of 64x48 = 3,072 pixels"
    calls = frames_before_refusal(bad_videos["good.avi"], budget, message, out)
    assert calls == [] and list(tmp_path.iterdir()) == []


def test_cli_reports_a_truncated_video_in_one_line(bad_videos, random_weights_dir, tmp_path):
    import subprocess
    import sys

    out = tmp_path / "out.mp4"
    result = subprocess.run(
        [sys.executable, "-m", "humanmatting.cli", str(bad_videos["cut-short.avi"])]
        + ["--weights", str(random_weights_dir), "-o", str(out), "--quiet"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    errors = [line for line in result.stderr.splitlines() if "warning" not in line]
    assert result.returncode == 2, result.stderr
    assert errors == [
        f"humanmatting: error: Video {bad_videos['cut-short.avi']} is damaged or truncated: "
        "only 8 of its 100 frames could be read."
    ]
    assert list(tmp_path.iterdir()) == []


# --- the sound track: decoded as it is written, never whole (issue 29, row 1) ---------------

PEAK_RSS = """
import sys
from humanmatting.video import process_video
def mib(field):  # VmHWM, not ru_maxrss: that one keeps the peak of the process forked from
    line = next(l for l in open("/proc/self/status") if l.startswith(field + ":"))
    return int(line.split()[1]) / 1024
before = mib("VmRSS")
process_video(sys.argv[1], sys.argv[2], lambda frame: frame, progress=False)
print(mib("VmHWM") - before)
"""


def test_a_long_sound_track_is_streamed_not_decoded_whole(tmp_path):
    """A 240 kB MP4 with 1 s of video and 10 minutes of 8-channel FLAC silence: the
    whole track was decoded into a list (+470 MiB here; 91 minutes took 4 GB). Now the
    sound is decoded frame by frame and stops at the video's end."""
    import subprocess
    import sys

    import av

    from harness.bad_media import sound_bomb

    source = sound_bomb(tmp_path / "bomb.mp4", minutes=10)
    out = tmp_path / "out.mp4"
    result = subprocess.run(
        [sys.executable, "-c", PEAK_RSS, str(source), str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    growth_mib = float(result.stdout.split()[-1])
    assert growth_mib < 120, growth_mib  # 460 MB of decoded sound would show
    with av.open(str(out)) as written:
        audio = written.streams.audio[0]
        samples = sum(frame.samples for frame in written.decode(audio=0))
    assert audio.channels == 2 and abs(samples / audio.rate - 1.0) < 0.1


def test_sound_with_more_channels_than_kept_is_left_out_with_a_warning(tmp_path, caplog):
    from harness.bad_media import sound_bomb

    source = sound_bomb(tmp_path / "many.mkv", minutes=1 / 60, channels=16, codec="pcm_s16le")
    out = tmp_path / "out.mp4"
    with caplog.at_level("WARNING", logger="humanmatting.video"):
        assert process_video(source, out, lambda frame: frame, progress=False) == 25
    import av

    with av.open(str(out)) as written:
        assert not written.streams.audio
    assert "16 channels" in caplog.text and "more than the 8 channels" in caplog.text
