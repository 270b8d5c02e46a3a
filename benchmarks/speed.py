"""Speed of our models against MediaPipe's selfie segmenter, and against this CPU's peak.

    python -m benchmarks.speed --weights MODELS_DIR [--models dark-light,lite0] [--rounds 30]

MODELS_DIR holds one folder per model (default dark-light/) with model.tflite,
model-fp16.tflite and model-int8.tflite (`python -m humanmatting.models.quantize
MODELS_DIR/NAME` makes the last two). The peer is read from
../shared/anchors/mediapipe-selfie-segmentation (or --mediapipe PATH).

In one process, interleaved (every round runs every configuration a few times, in a
shuffled order, so that load from other processes spreads over all of them): MediaPipe at
its 256x256 input, and each model (Keras, LiteRT fp32, fp16, int8) at 256x256 and (with
--all-sizes, the first model always) at the aspect presets with a 512 long side, with 1
and 2 threads. Each call is a full
`Matter.predict` on a photo of twice the network's size, so preprocessing (decode-free:
RGB array -> gray -> resize -> float) and postprocessing (resize back, clip) are timed
apart from the model. MediaPipe gets the same treatment (resize, scale to [0, 1]).

The physical bound of each run is its multiply-accumulates (counted from the layers)
divided by this machine's measured peak: large float32 and int8 matrix multiplies on the
same cores (XNNPACK FULLY_CONNECTED through LiteRT, and numpy's OpenBLAS for float32).

Writes a section of BENCHMARKS.md (between markers, so other sections stay) and a plot.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from humanmatting.preprocess import ASPECT_PRESETS, model_input_size

REPO_ROOT = Path(__file__).resolve().parents[1]

DEFAULT_MEDIAPIPE = (
    REPO_ROOT.parent / "shared" / "anchors" / "mediapipe-selfie-segmentation"
) / "selfie_segmentation.tflite"
BEGIN, END = "<!-- benchmarks/speed.py: begin -->", "<!-- benchmarks/speed.py: end -->"
VARIANTS = ("fp32", "fp16", "int8")


def network_sizes() -> list[tuple[int, int]]:
    """256x256, then every aspect preset scaled to a 512 long side."""
    long = sorted({model_input_size(h, w, 512) for h, w in ASPECT_PRESETS.values()})
    return [(256, 256), *long]


# --- the machine's peak --------------------------------------------------------------------


def _matmul_model(size: int, quantization: str) -> bytes:
    """A (size x size) @ (size x size) FULLY_CONNECTED model for LiteRT."""
    import keras
    import tensorflow as tf

    inputs = keras.Input((size,), batch_size=size)
    model = keras.Model(inputs, keras.layers.Dense(size, use_bias=False)(inputs))
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if quantization == "int8":
        rng = np.random.default_rng(0)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: (
            [rng.standard_normal((size, size), np.float32)] for _ in range(2)
        )
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    return converter.convert()


class MatmulProbe:
    """A (size x size) @ (size x size) XNNPACK matrix multiply; `best` is the highest rate
    seen. Probed once per round of the timing loop, so a moment when the shared machine
    is quiet is caught."""

    def __init__(self, threads: int, quantization: str, size: int = 1024):
        from ai_edge_litert.interpreter import Interpreter

        self.size = size
        self.interpreter = Interpreter(
            model_content=_matmul_model(size, quantization), num_threads=threads
        )
        self.interpreter.allocate_tensors()
        details = self.interpreter.get_input_details()[0]
        self.interpreter.set_tensor(details["index"], np.ones(details["shape"], details["dtype"]))
        self.best = 0.0
        self.probe(runs=5)

    def probe(self, runs: int = 3) -> None:
        self.best = max(self.best, self.size**3 / _best_time(self.interpreter.invoke, runs))


def numpy_matmul_peak(threads: int, size: int = 2048) -> float:
    """Best float32 multiply-accumulates per second of numpy's matmul, in a fresh process
    (OpenBLAS reads its thread count and kernel choice at import). OpenBLAS 0.3 picks its
    Haswell (AVX2) kernels on this AMD Zen 5 CPU; SkylakeX (AVX-512) kernels are forced
    when the CPU has AVX-512, as its real peak needs them."""
    environment = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads))
    if "avx512f" in cpu_flags():
        environment["OPENBLAS_CORETYPE"] = "SkylakeX"
    code = (
        "import time, numpy as np\n"
        f"n = {size}\n"
        "a = np.random.rand(n, n).astype(np.float32); b = a.copy(); a @ b\n"
        "best = min((lambda t: (a @ b, time.perf_counter() - t)[1])(time.perf_counter())"
        " for _ in range(8))\n"
        "print(n ** 3 / best)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=environment, capture_output=True, text=True, check=True
    )
    return float(result.stdout.strip())


def _best_time(function, runs: int) -> float:
    for _ in range(3):
        function()
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - started)
    return best


def measure_peaks(threads: list[int], probes: dict) -> dict[str, dict[int, dict[str, float]]]:
    """{'fp32'|'int8': {threads: {method: GMAC/s}}} from the XNNPACK probes (best over the
    run) and numpy's matmul (best of a fresh process now)."""
    peaks: dict[str, dict[int, dict[str, float]]] = {"fp32": {}, "int8": {}}
    for count in threads:
        peaks["fp32"][count] = {
            "XNNPACK FULLY_CONNECTED": probes[("fp32", count)].best / 1e9,
            "numpy matmul (OpenBLAS)": numpy_matmul_peak(count) / 1e9,
        }
        peaks["int8"][count] = {"XNNPACK FULLY_CONNECTED": probes[("int8", count)].best / 1e9}
    return peaks


def best_peak(peaks, dtype: str, threads: int) -> float:
    """The peak used for bounds: the best measured with `threads`, or `threads` times the
    best single-thread figure when that is higher (the cores are identical; on a shared
    machine the second core is often busy while the multi-thread probe runs)."""
    measured = max(peaks[dtype][threads].values())
    if 1 in peaks[dtype]:
        measured = max(measured, threads * max(peaks[dtype][1].values()))
    return measured


# --- multiply-accumulates -------------------------------------------------------------------


def tflite_multiply_accumulates(path: Path) -> int:
    """Multiply-accumulates of a fixed-shape TFLite model's conv and dense ops."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model(str(path))
    operator = schema.BuiltinOperator
    total = 0
    for subgraph in model.subgraphs[:1]:
        for op in subgraph.operators:
            code = model.operatorCodes[op.opcodeIndex]
            kind = max(code.builtinCode, code.deprecatedBuiltinCode)
            tensors = subgraph.tensors
            if kind == operator.CONV_2D:
                out, weights = tensors[op.outputs[0]].shape, tensors[op.inputs[1]].shape
                total += int(np.prod(out)) * int(np.prod(weights[1:]))
            elif kind == operator.DEPTHWISE_CONV_2D:
                out, weights = tensors[op.outputs[0]].shape, tensors[op.inputs[1]].shape
                total += int(np.prod(out)) * int(weights[1] * weights[2])
            elif kind == operator.TRANSPOSE_CONV or (
                kind == operator.CUSTOM and code.customCode == b"Convolution2DTransposeBias"
            ):  # weights (out, kh, kw, in): every input value feeds kh * kw * out outputs
                source = tensors[op.inputs[2 if kind == operator.TRANSPOSE_CONV else 0]].shape
                weights = tensors[op.inputs[1]].shape
                total += int(np.prod(source)) * int(np.prod(weights[:3]))
            elif kind == operator.FULLY_CONNECTED:
                out, weights = tensors[op.outputs[0]].shape, tensors[op.inputs[1]].shape
                total += int(np.prod(out)) * int(weights[-1])
    return total


# --- the pipelines being timed ---------------------------------------------------------------


@dataclass
class Samples:
    preprocess: list[float] = field(default_factory=list)
    model: list[float] = field(default_factory=list)
    postprocess: list[float] = field(default_factory=list)


class MediaPipePipeline:
    """The selfie segmenter as an app would run it: resize to 256x256, RGB in [0, 1]."""

    def __init__(self, path: Path, threads: int):
        from ai_edge_litert.interpreter import Interpreter

        self.interpreter = Interpreter(model_path=str(path), num_threads=threads)
        self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]["index"]
        self.size = tuple(int(side) for side in self.input["shape"][1:3])

    def __call__(self, rgb: np.ndarray) -> tuple[float, float, float]:
        started = time.perf_counter()
        height, width = rgb.shape[:2]
        small = cv2.resize(rgb, self.size[::-1], interpolation=cv2.INTER_AREA)
        batch = (small.astype(np.float32) * np.float32(1 / 255))[None]
        prepared = time.perf_counter()
        self.interpreter.set_tensor(self.input["index"], batch)
        self.interpreter.invoke()
        mask = self.interpreter.get_tensor(self.output)[0, :, :, 0]
        inferred = time.perf_counter()
        alpha = cv2.resize(mask, (width, height), interpolation=cv2.INTER_LINEAR)
        np.clip(alpha, 0, 1, out=alpha)
        finished = time.perf_counter()
        return prepared - started, inferred - prepared, finished - inferred


class MatterPipeline:
    """`Matter.predict` at a given network size; stages from its Prediction's timing."""

    def __init__(self, matter, size: tuple[int, int]):
        self.matter = matter
        self.long_side = max(size)

    def __call__(self, rgb: np.ndarray) -> tuple[float, float, float]:
        timing = self.matter.predict(rgb, long_side=self.long_side).timing
        return timing.preprocess_ms / 1e3, timing.model_ms / 1e3, timing.postprocess_ms / 1e3


def photo_frame(size: tuple[int, int]) -> np.ndarray:
    """Grace Hopper cropped to the network's aspect, at twice the network's size."""
    from humanmatting.models.quantize import crop_to_aspect, sample_photo
    from humanmatting.preprocess import load_rgb

    height, width = size
    crop = crop_to_aspect(sample_photo("grace_hopper"), width / height)
    return np.ascontiguousarray(
        cv2.resize(load_rgb(crop), (2 * width, 2 * height), interpolation=cv2.INTER_CUBIC)
    )


def run_interleaved(
    pipelines: dict, frames: dict, rounds: int, calls: int, probes: dict | None = None
) -> dict:
    """Every round calls every pipeline `calls` times, pipelines in a shuffled order, and
    probes the matrix-multiply peaks once."""
    samples = {key: Samples() for key in pipelines}
    for key, pipeline in pipelines.items():  # allocation and first-call costs, untimed
        for _ in range(2):
            pipeline(frames[key])
    order = list(pipelines)
    shuffle = random.Random(0)
    for round_index in range(rounds):
        shuffle.shuffle(order)
        for key in order:
            for _ in range(calls):
                pre, model, post = pipelines[key](frames[key])
                samples[key].preprocess.append(pre * 1e3)
                samples[key].model.append(model * 1e3)
                samples[key].postprocess.append(post * 1e3)
        for probe in (probes or {}).values():
            probe.probe()
        print(f"\rround {round_index + 1}/{rounds}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return samples


# --- the report ----------------------------------------------------------------------------


def cpu_flags() -> set[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def machine_description() -> str:
    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    flags = cpu_flags()
    simd = [flag for flag in ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni") if flag in flags]
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    import ai_edge_litert

    versions = f"Python {platform.python_version()}, numpy {np.__version__}, "
    versions += f"ai-edge-litert {getattr(ai_edge_litert, '__version__', '?')}, "
    versions += f"OpenCV {cv2.__version__}"
    try:
        import tensorflow as tf

        versions += f", TensorFlow {tf.__version__}"
    except ImportError:
        pass
    return (
        f"{name}, {os.cpu_count()} logical CPUs ({', '.join(simd)}), {memory:.0f} GiB RAM, "
        f"{platform.system()} {platform.release()}; {versions}"
    )


def summary(values: list[float]) -> dict[str, float]:
    array = np.asarray(values)
    return {
        "median": float(np.median(array)),
        "p10": float(np.percentile(array, 10)),
        "p90": float(np.percentile(array, 90)),
        "min": float(array.min()),
    }


def build_rows(samples, models, sizes, threads, macs, peaks, mediapipe_macs):
    rows = []
    for count in threads:
        reference = statistics.median(samples[("mediapipe", count, (256, 256))].model)
        reference_p10 = float(np.percentile(samples[("mediapipe", count, (256, 256))].model, 10))
        for size in [None, *sizes]:
            entries = [("mediapipe", count, (256, 256))] if size is None else []
            for model_name in models if size is not None else ():
                runtimes = [f"litert-{variant}" for variant in VARIANTS] + ["keras"]
                candidates = [(f"{model_name}:{runtime}", count, size) for runtime in runtimes]
                entries += [key for key in candidates if key in samples]
            for key in entries:
                name, _, (height, width) = key
                model_name = "MediaPipe selfie"
                if name != "mediapipe":
                    model_name, name = name.split(":", 1)
                model = summary(samples[key].model)
                dtype = "int8" if name.endswith("int8") else "fp32"
                operations = (
                    mediapipe_macs if name == "mediapipe" else macs[(model_name, height, width)]
                )
                bound = operations / (best_peak(peaks, dtype, count) * 1e9) * 1e3
                rows.append(
                    {
                        "model": model_name,
                        "runtime": name,
                        "threads": count,
                        "size": f"{height}x{width}",
                        "preprocess_ms": statistics.median(samples[key].preprocess),
                        "model_ms": model,
                        "postprocess_ms": statistics.median(samples[key].postprocess),
                        "ratio_to_mediapipe": model["median"] / reference,
                        "gmac": operations / 1e9,
                        "bound_ms": bound,
                        "bound_dtype": dtype,
                        "times_bound": model["median"] / bound,
                        "times_bound_p10": model["p10"] / bound,
                        "ratio_to_mediapipe_p10": model["p10"] / reference_p10,
                    }
                )
    return rows


def markdown(rows, peaks, threads, command, machine, load, agreement) -> str:
    lines = [
        BEGIN,
        "## Speed: our models against MediaPipe's selfie segmenter and this CPU's peak",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {machine}.",
        "",
        f"**The machine was shared** with other work while this ran (load average "
        f"{load[0]:.2f} at the start, {load[1]:.2f} at the end): the configurations were "
        "interleaved so that load spreads over all of them, but absolute times are noisy; "
        "re-run on a quiet machine for final figures.",
        "",
        "### Peak of this machine (best of the matrix-multiply microbenchmarks)",
        "",
        "| dtype | threads | method | GMAC/s |",
        "| --- | --- | --- | --- |",
    ]
    for dtype, by_threads in peaks.items():
        for count in threads:
            for method, value in by_threads[count].items():
                lines.append(f"| {dtype} | {count} | {method} | {value:.0f} |")
    used = ", ".join(
        f"{dtype} {count} thread{'s' if count > 1 else ''} {best_peak(peaks, dtype, count):.0f}"
        for dtype in peaks
        for count in threads
    )
    lines += [
        "",
        f"Peak used for the bounds (GMAC/s): {used}. A multi-thread peak below the "
        "single-thread one times the threads means the other core was busy; the bound then "
        "uses the single-thread figure times the threads.",
    ]
    lines += [
        "",
        "### Per frame (median of all calls; model spread p10-p90)",
        "",
        "Model time includes feeding the input and reading the output. The ratio compares "
        "model times with MediaPipe's at its 256x256 input, same threads: medians, and in "
        "brackets the 10th percentiles (the quieter moments of a shared machine). The bound "
        "is the layers' multiply-accumulates at the machine's peak (int8 peak for int8, "
        "float32 otherwise); x bound = model time / bound, so 1 / x bound is the fraction of "
        "peak reached. Frames are a photo at twice the network's size. Keras runs with "
        "TensorFlow's own thread pools (both cores), so it appears in the 2-thread rows.",
        "",
        "| size | thr | model | runtime | pre ms | model ms (p10-p90) | post ms | "
        "x MediaPipe (p10) | GMAC | bound ms | x bound (p10) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        model = row["model_ms"]
        lines.append(
            f"| {row['size']} | {row['threads']} | {row['model']} | {row['runtime']} | "
            f"{row['preprocess_ms']:.2f} | **{model['median']:.2f}** "
            f"({model['p10']:.2f}-{model['p90']:.2f}) | {row['postprocess_ms']:.2f} | "
            f"{row['ratio_to_mediapipe']:.2f} ({row['ratio_to_mediapipe_p10']:.2f}) | "
            f"{row['gmac']:.2f} | {row['bound_ms']:.2f} ({row['bound_dtype']}) | "
            f"{row['times_bound']:.2f} ({row['times_bound_p10']:.2f}) |"
        )
    if any(agreement.values()):
        lines += [
            "",
            "### Agreement of the variants with fp32 (from humanmatting.json)",
            "",
            "Held-out photos (grace_hopper, camera) at every aspect preset, mirrored too; "
            "IoU of alpha > 0.5 pooled over all pixels (per-view mean, min) and mean "
            "|alpha difference|.",
            "",
            "| model | variant | graph | IoU | mean IoU | min IoU | mean abs diff |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for model_name, variants in agreement.items():
            for variant, record in variants.items():
                for graph, figures in record.get("agreement_with_fp32", {}).items():
                    if isinstance(figures, dict):
                        lines.append(
                            f"| {model_name} | {variant} | {graph} | {figures['iou']:.4f} | "
                            f"{figures['mean_iou']:.4f} | {figures['min_iou']:.4f} | "
                            f"{figures['mean_abs_difference']:.4f} |"
                        )
    lines += ["", "![speed](benchmarks/speed.png)", "", END]
    return "\n".join(lines)


def write_section(path: Path, section: str) -> None:
    text = path.read_text() if path.is_file() else "# Benchmarks\n\n"
    if BEGIN in text and END in text:
        before, rest = text.split(BEGIN, 1)
        text = before + section + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)


def _place(row: dict) -> str:
    """A bar group's label: the model and its input size."""
    return f"{row['model']}\n{row['size']}"


def plot(rows, threads, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(threads), figsize=(7 * len(threads), 5), sharey=True)
    axes = np.atleast_1d(axes)
    runtimes = [f"litert-{variant}" for variant in VARIANTS] + ["keras"]
    colours = dict(zip(runtimes, ("#4477aa", "#66ccee", "#228833", "#bbbbbb"), strict=True))
    for axis, count in zip(axes, threads, strict=True):
        ours = [row for row in rows if row["threads"] == count and row["runtime"] != "mediapipe"]
        sizes = list(dict.fromkeys(_place(row) for row in ours))
        width = 0.8 / len(runtimes)
        for index, runtime in enumerate(runtimes):
            chosen = {_place(row): row for row in ours if row["runtime"] == runtime}
            positions = [
                i + (index - 1.5) * width for i, size in enumerate(sizes) if size in chosen
            ]
            medians = [chosen[size]["model_ms"]["median"] for size in sizes if size in chosen]
            spread = [
                [
                    chosen[size]["model_ms"]["median"] - chosen[size]["model_ms"]["p10"]
                    for size in sizes
                    if size in chosen
                ],
                [
                    chosen[size]["model_ms"]["p90"] - chosen[size]["model_ms"]["median"]
                    for size in sizes
                    if size in chosen
                ],
            ]
            if medians:
                axis.bar(
                    positions,
                    medians,
                    width,
                    yerr=spread,
                    label=runtime,
                    capsize=2,
                    color=colours[runtime],
                )
        for index, runtime in enumerate(runtimes):  # each bar's bound, as a black tick
            chosen = {_place(row): row for row in ours if row["runtime"] == runtime}
            positions = [
                i + (index - 1.5) * width for i, size in enumerate(sizes) if size in chosen
            ]
            bounds = [chosen[size]["bound_ms"] for size in sizes if size in chosen]
            axis.scatter(
                positions,
                bounds,
                marker="D",
                facecolor="white",
                edgecolor="black",
                s=30,
                zorder=3,
                label="physical bound (MACs / peak)" if index == 0 else None,
            )
        reference = next(
            row for row in rows if row["threads"] == count and row["runtime"] == "mediapipe"
        )
        axis.axhline(
            reference["model_ms"]["median"],
            color="#ee6677",
            linestyle="--",
            label="MediaPipe selfie, 256x256",
        )
        axis.set_xticks(range(len(sizes)), sizes, rotation=30)
        axis.set_yscale("log")
        axis.set_title(f"{count} thread{'s' if count > 1 else ''}")
        axis.set_xlabel("model, network input (height x width)")
        axis.grid(axis="y", which="both", alpha=0.3)
    axes[0].set_ylabel("model time per frame, ms (median, p10-p90)")
    handles, labels = axes[-1].get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=9)
    figure.suptitle("Per-frame model time vs MediaPipe selfie segmenter and CPU peak")
    figure.tight_layout(rect=(0, 0.06, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--weights", type=Path, required=True, help="folder holding a folder per model"
    )
    parser.add_argument(
        "--models", default="dark-light", help="comma-separated; the first at every size"
    )
    parser.add_argument(
        "--all-sizes", action="store_true", help="every model at every size, not only 256x256"
    )
    parser.add_argument("--mediapipe", type=Path, default=DEFAULT_MEDIAPIPE)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--calls", type=int, default=5, help="calls per configuration per round")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--no-keras", action="store_true", help="skip the Keras backend")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "BENCHMARKS.md")
    parser.add_argument("--plot", type=Path, default=REPO_ROOT / "benchmarks" / "speed.png")
    parser.add_argument("--json", type=Path, help="also write every figure as JSON")
    args = parser.parse_args(argv)

    from humanmatting.models.likeunet import build_model, count_multiply_accumulates
    from humanmatting.runtime import load_matter
    from humanmatting.specs import FORMAT_FILE, TFLITE_FILES
    from humanmatting.weights import resolve_model_folder

    threads = [int(count) for count in args.threads.split(",")]
    models = [name.strip() for name in args.models.split(",") if name.strip()]
    folders = {name: resolve_model_folder(name, args.weights, download=False) for name in models}
    # Each model's variants that its folder holds (a shipped folder keeps only some).
    variants = {
        name: [v for v in VARIANTS if (folder / TFLITE_FILES[v]).is_file()]
        for name, folder in folders.items()
    }
    for name, folder in folders.items():
        if not variants[name]:
            print(
                f"error: {folder} holds no LiteRT file; "
                f"run: python -m humanmatting.models.quantize {folder}",
                file=sys.stderr,
            )
            return 2
    if not args.mediapipe.is_file():
        print(
            f"error: MediaPipe model not found at {args.mediapipe} (--mediapipe)", file=sys.stderr
        )
        return 2
    load_start = os.getloadavg()[0]
    machine = machine_description()
    probes = {
        (dtype, count): MatmulProbe(count, dtype) for dtype in ("fp32", "int8") for count in threads
    }
    all_sizes = network_sizes()
    model_sizes = {
        name: all_sizes if index == 0 or args.all_sizes else [(256, 256)]
        for index, name in enumerate(models)
    }
    macs = {}
    for name in folders:
        keras_model = build_model(name)  # the architecture is what counts, not the weights
        for size in model_sizes[name]:
            macs[(name, *size)] = count_multiply_accumulates(keras_model, *size)
    mediapipe_macs = tflite_multiply_accumulates(args.mediapipe)

    pipelines, frames = {}, {}
    for count in threads:
        key = ("mediapipe", count, (256, 256))
        pipelines[key], frames[key] = (
            MediaPipePipeline(args.mediapipe, count),
            photo_frame((256, 256)),
        )
        for name, folder in folders.items():
            for variant in variants[name]:
                matter = load_matter(name, folder, threads=count, download=False, variant=variant)
                for size in model_sizes[name]:
                    key = (f"{name}:litert-{variant}", count, size)
                    pipelines[key], frames[key] = MatterPipeline(matter, size), photo_frame(size)
    if not args.no_keras:
        from humanmatting.models.keras_backend import KerasBackend

        for name, folder in folders.items():
            matter = load_matter(name, folder, backend=KerasBackend, download=False)
            for size in model_sizes[name]:
                key = (f"{name}:keras", max(threads), size)
                pipelines[key], frames[key] = MatterPipeline(matter, size), photo_frame(size)
    print(f"timing {len(pipelines)} configurations ...", file=sys.stderr, flush=True)
    samples = run_interleaved(pipelines, frames, args.rounds, args.calls, probes)
    load_end = os.getloadavg()[0]
    peaks = measure_peaks(threads, probes)

    rows = build_rows(samples, models, all_sizes, threads, macs, peaks, mediapipe_macs)
    description = {
        name: json.loads((folder / FORMAT_FILE).read_text()).get("quantization", {})
        for name, folder in folders.items()
    }
    command = "python -m benchmarks.speed " + " ".join(argv if argv is not None else sys.argv[1:])
    section = markdown(
        rows,
        peaks,
        threads,
        command,
        machine,
        (load_start, load_end),
        description,
    )
    write_section(args.out, section)
    plot(rows, threads, args.plot)
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "peaks": peaks}, indent=2, default=str))
    print(section)
    print(f"wrote {args.out} and {args.plot}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
