"""The `hwmap` command line: thin Typer commands over hwmap.api, rendered by hwmap.report.

Every user-facing failure is a HwmapError: one line on stderr, exit code 2, no traceback.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Annotated

import typer

from hwmap.errors import HwmapError

app = typer.Typer(
    name="hwmap",
    help="What a vision model costs on a chip, and which execution paths to keep for dynamic inference.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


# The root options of the running command (set by _root before every command runs).
_ROOT_OPTIONS = {"no_cache": False}


@app.callback()
def _root(
    no_cache: Annotated[bool, typer.Option("--no-cache", help="trace models and search mappings again instead of "
                                                             "reading the caches (`hwmap cache info`)")] = False,
) -> None:
    """What a vision model costs on a chip, and which execution paths to keep for dynamic inference."""
    _ROOT_OPTIONS["no_cache"] = no_cache
    from hwmap.api import use_candidate_store

    use_candidate_store(not no_cache)  # the mapper's candidate tables are read deep inside it: a process-wide switch


def use_cache() -> bool:
    """False when the running command was given the root option `hwmap --no-cache ...` (graph and mapping caches;
    the candidate tables' store is switched off in _root)."""
    return not _ROOT_OPTIONS["no_cache"]


use_cache = use_cache  # the name graph_commands uses


# Which module defines each top-level command: a run imports only the module it needs (Typer introspects every
# registered command at start-up, which costs more than the rest of `hwmap flops graph.json`).
COMMAND_MODULES: dict[str, str] = {
    "flops": "graph_commands", "graph": "graph_commands", "export": "graph_commands", "models": "graph_commands",
    "estimate": "cost_commands", "accels": "cost_commands", "map": "cost_commands", "bounds": "cost_commands",
    "paths": "path_commands", "select-paths": "path_commands", "simulate": "path_commands",
    "evaluate": "evaluate_commands", "calibrate": "gpu_commands", "measure": "gpu_commands",
    "sweep": "dse_commands", "plot": "plot_commands", "cache": "cache_commands", "census": "census_commands",
}


# Commands that run models with torch (evaluate on the CPU, GPU measurements): they keep numpy's default threads.
TORCH_COMPUTE_COMMANDS = ("evaluate", "calibrate", "measure")


def _command(argv: list[str]) -> str | None:
    """The top-level command of argv (its first word that is not an option), or None."""
    return next((arg for arg in argv if not arg.startswith("-")), None)


def _register_commands(argv: list[str]) -> None:
    import importlib

    first = _command(argv)
    modules = [COMMAND_MODULES[first]] if first in COMMAND_MODULES else sorted(set(COMMAND_MODULES.values()))
    for module in modules:
        importlib.import_module(f"hwmap.cli.{module}")  # commands register themselves on app


GLOBAL_FLAGS = ("--no-cache",)


def _hoist_global_flags(argv: list[str]) -> list[str]:
    """`hwmap estimate resnet50 --no-cache` works like `hwmap --no-cache estimate resnet50`: a global flag given
    after the command moves in front of it (up to a `--` that ends the options)."""
    end = argv.index("--") if "--" in argv else len(argv)
    flags = [arg for arg in argv[:end] if arg in GLOBAL_FLAGS]
    return [*dict.fromkeys(flags), *(arg for arg in argv[:end] if arg not in GLOBAL_FLAGS), *argv[end:]]


# Commands whose work is done when main returns (no worker pools, threads or finalizers that must run): run as the
# process's entry point, they end with os._exit once their output is flushed, skipping the interpreter's teardown of
# ~400k objects and ~700 modules (a cached `hwmap estimate resnet50`: 0.908 -> 0.646 s wall median of 11).
FAST_EXIT_COMMANDS = ("estimate", "map", "bounds", "accels", "flops", "graph", "export", "models", "cache")


def main(argv: list[str] | None = None) -> None:
    """The `hwmap` command. argv None: the process's own arguments (the console script, python -m hwmap)."""
    entry = argv is None
    argv = _hoist_global_flags(sys.argv[1:] if argv is None else list(argv))
    fast_exit = entry and _command(argv) in FAST_EXIT_COMMANDS and "--help" not in argv
    try:
        _main(argv)
    except SystemExit as done:
        if fast_exit:
            _exit_now(done.code)
        raise
    if fast_exit:
        _exit_now(0)


def _exit_now(code) -> None:
    """End the process like sys.exit(code) would, without the interpreter's teardown: flush stdout and stderr, then
    os._exit (exit status 120 when stdout cannot be flushed, as CPython does)."""
    import os

    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:
        print(code, file=sys.stderr)
        status = 1
    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        status = 120
    try:
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    os._exit(status)


def _main(argv: list[str]) -> None:
    import gc

    # Start-up allocates ~50k long-lived objects (numpy, pydantic, typer, the graph); with the default young-generation
    # threshold of 700 the cyclic GC ran 99 times in a cached `hwmap estimate resnet50` for 52 ms of ~550 ms CPU,
    # freeing nothing that matters. Collections every 100k allocations still bound the garbage of long commands.
    # (Restored on return, for callers that run the CLI in-process.)
    thresholds = gc.get_threshold()
    gc.set_threshold(100_000, *thresholds[1:])
    try:
        _run(argv)
    finally:
        gc.set_threshold(*thresholds)


def _run(argv: list[str]) -> None:
    import os
    import warnings

    # pydantic (templates; typer 0.29+ options) looks for plugins in every installed package's entry points on its
    # first validator, ~13 ms; the CLI uses none. A user's explicit setting is kept.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    # numpy's OpenBLAS starts a thread per core when imported, and they spin: a cached estimate burned 1.06 s CPU in
    # 0.96 s wall with them, 0.93 s in 0.94 s without (medians of 11). hwmap's numpy work is elementwise, not BLAS.
    # Not for the commands that compute with torch on the CPU (a torch built on OpenBLAS would obey it too). Set
    # before numpy is imported (the commands import it); a user's setting is kept.
    if _command(argv) not in TORCH_COMPUTE_COMMANDS:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

    # numpy's overflow / invalid-value warnings would be extra stderr lines; the result guard (hwmap.cost.checks)
    # turns what they warn about into one error naming the layer and field.
    warnings.filterwarnings("ignore", category=RuntimeWarning, message=r".*(overflow|invalid value|divide by zero)")
    _register_commands(argv)
    _ROOT_OPTIONS["no_cache"] = False
    # Typer turns every registered command into a click command before it parses (inspecting signatures; typer 0.29
    # also builds a pydantic adapter per option): a run of one command registers only that command.
    commands, groups = app.registered_commands, app.registered_groups
    first = _command(argv)
    if first in COMMAND_MODULES:
        app.registered_commands = [c for c in commands if _command_name(c) == first]
        app.registered_groups = [g for g in groups if g.name == first]
    log_handler = _log_to_stderr(os.environ.get("HWMAP_LOG", ""))
    try:
        _invoke(argv)
    finally:
        app.registered_commands, app.registered_groups = commands, groups
        if _ROOT_OPTIONS["no_cache"]:  # `--no-cache` lasts one command (callers that run the CLI in-process)
            from hwmap.api import use_candidate_store

            use_candidate_store(True)
        if log_handler is not None:
            import logging

            logging.getLogger("hwmap").removeHandler(log_handler)


def _log_to_stderr(level_name: str):
    """HWMAP_LOG=info (or debug): hwmap's log records on stderr for this run, e.g. why a cache entry was ignored
    (logger hwmap.cache); returns the handler to remove afterwards, None when the variable is unset or unknown."""
    level_name = level_name.strip().upper()
    if level_name not in ("DEBUG", "INFO", "WARNING"):
        return None
    import logging

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("hwmap: %(levelname)s: %(message)s"))
    logger = logging.getLogger("hwmap")
    logger.addHandler(handler)
    logger.setLevel(level_name)
    return handler


def exit_on_next_interrupt() -> None:
    """After a Ctrl-C the process is on its way out: a second one exits at once (exit code 130) instead of raising
    KeyboardInterrupt inside the interpreter's exit (joining a pool's threads), where it could hang."""
    import signal

    def exit_now(_signum, _frame) -> None:
        os.write(2, b"hwmap: interrupted again: exiting now\n")
        os._exit(130)

    with contextlib.suppress(ValueError):  # not the main thread: nothing to install
        signal.signal(signal.SIGINT, exit_now)


def _command_name(info) -> str:
    """A registered command's name: its own, or its function's with dashes (typer's rule)."""
    return info.name or info.callback.__name__.lower().replace("_", "-")


def _invoke(argv: list[str]) -> None:
    try:
        code = app(args=argv, standalone_mode=False, prog_name="hwmap")
    except HwmapError as error:
        _fail(_error_message(error, argv))
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except typer.Abort:
        _fail("aborted", code=130)
    except KeyboardInterrupt:
        exit_on_next_interrupt()
        _fail("interrupted", code=130)
    except Exception as error:  # click usage errors and genuine bugs
        if isinstance(error, _click_errors()[0]):
            _fail(_click_message(error))
        if isinstance(error, OverflowError):  # a safety net behind the input bounds
            _fail(f"a number in the inputs is too large to compute with ({error})")
        if isinstance(error, OSError) and error.filename:  # an environment failure the code did not foresee
            _fail(f"{error.filename}: {error.strerror or error}")
        _fail(f"internal error: {type(error).__name__}: {error} (please report this with the command you ran)")
    if isinstance(code, int) and code:  # e.g. click's 130 after Ctrl-C in non-standalone mode
        sys.exit(code)


def _error_message(error: HwmapError, argv: list[str]) -> str:
    """An API error as the CLI user sees it: the API keywords it names become the running command's flags."""
    from hwmap.cli.options import flag_message, running_command

    return flag_message(error, running_command(typer.main.get_command(app), argv))


def _click_message(error) -> str:
    """Click's usage errors on one line: the message, then where to look ('see hwmap sweep --help')."""
    # typer 0.29+ checks choices with pydantic, whose messages start "Value error, ": the same message as before.
    message = error.format_message().replace(": Value error, ", ": ", 1)
    context = getattr(error, "ctx", None)
    if isinstance(error, _click_errors()[1]) and context is not None:
        return f"{message} (see {context.command_path} --help)"
    return message


def _click_errors() -> tuple[type[Exception], type[Exception]]:
    """(ClickException, UsageError) of the click that typer runs on: the click package (typer < 0.26) or typer's own
    copy of it (0.26+); read off typer.BadParameter, which every typer exports."""
    by_name = {cls.__name__: cls for cls in typer.BadParameter.__mro__}
    return by_name["ClickException"], by_name["UsageError"]


def _fail(message: str, code: int = 2) -> None:
    first_line = " ".join(message.split("\n"))
    print(f"hwmap: error: {first_line}", file=sys.stderr)
    sys.exit(code)
