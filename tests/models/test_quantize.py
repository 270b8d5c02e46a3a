"""The fast LiteRT export (fixed-shape signatures, rewritten graph), int8 with equalization
and a float first conv, the variant choice in the runtime, and int8/fp16 agreement with fp32
on held-out photos with the author's weights."""

from __future__ import annotations

import logging
import shutil

import numpy as np
import pytest

from harness.models import randomize
from humanmatting import load_matter
from humanmatting.models.keras_backend import KerasBackend
from humanmatting.specs import DYNAMIC_SIGNATURE, TFLITE_FILES, fixed_signature, get_spec


@pytest.fixture(scope="module")
def random_dark_light():
    from humanmatting.models.likeunet import build_model

    return randomize(build_model("dark-light"), seed=3)


def test_litert_graph_computes_the_same_with_fast_ops(random_dark_light):
    import keras

    from humanmatting.models.export import litert_graph
    from humanmatting.models.likeunet import build_model

    night = randomize(build_model("night"), seed=4)
    batch = np.random.default_rng(0).uniform(0, 255, (1, 96, 160, 3)).astype(np.float32)
    for model, inputs in ((random_dark_light, batch[..., :1]), (night, batch)):
        graph = litert_graph(model)
        assert not any(isinstance(layer, keras.layers.Conv2DTranspose) for layer in graph.layers)
        assert graph.output_shape[-1] == 1  # person probability, not a 2-class softmax
        expected = np.asarray(model(inputs))[..., 1]
        np.testing.assert_allclose(np.asarray(graph(inputs))[..., 0], expected, atol=2e-5)


def test_equalization_keeps_the_function_and_evens_out_channel_ranges(random_dark_light):
    import keras

    from humanmatting.models.export import litert_graph
    from humanmatting.models.quantize import equalize_channels

    rng = np.random.default_rng(1)
    calibration = [rng.uniform(0, 255, (1, 64, 96, 1)).astype(np.float32) for _ in range(2)]
    graph = litert_graph(random_dark_light)
    stem_output = keras.Model(graph.input, graph.get_layer("conv2d").output)

    def ranges():
        return np.max([np.asarray(stem_output(x)).max(axis=(0, 1, 2)) for x in calibration], 0)

    before = ranges()
    expected = np.asarray(graph(calibration[1]))
    equalize_channels(graph, calibration, strength=1.0)
    after = ranges()
    np.testing.assert_allclose(np.asarray(graph(calibration[1])), expected, atol=1e-4)
    live = before > 0
    assert after[live].min() / after[live].max() > 0.99  # every channel at the full range
    assert before[live].min() / before[live].max() < 0.9


def test_fixed_shape_signatures_serve_presets_and_agree_with_the_any_size_one(
    random_weights_dir, photos
):
    from humanmatting.models.export import fixed_shapes

    matter = load_matter("dark-light", random_weights_dir, variant="fp32")
    backend = matter.backend
    assert backend.signatures == {DYNAMIC_SIGNATURE} | {
        fixed_signature(h, w) for h, w in fixed_shapes()
    }
    assert backend.signature_for((1, 256, 256, 1)) == fixed_signature(256, 256)
    assert backend.signature_for((1, 256, 320, 1)) == DYNAMIC_SIGNATURE
    rgb = photos["grace_hopper"][:512, :384]  # 4:3, so long side 512 is the 512x384 preset
    prediction = matter.predict(rgb, long_side=512, refine=False)  # a fixed-shape signature
    fixed = prediction.alpha
    assert prediction.input_size == (512, 384)
    assert backend.signature_for((1, 512, 384, 1)) == fixed_signature(512, 384)
    backend.signatures.discard(fixed_signature(512, 384))  # now it runs the any-size graph
    backend._runners.clear()
    np.testing.assert_allclose(
        matter.predict(rgb, long_side=512, refine=False).alpha, fixed, atol=1e-5
    )


def test_the_first_graph_takes_any_size_for_single_graph_readers(random_weights_dir):
    """Code that ignores signatures (e.g. a model card snippet) gets the any-size graph."""
    from ai_edge_litert.interpreter import Interpreter

    path = random_weights_dir / "dark-light" / TFLITE_FILES["fp32"]
    interpreter = Interpreter(model_path=str(path))
    details = interpreter.get_input_details()[0]
    assert list(details["shape_signature"]) == [1, -1, -1, 1]
    interpreter.resize_tensor_input(details["index"], [1, 96, 160, 1])
    interpreter.allocate_tensors()
    interpreter.set_tensor(details["index"], np.zeros((1, 96, 160, 1), np.float32))
    interpreter.invoke()
    output = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    assert output.shape == (1, 96, 160, 1)


def test_default_variant_falls_back_to_fp32_with_a_warning(random_weights_dir, caplog):
    assert get_spec("dark-light").default_variant == "int8"
    assert not (random_weights_dir / "dark-light" / TFLITE_FILES["int8"]).exists()
    with caplog.at_level(logging.WARNING, logger="humanmatting.runtime"):
        matter = load_matter("dark-light", random_weights_dir)
    assert matter.variant == "fp32" and matter.name == "dark-light"
    assert "python -m humanmatting.models.quantize" in caplog.text
    with pytest.raises(FileNotFoundError, match="python -m humanmatting.models.quantize"):
        load_matter("dark-light", random_weights_dir, variant="int8")
    assert load_matter("dark-light", random_weights_dir, backend=KerasBackend).variant == "fp32"


@pytest.mark.slow
def test_older_single_graph_softmax_files_still_load(random_weights_dir, tmp_path, photos):
    """Folders written before the fast export: one any-size graph ("serve"), 2-class softmax."""
    import keras
    import tensorflow as tf

    from humanmatting.models.likeunet import with_upsampling

    folder = tmp_path / "dark-light"
    shutil.copytree(random_weights_dir / "dark-light", folder)
    old_graph = with_upsampling(keras.saving.load_model(str(folder), compile=False))
    archive = keras.export.ExportArchive()
    archive.track(old_graph)
    archive.add_endpoint(
        "serve",
        lambda x: old_graph(x, training=False),
        input_signature=[tf.TensorSpec([1, None, None, 1], tf.float32, name="image")],
    )
    archive.write_out(str(tmp_path / "saved"), verbose=False)
    converter = tf.lite.TFLiteConverter.from_saved_model(str(tmp_path / "saved"))
    (folder / TFLITE_FILES["fp32"]).write_bytes(converter.convert())
    old = load_matter("dark-light", tmp_path, variant="fp32")
    assert old.backend.signatures == {"serving_default"}
    new = load_matter("dark-light", random_weights_dir, variant="fp32")
    for rgb in photos.values():
        np.testing.assert_allclose(old.predict(rgb).alpha, new.predict(rgb).alpha, atol=1e-5)
        assert old.backend(np.zeros((1, 64, 96, 1), np.float32)).shape == (1, 64, 96, 2)


@pytest.fixture(scope="module")
def quantized_original(original_weights_dir, tmp_path_factory):
    """The author's dark-light with int8 and fp16 made by humanmatting.models.quantize (fixed-shape
    graph for 256x256 only, to keep the test short; other sizes use the any-size graph)."""
    from humanmatting.models.quantize import quantize_folder

    folder = tmp_path_factory.mktemp("quantized") / "dark-light-original"
    shutil.copytree(original_weights_dir / "dark-light-original", folder)
    record = quantize_folder(folder, variants=("fp16", "int8"), shapes=[(256, 256)])
    return folder, record


@pytest.mark.slow  # quantized_original: two minutes of int8 calibration
def test_int8_keeps_the_first_conv_float_and_the_rest_integer(quantized_original):
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    folder, _ = quantized_original
    model = flatbuffer_utils.read_model(str(folder / TFLITE_FILES["int8"]))
    for subgraph in model.subgraphs:
        kernels = [
            subgraph.tensors[op.inputs[1]].type
            for op in subgraph.operators
            if model.operatorCodes[op.opcodeIndex].builtinCode == schema.BuiltinOperator.CONV_2D
        ]
        assert kernels[0] == schema.TensorType.FLOAT32
        assert set(kernels[1:]) == {schema.TensorType.INT8}


@pytest.mark.slow
def test_variants_agree_with_fp32_on_held_out_photos(quantized_original):
    """Thresholds are what the author's weights meet (measured: int8 IoU 0.994 at the
    presets, 0.989 at long side 320; fp16 0.999), with a small margin."""
    folder, record = quantized_original
    int8 = record["int8"]["agreement_with_fp32"]
    assert int8["presets"]["iou"] >= 0.99
    assert int8["presets"]["mean_abs_difference"] <= 0.008
    assert int8["long_side_320"]["iou"] >= 0.98
    assert int8["long_side_320"]["mean_abs_difference"] <= 0.01
    fp16 = record["fp16"]["agreement_with_fp32"]
    assert fp16["presets"]["iou"] >= 0.998 and fp16["long_side_320"]["iou"] >= 0.997
    assert fp16["presets"]["mean_abs_difference"] <= 0.002
    matter = load_matter("dark-light-original", folder.parent)  # the default variant, now present
    assert matter.variant == "int8"


@pytest.mark.slow
def test_model_card_reports_how_the_variants_agree(quantized_original):
    from humanmatting.hub.card import build_card

    folder, record = quantized_original
    text = str(build_card(get_spec("dark-light-original"), folder))
    for variant in ("int8", "fp16"):
        presets = record[variant]["agreement_with_fp32"]["presets"]
        rows = [line for line in text.splitlines() if line.startswith(f"| `model-{variant}")]
        assert len(rows) == 2  # the files table and the agreement table
        assert rows[1].split(" | ")[1] == f"{presets['iou']:.4f} ({presets['min_iou']:.4f})"
    assert "first convolution kept in float" in text


def test_calibration_is_the_sample_photos_plus_the_photos_passed_in(tmp_path):
    """The one int8 path's calibration (humanmatting.hub.convert_legacy passes none,
    humanmatting.training.export training photos, the command a folder's): what it records is what
    it feeds."""
    from PIL import Image

    from humanmatting.models.quantize import (
        CALIBRATION_PHOTOS,
        Calibration,
        evenly_spaced_photos,
    )
    from humanmatting.preprocess import ASPECT_PRESETS

    paths = []
    for index in range(10):
        paths.append(tmp_path / f"{index:02d}.png")
        Image.new("RGB", (40, 30), (index, 0, 0)).save(paths[-1])
    picked = evenly_spaced_photos(paths, 3)
    assert [int(photo[0, 0, 0]) for photo in picked] == [0, 3, 6]
    assert evenly_spaced_photos(paths, 0) == []
    samples = len(CALIBRATION_PHOTOS) * len(ASPECT_PRESETS)
    assert len(Calibration().inputs(1)) == Calibration().record().inputs == samples
    calibration = Calibration.from_folder(tmp_path, 4)
    record = calibration.record()
    assert (record.folder_photos, record.photos_from) == (4, str(tmp_path))
    inputs = calibration.inputs(3)
    assert len(inputs) == record.inputs == samples + 4
    assert inputs[-1].shape[-1] == 3


def test_lite0_int8_keeps_what_its_spec_names_float_and_quantizes_the_rest():
    """lite0's depthwise convs, stem, first blocks, decoder and head stay float in int8 (its
    spec's `int8_float_ops` and `int8_float_layers`); the later blocks' 1x1 convs, where most
    of its multiply-accumulates are, are int8."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    from humanmatting.models.export import convert_to_tflite
    from humanmatting.models.likeunet import build_model

    architecture = get_spec("lite0").architecture
    model = randomize(build_model("lite0"), seed=5)
    rng = np.random.default_rng(2)
    calibration = [rng.uniform(0, 255, (1, 64, 96, 3)).astype(np.float32) for _ in range(2)]
    flatbuffer = convert_to_tflite(
        model,
        "int8",
        calibration,
        shapes=[],
        float_ops=architecture.int8_float_ops,
        float_layers=architecture.int8_float_layers,
    )
    graph = flatbuffer_utils.convert_bytearray_to_object(flatbuffer)
    (subgraph,) = graph.subgraphs
    kernels = {}  # op output name -> (op kind, kernel type)
    for op in subgraph.operators:
        code = graph.operatorCodes[op.opcodeIndex]
        kind = max(code.builtinCode, code.deprecatedBuiltinCode)
        if kind in (schema.BuiltinOperator.CONV_2D, schema.BuiltinOperator.DEPTHWISE_CONV_2D):
            name = subgraph.tensors[op.outputs[0]].name.decode()
            kernels[name] = (kind, subgraph.tensors[op.inputs[1]].type)
    float32, int8 = schema.TensorType.FLOAT32, schema.TensorType.INT8

    def types(*parts):
        return {kernel for name, (_, kernel) in kernels.items() if any(p in name for p in parts)}

    depthwise = schema.BuiltinOperator.DEPTHWISE_CONV_2D
    assert {kernel for kind, kernel in kernels.values() if kind == depthwise} == {float32}
    assert types("/stem_conv", "/block0_", "/block3_", "/decoder", "/mask_head", "/mask_") == {
        float32
    }
    assert types("/block4_expand", "/block10_project") == {int8}
