"""Shared by the experiment scripts: arguments, the results folder, CSV writing. Experiments use hwmap's public
API only (hwmap.api); they are never imported by hwmap."""

from __future__ import annotations

import argparse
import csv
import io
import time
from pathlib import Path

from hwmap.fileio import atomic_write_text

RESULTS = Path(__file__).resolve().parent / "results"


def arguments(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--tiny", action="store_true", help="reduced sizes for CI: seconds instead of minutes")
    parser.add_argument("--out-dir", type=Path, default=RESULTS, help="where CSV and PNG files go")
    args = parser.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    args.started = time.perf_counter()
    return args


def write_csv(path: Path, rows: list[dict]) -> Path:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, buffer.getvalue())
    return path


def done(args: argparse.Namespace, *paths: Path) -> None:
    for path in paths:
        print(f"wrote {path}")
    print(f"finished in {time.perf_counter() - args.started:.1f} s")


def new_figure(*, ncols: int = 1, width_in: float = 8.0, height_in: float = 4.5, **subplots_options):
    """A matplotlib figure on the file-only Agg backend: (fig, axes)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(1, ncols, figsize=(width_in, height_in), dpi=120, **subplots_options)


def save_figure(fig, path: Path) -> Path:
    """Lay out, render as PNG and write atomically; the figure is closed."""
    import matplotlib.pyplot as plt

    from hwmap.fileio import atomic_write_bytes

    buffer = io.BytesIO()
    if fig.get_layout_engine() is None:  # a figure made with layout="constrained" lays itself out
        fig.tight_layout()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return atomic_write_bytes(path, buffer.getvalue())


def log_axis_labels(ax) -> None:
    """Log axes labelled in plain numbers (20, 50, 100), as many per decade as the axis has room for (1-2-3-5 on
    an axis spanning up to 1.5 decades,
    1-1.5-2-3-4-5-6-8 up to 0.7, 1-2-5 up to 3, powers of ten beyond), minor ticks unlabelled: no
    overlapping 3x10^1-style labels. Call after the data are plotted."""
    import math

    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    for axis, limits in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
        if axis.get_scale() != "log":
            continue
        decades = math.log10(max(limits) / min(limits))
        subs = (1, 1.5, 2, 3, 4, 5, 6, 8) if decades <= 0.7 else (1, 2, 3, 5) if decades <= 1.5 else \
            (1, 2, 5) if decades <= 3 else (1,)
        axis.set_major_locator(LogLocator(base=10, subs=[float(d) for d in subs]))
        axis.set_major_formatter(FuncFormatter(lambda value, _pos: f"{value:g}"))
        axis.set_minor_formatter(NullFormatter())
