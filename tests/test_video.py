import numpy as np
import pytest

from humanmatting.video import AlphaSmoother, InvalidVideoError, process_video


def test_smoother_is_an_exponential_average_and_resets_on_new_size():
    smoother = AlphaSmoother(0.25)
    assert np.all(smoother(np.zeros((2, 2), np.float32)) == 0)
    assert np.allclose(smoother(np.ones((2, 2), np.float32)), 0.25)
    assert np.allclose(smoother(np.ones((2, 2), np.float32)), 0.4375)
    assert np.allclose(smoother(np.ones((3, 2), np.float32)), 1.0)
    with pytest.raises(ValueError):
        AlphaSmoother(0)


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


def test_missing_video(tmp_path):
    with pytest.raises(InvalidVideoError, match="No such video"):
        process_video(tmp_path / "none.mp4", tmp_path / "out.mp4", lambda f: f, progress=False)
