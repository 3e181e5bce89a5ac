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


def _register_commands() -> None:
    from hwmap.cli import (  # noqa: F401  (commands register themselves on app)
        cost_commands,
        dse_commands,
        evaluate_commands,
        gpu_commands,
        graph_commands,
        path_commands,
        plot_commands,
    )


def main(argv: list[str] | None = None) -> None:
    _register_commands()
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
