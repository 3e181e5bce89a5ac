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
