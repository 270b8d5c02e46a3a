"""The library's surface: Prediction, variants as an argument, close(), the one-call
helpers and the Settings object read once from the environment."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import humanmatting
from humanmatting import compose
from humanmatting.settings import DEFAULT_MAX_PIXELS, SettingError, Settings
from humanmatting.specs import DEFAULT_HUB_NAMESPACE, get_spec
from humanmatting.weights import PACKAGED_WEIGHTS_DIR, WeightsNotFoundError, resolve_model_folder


def test_prediction_carries_its_own_timing_and_size_across_threads():
    """Two requests on one Matter at once (the app runs two photo requests together): each
    gets the input size and timing of its own call, not the other's."""
    matter = humanmatting.load_matter("dark", PACKAGED_WEIGHTS_DIR, download=False)
    pictures = {
        "wide": np.full((240, 480, 3), 90, np.uint8),
        "tall": np.full((480, 240, 3), 160, np.uint8),
    }
    expected = {name: matter.input_size(*rgb.shape[:2]) for name, rgb in pictures.items()}
    assert expected["wide"] != expected["tall"]
    results: dict[str, list] = {name: [] for name in pictures}

    def work(name: str) -> None:
        for _ in range(6):
            results[name].append(matter.predict(pictures[name]))

    threads = [threading.Thread(target=work, args=(name,)) for name in pictures]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for name, predictions in results.items():
        assert len(predictions) == 6
        for prediction in predictions:
            assert prediction.input_size == expected[name]
            assert prediction.alpha.shape == pictures[name].shape[:2]
            assert prediction.timing.model_ms > 0
            assert prediction.timing.total_ms >= prediction.timing.model_ms
            assert prediction.model == matter.name


def test_close_and_context_manager():
    with humanmatting.load_matter("dark", PACKAGED_WEIGHTS_DIR, download=False) as matter:
        first = matter.predict(np.zeros((64, 64, 3), np.uint8)).alpha
        assert matter.backend._runners  # an interpreter for that shape
    assert not matter.backend._runners  # released on leaving the block
    again = matter.predict(np.zeros((64, 64, 3), np.uint8)).alpha  # and made again on use
    np.testing.assert_array_equal(first, again)


def test_cutout_helpers_match_the_library(tmp_path, grace_hopper_path):
    rgba = humanmatting.cutout(grace_hopper_path, "dark")
    matter = humanmatting.load_matter("dark")
    rgb = np.asarray(Image.open(grace_hopper_path).convert("RGB"))
    np.testing.assert_array_equal(rgba, compose.cutout(rgb, matter.predict(rgb).alpha))
    written = humanmatting.cutout_file(grace_hopper_path, tmp_path / "out" / "person.png", "dark")
    assert written == tmp_path / "out" / "person.png"
    np.testing.assert_array_equal(np.asarray(Image.open(written)), rgba)
    with pytest.raises(ValueError, match="needs PNG"):
        humanmatting.cutout_file(grace_hopper_path, tmp_path / "person.jpg")
    assert not (tmp_path / "person.jpg").exists()


def test_settings_from_env():
    assert Settings.from_env({}) == Settings()
    settings = Settings.from_env(
        {
            "HUMANMATTING_WEIGHTS_DIR": "/models",
            "HUMANMATTING_PACKAGED_WEIGHTS": "off",
            "HUMANMATTING_HUB_NAMESPACE": "someone",
            "HUMANMATTING_MAX_PIXELS": "4e6",
        }
    )
    assert settings == Settings(Path("/models"), False, "someone", 4_000_000)
    assert settings.repo_id(get_spec("night")) == "someone/humanmatting-night"
    assert Settings().repo_id(get_spec("night")) == f"{DEFAULT_HUB_NAMESPACE}/humanmatting-night"
    assert Settings().max_pixels == DEFAULT_MAX_PIXELS
    with pytest.raises(SettingError, match="HUMANMATTING_MAX_PIXELS must be a positive number"):
        Settings.from_env({"HUMANMATTING_MAX_PIXELS": "-5"})


def test_settings_are_passed_down_not_read_below(tmp_path, monkeypatch):
    """resolve_model_folder follows the Settings it is given, whatever the environment."""
    monkeypatch.setenv("HUMANMATTING_PACKAGED_WEIGHTS", "1")
    none_shipped = Settings(packaged_weights=False)
    with pytest.raises(WeightsNotFoundError) as caught:
        resolve_model_folder("night", download=False, settings=none_shipped)
    assert "python -m humanmatting.hub.pull night" in caught.value.how_to_get
    assert caught.value.how_to_get in str(caught.value)
    assert "Tried:" not in caught.value.how_to_get  # the hint alone, without server paths
    shipped = resolve_model_folder("night", download=False, settings=Settings())
    assert shipped == PACKAGED_WEIGHTS_DIR / "night"
    small = humanmatting.load_matter("dark", settings=Settings(max_pixels=1000), download=False)
    with pytest.raises(humanmatting.ImageTooLargeError, match="limit of 1,000 pixels"):
        small.predict(np.zeros((40, 40, 3), np.uint8))


def test_a_backend_is_passed_in_as_a_factory_of_the_model_folder_never_named():
    """The runtime imports no layer above it: the Keras backend is handed in
    (backend=KerasBackend), and "keras" by name is refused with how to pass it."""
    channels = get_spec("dark-light").channels
    folders = []

    class Constant:
        def __init__(self, folder):
            folders.append(folder)
            self.channels = channels
            self.closed = False

        def person_probability(self, batch: np.ndarray) -> np.ndarray:
            assert batch.shape[-1] == channels
            return np.full(batch.shape[1:3], 0.75, np.float32)

        def close(self) -> None:
            self.closed = True

    with humanmatting.load_matter("dark-light", backend=Constant) as matter:
        alpha = matter.predict(np.zeros((40, 60, 3), np.uint8), refine=False).alpha
    assert folders == [PACKAGED_WEIGHTS_DIR / "dark-light"] and matter.backend.closed
    assert alpha.shape == (40, 60) and np.allclose(alpha, 0.75)
    assert matter.variant == "fp32"
    with pytest.raises(ValueError, match="backend factory runs the fp32 model"):
        humanmatting.load_matter("dark-light", backend=Constant, variant="int8")
    with pytest.raises(ValueError, match=r"pass backend=KerasBackend \(from humanmatting.models"):
        humanmatting.load_matter("dark-light", backend="keras")
