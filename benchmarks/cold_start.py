"""Cold start of the LiteRT path: a fresh Python -> import -> load_matter -> first prediction.

    python -m benchmarks.cold_start --weights MODELS_DIR [--model dark-light] [--runs 5] [--app]

Each run is a new `python -c` process that imports humanmatting, loads the model (LiteRT,
the spec table's default variant) and mattes a 1280x720 JPEG photo from disk; the parent
times the whole process from launch, the child each stage. Also reported: whether
TensorFlow was imported (it must not be) and the resident memory after the first frame
(current and peak). Targets: <= 3 s to the first answer, <= 400 MB resident.

With --app (when app.py exists at the repository root), benchmarks/app_latency.py is run
too, for the app's launch -> first answered request and its memory.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import time
started = time.perf_counter()
import json, sys
from pathlib import Path
import humanmatting
imported = time.perf_counter()
matter = humanmatting.load_matter({model!r}, {weights!r}, download=False)
loaded = time.perf_counter()
alpha = matter.predict({photo!r}).alpha
predicted = time.perf_counter()
status = dict(
    line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line
)
print(json.dumps({{
    "import_s": imported - started,
    "load_s": loaded - imported,
    "first_predict_s": predicted - loaded,
    "variant": matter.variant,
    "alpha_shape": list(alpha.shape),
    "tensorflow_imported": "tensorflow" in sys.modules,
    "keras_imported": "keras" in sys.modules,
    "rss_mib": int(status["VmRSS"].split()[0]) / 1024,
    "peak_rss_mib": int(status["VmHWM"].split()[0]) / 1024,
}}))
"""


def test_photo(path: Path) -> Path:
    """Grace Hopper as a 1280x720 JPEG (cropped to 16:9, enlarged), as a webcam frame."""
    import matplotlib.cbook
    from PIL import Image

    photo = Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    width = photo.width
    crop = photo.convert("RGB").crop((0, 100, width, 100 + round(width * 9 / 16)))
    crop.resize((1280, 720), Image.Resampling.LANCZOS).save(path, quality=90)
    return path


def one_run(model: str, weights: str, photo: Path) -> dict:
    code = CHILD.format(model=model, weights=weights, photo=str(photo))
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"the cold-start process failed:\n{result.stderr}")
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    figures["process_wall_s"] = wall
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", required=True, help="folder with the model folder(s)")
    parser.add_argument("--model", default="dark-light")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--app", action="store_true", help="also run benchmarks/app_latency.py")
    args = parser.parse_args(argv)

    photo = test_photo(Path(tempfile.mkdtemp(prefix="cold-start-")) / "photo-1280x720.jpg")
    runs = [one_run(args.model, str(Path(args.weights).resolve()), photo) for _ in range(args.runs)]
    print(
        f"cold start, {args.model} ({runs[0]['variant']}, LiteRT), 1280x720 JPEG, "
        f"{args.runs} fresh processes (median [min-max]):"
    )
    for key, label in (
        ("process_wall_s", "launch -> first alpha (whole process)"),
        ("import_s", "import humanmatting"),
        ("load_s", "load_matter"),
        ("first_predict_s", "first predict (decode, allocate, run)"),
        ("rss_mib", "resident memory after it, MiB"),
        ("peak_rss_mib", "peak resident memory, MiB"),
    ):
        values = [run[key] for run in runs]
        print(
            f"  {label:40s} {statistics.median(values):8.3f} [{min(values):.3f}-{max(values):.3f}]"
        )
    imported = {run["tensorflow_imported"] or run["keras_imported"] for run in runs}
    print(f"  TensorFlow or Keras imported: {sorted(imported)}")
    target = statistics.median(run["process_wall_s"] for run in runs) <= 3.0
    memory = statistics.median(run["peak_rss_mib"] for run in runs) <= 400
    print(
        f"  targets: <= 3 s {'met' if target else 'NOT met'}; <= 400 MB "
        f"{'met' if memory else 'NOT met'}"
    )
    if args.app:
        if not (REPO_ROOT / "app.py").is_file():
            print("no app.py at the repository root; skipped --app")
        else:
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "benchmarks.app_latency",
                    "--weights",
                    args.weights,
                    "--calls",
                    "20",
                ],
                cwd=REPO_ROOT,
                check=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
