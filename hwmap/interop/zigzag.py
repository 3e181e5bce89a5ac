"""ZigZag 3.9.1 (PyPI ``zigzag-dse``) inputs from hwmap: workload, hardware and spatial-mapping YAML.

The formats are ZigZag's own (``zigzag/parser/workload_validator.py``, ``accelerator_validator.py``,
``mapping_validator.py`` and the examples under ``zigzag/inputs/``); ZigZag is never imported here.

Workload (one YAML list entry per conv / GEMM layer):
- a 2-d conv is ZigZag's 7-deep nest plus groups, ``O[b][g][k][oy][ox] += W[g][k][c][fy][fx] * I[b][g][c][iy][ix]``
  with ``ix = stride_w*ox + dilation_w*fx``, ``iy = stride_h*oy + dilation_h*fy``, the real input extent
  (``pr_loop_sizes``) and the padding actually used at each border, so the ifmap counts its halo, not an im2col
  copy. Grouped and depthwise convs keep ``G`` = groups, ``C`` = input channels per group, ``K`` = outputs per
  group (depthwise: C = 1).
- a linear layer or matmul is a GEMM ``O[b][d][k] += I[b][d][c] * W[c][k]`` (``D`` = rows m, ``C`` = reduction k,
  ``K`` = columns n, ``B`` = batch when > 1; weights carry ``[b]`` when they are an activation, as in attention).
- precisions: I and W from the template's operand bits (or the graph's dtype when no template is given), ``O``
  (partial sums) at the accumulator width and ``O_final`` at the input width (hwmap requantises outputs).
Transposed and non-2-d convs are left out and listed in the result's notes.

Hardware: every value comes from ONE adapter, :func:`zigzag_hardware_view`, which reads the template's hardware
view (the kind's ``hardware_view``, :mod:`hwmap.cost.kinds`) and returns a :class:`ZigzagHardware` (levels with
operands, capacity in bytes, pJ per byte read/written, bandwidth in bytes per cycle, which array dimensions share
one instance). Everything else only formats that view.

Pricing: ZigZag charges ``r_cost`` per access of ``bandwidth_max`` bits, counting
``ceil(bits / bandwidth_min) * bandwidth_min / bandwidth_max`` accesses. With ``bandwidth_min`` = 8 bits (4 for int4
operands) and ``r_cost = pJ_per_byte * bandwidth_max / 8`` the energy is exactly pJ/byte x bytes moved, hwmap's rule.
PE registers that hwmap does not price (the stationary word of a systolic PE, a lane's weight vector) cost 0 pJ.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from hwmap.errors import HwmapError, ParameterError, TemplateError
from hwmap.fileio import atomic_write_text, check_run_files
from hwmap.graph.ir import LayerGraph, Node
from hwmap.hardware.schema import Accelerator
from hwmap.ops.tensor import DTYPE_BYTES
from hwmap.ops.work import Conv, Gemm

__all__ = [
    "MEMORY_OPERANDS",
    "ZIGZAG_VERSION",
    "ZigzagExport",
    "ZigzagHardware",
    "ZigzagLayer",
    "ZigzagMemory",
    "hardware_yaml",
    "mapping_yaml",
    "write_zigzag_hardware",
    "write_zigzag_workload",
    "zigzag_hardware_view",
    "zigzag_layers",
]

ZIGZAG_VERSION = "3.9.1"
DRAM_SIZE_BITS = 2**40  # ZigZag needs a finite size; 128 GiB is "unbounded" for any layer
MEMORY_OPERANDS = {"O": "O", "W": "I2", "I": "I1"}  # layer operand -> memory operand (ZigZag's default links)


# --------------------------------------------------------------------------------------------------------------
# Hardware view: the ONE place that reads template fields
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ZigzagMemory:
    """One memory level as ZigZag sees it. operands are memory operands (I1 = inputs, I2 = weights, O = outputs).

    served_dimensions: the array dimensions one instance spans (() = one instance per MAC, a register).
    """

    name: str
    operands: tuple[str, ...]
    size_bytes: float
    read_energy_pj_per_byte: float
    write_energy_pj_per_byte: float
    bw_bytes_per_cycle: float
    served_dimensions: tuple[str, ...]
    mem_type: str = "sram"


@dataclass(frozen=True)
class ZigzagHardware:
    """What ZigZag needs of a template: the MAC array, the memory levels (innermost first) and the spatial unrolling.

    spatial: array dimension -> the loop dimension unrolled on it, per layer form ("conv", "depthwise", "gemm").
    """

    name: str
    kind: str
    freq_mhz: float
    dimensions: tuple[str, ...]
    sizes: tuple[int, ...]
    mac_energy_pj: float
    systolic_dimensions: tuple[str, ...]
    memories: tuple[ZigzagMemory, ...]
    spatial: dict[str, dict[str, str]]
    input_bits: int
    weight_bits: int
    output_bits: int


SYSTOLIC_LAYOUT = ("dram", "ifmap", "filter", "ofmap")
VECTOR_PE_LAYOUT = ("dram", "global", "pe.weight", "pe.input", "pe.accumulation")
BUILTIN_LAYOUTS = (SYSTOLIC_LAYOUT, VECTOR_PE_LAYOUT)


def has_builtin_layout(view) -> bool:
    """Whether a hardware view is the systolic or vector-PE layout :func:`zigzag_hardware_view` writes with its
    PE registers and dataflow spatial mapping (other hierarchies go through hwmap.interop.zigzag_hardware)."""
    return tuple(level.name for level in view.levels) in BUILTIN_LAYOUTS


def zigzag_hardware_view(accel: Accelerator) -> ZigzagHardware:
    """Read an hwmap Accelerator's hardware view (its kind's ``hardware_view``: the systolic or vector-PE layout)
    into a ZigzagHardware.

    This is the only function that reads the template, and it reads it through the view: capacities, double
    buffering, per-byte energies and DRAM bandwidth are the ones the cost models use. Assumes (matching hwmap's
    cost models):
    - a double-buffered buffer offers half its bytes to a tile (the view's usable bytes; hwmap's mapper does the same);
    - systolic (a view with systolic axes): one ifmap, one filter and one ofmap SRAM, each serving the whole array;
      the stationary operand of the dataflow (ws: weights, os: outputs, is: inputs) sits in a one-word PE register,
      and so does the output accumulator; registers cost 0 pJ (hwmap prices only SRAM and DRAM). The SRAMs deliver
      a word per PE per cycle (SCALE-Sim never stalls on SRAM bandwidth); DRAM is one read/write port of the
      template's bandwidth. Spatial unrolling as in SCALE-Sim: ws rows = reduction (C), columns = filters (K); os
      rows = output pixels (OX / D), columns = K; is rows = C, columns = OX / D.
    - vector-PE (pes x lanes x vector): DRAM -> global buffer (all operands) -> per-PE weight, input and
      accumulation buffers -> a 0 pJ weight register per MAC (the lane's weight vector is held while the PE's pixels
      stream). Array dimensions D1 = PEs (output pixels OX / rows D), D2 = lanes (K), D3 = vector width (C;
      depthwise: FX).
    """
    from hwmap.cost.kinds import hardware_view

    try:
        view = hardware_view(accel)
    except TemplateError as exc:
        raise HwmapError(f"{accel.name}: ZigZag export supports the systolic and vector_pe layouts: {exc}") from None
    bits = accel.spec.operand_bits
    dram_level = view.levels[0]

    def memory(name: str, level, operands: tuple[str, ...], bw_bytes_per_cycle: float,
               dims: tuple[str, ...]) -> ZigzagMemory:
        return ZigzagMemory(name, operands, level.usable_bytes, level.read_pj_per_byte, level.write_pj_per_byte,
                            bw_bytes_per_cycle, dims)

    def dram(dims: tuple[str, ...]) -> ZigzagMemory:
        return ZigzagMemory("dram", ("I1", "I2", "O"), DRAM_SIZE_BITS / 8, dram_level.read_pj_per_byte,
                            dram_level.write_pj_per_byte, dram_level.read_bandwidth_bytes_per_cycle, dims, "dram")

    names = tuple(level.name for level in view.levels)
    if view.compute.systolic_axes and names == SYSTOLIC_LAYOUT:
        rows, cols = view.compute.mesh
        on_axes = tuple(u.dims[0] for u in view.spatial)
        flow = {("C", "K"): "ws", ("OX", "K"): "os", ("C", "OX"): "is"}[on_axes]
        dims = ("D1", "D2")
        pes = rows * cols
        regs = {"ws": ("I2", bits.weight), "os": None, "is": ("I1", bits.input)}[flow]
        memories = []
        if regs is not None:
            memories.append(ZigzagMemory(f"reg_{regs[0]}", (regs[0],), regs[1] / 8, 0.0, 0.0, regs[1] / 8, ()))
        memories.append(ZigzagMemory("reg_O", ("O",), bits.output / 8, 0.0, 0.0, bits.output / 8, ()))
        for name, op, width in (("ifmap", "I1", bits.input), ("filter", "I2", bits.weight),
                                ("ofmap", "O", bits.output)):
            memories.append(memory(f"{name}_sram", view.level(name), (op,), pes * width / 8, dims))
        spatial = {
            "ws": {"conv": {"D1": "C", "D2": "K"}, "depthwise": {"D1": "FX", "D2": "K"},
                   "gemm": {"D1": "C", "D2": "K"}},
            "os": {"conv": {"D1": "OX", "D2": "K"}, "depthwise": {"D1": "OX", "D2": "K"},
                   "gemm": {"D1": "D", "D2": "K"}},
            "is": {"conv": {"D1": "C", "D2": "OX"}, "depthwise": {"D1": "FX", "D2": "OX"},
                   "gemm": {"D1": "C", "D2": "D"}},
        }[flow]
        return ZigzagHardware(accel.name, accel.kind, accel.freq_mhz, dims, (rows, cols),
                              view.compute.mac_energy_pj, dims, (*memories, dram(dims)), spatial, bits.input,
                              bits.weight, bits.output)
    if names != VECTOR_PE_LAYOUT:
        raise HwmapError(f"{accel.name}: ZigZag export supports the systolic and vector_pe layouts, not levels "
                         f"{list(names)} (write its hierarchy with hwmap.interop.zigzag_hardware)")
    num_pes, lanes, vector_width = view.compute.mesh
    dims = ("D1", "D2", "D3")
    in_pe = ("D2", "D3")
    per_pe_bw = lanes * vector_width
    memories = (
        ZigzagMemory("reg_W", ("I2",), bits.weight / 8, 0.0, 0.0, bits.weight / 8, ()),
        memory("pe_weight", view.level("pe.weight"), ("I2",), per_pe_bw * bits.weight / 8, in_pe),
        memory("pe_input", view.level("pe.input"), ("I1",), vector_width * bits.input / 8, in_pe),
        memory("pe_accumulation", view.level("pe.accumulation"), ("O",), lanes * bits.output / 8, in_pe),
        memory("global_buffer", view.level("global"), ("I1", "I2", "O"),
               num_pes * per_pe_bw * max(bits.input, bits.weight) / 8, dims),
        dram(dims),
    )
    spatial = {"conv": {"D1": "OX", "D2": "K", "D3": "C"}, "depthwise": {"D1": "OX", "D2": "K", "D3": "FX"},
               "gemm": {"D1": "D", "D2": "K", "D3": "C"}}
    return ZigzagHardware(accel.name, accel.kind, accel.freq_mhz, dims, (num_pes, lanes, vector_width),
                          view.compute.mac_energy_pj, (), memories, spatial, bits.input, bits.weight, bits.output)


def _min_bits(*widths: int) -> int:
    return 4 if min(widths) < 8 else 8


# --------------------------------------------------------------------------------------------------------------
# Hardware and mapping YAML
# --------------------------------------------------------------------------------------------------------------


def hardware_yaml(hw: ZigzagHardware) -> dict:
    """ZigZag's accelerator document (parser/accelerator_validator.py) for a hardware view."""
    min_bits = _min_bits(hw.input_bits, hw.weight_bits, hw.output_bits)
    memories = {}
    for mem in hw.memories:
        bw_bits = max(int(math.ceil(mem.bw_bytes_per_cycle * 8)), min_bits)
        bw_bits = -(-bw_bits // min_bits) * min_bits  # a whole number of minimum accesses
        ports = _ports(mem.operands, bw_bits, min_bits, shared=mem.mem_type == "dram")
        memories[mem.name] = {
            "size": int(round(mem.size_bytes * 8)),
            "r_cost": _round(mem.read_energy_pj_per_byte * bw_bits / 8),
            "w_cost": _round(mem.write_energy_pj_per_byte * bw_bits / 8),
            "area": 0.0,
            "latency": 1,
            "operands": list(mem.operands),
            "ports": ports,
            "served_dimensions": list(mem.served_dimensions),
        }
        if mem.mem_type != "sram":
            memories[mem.name]["mem_type"] = mem.mem_type
    return {
        "name": _safe_name(hw.name),
        "memories": memories,
        "operational_array": {
            "unit_energy": float(hw.mac_energy_pj),
            "unit_area": 1.0,
            "dimensions": list(hw.dimensions),
            "sizes": list(hw.sizes),
            **({"systolic_dimensions": list(hw.systolic_dimensions)} if hw.systolic_dimensions else {}),
        },
    }


def _ports(operands: tuple[str, ...], bw_bits: int, min_bits: int, *, shared: bool) -> list[dict]:
    """DRAM: one read_write port (one interface). On chip, as in ZigZag's tpu_like example: one read and one write
    port for the data flowing down, and, where outputs live, a second read port (partial sums up) and a second write
    port (partial sums back), so reading and writing back a partial sum in one cycle is no port conflict."""
    def port(name: str, kind: str, allocation: list[str]) -> dict:
        return {"name": name, "type": kind, "bandwidth_min": min_bits, "bandwidth_max": bw_bits,
                "allocation": allocation}

    if shared:
        allocation = [f"{op}, fh" for op in operands] + [f"{op}, tl" for op in operands]
        if "O" in operands:
            allocation += ["O, fl", "O, th"]
        return [port("rw_port_1", "read_write", allocation)]
    ports = [port("r_port_1", "read", [f"{op}, tl" for op in operands]),
             port("w_port_1", "write", [f"{op}, fh" for op in operands])]
    if "O" in operands:
        ports += [port("r_port_2", "read", ["O, th"]), port("w_port_2", "write", ["O, fl"])]
    return ports


def mapping_yaml(hw: ZigzagHardware, layers: list[ZigzagLayer] | None = None) -> list[dict]:
    """ZigZag's mapping document: spatial unrolling per operator type ("Conv", "Gemm", "default") and one entry
    per depthwise layer (matched by layer name, which ZigZag tries first)."""
    sizes = dict(zip(hw.dimensions, hw.sizes, strict=True))

    def entry(name: str, form: str) -> dict:
        return {"name": name,
                "spatial_mapping": {d: [f"{dim}, {sizes[d]}"] for d, dim in hw.spatial[form].items()},
                "memory_operand_links": dict(MEMORY_OPERANDS)}

    entries = [entry("default", "conv"), entry("Conv", "conv"), entry("Gemm", "gemm")]
    for layer in layers or []:
        if layer.form == "depthwise":
            entries.append(entry(layer.name, "depthwise"))
    return entries


def zigzag_hardware_paths(out: str | Path, name: str) -> tuple[Path, Path]:
    """(hardware YAML, mapping YAML) that write_zigzag_hardware writes for out (a folder or a .yaml file)."""
    out = Path(out)
    if out.is_dir():
        stem = _safe_name(name)
        return out / f"{stem}.hardware.yaml", out / f"{stem}.mapping.yaml"
    if out.suffix.lower() not in (".yaml", ".yml"):
        raise ParameterError("out", f"{out}: expected the hardware .yaml file to write (the mapping YAML goes beside "
                                    "it) or an existing folder")
    if not out.parent.is_dir():
        raise ParameterError("out", f"{out}: folder {out.parent} does not exist")
    stem = out.name[: -len(out.suffix)].removesuffix(".hardware")
    return out, out.with_name(f"{stem}.mapping{out.suffix}")


def write_zigzag_hardware(accel: Accelerator, out_dir: str | Path, *,
                          layers: list[ZigzagLayer] | None = None) -> ZigzagExport:
    """Write the hardware and spatial mapping YAML: out_dir an existing folder -> <out_dir>/<name>.hardware.yaml
    and <name>.mapping.yaml; out_dir a .yaml file name (like every other --out) -> that file, and the mapping beside
    it (x.hardware.yaml -> x.mapping.yaml, x.yaml -> x.mapping.yaml)."""
    hw = zigzag_hardware_view(accel)
    hw_path, map_path = zigzag_hardware_paths(out_dir, hw.name)
    # a link or hard link at either name onto the template (or the calibration beside it) is refused, not written
    from hwmap.hardware.template_files import template_input_files

    check_run_files(inputs=template_input_files("template", accel.source),
                    outputs={"hardware YAML": hw_path, "mapping YAML": map_path})
    header = (f"# ZigZag {ZIGZAG_VERSION} {{what}} for hwmap template {hw.name} ({hw.kind}), written by hwmap.\n"
              "# Sizes in bits; r_cost/w_cost in pJ per access of bandwidth_max bits (= hwmap's pJ/byte).\n")
    atomic_write_text(hw_path, header.format(what="hardware") + _dump(hardware_yaml(hw)))
    atomic_write_text(map_path, header.format(what="spatial mapping") + _dump(mapping_yaml(hw, layers)))
    return ZigzagExport((str(hw_path), str(map_path)), 0, 0, ())


# --------------------------------------------------------------------------------------------------------------
# Workload
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ZigzagLayer:
    """One workload entry: the hwmap node it came from, its ZigZag form and the YAML dict."""

    node_name: str
    name: str  # ZigZag layer name: node name with characters outside [A-Za-z0-9_.] replaced
    form: str  # "conv", "depthwise" or "gemm"
    macs: int
    entry: dict

    @property
    def shape_key(self) -> tuple:
        """Equal for layers ZigZag sees as the same problem (everything but id and name)."""
        return _freeze({k: v for k, v in self.entry.items() if k not in ("id", "name", "operand_source")})


@dataclass(frozen=True)
class ZigzagExport:
    paths: tuple[str, ...]
    layers: int
    macs: int
    notes: tuple[str, ...]

    def to_dict(self) -> dict:
        return {"paths": list(self.paths), "layers": self.layers, "macs": self.macs, "notes": list(self.notes)}


def zigzag_layers(graph: LayerGraph, *, input_bits: int | None = None, weight_bits: int | None = None,
                  output_bits: int | None = None) -> tuple[list[ZigzagLayer], list[str]]:
    """ZigZag workload entries of every conv / GEMM node of graph, and notes on the nodes left out.

    Bits default to the graph's dtypes (inputs, weights); partial sums are 32-bit for inputs narrower than 32 bits
    and at the input width otherwise (an fp32 graph accumulates in fp32)."""
    layers: list[ZigzagLayer] = []
    skipped: list[str] = []
    graph_widths: set[tuple[int, int]] = set()  # (input, weight) bits taken from the graph's dtypes
    for node in graph.nodes:
        work = node.work
        if not isinstance(work, (Conv, Gemm)) or work.macs == 0:
            continue
        i_bits = input_bits or _dtype_bits(node, weight=False)
        w_bits = weight_bits or _dtype_bits(node, weight=True) or i_bits
        o_bits = output_bits or (32 if i_bits < 32 else i_bits)
        if input_bits is None or weight_bits is None:
            graph_widths.add((i_bits, w_bits))
        precision = {"I": i_bits, "W": w_bits, "O": o_bits, "O_final": i_bits}
        layer_id = len(layers)
        name = _safe_name(node.name)
        if isinstance(work, Conv):
            reason = _conv_unsupported(work)
            if reason:
                skipped.append(f"{node.name} ({reason})")
                continue
            form, entry = _conv_entry(work, layer_id, name, precision)
        else:
            form, entry = "gemm", _gemm_entry(work, layer_id, name, precision, constant_weights=node.weight_bytes > 0)
        layers.append(ZigzagLayer(node.name, name, form, work.macs, entry))
    notes = []
    if graph_widths:
        shown = ", ".join(f"{i}-bit inputs and {w}-bit weights" for i, w in sorted(graph_widths))
        notes.append(f"operand widths from the traced graph's dtypes: {shown}; give a template (--accel, "
                     "accel=) to use its operand bits instead")
    if skipped:
        notes.append(f"{len(skipped)} conv(s) ZigZag's conv equation cannot express were left out: "
                     + ", ".join(skipped[:5]) + (" ..." if len(skipped) > 5 else ""))
    return layers, notes


def write_zigzag_workload(graph: LayerGraph, path: str | Path, *, input_bits: int | None = None,
                          weight_bits: int | None = None, output_bits: int | None = None,
                          inputs: Mapping[str, str] | None = None) -> ZigzagExport:
    """Write ZigZag's workload YAML (a list of layers) for every conv / GEMM of graph; ``inputs`` (label -> path,
    e.g. the template the bits came from) must not be the same file as ``path``."""
    check_run_files(inputs=inputs or {}, outputs={"workload YAML": path})
    layers, notes = zigzag_layers(graph, input_bits=input_bits, weight_bits=weight_bits, output_bits=output_bits)
    if not layers:
        raise HwmapError(f"{graph.model}: no conv or GEMM layer to export for ZigZag")
    header = (f"# ZigZag {ZIGZAG_VERSION} workload for {graph.model}, written by hwmap: {len(layers)} conv/GEMM layers."
              "\n# id -> hwmap node: " + "; ".join(f"{i}={layer.node_name}" for i, layer in enumerate(layers[:3]))
              + (" ..." if len(layers) > 3 else "") + "\n")
    atomic_write_text(path, header + _dump([layer.entry for layer in layers]))
    return ZigzagExport((str(path),), len(layers), sum(layer.macs for layer in layers), tuple(notes))


def _conv_unsupported(conv: Conv) -> str:
    if len(conv.kernel) != 2:
        return f"{len(conv.kernel)}-d conv"
    if conv.transposed:
        return "transposed conv"
    return ""


def _conv_entry(conv: Conv, layer_id: int, name: str, precision: dict) -> tuple[str, dict]:
    (ih, iw), (oh, ow), (kh, kw) = conv.in_spatial, conv.out_spatial, conv.kernel
    (sh, sw), (ph, pw), (dh, dw) = conv.stride, conv.padding, conv.dilation
    groups = conv.groups
    c, k = conv.in_channels // groups, conv.out_channels // groups
    form = "depthwise" if conv.is_depthwise else "conv"
    entry = {
        "id": layer_id,
        "name": name,
        "operator_type": "Conv",
        "equation": "O[b][g][k][oy][ox]+=W[g][k][c][fy][fx]*I[b][g][c][iy][ix]",
        "dimension_relations": [f"ix={sw}*ox+{dw}*fx", f"iy={sh}*oy+{dh}*fy"],
        "loop_dims": ["B", "G", "K", "C", "OY", "OX", "FY", "FX"],
        "loop_sizes": [conv.batch, groups, k, c, oh, ow, kh, kw],
        "operand_precision": dict(precision),
        "operand_source": {"W": layer_id},
        "pr_loop_dims": ["IY", "IX"],
        "pr_loop_sizes": [ih, iw],
        # padding used at each border: begin = the conv's padding, end = what the last window reaches past the input
        "padding": [[ph, _end_padding(ih, oh, kh, sh, dh, ph)], [pw, _end_padding(iw, ow, kw, sw, dw, pw)]],
    }
    return form, entry


def _end_padding(extent: int, out: int, kernel: int, stride: int, dilation: int, pad: int) -> int:
    reach = (out - 1) * stride + dilation * (kernel - 1) + 1  # input positions the windows span, padding included
    return max(0, reach - extent - pad)


def _gemm_entry(gemm: Gemm, layer_id: int, name: str, precision: dict, *, constant_weights: bool) -> dict:
    batched = gemm.batch > 1
    b = "[b]" if batched else ""
    weight = f"W{'' if constant_weights or not batched else b}[c][k]"
    entry = {
        "id": layer_id,
        "name": name,
        "operator_type": "Gemm",
        "equation": f"O{b}[d][k]+=I{b}[d][c]*{weight}",
        "dimension_relations": [],
        "loop_dims": ["D", "C", "K"] + (["B"] if batched else []),
        "loop_sizes": [gemm.m, gemm.k, gemm.n] + ([gemm.batch] if batched else []),
        "operand_precision": dict(precision),
        "operand_source": {"W": layer_id},
    }
    return entry


def _dtype_bits(node: Node, *, weight: bool) -> int:
    tensors = [t for t in node.inputs if t.is_weight == weight]
    if not tensors:
        return 0
    return 8 * DTYPE_BYTES.get(tensors[0].dtype, 4)


# --------------------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------------------


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.]", "_", name)


def _round(value: float) -> float:
    return float(f"{value:.6g}")


def _freeze(value):
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def _dump(document) -> str:
    return yaml.safe_dump(document, sort_keys=False, default_flow_style=None, width=120)
