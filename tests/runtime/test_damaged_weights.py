"""Damaged, foreign and unsafe weights are refused with a clear message, never run.

Weights are data, not code: a wrong SHA-256, a truncated file, a model folder of another
model, a Keras config that carries code (a Lambda layer, an arbitrary callable) all raise
InvalidWeightsError (WeightsIntegrityError for the SHA-256) before any request is served.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from humanmatting import cli, load_matter
from humanmatting.folder import FolderDescription
from humanmatting.models.keras_backend import KerasBackend, load_keras_model
from humanmatting.specs import MODEL_SPECS
from humanmatting.weights import (
    InvalidWeightsError,
    WeightsIntegrityError,
    WeightsNotFoundError,
    sha256_of,
)


@pytest.fixture
def weights_copy(random_weights_dir, tmp_path):
    """A private copy of the dark-light model folder, to damage; returns its parent."""
    shutil.copytree(random_weights_dir / "dark-light", tmp_path / "weights" / "dark-light")
    return tmp_path / "weights"


def pin(monkeypatch, commit=None, **digests):
    spec = MODEL_SPECS["dark-light"]
    monkeypatch.setitem(
        MODEL_SPECS, "dark-light", dataclasses.replace(spec, sha256=digests, hub_revision=commit)
    )


COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def hub_snapshot(random_weights_dir, tmp_path):
    """dark-light laid out as a Hugging Face cache snapshot at COMMIT: pins apply to it
    (folders built locally are never checked against the published hashes)."""
    snapshot = tmp_path / "models--humanmatting--humanmatting-dark-light" / "snapshots" / COMMIT
    shutil.copytree(random_weights_dir / "dark-light", snapshot)
    return snapshot


def test_wrong_sha256_is_refused_and_the_right_one_loads(hub_snapshot, monkeypatch, capsys):
    tflite = hub_snapshot / "model.tflite"
    actual = sha256_of(tflite)
    # Every file pinned, as hub.push prints them (a loaded file without a pin is refused).
    pinned = {path.name: sha256_of(path) for path in hub_snapshot.iterdir() if path.is_file()}
    pin(monkeypatch, COMMIT, **{**pinned, "model.tflite": "0" * 64})
    with pytest.raises(WeightsIntegrityError, match=f"SHA-256 {actual}, expected 0{{64}}"):
        load_matter("dark-light", hub_snapshot)
    assert issubclass(WeightsIntegrityError, InvalidWeightsError)
    assert cli.main([str(tflite), "--model", "dark-light", "--weights", str(hub_snapshot)]) == 2
    assert "humanmatting.hub.pull dark-light --force-download" in capsys.readouterr().err

    pin(monkeypatch, COMMIT, **pinned)
    alpha = load_matter("dark-light", hub_snapshot).predict(np.zeros((8, 8), np.uint8)).alpha
    assert alpha.shape == (8, 8)
    # One flipped byte deep in the weights still loads and runs: only the pin catches it.
    data = bytearray(tflite.read_bytes())
    data[len(data) // 2] ^= 0xFF
    tflite.write_bytes(bytes(data))
    with pytest.raises(WeightsIntegrityError):
        load_matter("dark-light", hub_snapshot)


DAMAGE_SCRIPT = """
import json, sys
from humanmatting import load_matter
results = {}
for folder in sys.argv[1:]:
    try:
        load_matter("dark-light", folder)
        results[folder] = ["loaded", ""]
    except Exception as error:
        results[folder] = [type(error).__name__, str(error)]
print(json.dumps(results))
"""


def test_damaged_tflite_is_refused_without_crashing(random_weights_dir, tmp_path):
    """Run in a child process: a LiteRT crash would be a signal, not an exception."""
    original = (random_weights_dir / "dark-light" / "model.tflite").read_bytes()
    damages = {
        "truncated": original[: len(original) // 2],
        "empty": b"",
        "garbage": np.random.default_rng(0).bytes(20_000),
        "header-only": original[:64],
    }
    folders = []
    for name, data in damages.items():
        folder = tmp_path / name / "dark-light"
        shutil.copytree(random_weights_dir / "dark-light", folder)
        (folder / "model.tflite").write_bytes(data)
        folders.append(str(folder))
    result = subprocess.run(
        [sys.executable, "-c", DAMAGE_SCRIPT, *folders], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    outcomes = json.loads(result.stdout.strip().splitlines()[-1])
    for folder in folders:
        kind, message = outcomes[folder]
        assert kind == "InvalidWeightsError", (folder, kind, message)
        assert f"{folder}/model.tflite is not a working TFLite model" in message
        assert "pull or export it again" in message


@pytest.mark.parametrize(
    "filename, damage",
    [
        ("model.weights.h5", "truncate"),
        ("model.weights.h5", "empty"),
        ("config.json", "truncate"),
    ],
)
def test_damaged_keras_files_are_refused(weights_copy, filename, damage):
    path = weights_copy / "dark-light" / filename
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if damage == "truncate" else b"")
    with pytest.raises(InvalidWeightsError, match="Cannot load the Keras model .* damaged"):
        load_matter("dark-light", weights_copy, backend=KerasBackend)


def test_truncated_keras_archive(tmp_path, capsys):
    import keras

    inputs = keras.Input((None, None, 1))
    model = keras.Model(inputs, keras.layers.Conv2D(2, 1, activation="softmax")(inputs))
    archive = tmp_path / "model.keras"
    model.save(archive)
    assert load_keras_model(archive).count_params() == 4  # the intact archive loads
    archive.write_bytes(archive.read_bytes()[:-200])
    with pytest.raises(InvalidWeightsError, match="Cannot load the Keras model"):
        load_keras_model(archive)
    # The CLI and load_matter take model folders; an archive is refused with how to get one.
    with pytest.raises(WeightsNotFoundError, match="not a model folder"):
        load_matter("dark-light", archive)
    assert cli.main([str(archive), "--weights", str(archive)]) == 2
    assert "not a model folder" in capsys.readouterr().err


def _code_carrying_folder(tmp_path, marker):
    """A dark-light 'model folder' whose Keras model holds a Lambda that writes `marker`."""
    import keras

    folder = tmp_path / "evil" / "dark-light"

    def side_effect(tensor):
        open(marker, "w").close()  # noqa: SIM115 - the payload
        return tensor

    inputs = keras.Input((None, None, 1))
    hidden = keras.layers.Lambda(lambda t, f=side_effect: f(t))(inputs)
    model = keras.Model(inputs, keras.layers.Conv2D(2, 1, activation="softmax")(hidden))
    keras.saving.save_model(model, folder, zipped=False)
    FolderDescription.new("dark-light").save(folder)  # a valid description: the code is the bait
    marker.unlink(missing_ok=True)  # building the model ran it once, here, on purpose
    return folder


def test_lambda_layer_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "lambda-ran"
    folder = _code_carrying_folder(tmp_path, marker)
    with pytest.raises(InvalidWeightsError, match="contains code"):
        load_matter("dark-light", folder.parent, backend=KerasBackend)
    assert not marker.exists()


def test_config_naming_an_arbitrary_callable_is_refused(tmp_path):
    """A config.json whose layer is `subprocess.Popen(["touch", marker])` must not run it."""
    marker = tmp_path / "popen-ran"
    folder = _code_carrying_folder(tmp_path, tmp_path / "unused")
    config = json.loads((folder / "config.json").read_text())
    layer = config["config"]["layers"][1]
    assert layer["class_name"] == "Lambda"
    layer.update(module="subprocess", class_name="Popen", config={"args": ["touch", str(marker)]})
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(InvalidWeightsError):
        load_matter("dark-light", folder.parent, backend=KerasBackend)
    assert not marker.exists()


def test_folder_of_another_model_is_refused(random_weights_dir, tmp_path):
    shutil.copytree(random_weights_dir / "night", tmp_path / "dark-light")  # RGB as grayscale
    with pytest.raises(InvalidWeightsError, match="takes 3-channel input, but 'dark-light'"):
        load_matter("dark-light", tmp_path)


def test_weights_that_compute_nan_are_refused(tmp_path):
    import keras

    from humanmatting.models.export import save_model_folder

    inputs = keras.Input((None, None, 1))
    conv = keras.layers.Conv2D(2, 1, activation="softmax")
    model = keras.Model(inputs, conv(inputs))
    kernel, bias = conv.get_weights()
    conv.set_weights([kernel, np.full_like(bias, np.nan)])
    save_model_folder(model, "dark-light", tmp_path / "dark-light")
    with pytest.raises(InvalidWeightsError, match="NaN or infinite"):
        load_matter("dark-light", tmp_path)  # LiteRT: refused by the load-time probe
    matter = load_matter("dark-light", tmp_path, backend=KerasBackend)
    with pytest.raises(InvalidWeightsError, match="produced NaN"):
        matter.predict(np.zeros((40, 50), np.uint8))


def flip_bit_in_fixed_graph(model: bytes, signature: str, bit: int = 18) -> bytes:
    """`model` with one bit flipped in the first input index of the first operator of the
    graph behind `signature`: a tensor index far out of range, which LiteRT finds when that
    graph is allocated (the probe's kind of damage, placed where a 64x64 probe never looks)."""
    from ai_edge_litert import schema_py_generated as schema

    root = schema.Model.GetRootAsModel(model, 0)
    keys = [
        root.SignatureDefs(i).SignatureKey().decode() for i in range(root.SignatureDefsLength())
    ]
    graph = root.Subgraphs(root.SignatureDefs(keys.index(signature)).SubgraphIndex())
    operator = graph.Operators(0)
    inputs = operator._tab.Vector(operator._tab.Offset(6))  # field 1: inputs (int32 vector)
    damaged = bytearray(model)
    damaged[inputs + bit // 8] ^= 1 << (bit % 8)
    return bytes(damaged)


def test_a_bit_flip_in_one_fixed_shape_graph_fails_at_load_not_at_the_first_photo(
    random_weights_dir, tmp_path
):
    from ai_edge_litert.interpreter import Interpreter

    folder = tmp_path / "weights" / "dark-light"
    shutil.copytree(random_weights_dir / "dark-light", folder)
    tflite = folder / "model.tflite"
    damaged = flip_bit_in_fixed_graph(tflite.read_bytes(), "static_512x384")
    tflite.write_bytes(damaged)
    # The any-size graph still runs a 64x64 input, all the old probe tried ...
    runner = Interpreter(model_content=damaged).get_signature_runner("serving_default")
    name = next(iter(runner.get_input_details()))
    assert runner(**{name: np.zeros((1, 64, 64, 1), np.float32)})["output_0"].shape[1:3] == (64, 64)
    # ... so a 3:4 photo failed with LiteRT's RuntimeError. Now the load says it all.
    with pytest.raises(InvalidWeightsError, match="static_512x384: Invalid tensor index") as raised:
        load_matter("dark-light", folder.parent, download=False)
    assert "\n" not in str(raised.value) and "pull or export it again" in str(raised.value)


def test_a_graph_failing_at_run_time_is_a_typed_error(random_weights_dir, monkeypatch):
    """The safety net behind the probe: LiteRT's RuntimeError becomes InvalidWeightsError."""
    from humanmatting.runtime import _SignatureRunner

    matter = load_matter("dark-light", random_weights_dir, download=False)

    def broken(self, batch):
        raise RuntimeError("Node number 64 (TfLiteXNNPackDelegate) failed to prepare.")

    monkeypatch.setattr(_SignatureRunner, "__call__", broken)
    # A 4:3 photo goes in at the best long side, 320 (width) x 256 (height).
    with pytest.raises(InvalidWeightsError, match="failed on a 320x256 input .* failed to prepare"):
        matter.predict(np.zeros((600, 800, 3), np.uint8))


def test_a_flipped_bit_in_a_shipped_file_is_caught_by_its_recorded_digest(tmp_path):
    """Issue 29, row 11: one bit flipped in dark-light's model-int8.tflite passed the load
    probe (115 of 400 damaged files loaded) and matted every pixel as person; the SHA-256
    that humanmatting.json records for it was never checked."""
    from humanmatting.weights import PACKAGED_WEIGHTS_DIR

    folder = tmp_path / "dark-light"
    shutil.copytree(PACKAGED_WEIGHTS_DIR / "dark-light", folder)
    path = folder / "model-int8.tflite"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # a weight's lowest bit: the file still loads
    path.write_bytes(bytes(data))
    with pytest.raises(WeightsIntegrityError, match="humanmatting.json records"):
        load_matter("dark-light", folder, variant="int8")
    load_matter("dark-light", folder, variant="fp32").close()  # its other file is whole
