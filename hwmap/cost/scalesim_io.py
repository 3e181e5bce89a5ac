"""Readers for SCALE-Sim 3.0.0 files: topology CSVs, .cfg files and the report CSVs it writes.

The parsers follow SCALE-Sim's own (topology_utils.py, scale_config.py) but fail loudly: every problem raises a
HwmapError (TemplateError for .cfg files) naming the file, the line or field, and what was expected.
"""

from __future__ import annotations

import configparser
import csv
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hwmap.cost.systolic import DATAFLOWS, ConvGeometry, SystolicCosts, systolic_costs
from hwmap.errors import HwmapError, TemplateError
from hwmap.limits import MAX_TOPOLOGY_FIELD, MAX_TOPOLOGY_LAYER_MACS, MAX_TOPOLOGY_ROWS

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
