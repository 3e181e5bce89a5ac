"""A template's hardware view by the name issue 17's groundwork gave it: :func:`hierarchy_of`.

The view itself is built by the template kind's cost module (``hardware_view``, the protocol of
:mod:`hwmap.cost.kinds`); this is the same function under its first name, for callers that import it from here.
"""

from __future__ import annotations

from hwmap.cost.kinds import hardware_view
from hwmap.hardware.hierarchy import Hierarchy

__all__ = ["hierarchy_of"]


def hierarchy_of(accelerator) -> Hierarchy:
    """The template as a checked Hierarchy, from its kind's cost module (cached per template): capacities,
    multiple buffering, per-byte energies (``access_width_bits`` 8) and DRAM bandwidth as the cost reads them.
    A GPU template raises TemplateError (no CNN memory hierarchy)."""
    return hardware_view(accelerator)
