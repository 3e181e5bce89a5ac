"""hwmap cache info|clear: the on-disk cache of traced graphs (hwmap.graph.cache)."""

from __future__ import annotations

import typer

from hwmap.cli import app
from hwmap.cli.options import JsonOpt, calls_api

cache_app = typer.Typer(help="Show or clear the cache of traced layer graphs ($XDG_CACHE_HOME/hwmap/graphs).",
                        no_args_is_help=True)
app.add_typer(cache_app, name="cache")



@cache_app.command("info")
@calls_api("graph_cache_info")
def cache_info(json_out: JsonOpt = False) -> None:
    """The cache folder, its entries and their size."""
    from hwmap.api import graph_cache_info
    from hwmap.report.tables import print_json

    info = graph_cache_info()
    if json_out:
        print_json(info.to_dict())
        return
    print(f"{info.folder}: {len(info.entries)} graphs, {info.size_bytes / 1e6:.2f} MB")
    for entry in info.entries:
        print(f"  {entry.model:<40} {entry.size_bytes / 1e3:9.1f} kB  {entry.file}")


@cache_app.command("clear")
@calls_api("clear_graph_cache")
def cache_clear(json_out: JsonOpt = False) -> None:
    """Delete every cached graph (they are traced again when next needed)."""
    from hwmap.api import clear_graph_cache
    from hwmap.report.tables import print_json

    removed = clear_graph_cache()
    if json_out:
        print_json(removed.to_dict())
        return
    print(f"removed {len(removed.entries)} graphs ({removed.size_bytes / 1e6:.2f} MB) from {removed.folder}")
