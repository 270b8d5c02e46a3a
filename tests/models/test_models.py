"""The Keras builders against the original release's architecture.

humanmatting.models.likeunet imports Keras (seconds): it is imported in the tests, so that
collecting the suite does not load it.
"""

import json

import numpy as np
import pytest

from harness.models import build_model, randomize
from harness.paths import shared_dir
from humanmatting.specs import MODEL_SPECS


@pytest.mark.parametrize(
    "name, parameters",
    [("night", 1_769_314), ("dark", 1_769_026), ("dark-light", 221_626), ("lite0", 736_154)],
)
def test_parameter_counts(name, parameters):
    assert build_model(name).count_params() == parameters


@pytest.mark.parametrize(
    "name, channels", [("night", 3), ("dark", 1), ("dark-light", 1), ("lite0", 3)]
)
def test_input_channels_and_softmax_output(name, channels):
    model = build_model(name)
    assert model.input_shape == (None, None, None, channels)
    out = model(np.random.default_rng(0).uniform(0, 255, (1, 64, 96, channels)).astype("float32"))
    assert out.shape == (1, 64, 96, 2)
    np.testing.assert_allclose(np.sum(out, axis=-1), 1.0, atol=1e-5)


def _structure_of_json(path):
    layers = json.loads(path.read_text())["config"]["layers"]
    return [
        (
            layer["class_name"],
            layer["config"]["name"],
            layer["config"].get("filters"),
            tuple(layer["config"]["kernel_size"]) if "kernel_size" in layer["config"] else None,
            layer["config"].get("activation"),
            tuple(inbound[0] for inbound in layer["inbound_nodes"][0])
            if layer["inbound_nodes"]
            else (),
        )
        for layer in layers
    ]


def _keras_class(layer) -> str:
    """The Keras class a layer is or derives from (BilinearUpSampling2D: UpSampling2D)."""
    return next(cls for cls in type(layer).__mro__ if cls.__module__.startswith("keras")).__name__


def _structure_of_model(model):
    rows = []
    for layer in model.layers:
        config = layer.get_config()
        node = layer._inbound_nodes[0]
        inbound = tuple(t._keras_history.operation.name for t in node.input_tensors)
        rows.append(
            (
                _keras_class(layer),
                layer.name,
                config.get("filters"),
                tuple(config["kernel_size"]) if "kernel_size" in config else None,
                config.get("activation"),
                inbound,
            )
        )
    return rows


@pytest.mark.parametrize(
    "json_name, name, acnet",
    [
        ("night.json", "night", False),
        ("dark.json", "dark", False),
        ("dark-light.json", "dark-light", False),
        ("dark-light-pre.json", "dark-light", True),
    ],
)
def test_structure_matches_original_json(json_name, name, acnet):
    path = shared_dir() / "reference" / "humanMatting-original" / json_name
    if not path.is_file():
        pytest.skip(f"{path} not found (set HUMANMATTING_SHARED)")
    expected = _structure_of_json(path)
    ours = _structure_of_model(build_model(name, acnet=acnet))
    assert sorted(ours) == sorted(expected)


def test_bilinear_upsampling_computes_what_keras_upsampling_computes():
    import keras

    from humanmatting.models.likeunet import BilinearUpSampling2D

    rng = np.random.default_rng(0)
    for shape in ((1, 8, 12, 3), (2, 5, 7, 16), (1, 16, 16, 1)):
        x = rng.normal(0, 100, shape).astype("float32")
        expected = keras.layers.UpSampling2D(2, interpolation="bilinear")(x)
        actual = BilinearUpSampling2D(2)(x)
        assert actual.shape == (shape[0], 2 * shape[1], 2 * shape[2], shape[3])
        assert np.abs(np.asarray(actual) - np.asarray(expected)).max() <= 1e-6


def test_bilinear_upsampling_traces_with_unknown_height_and_width():
    import tensorflow as tf

    from humanmatting.models.likeunet import BilinearUpSampling2D

    layer = BilinearUpSampling2D()
    function = tf.function(layer, input_signature=[tf.TensorSpec((1, None, None, 4))])
    for height, width in ((4, 6), (6, 4), (8, 8)):
        assert function(np.zeros((1, height, width, 4), np.float32)).shape == (
            1, 2 * height, 2 * width, 4
        )  # fmt: skip
    with pytest.raises(ValueError, match="bilinear"):
        BilinearUpSampling2D(interpolation="nearest")


@pytest.mark.slow
def test_predict_runs_new_sizes_and_the_model_loads_with_safe_mode(tmp_path):
    import keras

    model = randomize(build_model("dark-light"), seed=2)
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras", safe_mode=True)
    for height, width in [(64, 64), (96, 64), (64, 128)]:
        batch = np.random.default_rng(height).uniform(0, 255, (1, height, width, 1))
        np.testing.assert_array_equal(
            loaded.predict_on_batch(batch), model.predict(batch, verbose=0)
        )


def test_with_upsampling_converts_both_ways_sharing_the_weights():
    import keras

    from humanmatting.models.likeunet import BilinearUpSampling2D, with_upsampling

    model = randomize(build_model("night"), seed=4)
    plain = with_upsampling(model, keras.layers.UpSampling2D)
    kinds = {type(layer) for layer in plain.layers if "up_sampling" in layer.name}
    assert kinds == {keras.layers.UpSampling2D}
    assert [id(v) for v in plain.weights] == [id(v) for v in model.weights]
    assert plain.name == model.name
    back = with_upsampling(plain)
    assert {type(layer) for layer in back.layers if "up_sampling" in layer.name} == {
        BilinearUpSampling2D
    }
    assert with_upsampling(back) is back
    batch = np.random.default_rng(5).uniform(0, 255, (1, 64, 96, 3)).astype("float32")
    np.testing.assert_array_equal(np.asarray(plain(batch)), np.asarray(model(batch)))
    np.testing.assert_array_equal(np.asarray(back(batch)), np.asarray(model(batch)))


def test_three_sizes_in_a_row_through_a_traced_function():
    """model.predict fails to retrace bilinear UpSampling2D on new shapes; our path must not."""
    import tensorflow as tf

    model = build_model("dark-light")
    function = tf.function(lambda x: model(x, training=False))
    for height, width in [(256, 256), (384, 512), (512, 288), (256, 256)]:
        batch = (
            np.random.default_rng(height).uniform(0, 255, (1, height, width, 1)).astype("float32")
        )
        out = function(batch).numpy()
        assert out.shape == (1, height, width, 2)
        np.testing.assert_allclose(out, model(batch).numpy(), atol=1e-6)


def test_acnet_fusion_is_exact_on_random_weights():
    """In float64 the fused model equals the ACNet model up to rounding (fusion is exact)."""
    import keras

    from humanmatting.models.likeunet import fuse_acnet

    keras.config.set_dtype_policy("float64")
    try:
        acnet = randomize(build_model("dark-light", acnet=True), seed=3)
        fused = fuse_acnet(acnet)
        batch = np.random.default_rng(1).uniform(0, 255, (2, 128, 96, 1))
        np.testing.assert_allclose(fused(batch).numpy(), acnet(batch).numpy(), atol=1e-9)
    finally:
        keras.config.set_dtype_policy("float32")
    assert fused.count_params() == 221_626


def test_only_dark_light_has_an_acnet_form():
    assert [name for name, spec in MODEL_SPECS.items() if spec.acnet_training] == [
        "dark-light",
        "dark-light-original",
    ]
    with pytest.raises(ValueError, match="no ACNet"):
        build_model("night", acnet=True)


def test_multiply_accumulates_scale_with_pixels():
    from humanmatting.models.likeunet import count_multiply_accumulates

    model = build_model("dark-light")
    at_256 = count_multiply_accumulates(model, 256, 256)
    assert 0.55e9 < at_256 < 0.62e9
    assert count_multiply_accumulates(model, 512, 512) == 4 * at_256
