"""Legacy HDF5 loading errors, on files the tests write (no reference needed).

humanmatting.models imports Keras (seconds): it is imported in the tests, so that
collecting the suite does not load it.
"""

import h5py
import numpy as np
import pytest

from harness.models import build_model


def write_keras2_weights(model, path, tamper=None):
    """Write `model`'s weights in the Keras-2 weights-only layout (as the original release)."""
    with h5py.File(path, "w") as file:
        names = [layer.name for layer in model.layers]
        file.attrs["layer_names"] = np.array([n.encode() for n in names])
        for layer in model.layers:
            group = file.create_group(layer.name)
            weight_names = []
            for index, value in enumerate(layer.get_weights()):
                if tamper and tamper[0] == layer.name and index == 0:
                    value = np.zeros(tamper[1], value.dtype)
                weight_name = f"{layer.name}/w{index}:0"
                group.create_dataset(weight_name, data=value)
                weight_names.append(weight_name.encode())
            group.attrs["weight_names"] = np.array(weight_names)


def test_round_trip(tmp_path):
    from humanmatting.models.legacy import load_legacy_weights

    source = build_model("dark-light")
    path = tmp_path / "weights.h5"
    write_keras2_weights(source, path)
    target = load_legacy_weights(build_model("dark-light"), path)
    for a, b in zip(source.get_weights(), target.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_shape_mismatch_names_the_layer_and_the_file(tmp_path):
    from humanmatting.models.legacy import LegacyWeightsError, load_legacy_weights

    path = tmp_path / "bad-shape.h5"
    write_keras2_weights(build_model("dark-light"), path, tamper=("conv3", (3, 3, 32, 31)))
    with pytest.raises(LegacyWeightsError, match=r"bad-shape\.h5.*'conv3'.*\(3, 3, 32, 31\)"):
        load_legacy_weights(build_model("dark-light"), path)


def test_truncated_file_names_the_file(tmp_path):
    from humanmatting.models.legacy import LegacyWeightsError, load_legacy_weights

    path = tmp_path / "full.h5"
    write_keras2_weights(build_model("dark-light"), path)
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(LegacyWeightsError, match=r"truncated\.h5.*(damaged|truncated)"):
        load_legacy_weights(build_model("dark-light"), truncated)


def test_not_hdf5(tmp_path):
    from humanmatting.models.legacy import LegacyWeightsError, load_legacy_weights

    path = tmp_path / "text.h5"
    path.write_text("hello")
    with pytest.raises(LegacyWeightsError, match=r"text\.h5: cannot read as HDF5 .*damaged"):
        load_legacy_weights(build_model("dark-light"), path)
