"""Training-form networks: fit on batches of changing shape, checkpoints saved with Keras's
UpSampling2D, conversion to the served network.

Keras and TensorFlow (and the modules that import them) are imported in the tests, so that
collecting the suite does not load them.
"""

from __future__ import annotations

import numpy as np
import pytest

from harness.models import randomize

SHAPES = ((32, 64), (64, 32))


def _inputs(channels, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.uniform(0, 255, (1, h, w, channels)).astype("float32") for h, w in SHAPES]


@pytest.mark.parametrize(
    "name, acnet, scale",
    [
        ("dark-light", True, 1 / 255),
        ("dark-light", True, 1.0),
        ("night", False, 1 / 255),
        ("lite0", False, 1 / 255),
    ],
)
def test_inference_model_computes_what_the_training_model_computes(name, acnet, scale):
    from humanmatting.models.likeunet import build_model
    from humanmatting.training.networks import build_training_model, inference_model, unwrap

    trained = build_training_model(name, acnet=acnet, input_scale=scale)
    randomize(unwrap(trained)[0], seed=3)
    served = inference_model(trained, name)
    assert [w.shape for w in served.weights] == [w.shape for w in build_model(name).weights]
    assert served.count_params() == build_model(name).count_params()
    for batch in _inputs(trained.input_shape[-1]):
        expected = np.asarray(trained(batch, training=False))
        np.testing.assert_allclose(np.asarray(served(batch)), expected, atol=2e-5)


def test_mixed_precision_trains_in_float16_and_serves_in_float32():
    """(Scaled inputs: with raw 0..255 an untrained float16 net drifts by up to ~0.08.)"""
    import keras

    from humanmatting.training.networks import build_training_model, inference_model, unwrap

    keras.utils.set_random_seed(0)
    trained = build_training_model("dark-light", mixed_precision=True, input_scale=1 / 255)
    network, _ = unwrap(trained)
    assert network.get_layer("conv1-1").compute_dtype == "float16"
    assert keras.config.dtype_policy().name == "float32"  # global policy restored
    batch = _inputs(1)[0]
    probabilities = trained(batch, training=False)
    assert probabilities.dtype == "float32"
    served = inference_model(trained, "dark-light")
    assert {w.dtype for w in served.weights} == {"float32"}
    assert served.get_layer("conv1").compute_dtype == "float32"
    np.testing.assert_allclose(np.asarray(served(batch)), np.asarray(probabilities), atol=5e-3)


def test_bfloat16_training_keeps_the_softmax_in_float32():
    """In bfloat16 a confident pixel's probability rounds to exactly 1 (its steps near 1 are
    2^-8), and the clipped cross-entropy then gives a wrong one no gradient."""
    from humanmatting.training.networks import build_training_model, unwrap

    trained = build_training_model("dark", mixed_precision="mixed_bfloat16", input_scale=1 / 255)
    network, _ = unwrap(trained)
    head = network.layers[-1]
    assert network.layers[1].compute_dtype == "bfloat16"
    assert head.compute_dtype == "float32"
    kernel, bias = head.get_weights()
    head.set_weights([np.zeros_like(kernel), np.array([0.0, 8.0], dtype=bias.dtype)])
    person = np.asarray(trained(_inputs(1)[0], training=False))[..., 1]
    np.testing.assert_allclose(person, 1 / (1 + np.exp(-8.0)), rtol=1e-6)


def _mixed_shape_data(channels):
    """Batches of two shapes, like the pipeline's presets: element spec (None, None, None, C)."""
    import tensorflow as tf

    def batches():
        rng = np.random.default_rng(0)  # the same batches every epoch
        for height, width in SHAPES * 2:
            x = rng.uniform(0, 255, (2, height, width, channels)).astype("float32")
            person = (x[..., :1] > 128).astype("float32")
            yield x, np.concatenate([1 - person, person], -1)

    spec = (
        tf.TensorSpec((None, None, None, channels), tf.float32),
        tf.TensorSpec((None, None, None, 2), tf.float32),
    )
    dataset = tf.data.Dataset.from_generator(batches, output_signature=spec)
    return dataset.apply(tf.data.experimental.assert_cardinality(2 * len(SHAPES)))


def _compiled(name="dark-light", acnet=True, upsampling=None):
    import keras

    from humanmatting.models.likeunet import BilinearUpSampling2D, with_upsampling
    from humanmatting.training.metrics import segmentation_metrics
    from humanmatting.training.networks import build_training_model

    upsampling = upsampling or BilinearUpSampling2D
    model = with_upsampling(build_training_model(name, acnet=acnet), upsampling)
    model.compile(
        keras.optimizers.Adam(amsgrad=True),
        "binary_crossentropy",
        metrics=segmentation_metrics(),
        jit_compile=False,
    )
    return model


@pytest.mark.training
def test_keras_upsampling_cannot_fit_batches_of_changing_shape():
    """Why BilinearUpSampling2D exists (Keras 3's bilinear UpSampling2D needs static H, W
    in graphs); if this starts passing, Keras's own layer would do."""
    import keras

    model = _compiled(upsampling=keras.layers.UpSampling2D)
    with pytest.raises(Exception, match="(?i)symbolic|graph|NoneType"):
        model.fit(_mixed_shape_data(1), epochs=1, verbose=0, shuffle=False)


@pytest.mark.slow
@pytest.mark.training
def test_plain_fit_and_evaluate_run_batches_of_changing_shape():
    model = _compiled()
    data = _mixed_shape_data(1)
    history = model.fit(data, validation_data=data, epochs=2, verbose=0, shuffle=False)
    assert np.isfinite(history.history["loss"]).all()
    assert set(history.history) >= {"miou", "person_iou", "val_miou", "val_person_iou"}
    assert int(model.optimizer.iterations) == 8  # every batch of both shapes, both epochs
    logs = model.evaluate(data, verbose=0, return_dict=True)
    assert logs["miou"] == pytest.approx(history.history["val_miou"][-1], abs=1e-6)
    for height, width in SHAPES:
        batch = np.zeros((1, height, width, 1), np.float32)
        assert model.predict_on_batch(batch).shape == (1, height, width, 2)


@pytest.mark.training
def test_checkpoint_saved_with_keras_upsampling_resumes_where_it_stopped(tmp_path):
    """A checkpoint of before BilinearUpSampling2D: same outputs, same optimizer state, and
    the next step updates the weights as the old model's own next step does."""
    import keras

    from humanmatting.models.likeunet import BilinearUpSampling2D
    from humanmatting.training.networks import load_checkpoint, unwrap

    keras.utils.set_random_seed(1)
    old = _compiled(upsampling=keras.layers.UpSampling2D)
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (2, *SHAPES[0], 1)).astype("float32")
    person = (x[..., :1] > 128).astype("float32")
    y = np.concatenate([1 - person, person], -1)
    old.fit(x, y, epochs=2, verbose=0)
    old.save(tmp_path / "old.keras")
    resumed = load_checkpoint(tmp_path / "old.keras", compile=True)
    network = unwrap(resumed)[0]
    assert {type(layer) for layer in network.layers if "up_sampling" in layer.name} == {
        BilinearUpSampling2D
    }
    assert int(resumed.optimizer.iterations) == 2
    for new, saved in zip(resumed.optimizer.variables, old.optimizer.variables, strict=True):
        np.testing.assert_array_equal(np.asarray(new), np.asarray(saved))
    np.testing.assert_array_equal(resumed.predict_on_batch(x), old.predict_on_batch(x))
    old.fit(x, y, epochs=1, verbose=0)
    resumed.fit(x, y, epochs=1, verbose=0)
    for new, saved in zip(resumed.get_weights(), old.get_weights(), strict=True):
        np.testing.assert_allclose(new, saved, atol=1e-6)
