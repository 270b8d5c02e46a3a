"""web/src's preprocessing and model-file handling, run with Node against the server's own
code: the in-browser camera's matte equals the server's only if every step does.

No build and no browser needed (web/src/preprocess.js and tflite.js import nothing); the
page itself is tested in tests/app/test_browser_camera.py.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np
import pytest

from harness.fake_camera import as_frame
from harness.paths import REPO_ROOT
from humanmatting.app import browser
from humanmatting.preprocess import (
    ASPECT_PRESETS,
    alpha_to_size,
    load_rgb,
    model_input_size,
    prepare_input,
)
from humanmatting.refine import REFINEMENTS, clean_settings, guided_upsample
from humanmatting.runtime import load_matter, tflite_file
from humanmatting.specs import DYNAMIC_SIGNATURE, MODEL_SPECS, SHIPPED_MODELS
from humanmatting.video import AlphaSmoother
from humanmatting.weights import PACKAGED_WEIGHTS_DIR

WEB_SRC = REPO_ROOT / "web" / "src"
NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None, reason="node not installed (Node.js 20+)")

RUNNER = REPO_ROOT / "harness" / "web_runner.mjs"


@pytest.fixture(scope="module")
def run_js(tmp_path_factory):
    folder = tmp_path_factory.mktemp("node")
    count = 0

    def run(kind: str, **job) -> Path:
        nonlocal count
        count += 1
        job_file, output = folder / f"job{count}.json", folder / f"out{count}.bin"
        for key, value in list(job.items()):
            if isinstance(value, np.ndarray):
                path = folder / f"in{count}-{key}.bin"
                np.ascontiguousarray(value).tofile(path)
                job[key] = str(path)
        job_file.write_text(json.dumps({"kind": kind, "output": str(output), **job}))
        subprocess.run([NODE, str(RUNNER), str(WEB_SRC), str(job_file)], check=True, timeout=120)
        return output

    return run


@pytest.fixture(scope="module")
def frames(photos) -> dict[str, np.ndarray]:
    """Real photos as camera frames: 4:3 landscape, 16:9 and a portrait phone's 3:4."""
    grace, astronaut = photos["grace_hopper"], photos["astronaut"]
    return {
        "640x480": as_frame(grace),
        "1280x720": as_frame(astronaut, (1280, 720)),
        "480x640": as_frame(grace, (480, 640)),
    }


@pytest.mark.browser
@needs_node
@pytest.mark.parametrize("frame_name", ["640x480", "1280x720", "480x640"])
@pytest.mark.parametrize("channels", [1, 3], ids=["gray", "rgb"])
def test_model_input_is_the_servers_bit_for_bit(run_js, frames, frame_name, channels):
    """RGB -> gray (OpenCV's fixed point), INTER_AREA shrink, raw 0..255: at every network
    size the camera's slider offers, and at the aspect preset."""
    rgb = frames[frame_name]
    height, width = rgb.shape[:2]
    rgba = cv2.cvtColor(rgb, cv2.COLOR_RGB2RGBA)
    for long_side in [*range(160, 513, 32), None]:
        size = model_input_size(height, width, long_side)
        output = run_js(
            "prepare", input=rgba, width=width, height=height, channels=channels, size=size
        )
        js = np.fromfile(output, np.float32).reshape(*size, channels)
        expected = prepare_input(rgb, channels, size)[0]
        assert np.array_equal(js, expected), (long_side, np.abs(js - expected).max())


@pytest.mark.browser
@needs_node
def test_network_sizes_are_the_servers(run_js):
    """model_input_size for many frame sizes and long sides, halves included (Python's
    round goes to the even multiple of 32: 480x640 at 192 is 128x192, not 160x192)."""
    config = browser.camera_config({}, None)
    rng = np.random.default_rng(0)
    cases = [[480, 640, 192], [480, 640, 320], [720, 1280, None], [1, 4000, None]]
    cases += [
        [int(h), int(w), int(side)]
        for h, w, side in rng.integers([16, 16, 32], [4000, 4000, 1025], (300, 3))
    ]
    cases += [[int(h), int(w), None] for h, w in rng.integers(1, 5000, (100, 2))]
    output = run_js("sizes", cases=cases, config=config)
    js = json.loads(output.read_text())
    assert [list(model_input_size(h, w, side)) for h, w, side in cases] == js


@pytest.mark.browser
@needs_node
def test_matte_to_frame_size_and_smoothing_are_the_servers(run_js):
    rng = np.random.default_rng(1)
    probability = rng.random((192, 256), dtype=np.float32)
    output = run_js(
        "upsample", input=probability, width=256, height=192, outWidth=640, outHeight=480
    )
    js = np.fromfile(output, np.float32).reshape(480, 640)
    # OpenCV's weights differ in the last bits (1e-5 here): far below an 8-bit level (4e-3);
    # a pixel-centre error would be 0.1.
    assert np.abs(js - alpha_to_size(probability, 480, 640)).max() < 1e-4

    sequence = rng.random((5, 24, 32), dtype=np.float32)
    output = run_js("smooth", input=sequence, weight=0.5, frames=5)
    js = np.fromfile(output, np.float32).reshape(5, 24, 32)
    smoother = AlphaSmoother(0.5)
    expected = np.stack([smoother(frame) for frame in sequence])
    assert np.abs(js - expected).max() < 1e-6


@pytest.mark.browser
@needs_node
@pytest.mark.parametrize("name", SHIPPED_MODELS)
def test_pinned_any_size_graph_computes_the_servers_output(run_js, name, tmp_path):
    """LiteRT.js compiles fixed shapes only: web/src/tflite.js writes the size into the
    any-size graph's input and output. The pinned file, run by the server's LiteRT, gives
    what the original gives at that size, and its other graphs are untouched."""
    from ai_edge_litert.interpreter import Interpreter

    path, _ = tflite_file(name, PACKAGED_WEIGHTS_DIR / name)
    original = path.read_bytes()
    signatures = json.loads(
        run_js("signatures", input=np.frombuffer(original, np.uint8)).read_text()
    )
    assert set(signatures) == set(Interpreter(model_content=original).get_signature_list())
    output = run_js(
        "pin",
        input=np.frombuffer(original, np.uint8),
        signature=DYNAMIC_SIGNATURE,
        height=192,
        width=256,
    )
    pinned = output.read_bytes()
    assert len(pinned) == len(original)
    channels = MODEL_SPECS[name].channels
    rgb = as_frame(load_rgb(REPO_ROOT / "examples" / "grace_hopper.jpg"))
    batch = prepare_input(rgb, channels, (192, 256))
    runner = Interpreter(model_content=pinned).get_signature_runner(DYNAMIC_SIGNATURE)
    (details,) = runner.get_input_details().values()
    assert list(details["shape_signature"]) == [1, 192, 256, channels]
    (result,) = runner(image=batch).values()
    expected = Interpreter(model_content=original).get_signature_runner(DYNAMIC_SIGNATURE)(
        image=batch
    )
    np.testing.assert_array_equal(result, next(iter(expected.values())))
    changed = np.flatnonzero(np.frombuffer(pinned, np.uint8) != np.frombuffer(original, np.uint8))
    assert 0 < len(changed) <= 4 * 4 * 4  # a few int32 of 2 shapes x 2 tensors: nothing else


@pytest.mark.browser
@needs_node
@pytest.mark.parametrize("long_side", [160, 256, 320, 512])
@pytest.mark.parametrize("with_network_input", [False, True])
def test_edges_are_refined_as_the_servers_stream_refines_them(
    run_js, frames, long_side, with_network_input
):
    """The network's matte of a real frame, upsampled with the frame as guide, as the
    server does: a . I + b where the matte is not settled, stretched elsewhere. The page
    passes the network's gray input, the guide where it has the working size (256x192 and
    512x384 at work_scale 1; 160x128 and 320x256 are not the frame's 4:3 and it shrinks
    the gray itself)."""
    rgb = frames["640x480"]
    matter = load_matter("dark-light", PACKAGED_WEIGHTS_DIR / "dark-light", download=False)
    size = model_input_size(480, 640, long_side)
    probability = np.ascontiguousarray(
        matter.backend.person_probability(prepare_input(rgb, 1, size)), np.float32
    )
    settings = REFINEMENTS[browser.CAMERA_REFINEMENT]
    output = run_js(
        "refine",
        probability=probability,
        networkWidth=size[1],
        networkHeight=size[0],
        rgba=cv2.cvtColor(rgb, cv2.COLOR_RGB2RGBA),
        width=640,
        height=480,
        settings=browser.camera_config({}, None)["refine"],
        shrunk=prepare_input(rgb, 1, size)[0, :, :, 0].astype(np.uint8)
        if with_network_input
        else None,
    )
    js = np.fromfile(output, np.float32).reshape(480, 640)
    expected = guided_upsample(rgb, probability, settings, max(size))
    person, expected_person = js >= 0.5, expected >= 0.5
    iou = (person & expected_person).sum() / (person | expected_person).sum()
    print(f"long side {long_side}: IoU {iou:.5f}, mean |diff| {np.abs(js - expected).mean():.1e}")
    assert iou >= 0.999 and np.abs(js - expected).mean() < 2e-3, (iou, np.abs(js - expected).mean())
    assert np.abs(js - alpha_to_size(probability, 480, 640)).mean() > 5e-3  # it did refine


@pytest.mark.browser
@needs_node
@pytest.mark.parametrize("frame_name", ["640x480", "1280x720", "480x640", "haze"])
def test_mattes_are_cleaned_as_the_server_cleans_them(run_js, frames, frame_name):
    """The refined matte of a real frame (and a synthetic one with haze and a hole), made
    solid and empty away from its outline: the page's cleanAlpha as refine.clean_alpha,
    with camera.json's settings."""
    from humanmatting.refine import clean_alpha, refine_alpha
    from tests.runtime.test_refine import haze_scene

    if frame_name == "haze":
        alpha, boxes = haze_scene(640)
    else:
        rgb = frames[frame_name]
        size = model_input_size(*rgb.shape[:2], 256)
        matter = load_matter("dark-light", PACKAGED_WEIGHTS_DIR / "dark-light", download=False)
        probability = np.array(matter.backend.person_probability(prepare_input(rgb, 1, size)))
        alpha = refine_alpha(rgb, probability, browser.CAMERA_REFINEMENT, clean=False)
    height, width = alpha.shape
    output = run_js(
        "clean",
        alpha=np.ascontiguousarray(alpha, np.float32),
        width=width,
        height=height,
        clean=browser.camera_config({}, None)["clean"],
    )
    js = np.fromfile(output, np.float32).reshape(height, width)
    expected = clean_alpha(alpha)
    person, expected_person = js >= 0.5, expected >= 0.5
    iou = (person & expected_person).sum() / (person | expected_person).sum()
    difference = np.abs(js - expected).mean()
    print(f"{frame_name}: IoU {iou:.5f}, mean |diff| {difference:.1e}")
    assert iou >= 0.999 and difference < 2e-3, (iou, difference)
    assert np.abs(js - alpha).mean() > 5e-3  # it did clean
    if frame_name == "haze":
        assert (js[boxes["hole"]] == 1).all() and (js[boxes["haze"]] == 0).all()


def test_the_servers_stream_refines_as_camera_json_says(frames):
    """stream.StreamSession's matte is Matter.predict(quality=CAMERA_REFINEMENT): what
    the page repeats (camera.json sends that setting)."""
    from humanmatting import compose
    from humanmatting.app.registry import ModelRegistry
    from humanmatting.app.stream import StreamSession
    from humanmatting.pipeline import Background

    registry = ModelRegistry(PACKAGED_WEIGHTS_DIR, names=("dark-light",))
    rgb = frames["640x480"]
    picture, _ = StreamSession().process(
        registry, rgb, "dark-light", Background("matte"), "soft", False, 256
    )
    matter = registry.matter("dark-light", role="camera")
    alpha = matter.predict(rgb, long_side=256, quality=browser.CAMERA_REFINEMENT).alpha
    assert np.array_equal(picture[:, :, 0], compose.matte_picture(alpha))


def test_camera_config_has_the_servers_facts_and_files():
    """The model files the page gets are the ones load_matter runs; the numbers that
    decide the matte come from the server's modules."""
    folders = {name: PACKAGED_WEIGHTS_DIR / name for name in SHIPPED_MODELS}
    models = browser.browser_models(folders)
    config = browser.camera_config(models, "dark-light")
    assert sorted(config["models"]) == sorted(SHIPPED_MODELS)
    for name, model in models.items():
        matter = load_matter(name, folders[name], download=False)
        assert model.path == matter.backend.model_path and model.variant == matter.variant
        assert config["models"][name]["channels"] == MODEL_SPECS[name].channels
    assert config["presets"] == [[ratio, h, w] for ratio, (h, w) in ASPECT_PRESETS.items()]
    assert config["fixed_signature"].format(height=384, width=512) == "static_384x512"
    assert config["default_model"] == "dark-light"
    assert json.loads(browser.config_json(config))["refine"] == json.loads(
        json.dumps(asdict(REFINEMENTS["fast"]))
    )
    assert json.loads(browser.config_json(config))["clean"] == clean_settings()
    assert browser.camera_config(models, "dark-light-original")["default_model"] == "night"
    assert browser.browser_models({"dark": Path("/nonexistent")}) == {}


def test_a_build_needs_the_scripts_and_both_webassembly_files(tmp_path):
    assert not browser.built(tmp_path)
    for name in browser.BUILD_FILES[:-1]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    assert not browser.built(tmp_path)
    (tmp_path / browser.BUILD_FILES[-1]).write_bytes(b"x")
    assert browser.built(tmp_path)
