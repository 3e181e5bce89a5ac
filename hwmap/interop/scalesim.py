"""SCALE-Sim 3.0.0's formats, in and out: its topology CSVs, .cfg files and report CSVs read; a topology read as a
LayerGraph and a .cfg as a systolic Accelerator; a LayerGraph written as a topology CSV.

Reading: the parsers follow SCALE-Sim's own (topology_utils.py, scale_config.py) but fail loudly: every problem
raises a HwmapError (TemplateError for .cfg files) naming the file, the line or field, and what was expected.

SCALE-Sim users move over: energy and DRAM fields, which a .cfg file does not have, come from the shipped template
`systolic16x16` (45 nm int8 defaults with their sources in accelerators/systolic16x16.yaml); the array shape,
dataflow and SRAM sizes come from the .cfg. SCALE-Sim words are 1 byte, so operands are int8.

Writing (export_topology): SCALE-Sim has no padding, groups, dilation or batch fields, so
- each conv row carries the effective input extent H_eff = (H_out - 1) * stride + kernel, which gives the exact
  MAC count of the padded conv (SCALE-Sim: ofmap = (H_eff - kernel) / stride + 1);
- a grouped or depthwise conv becomes one row per group, a batched GEMM one row per batch element;
- a linear layer or matmul is a 1x1 conv over an M x 1 map (conv format) or an M, N, K row (GEMM format);
- SCALE-Sim drops the last field of every row, so rows end with a trailing comma, as in its own files.
Convs it cannot express (dilation > 1, unequal strides, not 2-d, transposed) are left out and listed in notes.
"""

from __future__ import annotations

import configparser
import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from hwmap.cost.systolic import DATAFLOWS, ConvGeometry, SystolicCosts, systolic_costs
from hwmap.errors import HwmapError, TemplateError
from hwmap.fileio import atomic_write_text
from hwmap.graph.ir import LayerGraph, Node
from hwmap.limits import MAX_TOPOLOGY_FIELD, MAX_TOPOLOGY_LAYER_MACS, MAX_TOPOLOGY_ROWS
from hwmap.ops.classes import OpClass
from hwmap.ops.tensor import TensorMeta
from hwmap.ops.work import Conv, Gemm

if TYPE_CHECKING:  # pragma: no cover
    from hwmap.hardware.schema import Accelerator

BYTES_PER_WORD = 1  # SCALE-Sim 3.0.0 hard-codes 1-byte words (single_layer_sim.py: word_size = 1)
BYTES_PER_KB = 1024  # SCALE-Sim: buf_size_bytes = 1024 * SramSzkB

_CONV_FIELDS = ("IFMAP Height", "IFMAP Width", "Filter Height", "Filter Width", "Channels", "Num Filter", "Strides")
_GEMM_FIELDS = ("M", "N", "K")
# Size limits (documented in the README; defined with every other bound in hwmap.limits)
MAX_FIELD = MAX_TOPOLOGY_FIELD
MAX_LAYER_MACS = MAX_TOPOLOGY_LAYER_MACS
MAX_ROWS = MAX_TOPOLOGY_ROWS


@dataclass(frozen=True)
class ScaleSimTopology:
    """A topology as SCALE-Sim sees it, one array element per layer (GEMM rows become 1 x K 'convs')."""

    path: str
    input_format: str  # 'conv' or 'gemm'
    names: tuple[str, ...]
    conv: ConvGeometry
    num_filters: np.ndarray

    @property
    def m(self) -> np.ndarray:
        return self.conv.m

    @property
    def n(self) -> np.ndarray:
        return self.num_filters

    @property
    def k(self) -> np.ndarray:
        return self.conv.k


@dataclass(frozen=True)
class ScaleSimConfig:
    """The fields of a SCALE-Sim .cfg file that the closed-form model uses (sizes as written, in kB)."""

    path: str
    run_name: str
    rows: int
    cols: int
    dataflow: str
    ifmap_sram_kb: int
    filter_sram_kb: int
    ofmap_sram_kb: int
    interface_bandwidth: str  # 'CALC' or 'USER'
    bandwidth_words_per_cycle: tuple[int, ...]  # only read in USER mode, as SCALE-Sim does
    sparsity_support: bool
    ifmap_custom_layout: bool
    filter_custom_layout: bool

    @property
    def ifmap_sram_words(self) -> int:
        return self.ifmap_sram_kb * BYTES_PER_KB // BYTES_PER_WORD

    @property
    def filter_sram_words(self) -> int:
        return self.filter_sram_kb * BYTES_PER_KB // BYTES_PER_WORD

    @property
    def ofmap_sram_words(self) -> int:
        return self.ofmap_sram_kb * BYTES_PER_KB // BYTES_PER_WORD


# ---------------------------------------------------------------------------------------------------------------
# Topology CSV


def read_topology(path: str | Path) -> ScaleSimTopology:
    """Parse a SCALE-Sim topology CSV; conv or GEMM format is told apart by the header.

    Conv: `Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,`
    GEMM: `Layer, M, N, K,` (SCALE-Sim maps it to an M x K ifmap, a 1 x K filter, N filters, stride 1).
    An optional trailing `N:M` sparsity field is accepted and ignored. SCALE-Sim drops the last field of every
    row, so each row must end with a comma. SCALE-Sim quirk reproduced: a conv layer whose name contains 'DP'
    (depthwise) becomes `Channels` layers with one channel each, named `<name>Channel_<i>`.
    """
    path = Path(path)
    lines = _read_lines(path)
    header = [h.strip() for h in lines[0][1].split(",")]
    input_format = _topology_format(path, header)
    fast = _fast_topology(path, lines, input_format)
    if fast is not None:
        return fast
    rows: list[tuple[str, list[int]]] = []
    for lineno, text in lines[1:]:
        if text.strip():
            rows.extend(_topology_row(path, lineno, text, input_format))
            if len(rows) > MAX_ROWS:
                raise HwmapError(f"{path}, line {lineno}: more than {MAX_ROWS:,} layers (a depthwise 'DP' row "
                                 "counts one per channel); expected a network's topology")
    if not rows:
        raise HwmapError(f"{path}: no layer rows after the header; expected at least one layer")
    names = tuple(name for name, _ in rows)
    h, w, r, s, c, n, stride = np.array([vals for _, vals in rows], dtype=np.int64).T
    return ScaleSimTopology(str(path), input_format, names, ConvGeometry(h, w, r, s, c, stride), n)


_ROW_PATTERNS = {
    fmt: re.compile(r"([^,]*)" + r",[ \t]*([0-9]{1,9})[ \t]*" * len(names) + r",[ \t]*")
    for fmt, names in (("conv", _CONV_FIELDS), ("gemm", _GEMM_FIELDS))
}


def _fast_topology(path: Path, lines: list[tuple[int, str]], input_format: str) -> ScaleSimTopology | None:
    """The common case in one vectorised pass (rows of plain positive integers, no sparsity field): linear in the
    rows and about a microsecond each. None sends any file that needs a message to the row-by-row reader, which
    names the line."""
    pattern = _ROW_PATTERNS[input_format]
    matches = [pattern.fullmatch(text.rstrip()) for _, text in lines[1:] if text.strip()]
    if not matches or not all(matches):
        return None
    width = len(_GEMM_FIELDS if input_format == "gemm" else _CONV_FIELDS)
    groups = [match.groups() for match in matches]
    names = [g[0].strip() for g in groups]
    digits = " ".join(" ".join(g[1:]) for g in groups)  # ASCII digits only (the pattern): one C-level parse
    values = np.fromstring(digits, dtype=np.int64, sep=" ").reshape(len(groups), width)
    if (values < 1).any() or (values > MAX_FIELD).any():
        return None
    as_float = values.astype(np.float64)
    if input_format == "gemm":
        m, n, k = values.T
        if (as_float.prod(axis=1) > MAX_LAYER_MACS).any():
            return None
        ones = np.ones_like(m)
        columns = (m, k, ones, k, ones, n, ones)
    else:
        h, w, r, s, c, n, stride = values.T
        if (r > h).any() or (s > w).any() or (as_float[:, :6].prod(axis=1) > MAX_LAYER_MACS).any():
            return None
        columns = (h, w, r, s, c, n, stride)
        depthwise = np.fromiter(("DP" in name for name in names), dtype=bool, count=len(names))
        if depthwise.any():
            repeats = np.where(depthwise, c, 1)
            if int(repeats.sum()) > MAX_ROWS:
                return None
            expanded = []
            for name, dp, channels in zip(names, depthwise.tolist(), c.tolist(), strict=True):
                expanded.extend(f"{name}Channel_{i}" for i in range(channels)) if dp else expanded.append(name)
            names = expanded
            c = np.where(depthwise, 1, c)
            columns = tuple(np.repeat(col, repeats) for col in (h, w, r, s, c, n, stride))
    if len(names) > MAX_ROWS:
        return None
    h, w, r, s, c, n, stride = (np.ascontiguousarray(col, dtype=np.int64) for col in columns)
    return ScaleSimTopology(str(path), input_format, tuple(names), ConvGeometry(h, w, r, s, c, stride), n)


def _read_lines(path: Path) -> list[tuple[int, str]]:
    from hwmap.fileio import read_text_input

    text = read_text_input(path, what="topology file")
    lines = list(enumerate(text.splitlines(), start=1))
    if not lines:
        raise HwmapError(f"{path}: empty file; expected a header row then one row per layer")
    return lines


def _topology_format(path: Path, header: list[str]) -> str:
    fields = [h.lower() for h in header if h]
    if len(fields) >= 4 and fields[1:4] == [f.lower() for f in _GEMM_FIELDS]:
        return "gemm"
    if len(fields) >= 8 and "ifmap" in fields[1]:
        return "conv"
    raise HwmapError(
        f"{path}, line 1: unrecognised header {','.join(header)!r}; expected the conv header "
        f"'Layer name, {', '.join(_CONV_FIELDS)},' or the GEMM header 'Layer, M, N, K,'"
    )


def _topology_row(path: Path, lineno: int, text: str, input_format: str) -> list[tuple[str, list[int]]]:
    where = f"{path}, line {lineno}"
    if not text.rstrip().endswith(","):
        raise HwmapError(f"{where}: row must end with a comma (SCALE-Sim drops the last field of every row)")
    fields = [f.strip() for f in text.rstrip().split(",")[:-1]]
    names = _GEMM_FIELDS if input_format == "gemm" else _CONV_FIELDS
    if len(fields) not in (len(names) + 1, len(names) + 2):
        raise HwmapError(
            f"{where}: {len(fields)} fields; expected {len(names) + 1} (name, {', '.join(names)}) "
            f"and an optional N:M sparsity field"
        )
    values = [_positive_int(where, label, value) for label, value in zip(names, fields[1:], strict=False)]
    if input_format == "gemm":
        macs = values[0] * values[1] * values[2]
    else:  # ofmap pixels x filters x filter size x channels, an upper bound of the layer's MACs
        macs = values[0] * values[1] * values[2] * values[3] * values[4] * values[5]
    if macs > MAX_LAYER_MACS:
        raise HwmapError(f"{where}: the layer is too large to cost (about {macs:.3g} MACs; at most 2^56)")
    if len(fields) == len(names) + 2 and not _is_ratio(fields[-1]):
        raise HwmapError(f"{where}, last field: {fields[-1]!r}; expected an N:M sparsity ratio such as 2:4")
    if input_format == "gemm":
        m, n, k = values
        return [(fields[0], [m, k, 1, k, 1, n, 1])]
    _check_filter_fits(where, values)
    if "DP" in fields[0]:
        return [(f"{fields[0]}Channel_{i}", values[:4] + [1] + values[5:]) for i in range(values[4])]
    return [(fields[0], values)]


def _is_ratio(text: str) -> bool:
    parts = text.split(":")
    return len(parts) == 2 and all(p.strip().isdigit() for p in parts)


def _positive_int(where: str, label: str, value: str) -> int:
    try:
        if not (value.isascii() and value.isdigit()):
            raise ValueError(value)
        number = int(value)
    except ValueError:
        raise HwmapError(
            f"{where}, field {label!r}: {value!r} is not an integer; expected a positive integer"
        ) from None
    if number < 1 or number > MAX_FIELD:
        raise HwmapError(f"{where}, field {label!r}: {number}; expected a positive integer up to {MAX_FIELD:,}")
    return number


def _check_filter_fits(where: str, values: list[int]) -> None:
    h, w, r, s = values[:4]
    if r > h or s > w:
        raise HwmapError(f"{where}: filter {r}x{s} larger than ifmap {h}x{w}; expected filter <= ifmap")


# ---------------------------------------------------------------------------------------------------------------
# .cfg file


def read_config(path: str | Path) -> ScaleSimConfig:
    """Parse a SCALE-Sim .cfg file (sections general, architecture_presets, run_presets; layout and sparsity
    are read when present). Raises TemplateError naming the file, section and field on any problem."""
    from hwmap.fileio import read_text_input

    path = Path(path)
    parser = configparser.ConfigParser(interpolation=None)  # '%(x)s' is text, not a reference to expand
    text = read_text_input(path, what="config file", error=TemplateError)
    try:
        parser.read_string(text, source=str(path))
    except configparser.Error as exc:
        raise TemplateError(f"{path}: not a valid .cfg file ({exc}); expected SCALE-Sim's INI sections") from exc
    arch = "architecture_presets"
    mode = _cfg_str(parser, path, "run_presets", "InterfaceBandwidth").upper()
    if mode not in ("CALC", "USER"):
        raise TemplateError(f"{path}, [run_presets] InterfaceBandwidth: {mode!r}; expected CALC or USER")
    dataflow = _cfg_str(parser, path, arch, "Dataflow").lower()
    if dataflow not in DATAFLOWS:
        raise TemplateError(f"{path}, [{arch}] Dataflow: {dataflow!r}; expected one of {', '.join(DATAFLOWS)}")
    return ScaleSimConfig(
        path=str(path),
        run_name=_cfg_str(parser, path, "general", "run_name"),
        rows=_cfg_int(parser, path, arch, "ArrayHeight"),
        cols=_cfg_int(parser, path, arch, "ArrayWidth"),
        dataflow=dataflow,
        ifmap_sram_kb=_cfg_int(parser, path, arch, "IfmapSramSzkB"),
        filter_sram_kb=_cfg_int(parser, path, arch, "FilterSramSzkB"),
        ofmap_sram_kb=_cfg_int(parser, path, arch, "OfmapSramSzkB"),
        interface_bandwidth=mode,
        bandwidth_words_per_cycle=_cfg_bandwidths(parser, path, arch) if mode == "USER" else (),
        sparsity_support=_cfg_bool(parser, path, "sparsity", "SparsitySupport"),
        ifmap_custom_layout=_cfg_bool(parser, path, "layout", "IfmapCustomLayout"),
        filter_custom_layout=_cfg_bool(parser, path, "layout", "FilterCustomLayout"),
    )


def _cfg_str(parser: configparser.ConfigParser, path: Path, section: str, key: str) -> str:
    if not parser.has_section(section):
        raise TemplateError(f"{path}: missing section [{section}]; expected it to hold {key}")
    if not parser.has_option(section, key):
        raise TemplateError(f"{path}, [{section}]: missing field {key}")
    return parser.get(section, key).strip()


def _cfg_int(parser: configparser.ConfigParser, path: Path, section: str, key: str) -> int:
    value = _cfg_str(parser, path, section, key)
    number = int(value) if value.isascii() and value.isdigit() and len(value) <= 12 else 0
    if number < 1 or number > MAX_FIELD:
        raise TemplateError(f"{path}, [{section}] {key}: {value!r}; expected a positive integer up to "
                            f"{MAX_FIELD:,}")
    return number


def _cfg_bool(parser: configparser.ConfigParser, path: Path, section: str, key: str) -> bool:
    if not parser.has_option(section, key):
        return False  # absent [layout] / [sparsity]: the features are off
    value = parser.get(section, key).strip().lower()
    if value not in ("true", "false"):
        raise TemplateError(f"{path}, [{section}] {key}: {value!r}; expected true or false")
    return value == "true"


def _cfg_bandwidths(parser: configparser.ConfigParser, path: Path, section: str) -> tuple[int, ...]:
    value = _cfg_str(parser, path, section, "Bandwidth")
    parts = [x.strip() for x in value.split(",")]
    ok = all(p.isascii() and p.isdigit() and len(p) <= 12 for p in parts)
    bandwidths = tuple(int(x) for x in parts) if ok else ()
    if not bandwidths or min(bandwidths) < 1 or max(bandwidths) > MAX_FIELD:
        raise TemplateError(f"{path}, [{section}] Bandwidth: {value!r}; expected comma-separated positive integers")
    return bandwidths


# ---------------------------------------------------------------------------------------------------------------
# Model on files, and SCALE-Sim's report CSVs


def check_modelled(config: ScaleSimConfig) -> None:
    """Settings hwmap does not model are an error naming the key (never run silently as dense CALC)."""
    unsupported = [
        label
        for label, on in (
            ("[run_presets] InterfaceBandwidth = USER", config.interface_bandwidth == "USER"),
            ("[sparsity] SparsitySupport = true", config.sparsity_support),
            ("[layout] IfmapCustomLayout = true", config.ifmap_custom_layout),
            ("[layout] FilterCustomLayout = true", config.filter_custom_layout),
        )
        if on
    ]
    if unsupported:
        raise TemplateError(
            f"{config.path}: {', '.join(unsupported)} is not modelled by hwmap; "
            "expected CALC mode without sparsity or custom layouts"
        )


def scalesim_costs(topology: ScaleSimTopology, config: ScaleSimConfig) -> SystolicCosts:
    """Closed-form SCALE-Sim reports of every layer of `topology` on `config` (CALC mode, no sparsity)."""
    check_modelled(config)
    return systolic_costs(
        topology.m,
        topology.n,
        topology.k,
        rows=config.rows,
        cols=config.cols,
        dataflow=config.dataflow,
        ifmap_sram_words=config.ifmap_sram_words,
        filter_sram_words=config.filter_sram_words,
        ofmap_sram_words=config.ofmap_sram_words,
        conv=topology.conv,
    )


def read_report(path: str | Path) -> dict[str, np.ndarray]:
    """A SCALE-Sim report CSV (COMPUTE_REPORT, DETAILED_ACCESS_REPORT, BANDWIDTH_REPORT) as column arrays.

    Header names are stripped; numeric columns become float64 arrays, others (LayerName) object arrays.
    """
    path = Path(path)
    try:
        with path.open(newline="") as handle:
            rows = [[cell.strip() for cell in row] for row in csv.reader(handle) if row]
    except OSError as exc:
        raise HwmapError(f"{path}: cannot read report ({exc}); expected a SCALE-Sim report CSV") from exc
    header = [h for h in rows[0] if h] if rows else []
    if not header:
        raise HwmapError(f"{path}: no header row; expected a SCALE-Sim report CSV")
    if any(len(row) < len(header) for row in rows[1:]):
        raise HwmapError(f"{path}: a row has fewer fields than the header's {len(header)}")
    columns = list(zip(*(row[: len(header)] for row in rows[1:]), strict=True)) or [()] * len(header)
    return {name: _report_column(values) for name, values in zip(header, columns, strict=True)}


def _report_column(values: tuple[str, ...]) -> np.ndarray:
    try:
        return np.array([float(v) for v in values], dtype=np.float64)
    except ValueError:
        return np.array(values, dtype=object)


# ---------------------------------------------------------------- a topology as a graph, a .cfg as an Accelerator

DEFAULTS_TEMPLATE = "systolic16x16"


def topology_graph(path: str | Path) -> LayerGraph:
    """One node per topology row: a conv (conv format) or a GEMM (M, N, K format), int8 tensors."""
    from hwmap.graph.io import _no_gc

    with _no_gc():  # hundreds of thousands of small acyclic objects: the cyclic GC would make this quadratic
        return _topology_graph(path)


def _topology_graph(path: str | Path) -> LayerGraph:
    topology = read_topology(path)
    geometry = topology.conv
    # Columns read once as Python ints: ConvGeometry's properties recompute whole arrays on every access.
    names = topology.names
    count = len(names)
    nodes = []
    if topology.input_format == "gemm":
        for i, m, n, k in zip(range(count), topology.m.tolist(), topology.n.tolist(), topology.k.tolist(),
                              strict=True):
            name = names[i]
            work = Gemm(batch=1, m=m, n=n, k=k)
            inputs = (TensorMeta((m, k), "int8", "input:0"), TensorMeta((k, n), "int8", f"param:{name}"))
            nodes.append(Node(index=i, op="scalesim.layer", work=work, op_class=OpClass.LINEAR, scope=name,
                              module_class="scalesim-gemm", inputs=inputs,
                              outputs=(TensorMeta((m, n), "int8", str(i)),)))
    else:
        columns = (geometry.ifmap_h.tolist(), geometry.ifmap_w.tolist(), geometry.filter_h.tolist(),
                   geometry.filter_w.tolist(), geometry.channels.tolist(), topology.n.tolist(),
                   geometry.stride.tolist(), geometry.ofmap_h.tolist(), geometry.ofmap_w.tolist())
        zeros, ones = (0, 0), (1, 1)
        pointwise, dense = OpClass.CONV_POINTWISE, OpClass.CONV_DENSE
        # Layers of one shape share their (frozen, immutable) Conv, input tensor and op class: networks repeat
        # shapes block after block, and building the frozen dataclass is most of the time per row.
        shared: dict[tuple[int, ...], tuple[Conv, TensorMeta, OpClass]] = {}
        for i, key in enumerate(zip(*columns, strict=True)):
            h, w, r, s, c, f, stride, oh, ow = key
            entry = shared.get(key)
            if entry is None:
                entry = shared[key] = (Conv(1, c, f, (h, w), (oh, ow), (r, s), (stride, stride), zeros, ones, 1),
                                       TensorMeta((1, c, h, w), "int8", "input:0"),
                                       pointwise if r == 1 and s == 1 else dense)  # groups = 1: conv_class()
            work, ifmap, op_class = entry
            name = names[i]
            nodes.append(Node(i, "scalesim.layer", work, op_class, name, "scalesim-conv",
                              (ifmap, TensorMeta((f, c, r, s), "int8", f"param:{name}")),
                              (TensorMeta((1, f, oh, ow), "int8", str(i)),)))
    weights = sum(n.inputs[1].numel for n in nodes)
    return LayerGraph(model=str(path), input_shapes=(), nodes=tuple(nodes), params=weights, param_bytes=weights,
                      buffer_bytes=0, capture_mode="scalesim-topology",
                      notes=("read from a SCALE-Sim topology CSV: GEMM-like layers only",),
                      meta={"source": "SCALE-Sim topology", "format": topology.input_format})


def config_accelerator(path: str | Path) -> Accelerator:
    """A systolic Accelerator with the .cfg's array, dataflow and SRAM sizes, named after the file."""
    from hwmap.hardware.loader import load_accelerator  # here: reading a topology needs no template schema

    config = read_config(path)
    check_modelled(config)
    base = load_accelerator(DEFAULTS_TEMPLATE)
    return base.with_overrides(
        {
            "array.rows": config.rows,
            "array.cols": config.cols,
            "array.dataflow": config.dataflow,
            "buffers.ifmap.size_bytes": config.ifmap_sram_kb * BYTES_PER_KB,
            "buffers.filter.size_bytes": config.filter_sram_kb * BYTES_PER_KB,
            "buffers.ofmap.size_bytes": config.ofmap_sram_kb * BYTES_PER_KB,
            "description": f"SCALE-Sim config {Path(path).name} (energy and DRAM defaults from {DEFAULTS_TEMPLATE})",
        },
        name=Path(path).stem,
    )


# ---------------------------------------------------------------- a LayerGraph as a topology CSV

CONV_HEADER = "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,"
GEMM_HEADER = "Layer, M, N, K,"


@dataclass(frozen=True)
class ExportResult:
    rows: int
    macs: int  # MACs the written rows describe
    notes: tuple[str, ...]

    def to_dict(self) -> dict:
        return {"rows": self.rows, "macs": self.macs, "notes": list(self.notes)}


def scalesim_rows(graph: LayerGraph, *, gemm_format: bool) -> tuple[list[str], int, list[str]]:
    rows: list[str] = []
    macs = 0
    skipped: list[str] = []
    for node in graph.nodes:
        work = node.work
        if isinstance(work, Conv) and not gemm_format:
            reason = _conv_unsupported(work)
            if reason:
                skipped.append(f"{node.name} ({reason})")
                continue
            rows.extend(_conv_rows(node, work))
        elif isinstance(work, (Conv, Gemm)):
            gemm = work.gemm if isinstance(work, Conv) else work
            rows.extend(_gemm_rows(node, gemm, gemm_format=gemm_format))
        else:
            continue
        macs += work.macs
    notes = []
    if skipped:
        notes.append(f"{len(skipped)} conv(s) SCALE-Sim cannot express were left out: {', '.join(skipped[:5])}"
                     + (" ..." if len(skipped) > 5 else ""))
    return rows, macs, notes


def write_scalesim_topology(graph: LayerGraph, path: str, *, gemm_format: bool = False) -> ExportResult:
    rows, macs, notes = scalesim_rows(graph, gemm_format=gemm_format)
    buffer = io.StringIO()
    buffer.write((GEMM_HEADER if gemm_format else CONV_HEADER) + "\n")
    for row in rows:
        buffer.write(row + "\n")
    atomic_write_text(path, buffer.getvalue())
    return ExportResult(len(rows), macs, tuple(notes))


def _conv_unsupported(conv: Conv) -> str:
    if len(conv.kernel) != 2:
        return f"{len(conv.kernel)}-d conv"
    if conv.transposed:
        return "transposed conv"
    if any(d != 1 for d in conv.dilation):
        return "dilation > 1"
    if conv.stride[0] != conv.stride[1]:
        return "unequal strides"
    return ""


def _safe(name: str) -> str:
    return name.replace(",", ";").replace(" ", "")


def _conv_rows(node: Node, conv: Conv) -> list[str]:
    (kh, kw), stride = conv.kernel, conv.stride[0]
    h_eff = (conv.out_spatial[0] - 1) * stride + kh
    w_eff = (conv.out_spatial[1] - 1) * stride + kw
    cin, cout = conv.in_channels // conv.groups, conv.out_channels // conv.groups
    copies = conv.groups * conv.batch
    names = [_safe(node.name)] if copies == 1 else [f"{_safe(node.name)}_{i}" for i in range(copies)]
    return [f"{name}, {h_eff}, {w_eff}, {kh}, {kw}, {cin}, {cout}, {stride}," for name in names]


def _gemm_rows(node: Node, gemm: Gemm, *, gemm_format: bool) -> list[str]:
    names = [_safe(node.name)] if gemm.batch == 1 else [f"{_safe(node.name)}_{i}" for i in range(gemm.batch)]
    if gemm_format:
        return [f"{name}, {gemm.m}, {gemm.n}, {gemm.k}," for name in names]
    return [f"{name}, {gemm.m}, 1, 1, 1, {gemm.k}, {gemm.n}, 1," for name in names]
