"""The Keras backend of `humanmatting.load_matter(..., backend=KerasBackend)`: the Keras 3
model of a model folder, loaded with safe_mode. Needs the [keras] extra."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from humanmatting.weights import InvalidWeightsError


class KerasBackend:
    """The Keras 3 model of a model folder, loaded with safe_mode, run by `predict_on_batch`
    (Keras traces it once for any height and width: `models.BilinearUpSampling2D`)."""

    def __init__(self, folder: Path):
        self.model = load_keras_model(folder)
        self.channels = int(self.model.input_shape[-1])
        self._lock = threading.Lock()  # one Keras predict function, built on first use

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        with self._lock:
            return np.asarray(self.model.predict_on_batch(batch))

    def person_probability(self, batch: np.ndarray) -> np.ndarray:
        return self(batch)[0, :, :, 1]

    def close(self) -> None:
        """Drop the model (Keras keeps its graph until then)."""
        self.model = None


def load_keras_model(folder: Path):
    """`keras.saving.load_model` with safe_mode=True: a model that carries code (a Lambda
    layer, an arbitrary callable in its config) is refused, as are damaged files. Keras's
    bilinear UpSampling2D (what model folders hold) becomes `BilinearUpSampling2D`."""
    import keras

    from humanmatting.models.likeunet import with_upsampling

    try:
        model = keras.saving.load_model(str(folder), compile=False, safe_mode=True)
    except Exception as error:  # Keras raises ValueError, TypeError, OSError, even NameError
        if "safe_mode" in str(error) or "Lambda" in str(error):
            raise InvalidWeightsError(
                f"Refused to load the Keras model in {folder}: it contains code (such as a "
                "Lambda layer), which is never loaded; use a model folder exported by "
                "humanmatting."
            ) from None
        root = error  # the first failure, e.g. h5py's "truncated file" under Keras's own
        while (root.__cause__ or root.__context__) is not None:
            root = root.__cause__ or root.__context__
        reason = (str(root).strip().splitlines() or [""])[0][:200]
        raise InvalidWeightsError(
            f"Cannot load the Keras model in {folder} ({type(root).__name__}: {reason}); "
            "it is damaged or not a Keras 3 model folder: delete it and pull or export it again."
        ) from None
    return with_upsampling(model)
