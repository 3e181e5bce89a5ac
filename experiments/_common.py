"""Shared by the experiment scripts: arguments, the results folder, CSV writing. Experiments use hwmap's public
API only (hwmap.api); they are never imported by hwmap."""

from __future__ import annotations

import argparse
import csv
import io
import time
from collections.abc import Callable
from pathlib import Path

from hwmap.fileio import atomic_write_text
from hwmap.report.plots import log_axis_labels  # noqa: F401  (re-exported for the experiments' figures)

RESULTS = Path(__file__).resolve().parent / "results"


def arguments(description: str, *, add_options: Callable[[argparse.ArgumentParser], None] | None = None
              ) -> argparse.Namespace:
    """--tiny and --out-dir, plus the options add_options declares (an experiment's own)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--tiny", action="store_true", help="reduced sizes for CI: seconds instead of minutes")
    parser.add_argument("--out-dir", type=Path, default=RESULTS, help="where CSV and PNG files go")
    if add_options is not None:
        add_options(parser)
    args = parser.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    args.started = time.perf_counter()
    return args


def published_card_dirs(args: argparse.Namespace, name: str) -> tuple[Path, Path]:
    """(this experiment's output folder, ``name`` or ``name``_tiny; the traced-graph cache the published-card
    experiments share, gpu_published_cards/graphs), both created."""
    out = args.out_dir / (f"{name}_tiny" if args.tiny else name)
    cache = args.out_dir / "gpu_published_cards" / "graphs"
    out.mkdir(parents=True, exist_ok=True)
    cache.mkdir(parents=True, exist_ok=True)
    return out, cache


def write_csv(path: Path, rows: list[dict]) -> Path:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, buffer.getvalue())
    return path


def replot_option(parser: argparse.ArgumentParser) -> None:
    """--replot-from CSV: redraw an experiment's figure from the table it wrote, without re-running it."""
    parser.add_argument("--replot-from", type=Path, default=None, metavar="CSV",
                        help="only redraw the figure (STEM.png beside the CSV) from a table this script wrote")


def read_rows(path: Path) -> list[dict]:
    """The rows of a CSV an experiment wrote, numbers as int or float and empty cells as "" (as when written)."""
    def value(text: str):
        for kind in (int, float):
            try:
                return kind(text)
            except ValueError:
                pass
        return text

    try:
        with open(path, newline="", encoding="utf-8") as handle:
            return [{key: value(cell) for key, cell in row.items()} for row in csv.DictReader(handle)]
    except OSError as exc:
        raise SystemExit(f"--replot-from {path}: cannot read it ({exc.strerror})") from None


def done(args: argparse.Namespace, *paths: Path) -> None:
    for path in paths:
        print(f"wrote {path}")
    print(f"finished in {time.perf_counter() - args.started:.1f} s")


def new_figure(*, ncols: int = 1, nrows: int = 1, width_in: float = 8.0, height_in: float = 4.5,
               **subplots_options):
    """A matplotlib figure on the file-only Agg backend: (fig, axes)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(nrows, ncols, figsize=(width_in, height_in), dpi=120, **subplots_options)


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
