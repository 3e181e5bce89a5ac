"""The `hwmap` command line: thin Typer commands over hwmap.api, rendered by hwmap.report.

Every user-facing failure is a HwmapError: one line on stderr, exit code 2, no traceback.
"""

from __future__ import annotations

import sys

import typer

from hwmap.errors import HwmapError

app = typer.Typer(
    name="hwmap",
    help="What a vision model costs on a chip, and which execution paths to keep for dynamic inference.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """What a vision model costs on a chip, and which execution paths to keep for dynamic inference."""


# Which module defines each top-level command: a run imports only the module it needs (Typer introspects every
# registered command at start-up, which costs more than the rest of `hwmap flops graph.json`).
COMMAND_MODULES: dict[str, str] = {
    "flops": "graph_commands", "graph": "graph_commands", "export": "graph_commands", "models": "graph_commands",
    "estimate": "cost_commands", "accels": "cost_commands",
    "paths": "path_commands", "select-paths": "path_commands", "simulate": "path_commands",
    "evaluate": "evaluate_commands", "calibrate": "gpu_commands", "measure": "gpu_commands",
    "sweep": "dse_commands", "plot": "plot_commands", "census": "census_commands",
}


def _register_commands(argv: list[str]) -> None:
    import importlib

    first = next((arg for arg in argv if not arg.startswith("-")), None)
    modules = [COMMAND_MODULES[first]] if first in COMMAND_MODULES else sorted(set(COMMAND_MODULES.values()))
    for module in modules:
        importlib.import_module(f"hwmap.cli.{module}")  # commands register themselves on app


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else list(argv)
    _register_commands(argv)
    try:
        code = app(args=argv, standalone_mode=False)
    except HwmapError as error:
        _fail(str(error))
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except typer.Abort:
        _fail("aborted", code=130)
    except KeyboardInterrupt:
        _fail("interrupted", code=130)
    except Exception as error:  # click usage errors and genuine bugs
        import click

        if isinstance(error, click.ClickException):
            error.show()
            sys.exit(error.exit_code)
        _fail(f"internal error: {type(error).__name__}: {error} (please report this with the command you ran)")
    if isinstance(code, int) and code:  # e.g. click's 130 after Ctrl-C in non-standalone mode
        sys.exit(code)


def _fail(message: str, code: int = 2) -> None:
    first_line = " ".join(message.split("\n"))
    print(f"hwmap: error: {first_line}", file=sys.stderr)
    sys.exit(code)
