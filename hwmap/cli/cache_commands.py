"""hwmap cache info|clear: hwmap's on-disk caches, traced graphs (hwmap.graph.cache) and the mapper's choices
(hwmap.cost.mapping_cache)."""

from __future__ import annotations

import typer

from hwmap.cli import app
from hwmap.cli.options import JsonOpt, calls_api

cache_app = typer.Typer(help="Show or clear hwmap's caches: traced layer graphs ($XDG_CACHE_HOME/hwmap/graphs) and "
                             "chosen layer mappings ($XDG_CACHE_HOME/hwmap/mappings).", no_args_is_help=True)
app.add_typer(cache_app, name="cache")

# What one entry of each cache is, for the text output.
UNITS = {"graphs": "graphs", "mappings": "mapping sets"}


@cache_app.command("info")
@calls_api("cache_info")
def cache_info(json_out: JsonOpt = False) -> None:
    """Each cache's folder, its entries and their size."""
    from hwmap.api import cache_info as caches
    from hwmap.report.tables import print_json

    info = caches()
    if json_out:
        print_json({name: each.to_dict() for name, each in info.items()})
        return
    for name, each in info.items():
        print(f"{each.folder}: {len(each.entries)} {UNITS[name]}, {each.size_bytes / 1e6:.2f} MB")
        for entry in each.entries:
            print(f"  {entry.label:<40} {entry.size_bytes / 1e3:9.1f} kB  {entry.file}")


@cache_app.command("clear")
@calls_api("clear_cache")
def cache_clear(json_out: JsonOpt = False) -> None:
    """Delete every cached graph and mapping set (they are computed again when next needed)."""
    from hwmap.api import clear_cache
    from hwmap.report.tables import print_json

    removed = clear_cache()
    if json_out:
        print_json({name: each.to_dict() for name, each in removed.items()})
        return
    for name, each in removed.items():
        print(f"removed {len(each.entries)} {UNITS[name]} ({each.size_bytes / 1e6:.2f} MB) from {each.folder}")
