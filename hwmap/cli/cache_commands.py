"""hwmap cache info|clear: hwmap's on-disk caches, traced graphs (hwmap.graph.cache), the mapper's choices
(hwmap.cost.mapping_cache) and its candidate tables (hwmap.cost.candidate_store)."""

from __future__ import annotations

from pathlib import Path

import typer

from hwmap.cli import app
from hwmap.cli.options import JsonOpt, calls_api

cache_app = typer.Typer(help="Show or clear hwmap's caches: traced layer graphs ($XDG_CACHE_HOME/hwmap/graphs), "
                             "chosen layer mappings ($XDG_CACHE_HOME/hwmap/mappings) and the mapper's candidate "
                             "tables for buffer sweeps ($XDG_CACHE_HOME/hwmap/candidates).", no_args_is_help=True)
app.add_typer(cache_app, name="cache")

# What one entry of each cache is, for the text output.
UNITS = {"graphs": "graphs", "mappings": "mapping sets", "candidates": "candidate tables"}


@cache_app.command("info")
@calls_api("cache_info")
def cache_info(json_out: JsonOpt = False) -> None:
    """Each cache's folder, its entries and their size."""
    from hwmap.api import cache_info as caches
    from hwmap.report.tables import print_json

    info = caches()
    if json_out:
        data = {name: each.to_dict() for name, each in info.items()}
        for row in data.get("graphs", {}).get("files", []):  # what tells two graphs of one model apart
            row.update(_graph_shapes(Path(info["graphs"].folder) / row["file"]) or {})
        print_json(data)
        return
    for name, each in info.items():
        print(f"{each.folder}: {len(each.entries)} {UNITS[name]}, {each.size_bytes / 1e6:.2f} MB")
        for entry in each.entries:
            shapes = _graph_shapes(Path(each.folder) / entry.file) if name == "graphs" else None
            what = f"{entry.label} {_shapes_text(shapes)}" if shapes else entry.label
            print(f"  {what:<58} {entry.size_bytes / 1e3:9.1f} kB  {entry.file}")


def _graph_shapes(path: Path) -> dict | None:
    """A cached graph's input (batch x channels x height x width), output and parameter count: what tells the
    graphs of one model (other batch, resolution, input or classes) apart. None for an unreadable file."""
    import json
    import os
    import stat

    from hwmap.cache_files import split_entry

    try:  # an entry is a header line (key, HMAC) then the graph's JSON; never read through a link or a FIFO
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as file:
            if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
                return None
            header, payload = split_entry(file.read())
        if header is None:
            return None
        data = json.loads(payload)
        nodes = data["nodes"]
        output = next(n["outputs"][-1][0] for n in reversed(nodes) if n.get("outputs"))
        return {"input_shape": list(data["input_shapes"][0]), "output_shape": list(output),
                "params": int(data["params"])}
    except (OSError, ValueError, KeyError, IndexError, TypeError, StopIteration):
        return None


def _shapes_text(shapes: dict) -> str:
    def dims(shape):
        return "x".join(map(str, shape))

    return (f"{dims(shapes['input_shape'])} -> {dims(shapes['output_shape'])}, "
            f"{shapes['params'] / 1e6:.2f} M params")


@cache_app.command("clear")
@calls_api("clear_cache")
def cache_clear(json_out: JsonOpt = False) -> None:
    """Delete every cached graph, mapping set and candidate table (they are computed again when next needed)."""
    from hwmap.api import clear_cache
    from hwmap.report.tables import print_json

    removed = clear_cache()
    if json_out:
        print_json({name: each.to_dict() for name, each in removed.items()})
        return
    for name, each in removed.items():
        print(f"removed {len(each.entries)} {UNITS[name]} ({each.size_bytes / 1e6:.2f} MB) from {each.folder}")
