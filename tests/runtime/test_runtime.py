import dataclasses
import subprocess
import sys

import numpy as np
import pytest

from humanmatting import load_matter
from humanmatting.models.keras_backend import KerasBackend
from humanmatting.specs import MODEL_SPECS
from humanmatting.weights import WeightsNotFoundError


@pytest.mark.parametrize("name", ["night", "dark", "dark-light"])
def test_litert_and_keras_agree(random_weights_dir, photos, name):
    litert = load_matter(name, random_weights_dir, backend="litert")
    keras_matter = load_matter(name, random_weights_dir, backend=KerasBackend)
    for rgb in photos.values():
        a = litert.predict(rgb).alpha
        b = keras_matter.predict(rgb).alpha
        assert a.shape == rgb.shape[:2] and a.dtype == np.float32
        assert np.abs(a - b).max() <= 1e-4


@pytest.mark.slow  # original_weights_dir: humanmatting.hub.convert_legacy, 15-30 s
def test_original_dark_light_litert_vs_keras_on_photos(original_weights_dir, photos):
    litert = load_matter("dark-light-original", original_weights_dir)
    keras_matter = load_matter("dark-light-original", original_weights_dir, backend=KerasBackend)
    for rgb in photos.values():
        for long_side in (None, 320, 640):
            assert (
                np.abs(
                    litert.predict(rgb, long_side).alpha
                    - keras_matter.predict(rgb, long_side).alpha
                ).max()
                <= 1e-4
            )


def test_output_matches_input_size_for_odd_shapes(random_weights_dir):
    matter = load_matter("dark-light", random_weights_dir)
    for shape in [(1, 1), (7, 300, 3), (333, 17, 4), (1000, 10)]:
        alpha = matter.predict(np.random.default_rng(0).integers(0, 255, shape, np.uint8)).alpha
        assert alpha.shape == shape[:2]
        assert 0.0 <= alpha.min() and alpha.max() <= 1.0


def test_litert_runtime_does_not_import_tensorflow(random_weights_dir, grace_hopper_path):
    code = (
        "import sys; from humanmatting import load_matter; "
        f"m = load_matter('dark-light', {str(random_weights_dir)!r}); "
        f"m.predict({str(grace_hopper_path)!r}).alpha; "
        "print(sorted(k for k in ('tensorflow', 'keras') if k in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_variant_argument(random_weights_dir):
    with pytest.raises(FileNotFoundError, match="model-int8.tflite"):
        load_matter("dark-light", random_weights_dir, variant="int8")
    with pytest.raises(ValueError, match=r"load_matter\('dark-light', variant='int8'\)"):
        load_matter("dark-light-int8", random_weights_dir)  # names carry no variant
    with pytest.raises(ValueError, match="Unknown variant 'int4'"):
        load_matter("dark-light", random_weights_dir, variant="int4")


def test_missing_weights_say_how_to_get_them(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HUMANMATTING_WEIGHTS_DIR", raising=False)
    monkeypatch.setenv("HUMANMATTING_PACKAGED_WEIGHTS", "0")  # as if not shipped
    with pytest.raises(
        WeightsNotFoundError,
        match="humanmatting.hub.pull dark-light-original.*\n.*\n.*convert_legacy",
    ):
        load_matter("dark-light-original", download=False)
    with pytest.raises(
        WeightsNotFoundError, match="humanmatting.training.train --model night"
    ) as missing:
        load_matter("night", download=False)
    # The hint as data too (the app shows it on its own): the message's last lines.
    hint = missing.value.how_to_get
    assert (
        hint.startswith("  python -m humanmatting.hub.pull night")
        and "humanmatting.training.train" in hint
    )
    assert str(missing.value).endswith("To get them:\n" + hint)
    with pytest.raises(WeightsNotFoundError) as not_a_folder:
        load_matter("night", tmp_path)
    assert str(not_a_folder.value).endswith("To get the weights:\n" + hint)
    assert not_a_folder.value.how_to_get == hint
    # A model of ours that the package does not ship (here lite0, marked unshipped): train
    # it, no reinstall helps.
    unshipped_spec = dataclasses.replace(MODEL_SPECS["lite0"], shipped=False)
    monkeypatch.setitem(MODEL_SPECS, "lite0", unshipped_spec)
    with pytest.raises(WeightsNotFoundError) as unshipped:
        load_matter("lite0", download=False)
    assert "humanmatting.training.train --model lite0" in unshipped.value.how_to_get
    assert "reinstall" not in unshipped.value.how_to_get


def test_weights_dir_environment_variable(random_weights_dir, monkeypatch):
    monkeypatch.setenv("HUMANMATTING_WEIGHTS_DIR", str(random_weights_dir))
    assert load_matter("dark", download=False).folder == random_weights_dir / "dark"


def test_litert_memory_stays_bounded_when_shapes_change(random_weights_dir):
    """Each shape's buffers (tens of MB at the 512 presets) go when its interpreter is
    dropped; one interpreter serving every fixed-shape signature kept them all (+300 MiB)."""
    import psutil

    from humanmatting.preprocess import ASPECT_PRESETS

    matter = load_matter("dark-light", random_weights_dir, max_shapes=1, variant="fp32")
    process = psutil.Process()
    resident_mib = []
    for _ in range(2):
        for height, width in ASPECT_PRESETS.values():
            assert matter.backend.signature_for((1, height, width, 1)) != "serving_default"
            matter.predict(np.zeros((height, width), np.uint8), long_side=max(height, width))
            resident_mib.append(process.memory_info().rss / 2**20)
    assert max(resident_mib) - resident_mib[0] < 100, [round(mib) for mib in resident_mib]


def test_keras_backend_traces_each_size_without_retracing_warnings(random_weights_dir):
    import logging

    import tensorflow as tf

    warnings = []
    handler = logging.Handler()
    handler.emit = warnings.append
    tf.get_logger().addHandler(handler)
    try:
        matter = load_matter("dark-light", random_weights_dir, backend=KerasBackend)
        for height, width in [(64, 64), (64, 96), (96, 64), (96, 96), (128, 64), (64, 128)] * 2:
            alpha = matter.predict(
                np.zeros((height, width), np.uint8), long_side=max(height, width)
            ).alpha
            assert alpha.shape == (height, width)
    finally:
        tf.get_logger().removeHandler(handler)
    assert not [record for record in warnings if "retracing" in record.getMessage()]


def test_photos_run_at_the_models_best_size_and_square_ones_no_longer_drop_to_256(
    random_weights_dir,
):
    from humanmatting.preprocess import model_input_size

    matter = load_matter("dark-light", random_weights_dir)
    square = np.random.default_rng(0).integers(0, 255, (900, 900, 3), np.uint8)
    assert model_input_size(900, 900) == (256, 256)  # the aspect preset: the old default
    prediction = matter.predict(square)
    best = matter.spec.best_long_side
    assert best > 256 and prediction.input_size == (best, best)
    prediction = matter.predict(square, quality="fast")
    assert prediction.input_size == (256, 256)  # 0.8 of the best side, a multiple of 32
    prediction = matter.predict(np.zeros((600, 800, 3), np.uint8))  # 4:3: multiples of 32
    assert prediction.input_size == model_input_size(600, 800, best) == (256, 320)
    prediction = matter.predict(square, long_side=448, quality="fast")  # long_side= wins
    assert prediction.input_size == (448, 448)
    with pytest.raises(ValueError, match="choose one of: best, fast"):
        matter.predict(square, quality="max")


def test_predict_refines_at_the_photos_size_unless_told_not_to(random_weights_dir, photos):
    from humanmatting.preprocess import alpha_to_size, prepare_input
    from humanmatting.refine import refine_alpha

    matter = load_matter("night", random_weights_dir)
    rgb = photos["astronaut"]
    size = matter.input_size(*rgb.shape[:2], quality="best")
    probability = np.array(matter.backend.person_probability(prepare_input(rgb, 3, size)))
    prediction = matter.predict(rgb, refine=False)
    plain = prediction.alpha
    np.testing.assert_allclose(plain, alpha_to_size(probability, *rgb.shape[:2]), atol=1e-6)
    assert prediction.timing.refine_ms == 0
    prediction = matter.predict(rgb)
    refined = prediction.alpha
    np.testing.assert_allclose(refined, refine_alpha(rgb, probability, "best"), atol=1e-6)
    assert 0 < prediction.timing.refine_ms <= prediction.timing.postprocess_ms
    assert np.abs(refined - plain).max() > 0.1  # it does change the matte
    fast = matter.predict(rgb, quality="fast")
    assert fast.alpha.shape == rgb.shape[:2] and fast.input_size != size
