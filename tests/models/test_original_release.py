"""The author's dark-light files: loading, ACNet fusion, conversion. Skipped without them.

humanmatting.models imports Keras (seconds): it is imported in the tests, so that
collecting the suite does not load it.
"""

import numpy as np
import pytest

from harness.models import build_model
from humanmatting.preprocess import model_input_size, prepare_input


@pytest.fixture(scope="module")
def author_models(reference_dir):
    from humanmatting.models.legacy import load_legacy_weights

    fused = load_legacy_weights(
        build_model("dark-light"), reference_dir / "dark-light-50-0.9735.h5"
    )
    acnet = load_legacy_weights(
        build_model("dark-light", acnet=True), reference_dir / "dark-light-pre-50-0.9735.h5"
    )
    return fused, acnet


def test_our_fusion_of_the_acnet_file_equals_the_authors_fused_file(author_models):
    from humanmatting.models.likeunet import fuse_acnet

    authors_fused, acnet = author_models
    ours = fuse_acnet(acnet)
    for a, b in zip(ours.get_weights(), authors_fused.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)


@pytest.mark.parametrize("photo", ["astronaut", "grace_hopper"])
def test_fused_output_equals_acnet_output_on_real_photos(author_models, photos, photo):
    from humanmatting.models.likeunet import fuse_acnet

    authors_fused, acnet = author_models
    ours = fuse_acnet(acnet)
    rgb = photos[photo]
    batch = prepare_input(rgb, 1, model_input_size(*rgb.shape[:2]))
    reference = acnet(batch, training=False).numpy()
    assert np.abs(ours(batch, training=False).numpy() - reference).max() <= 1e-5
    assert np.abs(authors_fused(batch, training=False).numpy() - reference).max() <= 1e-5


def test_the_authors_model_finds_the_person(author_models, photos):
    """Grace Hopper fills the lower middle of her portrait; the corners are background."""
    fused, _ = author_models
    rgb = photos["grace_hopper"]
    batch = prepare_input(rgb, 1, model_input_size(*rgb.shape[:2]))
    person = fused(batch, training=False).numpy()[0, :, :, 1]
    height, width = person.shape
    assert person[height // 2 :, width // 3 : 2 * width // 3].mean() > 0.9
    assert person[: height // 8, : width // 8].mean() < 0.1


def test_wrong_model_for_the_file_is_refused_naming_the_file(reference_dir):
    from humanmatting.models.legacy import LegacyWeightsError, load_legacy_weights

    with pytest.raises(LegacyWeightsError, match="dark-light-50-0.9735.h5.*layers with weights"):
        load_legacy_weights(build_model("dark"), reference_dir / "dark-light-50-0.9735.h5")


def test_acnet_file_into_the_plain_model_is_refused(reference_dir):
    from humanmatting.models.legacy import LegacyWeightsError, load_legacy_weights

    with pytest.raises(LegacyWeightsError, match="dark-light-pre-50-0.9735.h5"):
        load_legacy_weights(
            build_model("dark-light"), reference_dir / "dark-light-pre-50-0.9735.h5"
        )


@pytest.mark.slow  # original_weights_dir: humanmatting.hub.convert_legacy, 15-30 s
def test_conversion_writes_a_safe_keras_model_and_tflite(original_weights_dir, reference_dir):
    import json

    import keras

    from humanmatting.models.legacy import load_legacy_weights

    folder = original_weights_dir / "dark-light-original"
    description = json.loads((folder / "humanmatting.json").read_text())
    assert description["channels"] == 1
    assert description["input_range"] == [0.0, 255.0]
    assert description["classes"] == ["background", "person"]
    assert [512, 384] in description["aspect_presets"]
    assert (folder / "model.tflite").stat().st_size > 500_000
    model = keras.saving.load_model(str(folder), compile=False, safe_mode=True)
    assert model.count_params() == 221_626
    reference = load_legacy_weights(
        build_model("dark-light"), reference_dir / "dark-light-50-0.9735.h5"
    )
    for a, b in zip(model.get_weights(), reference.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
