"""Read the original release's Keras-2 weights-only HDF5 files into our Keras 3 models.

The files list their layers in the attribute `layer_names`, each layer group listing its
arrays in `weight_names`. We pair the weighted layers of file and model in order and check
every shape, so a wrong file or architecture fails loudly instead of loading garbage.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import keras
import numpy as np


class LegacyWeightsError(ValueError):
    """The HDF5 file does not fit the model (or is not a readable Keras-2 weights file)."""


def read_legacy_weights(path: str | Path) -> list[tuple[str, list[np.ndarray]]]:
    """(layer name, arrays) for each layer with weights, in the file's layer order."""
    path = Path(path)
    try:
        with h5py.File(path, "r") as file:
            root = file["model_weights"] if "model_weights" in file else file
            if "layer_names" not in root.attrs:
                raise LegacyWeightsError(f"{path}: not a Keras-2 weights file (no 'layer_names').")
            layers = []
            for raw_name in root.attrs["layer_names"]:
                name = raw_name.decode() if isinstance(raw_name, bytes) else str(raw_name)
                group = root[name]
                weight_names = [
                    w.decode() if isinstance(w, bytes) else str(w)
                    for w in group.attrs.get("weight_names", [])
                ]
                if weight_names:
                    try:
                        layers.append((name, [np.asarray(group[w]) for w in weight_names]))
                    except (KeyError, OSError) as error:
                        raise LegacyWeightsError(
                            f"{path}: cannot read the weights of layer {name!r} ({error}); "
                            "the file is damaged or truncated."
                        ) from None
            return layers
    except LegacyWeightsError:
        raise
    except (OSError, KeyError) as error:
        raise LegacyWeightsError(
            f"{path}: cannot read as HDF5 ({error}); the file is damaged or truncated."
        ) from None


def load_legacy_weights(model: keras.Model, path: str | Path) -> keras.Model:
    """Set `model`'s weights from a Keras-2 weights file, layer by layer in order."""
    file_layers = read_legacy_weights(path)
    model_layers = [layer for layer in model.layers if layer.weights]
    if len(file_layers) != len(model_layers):
        raise LegacyWeightsError(
            f"{path}: has {len(file_layers)} layers with weights, model {model.name!r} has "
            f"{len(model_layers)}; is it the right file for this model?"
        )
    for layer, (file_name, arrays) in zip(model_layers, file_layers, strict=True):
        expected = [tuple(w.shape) for w in layer.weights]
        found = [a.shape for a in arrays]
        if expected != found:
            raise LegacyWeightsError(
                f"{path}: layer {file_name!r} has weight shapes {found}, but model layer "
                f"{layer.name!r} expects {expected}."
            )
        layer.set_weights(arrays)
    return model
