"""The original's mIoU after argmax in Keras 3, and why its __call__ override would not work."""

from __future__ import annotations

import numpy as np
import pytest

from humanmatting.training.metrics import confusion, ious


def _example(seed=0, shape=(2, 8, 8)):
    rng = np.random.default_rng(seed)
    person_true = rng.random(shape) < 0.4
    person_prob = np.clip(0.2 + 0.6 * person_true + rng.normal(0, 0.25, shape), 0, 1)
    y_true = np.stack([~person_true, person_true], -1).astype("float32")
    y_pred = np.stack([1 - person_prob, person_prob], -1).astype("float32")
    return y_true, y_pred, person_true, person_prob > 0.5


def _numpy_ious(person_true, person_pred):
    result = {}
    for name, truth, predicted in (
        ("background_iou", ~person_true, ~person_pred),
        ("person_iou", person_true, person_pred),
    ):
        result[name] = (truth & predicted).sum() / (truth | predicted).sum()
    result["mean_iou"] = (result["background_iou"] + result["person_iou"]) / 2
    return result


def original_style_mean_iou(**options):
    """The original TF 2.0 notebook's approach: argmax inside an overridden __call__.
    (Keras is imported here, in the tests, so that collecting the suite does not load it.)"""
    import keras

    class OriginalStyleMeanIoU(keras.metrics.MeanIoU):
        def __call__(self, y_true, y_pred, sample_weight=None):
            return super().__call__(
                keras.ops.argmax(y_true, -1), keras.ops.argmax(y_pred, -1), sample_weight
            )

    return OriginalStyleMeanIoU(**options)


def _evaluate_with(metrics, y_true, y_pred):
    """Run metrics the way fit/evaluate do: compiled into a model (here an identity)."""
    import keras

    inputs = keras.Input(y_pred.shape[1:])
    model = keras.Model(inputs, keras.layers.Identity()(inputs))
    model.compile(loss="binary_crossentropy", metrics=metrics)
    return model.evaluate(y_pred, y_true, verbose=0, return_dict=True)


def test_keras3_one_hot_metrics_are_the_original_miou_and_person_iou():
    from humanmatting.training.metrics import segmentation_metrics

    y_true, y_pred, person_true, person_pred = _example()
    expected = _numpy_ious(person_true, person_pred)
    logs = _evaluate_with(segmentation_metrics(), y_true, y_pred)
    assert logs["miou"] == pytest.approx(expected["mean_iou"], abs=1e-6)
    assert logs["person_iou"] == pytest.approx(expected["person_iou"], abs=1e-6)
    numpy_result = ious(confusion(person_true, person_pred))
    for key, value in expected.items():
        assert numpy_result[key] == pytest.approx(value, abs=1e-12)


def test_the_originals_call_override_is_bypassed_by_keras3_compile():
    y_true, y_pred, person_true, person_pred = _example()
    expected = _numpy_ious(person_true, person_pred)["mean_iou"]
    # Called directly, the override does what the original intended...
    direct = original_style_mean_iou(num_classes=2)
    assert float(direct(y_true, y_pred)) == pytest.approx(expected, abs=1e-6)
    # ...but compile() feeds metrics through update_state, never __call__: MeanIoU then sees
    # one-hot targets and probabilities cast to int, and reports a wrong number silently.
    logs = _evaluate_with([original_style_mean_iou(num_classes=2, name="original")], y_true, y_pred)
    assert abs(logs["original"] - expected) > 0.05


def test_ious_of_edge_cases():
    assert ious(confusion(np.zeros(4, bool), np.zeros(4, bool))) == {
        "background_iou": 1.0,
        "person_iou": 1.0,
        "mean_iou": 1.0,
    }
    everything_wrong = ious(confusion(np.array([1, 1, 0, 0], bool), np.array([0, 0, 1, 1], bool)))
    assert everything_wrong["mean_iou"] == 0.0
