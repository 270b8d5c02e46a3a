"""The original's 2-class mean IoU after argmax, and the person-class IoU.

The original notebook (TF 2.0) subclassed `tf.keras.metrics.MeanIoU` and overrode
`__call__` to argmax `y_true` and `y_pred` first. That does not carry over to Keras 3:
`compile(metrics=...)` feeds metrics through `update_state`, never `__call__`, so such an
override is silently skipped and MeanIoU sees one-hot targets and probabilities, which it
casts to integers (probabilities truncate to 0): a wrong number, not an error.
`tests/training/test_training_metrics.py` shows both. Keras 3's `OneHotMeanIoU` does the argmax in
`update_state` and is what we use.

Both metrics accumulate one confusion matrix over all pixels of the epoch (or split),
like the original's validation mIoU; `confusion`/`ious` do the same in numpy for
per-image statistics in evaluation. `boundary`/`boundary_scores` add the boundary
F-measure (contour accuracy within a pixel tolerance) for benchmarks/quality.py; like the
rest of this module below the Keras metrics, they need only numpy and OpenCV.
"""

from __future__ import annotations

import cv2
import numpy as np

BOUNDARY_TOLERANCE = 3.0  # pixels, Euclidean
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


_NEIGHBOURHOOD = np.ones((3, 3), np.uint8)


def boundary(mask: np.ndarray) -> np.ndarray:
    """Boundary pixels of a binary mask: those whose 3x3 neighbourhood holds the other class.

    Both sides of an edge are marked (the person pixel and the background pixel beside it);
    the image border is not an edge (pixels outside the image count as neither class).
    """
    mask = np.ascontiguousarray(mask, dtype=bool).view(np.uint8)
    return cv2.dilate(mask, _NEIGHBOURHOOD) != cv2.erode(mask, _NEIGHBOURHOOD)


def _distance_to(pixels: np.ndarray) -> np.ndarray:
    """Euclidean distance of every pixel to the nearest True pixel of `pixels` (non-empty)."""
    return cv2.distanceTransform((~pixels).view(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)


def boundary_scores(
    person_true: np.ndarray, person_pred: np.ndarray, tolerance: float = BOUNDARY_TOLERANCE
) -> dict[str, float]:
    """Boundary precision, recall and F-measure of a predicted mask against the truth.

    Precision: the share of predicted boundary pixels within `tolerance` pixels (Euclidean)
    of a true boundary pixel; recall: the share of true boundary pixels within `tolerance`
    of a predicted one; F = 2PR / (P + R). Both boundaries empty: all 1; one empty: all 0.
    """
    truth = boundary(person_true)
    predicted = boundary(person_pred)
    if truth.shape != predicted.shape:
        raise ValueError(f"mask shapes differ: {truth.shape} and {predicted.shape}")
    has_truth, has_predicted = bool(truth.any()), bool(predicted.any())
    if not has_truth and not has_predicted:
        return {"boundary_precision": 1.0, "boundary_recall": 1.0, "boundary_f": 1.0}
    if not has_truth or not has_predicted:
        return {"boundary_precision": 0.0, "boundary_recall": 0.0, "boundary_f": 0.0}
    # Only distances between boundary pixels matter, and they all lie in the bounding box of
    # both boundaries: the distance transforms need nothing outside it.
    rows = np.flatnonzero((truth | predicted).any(axis=1))
    columns = np.flatnonzero((truth | predicted).any(axis=0))
    box = np.s_[rows[0] : rows[-1] + 1, columns[0] : columns[-1] + 1]
    truth, predicted = np.ascontiguousarray(truth[box]), np.ascontiguousarray(predicted[box])
    precision = float(np.mean(_distance_to(truth)[predicted] <= tolerance))
    recall = float(np.mean(_distance_to(predicted)[truth] <= tolerance))
    total = precision + recall
    return {
        "boundary_precision": precision,
        "boundary_recall": recall,
        "boundary_f": 2 * precision * recall / total if total else 0.0,
    }


def mask_scores(
    person_true: np.ndarray, person_pred: np.ndarray, tolerance: float = BOUNDARY_TOLERANCE
) -> dict[str, float]:
    """Per-image person IoU, background IoU, 2-class mean IoU (`ious`) and boundary scores."""
    return {
        **ious(confusion(person_true, person_pred)),
        **boundary_scores(person_true, person_pred, tolerance),
    }
