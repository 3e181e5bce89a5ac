"""Timeloop / ZigZag architectures -> hwmap ``kind: hierarchy`` template YAML, and back (issue 17, items 5-6).

``hwmap accels import`` reads another tool's architecture with :func:`hwmap.interop.timeloop.read_timeloop` or
:func:`hwmap.interop.zigzag_hardware.read_zigzag_hardware` (the neutral
:class:`~hwmap.hardware.hierarchy.Hierarchy`; every unsupported feature is refused there, by name) and writes it as
a template of kind ``hierarchy``:

    schema_version: 3
    kind: hierarchy
    description: ...
    provenance: {repository, commit, file, adapted}
    freq_mhz: ...
    operand_bits: {input, weight, output}
    hierarchy: {array_axes, levels, compute, spatial}     # what build_hierarchy reads (the name is the template's)

The clock: Timeloop's ``global_cycle_seconds`` (``cycle_seconds``) of the flattened architecture; ZigZag's hardware
YAML has none (its latencies are cycles), so ``freq_mhz`` must be given or :data:`ZIGZAG_DEFAULT_FREQ_MHZ` is used
and the provenance says so. Operand bits: the word width of the innermost level that may hold each operand (the
width the MACs see; outputs: the partial-sum width).

``hwmap accels export --format timeloop|zigzag`` writes a template's hierarchy with the writers of those modules.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from hwmap.errors import ParameterError, TemplateError
from hwmap.fileio import atomic_write_text, check_run_files
from hwmap.hardware.hierarchy import OPERANDS, Hierarchy, build_hierarchy, load_architecture_yaml
from hwmap.yamlio import dump_yaml

__all__ = [
    "IMPORT_FORMATS",
    "ZIGZAG_DEFAULT_FREQ_MHZ",
    "EXPORT_FORMATS",
    "ImportedTemplate",
    "export_hierarchy",
    "export_paths",
    "hierarchy_of_template",
    "import_architecture",
    "operand_bits_of",
    "read_template_file",
    "template_document",
    "write_template",
]

IMPORT_FORMATS = ("timeloop", "zigzag")
HIERARCHY_SCHEMA_VERSION = 3
ZIGZAG_DEFAULT_FREQ_MHZ = 1000.0  # ZigZag's hardware YAML has no clock; stated in the provenance when used
# ZigZag's hardware YAML has no operand precision (its workload states it): ZigZag's ONNX default, 8-bit inputs and
# weights, 16-bit partial sums, unless the array states input_precision
ZIGZAG_DEFAULT_OPERAND_BITS = {"input": 8, "weight": 8, "output": 16}


@dataclass(frozen=True)
class ImportedTemplate:
    """What ``hwmap accels import`` wrote: the template file, its hierarchy and its YAML document."""

    path: str
    hierarchy: Hierarchy
    document: dict

    def to_dict(self) -> dict:
        return {"path": self.path, "name": self.hierarchy.name, "kind": "hierarchy",
                "levels": [level.name for level in self.hierarchy.levels], "compute": self.hierarchy.compute.name,
                "array": dict(zip(self.hierarchy.array_axes, self.hierarchy.compute.mesh, strict=True))}


def operand_bits_of(h: Hierarchy) -> dict[str, int]:
    """Inputs and weights: the MACs' width when stated (ZigZag's input_precision, Timeloop's multiplier_width;
    a level's word can be wider: ZigZag's bandwidth_min is an access granule), else the word of the innermost level
    keeping them; outputs: the word of the innermost level keeping them (the partial-sum width)."""
    def innermost(op: str):
        kept = [level for level in h.levels if op in level.keeps]
        return (kept or list(h.operand_levels(op)))[-1].word_bits

    mac = h.compute.mac_width_bits
    return {op: mac if mac and op != "output" else innermost(op) for op in OPERANDS}


def hierarchy_section(h: Hierarchy) -> dict:
    """The ``hierarchy:`` section of a template: the Hierarchy without its name, defaults left out."""
    data = h.model_dump(mode="json", exclude_defaults=True)
    data.pop("name", None)
    return data


def template_document(h: Hierarchy, *, description: str, provenance: dict[str, str], freq_mhz: float,
                      operand_bits: dict[str, int] | None = None) -> dict:
    """A ``kind: hierarchy`` template (interfaces section B) of a Hierarchy."""
    if not math.isfinite(freq_mhz) or freq_mhz <= 0:
        raise ParameterError("freq_mhz", f"must be a clock in MHz > 0, got {freq_mhz:g}")
    return {"schema_version": HIERARCHY_SCHEMA_VERSION, "kind": "hierarchy", "description": description,
            "provenance": dict(provenance), "freq_mhz": freq_mhz,
            "operand_bits": dict(operand_bits or operand_bits_of(h)), "hierarchy": hierarchy_section(h)}


def hierarchy_of_template(document: dict, *, name: str, source: str) -> Hierarchy:
    """The checked Hierarchy of a ``kind: hierarchy`` template document (its ``hierarchy:`` section)."""
    section = document.get("hierarchy") if isinstance(document, dict) else None
    if not isinstance(section, dict):
        raise TemplateError(f"{source}: hierarchy: missing; expected array_axes, levels, compute, spatial")
    return build_hierarchy({"name": name, **section}, source=source)


def write_template(path: str | Path, document: dict, *, header: str) -> Path:
    """Write a template document (commented header first) through the safe writer."""
    comments = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
    head = {key: value for key, value in document.items() if key != "hierarchy"}
    body = {"hierarchy": document["hierarchy"]}  # short lists and energies on one line each
    return atomic_write_text(path, comments + dump_yaml(head, width=118)
                             + dump_yaml(body, default_flow_style=None, width=118))


# ------------------------------------------------------------------------------------------------------------
# Import
# ------------------------------------------------------------------------------------------------------------


def import_architecture(path: str | Path, *, format: str, out: str | Path, ert: str | Path | None = None,
                        constraints: str | Path | None = None, spatial_mapping: str | Path | None = None,
                        freq_mhz: float | None = None) -> ImportedTemplate:
    """Read another tool's architecture file and write it as a ``kind: hierarchy`` template at ``out``.

    timeloop: ``path`` the flattened v0.4 architecture, ``ert`` Accelergy's ERT (required), ``constraints`` the
    design's arch.yaml or a constraints document (keep/bypass, spatial rules); zigzag: ``path`` ZigZag 3.9.1
    hardware YAML, ``spatial_mapping`` a ZigZag mapping YAML whose ``default`` spatial mapping becomes the fixed
    unrolling.
    The output is refused before anything is read when it is one of the inputs; nothing is written on an error.
    """
    if format not in IMPORT_FORMATS:
        raise ParameterError("format", f"must be one of {', '.join(IMPORT_FORMATS)}, got {format!r}")
    inputs = {"path": path, "ert": ert, "constraints": constraints, "spatial_mapping": spatial_mapping}
    check_run_files(inputs=inputs, outputs={"out": out})
    out_path = Path(out)
    if out_path.suffix.lower() not in (".yaml", ".yml"):
        raise ParameterError("out", f"{out}: expected the template .yaml file to write")
    name = out_path.name[: -len(out_path.suffix)]
    files = [str(p) for p in (path, ert, constraints, spatial_mapping) if p is not None]
    if format == "timeloop":
        hierarchy, clock_mhz, note = _timeloop(path, ert=ert, constraints=constraints, mapping=spatial_mapping,
                                               freq_mhz=freq_mhz)
    else:
        hierarchy, clock_mhz, note = _zigzag(path, ert=ert, constraints=constraints, mapping=spatial_mapping,
                                             freq_mhz=freq_mhz)
    hierarchy = hierarchy.model_copy(update={"name": name})
    bits = operand_bits_of(hierarchy)
    if format == "zigzag" and hierarchy.compute.mac_width_bits is None:
        bits = dict(ZIGZAG_DEFAULT_OPERAND_BITS)
        note += "; operand bits 8/8/16 assumed (ZigZag states them in the workload)"
    provenance = {"repository": "(local files)", "commit": "(none)", "file": ", ".join(files),
                  "adapted": f"none: imported unchanged by hwmap accels import --format {format}" + note}
    description = (f"{name}: {len(hierarchy.levels)}-level hierarchy, "
                   f"{' x '.join(map(str, hierarchy.compute.mesh))} MACs (imported from {format} {Path(path).name})")
    document = template_document(hierarchy, description=description, provenance=provenance, freq_mhz=clock_mhz,
                                 operand_bits=bits)
    hierarchy_of_template(document, name=name, source=str(out))  # what is written reads back, or nothing is written
    header = (f"{name}: imported by `hwmap accels import --format {format}` from\n"
              + "".join(f"  {file}\n" for file in files) +
              "Energies in pJ per access of access_width_bits; capacities in bytes; levels DRAM first.")
    written = write_template(out_path, document, header=header)
    return ImportedTemplate(str(written), hierarchy, document)


def _timeloop(path, *, ert, constraints, mapping, freq_mhz) -> tuple[Hierarchy, float, str]:
    from hwmap.interop.timeloop import read_timeloop, timeloop_clock_mhz

    if ert is None:
        raise ParameterError("ert", "missing: --format timeloop needs Accelergy's energy reference table "
                                    "(*.ERT.yaml) for the per-action energies")
    if mapping is not None:
        raise ParameterError("spatial_mapping", "is ZigZag's mapping file; for Timeloop give --constraints")
    hierarchy = read_timeloop(path, ert, constraints=constraints)
    if freq_mhz is not None:
        return hierarchy, freq_mhz, f"; freq_mhz {freq_mhz:g} given on import"
    return hierarchy, timeloop_clock_mhz(path), ""


def _zigzag(path, *, ert, constraints, mapping, freq_mhz) -> tuple[Hierarchy, float, str]:
    from hwmap.interop.zigzag_hardware import read_zigzag_hardware

    for keyword, value in (("ert", ert), ("constraints", constraints)):
        if value is not None:
            raise ParameterError(keyword, "is for --format timeloop; ZigZag's hardware YAML carries its energies "
                                          "and operands")
    hierarchy = read_zigzag_hardware(path, mapping=mapping)
    if freq_mhz is not None:
        return hierarchy, freq_mhz, f"; freq_mhz {freq_mhz:g} given on import"
    return hierarchy, ZIGZAG_DEFAULT_FREQ_MHZ, (f"; freq_mhz {ZIGZAG_DEFAULT_FREQ_MHZ:g} assumed (ZigZag's "
                                                "hardware YAML has no clock)")


def read_template_file(path: str | Path) -> tuple[dict, Hierarchy]:
    """A ``kind: hierarchy`` template file's document and its checked Hierarchy (named after the file)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TemplateError(f"{path}: cannot read: {exc.strerror or exc}") from None
    document = load_architecture_yaml(text, source=str(path))
    if not isinstance(document, dict) or document.get("kind") != "hierarchy":
        raise TemplateError(f"{path}: kind: expected 'hierarchy'")
    return document, hierarchy_of_template(document, name=path.name.split(".")[0], source=str(path))


# ------------------------------------------------------------------------------------------------------------
# Export
# ------------------------------------------------------------------------------------------------------------

EXPORT_FORMATS = ("zigzag", "timeloop")


def export_paths(h: Hierarchy, *, format: str, out_dir: str | Path) -> tuple[Path, ...]:
    """The files :func:`export_hierarchy` writes for ``h`` into the folder ``out_dir``."""
    out = Path(out_dir)
    if not out.is_dir():
        raise ParameterError("out", f"{out_dir}: expected an existing folder for the {format} files")
    if format == "timeloop":
        return tuple(out / f"{h.name}.{part}.yaml" for part in ("flattened_architecture", "ERT", "constraints"))
    return (out / f"{h.name}.yaml",) + ((out / f"{h.name}.mapping.yaml",) if h.spatial else ())


def export_hierarchy(h: Hierarchy, *, format: str, out_dir: str | Path) -> tuple[Path, ...]:
    """Write a Hierarchy as Timeloop v0.4 (flattened architecture, ERT, constraints) or ZigZag 3.9.1 (hardware
    YAML, and a mapping YAML with its fixed spatial unrolling) files into the folder ``out_dir``."""
    from hwmap.interop.timeloop import timeloop_documents
    from hwmap.interop.zigzag_hardware import zigzag_hardware_documents

    paths = export_paths(h, format=format, out_dir=out_dir)
    documents = timeloop_documents(h) if format == "timeloop" else tuple(
        d for d in zigzag_hardware_documents(h) if d is not None)  # refusals raise before anything is written
    for path, document in zip(paths, documents, strict=True):
        atomic_write_text(path, dump_yaml(document))
    return paths
