"""A fork-server multiprocessing context whose workers never re-run the caller's main module (POSIX only).

Why: with the stock *spawn* and *forkserver* start methods every new worker first re-executes the parent's
``__main__`` (as ``__mp_main__``) so that functions defined there can be unpickled. A plain script without an
``if __name__ == "__main__":`` guard that calls ``hwmap.sweep`` therefore runs again, top to bottom, in each
worker; its own ``hwmap.sweep`` call then tries to start a pool while the worker is still bootstrapping and dies
("An attempt has been made to start a new process before the current process has finished its bootstrapping
phase", ``BrokenProcessPool`` in the parent). hwmap's workers only ever run functions of hwmap (``run_chunk``,
``census_model``), so they do not need the caller's main module at all: this context sends each new worker the
usual preparation data (``sys.path``, working directory, ``sys.argv``, authkey) minus the two entries that name
the main module, and nothing else changes.

Why a fork server rather than *fork*: a worker forked straight from the caller inherits its torch (hundreds of MB
of mappings, a ``torch in sys.modules`` that the sweep reports) and, worse, a copy of a process whose other
threads (torch's and OpenMP's intra-op pools after a CPU trace, a progress bar's refresh thread, a Dask client)
may hold locks at the instant of the fork: the child gets the locked lock and no thread to release it. The fork
server is a fresh single-threaded interpreter that has imported only the cost modules, so forking it is safe and
each worker starts in milliseconds.

The subclass repeats the 15 lines of ``multiprocessing.popen_forkserver.Popen._launch`` (identical in CPython
3.11 to 3.13) with the main-module entries dropped; ``tests/dse/test_sweep.py`` runs a guard-less script to check
it on the running interpreter.
"""

from __future__ import annotations

import io
import os
from multiprocessing import context, forkserver, popen_forkserver, reduction, spawn, util

__all__ = ["NoMainForkServerContext"]

# preparation-data keys that make a new worker import (and so run) the parent's __main__
_MAIN_KEYS = ("init_main_from_path", "init_main_from_name")


class _NoMainPopen(popen_forkserver.Popen):
    def _launch(self, process_obj) -> None:
        prep_data = spawn.get_preparation_data(process_obj._name)
        for key in _MAIN_KEYS:
            prep_data.pop(key, None)
        buf = io.BytesIO()
        context.set_spawning_popen(self)
        try:
            reduction.dump(prep_data, buf)
            reduction.dump(process_obj, buf)
        finally:
            context.set_spawning_popen(None)
        self.sentinel, w = forkserver.connect_to_new_process(self._fds)
        # as the stdlib does: a duplicate of the data pipe's write end is the child's sentinel of its parent
        _parent_w = os.dup(w)
        self.finalizer = util.Finalize(self, util.close_fds, (_parent_w, self.sentinel))
        with open(w, "wb", closefd=True) as f:
            f.write(buf.getbuffer())
        self.pid = forkserver.read_signed(self.sentinel)


class NoMainForkServerProcess(context.ForkServerProcess):
    @staticmethod
    def _Popen(process_obj):
        return _NoMainPopen(process_obj)


class NoMainForkServerContext(context.ForkServerContext):
    """multiprocessing's forkserver context, except that workers do not import the parent's ``__main__``."""

    Process = NoMainForkServerProcess
