"""Front ends for other tools' model formats. Every module in this package registers itself with the front-end
registry (hwmap.graph.frontends.register_front_end) when imported; hwmap.interop.inputs imports them all (load)
before it reads a model, so a new format is one new file here (see docs/ARCHITECTURE.md, "Where to add things").
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

__all__ = ["load"]


@cache
def load() -> tuple[str, ...]:
    """Import every front-end module of this package (once); their names."""
    names = tuple(sorted(info.name for info in pkgutil.iter_modules(__path__)))
    for name in names:
        importlib.import_module(f"{__name__}.{name}")
    return names
