"""Training curves from a run's CSV log: loss and mean IoU per epoch, train vs val.

    python -m humanmatting.training.curves runs/dark-light/log.csv [--out DIR]

Writes curves.png and curves.svg (the seed README showed the same two panels).
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

PANELS = (("loss", "loss (log scale)"), ("miou", "mean IoU (2 classes, after argmax)"))


def read_log(csv_path: str | Path) -> dict[str, list[float]]:
    """Columns of a Keras CSVLogger file as float lists (a resumed run appends rows)."""
    with open(csv_path, newline="") as file:
        rows = list(csv.DictReader(file))
    if not rows:
        raise ValueError(f"{csv_path} has no epochs logged yet")
    return {key: [float(row[key]) for row in rows if row.get(key)] for key in rows[0]}


def plot_training_curves(csv_path: str | Path, out_dir: str | Path, title: str | None = None):
    """Draw the two panels; returns the paths of the PNG and SVG written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    log = read_log(csv_path)
    epochs = [int(e) + 1 for e in log["epoch"]]
    figure, axes = plt.subplots(1, 2, figsize=(10, 3.8), constrained_layout=True)
    for axis, (key, label) in zip(axes, PANELS, strict=True):
        for prefix, name, colour in (("", "train", "tab:orange"), ("val_", "val", "tab:blue")):
            values = log.get(prefix + key)
            if values:
                axis.plot(epochs[: len(values)], values, marker="o", ms=3, label=name, c=colour)
        axis.set_xlabel("epoch")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.set_title(label)
        axis.grid(alpha=0.3)
        axis.legend()
    axes[0].set_yscale("log")
    if "miou" in log:
        best = max(
            range(len(log.get("val_miou", []))), key=log["val_miou"].__getitem__, default=None
        )
        if best is not None:
            axes[1].annotate(
                f"best val {log['val_miou'][best]:.4f}",
                (epochs[best], log["val_miou"][best]),
                textcoords="offset points",
                xytext=(-60, -25),
                arrowprops={"arrowstyle": "->"},
            )
    figure.suptitle(title or Path(csv_path).parent.name)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / "curves.png", out_dir / "curves.svg"]
    for path in paths:
        figure.savefig(path, dpi=120)
    plt.close(figure)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("log", type=Path, help="log.csv of a training run")
    parser.add_argument("--out", type=Path, help="output folder (default: beside the log)")
    args = parser.parse_args(argv)
    for path in plot_training_curves(args.log, args.out or args.log.parent):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
