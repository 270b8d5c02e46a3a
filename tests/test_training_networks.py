"""Training-form networks: per-shape steps for fit, conversion to the served network.

Keras and TensorFlow (and the modules that import them) are imported in the tests, so that
collecting the suite does not load them.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import randomize

SHAPES = ((32, 64), (64, 32))


def _inputs(channels, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.uniform(0, 255, (1, h, w, channels)).astype("float32") for h, w in SHAPES]


@pytest.mark.parametrize(
    "name, acnet, scale",
    [("dark-light", True, 1 / 255), ("dark-light", True, 1.0), ("night", False, 1 / 255)],
)
def test_inference_model_computes_what_the_training_model_computes(name, acnet, scale):
    from humanmatting.build.models import build_model
    from training.networks import build_training_model, inference_model, unwrap

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

    from training.networks import build_training_model, inference_model, unwrap

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


def _compiled(name="dark-light", acnet=True):
    import keras

    from training.metrics import segmentation_metrics
    from training.networks import build_training_model

    model = build_training_model(name, acnet=acnet)
    model.compile(
        keras.optimizers.Adam(amsgrad=True),
        "binary_crossentropy",
        metrics=segmentation_metrics(),
        jit_compile=False,
    )
    return model


@pytest.mark.training
def test_plain_keras_fit_cannot_train_on_batches_of_changing_shape():
    """Why training.steps exists (Keras 3 bilinear UpSampling2D, unknown H, W in graphs)."""
    model = _compiled()
    with pytest.raises(Exception, match="(?i)symbolic|graph|NoneType"):
        model.fit(_mixed_shape_data(1), epochs=1, verbose=0, shuffle=False)


@pytest.mark.slow
@pytest.mark.training
def test_per_shape_steps_let_fit_and_evaluate_run_every_preset():
    from training.steps import trace_per_shape

    model = trace_per_shape(_compiled())
    data = _mixed_shape_data(1)
    history = model.fit(data, validation_data=data, epochs=2, verbose=0, shuffle=False)
    assert np.isfinite(history.history["loss"]).all()
    assert set(history.history) >= {"miou", "person_iou", "val_miou", "val_person_iou"}
    traced = {key[0][1:3] for key in model.train_function.traced_shapes}
    assert traced == set(SHAPES)
    assert {key[0][1:3] for key in model.test_function.traced_shapes} == set(SHAPES)
    assert int(model.optimizer.iterations) == 8
    logs = model.evaluate(data, verbose=0, return_dict=True)
    assert logs["miou"] == pytest.approx(history.history["val_miou"][-1], abs=1e-6)
