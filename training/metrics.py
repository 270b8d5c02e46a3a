"""The original's 2-class mean IoU after argmax, and the person-class IoU.

The original notebook (TF 2.0) subclassed `tf.keras.metrics.MeanIoU` and overrode
`__call__` to argmax `y_true` and `y_pred` first. That does not carry over to Keras 3:
`compile(metrics=...)` feeds metrics through `update_state`, never `__call__`, so such an
override is silently skipped and MeanIoU sees one-hot targets and probabilities, which it
casts to integers (probabilities truncate to 0): a wrong number, not an error.
`tests/test_training_metrics.py` shows both. Keras 3's `OneHotMeanIoU` does the argmax in
`update_state` and is what we use.

Both metrics accumulate one confusion matrix over all pixels of the epoch (or split),
like the original's validation mIoU; `confusion`/`ious` do the same in numpy for
per-image statistics in evaluation.
"""

from __future__ import annotations

import numpy as np

MEAN_IOU = "miou"  # Keras logs "miou" and "val_miou"; checkpoints are named after val_miou
PERSON_IOU = "person_iou"


def segmentation_metrics() -> list:
    """Keras metrics for compile(): 2-class mean IoU and person IoU, both after argmax."""
    import keras

    return [
        keras.metrics.OneHotMeanIoU(num_classes=2, name=MEAN_IOU),
        keras.metrics.OneHotIoU(num_classes=2, target_class_ids=[1], name=PERSON_IOU),
    ]


def confusion(person_true: np.ndarray, person_pred: np.ndarray) -> np.ndarray:
    """2x2 pixel counts [[true bg & pred bg, true bg & pred person], [..person..]]."""
    truth = np.asarray(person_true, bool).ravel()
    predicted = np.asarray(person_pred, bool).ravel()
    counts = np.bincount(truth * 2 + predicted, minlength=4)
    return counts.reshape(2, 2).astype(np.int64)


def ious(matrix: np.ndarray) -> dict[str, float]:
    """Background, person and mean IoU of a 2x2 confusion matrix.

    A class absent from both truth and prediction is left out of the mean, as Keras does;
    its own IoU is then reported as 1.0 (nothing to get wrong).
    """
    result = {}
    present = []
    for index, name in enumerate(("background_iou", "person_iou")):
        union = matrix[index, :].sum() + matrix[:, index].sum() - matrix[index, index]
        result[name] = float(matrix[index, index] / union) if union else 1.0
        if union:
            present.append(result[name])
    result["mean_iou"] = float(np.mean(present)) if present else 1.0
    return result
