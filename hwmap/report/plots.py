"""Figures (PNG or SVG by the file suffix): share bars, per-layer profiles, energy/accuracy frontiers, Pareto fronts.

matplotlib is imported inside each function (Agg backend, no display needed); files are written atomically.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hwmap.errors import HwmapError, ParameterError
from hwmap.fileio import atomic_write_bytes
from hwmap.hardware.schema import format_number

FORMATS = {".png": "png", ".svg": "svg"}
GROUP_COLOURS = {
    "conv": "#1f77b4", "linear": "#ff7f0e", "attention": "#d62728", "matmul": "#9467bd",
    "normalization": "#8c564b", "activation": "#e377c2", "elementwise": "#7f7f7f", "pooling_resize": "#bcbd22",
    "data_movement": "#17becf", "view": "#dddddd", "other": "#000000",
}


def _pyplot():
    """matplotlib.pyplot on the file-only Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _figure(width_in: float = 8.0, height_in: float = 4.5):
    return _pyplot().subplots(figsize=(width_in, height_in), dpi=120)


# Tick mantissas per decade, coarsest first: the locator takes the coarsest that puts at least three labelled
# ticks inside the axis's view (the data's range), one near each end, so the data at either end (where a Pareto
# front sits) can be read off, and a range narrower than a decade still gets its ticks.
LOG_TICK_MANTISSAS = ((1.0,), (1.0, 2.0, 5.0), (1.0, 2.0, 3.0, 5.0), (1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0),
                      (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0))
MOST_LOG_TICKS = 9
LOG_TICK_EDGE_GAP = 0.25  # at most this fraction of the axis (in decades) between either end and its nearest label


def readable_log_ticks(low: float, high: float) -> list[float]:
    """Labelled tick positions for a log axis viewing [low, high] (both > 0): plain 1-2-5-style numbers, at least
    three inside the range and none of its ends further than LOG_TICK_EDGE_GAP of the axis from a label, where
    mantissas down to 1.2-1.5-2-2.5-3 can give them, at most MOST_LOG_TICKS (every k-th power of ten on axes spanning
    many decades); a range narrower than that gets evenly spaced round numbers."""
    import math

    from matplotlib.ticker import MaxNLocator

    low, high = min(low, high), max(low, high)
    first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
    span = math.log10(high / low)
    coarser: list[float] = []
    for mantissas in LOG_TICK_MANTISSAS:
        ticks = [m * 10.0 ** e for e in range(first, last + 1) for m in mantissas]
        inside = [t for t in ticks if low <= t * (1 + 1e-9) and t <= high * (1 + 1e-9)]
        if len(inside) > MOST_LOG_TICKS:
            return coarser or inside[::math.ceil(len(inside) / MOST_LOG_TICKS)]
        edges_covered = bool(inside) and max(math.log10(inside[0] / low), math.log10(high / inside[-1])) \
            <= LOG_TICK_EDGE_GAP * span
        if len(inside) >= 3 and (edges_covered or mantissas == (1.0,)):
            return inside
        coarser = inside if len(inside) >= 2 else coarser
    return [float(t) for t in MaxNLocator(nbins=4, steps=[1, 2, 2.5, 5, 10]).tick_values(low, high)
            if low <= t <= high and t > 0]


def plain_number(value: float, _position=None) -> str:
    """A tick label in plain digits (20, 0.5, 1500); mathtext powers of ten below 1e-4 and from 1e6."""
    import math

    if value == 0 or 1e-4 <= abs(value) < 1e6:
        return f"{value:.6g}"
    exponent = math.floor(math.log10(abs(value)))
    mantissa = value / 10.0 ** exponent
    return f"$10^{{{exponent}}}$" if abs(mantissa - 1) < 1e-9 else f"${mantissa:.3g}\\times10^{{{exponent}}}$"


def _readable_log_locator():
    from matplotlib.ticker import Locator

    class ReadableLogLocator(Locator):
        """Major ticks of readable_log_ticks over the axis's view, recomputed at every draw (limits set after the
        call are honoured)."""

        def __call__(self):
            low, high = self.axis.get_view_interval()
            return self.tick_values(low, high)

        def tick_values(self, vmin, vmax):
            if not (vmin > 0 and vmax > 0):
                return []
            return readable_log_ticks(vmin, vmax)

    return ReadableLogLocator()


def log_axis_labels(ax) -> None:
    """Label the log axes of ax in plain numbers at readable positions inside the data's range (1-2-5 per decade,
    finer on a narrow range: see readable_log_ticks); minor ticks unlabelled, no 3x10^1-style labels."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    for axis in (ax.xaxis, ax.yaxis):
        if axis.get_scale() != "log":
            continue
        axis.set_major_locator(_readable_log_locator())
        axis.set_major_formatter(FuncFormatter(plain_number))
        axis.set_minor_formatter(NullFormatter())


def save_figure(fig, path: str | Path) -> Path:
    import matplotlib.pyplot as plt

    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        plt.close(fig)
        raise ParameterError("out", f"{path}: expected a .png or .svg file name")
    buffer = io.BytesIO()
    if fig.get_layout_engine() is None:
        fig.tight_layout()
    fig.savefig(buffer, format=fmt)
    plt.close(fig)
    return atomic_write_bytes(path, buffer.getvalue())


def share_bars(cost, path: str | Path, *, title: str | None = None) -> Path:
    """Grouped bars per op group: share of MACs, of cycles and of energy (the paper's contrast)."""
    shares = {g: s for g, s in cost.shares_by("op-group").items() if any(s.values())}
    groups = list(shares)
    fig, ax = _figure()
    x = np.arange(len(groups))
    for i, (metric, label) in enumerate((("macs", "MACs"), ("cycles", "cycles"), ("energy", "energy"))):
        values = [100 * shares[g][metric] for g in groups]
        bars = ax.bar(x + (i - 1) * 0.27, values, width=0.27, label=label)
        ax.bar_label(bars, fmt="%.1f", fontsize=6, padding=1)  # the small shares are unreadable from the bars alone
    ax.set_xticks(x, groups, rotation=30, ha="right")
    ax.set_ylabel("share of the model's total (%)")
    ax.set_title(title or f"{cost.model} on {_cost_setting(cost)}: MACs vs cycles vs energy by op group")
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    return save_figure(fig, path)


DEFAULT_TOP_LAYERS = 20
OTHER_BAR_CUT = 2.0  # an 'other' bar longer than this many times the largest named bar is cut at the axis
LAYER_QUANTITY_LABELS = {"cycles": "million cycles per inference", "energy": "energy per inference (µJ)"}
LAYER_NAME_CHARS = 48


def short_layer_name(name: str, *, most_chars: int = LAYER_NAME_CHARS) -> str:
    """A layer's name for an axis label: 'layer4.1.conv1:convolution#77' as is; longer ones keep their start and
    their end (the op and its index) around an ellipsis."""
    if len(name) <= most_chars:
        return name
    keep_end = most_chars // 2
    return f"{name[:most_chars - keep_end - 1]}…{name[-keep_end:]}"


@dataclass(frozen=True)
class LayerBars:
    """The bars of one panel of the layer plot: the top layers by a quantity, then the rest summed as 'other'."""

    quantity: str  # "cycles" (values in millions) or "energy" (values in µJ)
    layers: tuple[int, ...]  # indices into cost.layers, largest first
    values: tuple[float, ...]
    other_layers: int
    other_value: float
    total: float


def top_layers(values: np.ndarray, top: int, quantity: str) -> LayerBars:
    """The top layers of values (ties in execution order), and the rest as one 'other' sum."""
    ranked = [int(i) for i in np.argsort(-values, kind="stable") if values[i] > 0]
    shown, rest = ranked[:top], ranked[top:]
    return LayerBars(quantity, tuple(shown), tuple(float(values[i]) for i in shown), len(rest),
                     float(values[rest].sum()) if rest else 0.0, float(values.sum()))


def _cost_setting(cost) -> str:
    dataflow = (cost.settings or {}).get("dataflow")
    return f"{cost.accelerator} ({dataflow})" if dataflow else str(cost.accelerator)


def layer_profile_figure(cost, *, top: int = DEFAULT_TOP_LAYERS, title: str | None = None):
    """The layer plot as a matplotlib Figure: side by side, the top layers by cycles and by energy (names on the
    axis, coloured by op group, share of the model's total at each bar), the other layers summed in one bar
    (top=0: every costed layer); (Figure, the two panels' LayerBars)."""
    if not isinstance(top, int) or isinstance(top, bool) or top < 0:
        raise ParameterError("top", f"must be a whole number of layers >= 0 (0 = all), got {top!r}")
    plt = _pyplot()
    top = top or len(cost.layers.names)
    panels = (top_layers(cost.layers.cycles / 1e6, top, "cycles"),
              top_layers(cost.layers.energy_pj / 1e6, top, "energy"))
    bars = max(len(p.layers) + (p.other_layers > 0) for p in panels)
    fig, axes = plt.subplots(1, 2, figsize=(13.0, 2.2 + 0.28 * bars), dpi=120, layout="constrained")
    groups_seen: dict[str, None] = {}
    for ax, panel in zip(axes, panels, strict=True):
        names = [short_layer_name(cost.layers.names[i]) for i in panel.layers]
        groups = [cost.layers.op_classes[i].split(".")[0] for i in panel.layers]
        groups_seen.update(dict.fromkeys(groups))
        values, colours = list(panel.values), [GROUP_COLOURS.get(g, "#000000") for g in groups]
        if panel.other_layers:
            names.append(f"other ({panel.other_layers} layers)")
            values.append(panel.other_value)
            colours.append("#cccccc")
        positions = np.arange(len(values))
        ax.barh(positions, values, color=colours)
        ax.set_yticks(positions, names, fontsize=7)
        ax.invert_yaxis()  # largest first, 'other' last
        # An 'other' bar much longer than the named ones is cut at the axis (its share still written), so the
        # named layers keep the scale.
        largest_named = max(panel.values, default=0.0)
        right = largest_named * 1.3 if panel.other_value > OTHER_BAR_CUT * largest_named > 0 else max(values) * 1.15
        for position, value in zip(positions, values, strict=True):
            cut = value > right
            ax.annotate(f"{100 * value / panel.total:.1f}%" + (" (bar cut)" if cut else ""),
                        (min(value, right), position), xytext=(-3 if cut else 3, 0), textcoords="offset points",
                        va="center", ha="right" if cut else "left", fontsize=7)
        ax.set_xlim(0, right)
        ax.set_xlabel(LAYER_QUANTITY_LABELS[panel.quantity])
        ax.set_title(f"top {len(panel.layers)} of {len(panel.layers) + panel.other_layers} costed layers by "
                     f"{panel.quantity}", fontsize=10)
        ax.grid(axis="x", alpha=0.3)
    handles = [plt.Rectangle((0, 0), 1, 1, color=GROUP_COLOURS.get(g, "#000000")) for g in groups_seen]
    fig.legend(handles, list(groups_seen), loc="outside lower center", ncol=min(len(handles), 6), fontsize=8,
               title="op group", title_fontsize=8)
    fig.suptitle(title or f"{cost.model} on {_cost_setting(cost)}: per-layer cycles and energy "
                          f"(share of the model's total at each bar)")
    return fig, panels


# Axis labels for result columns and accuracy metrics: the quantity's name and its unit.
COLUMN_LABELS = {
    "energy_mj": "energy per inference (mJ)", "latency_ms": "latency per inference (ms)",
    "area_mm2": "area proxy (mm²)", "cycles": "cycles per inference", "stall_cycles": "stall cycles",
    "average_utilisation": "average PE utilisation (fraction)", "dram_mb": "DRAM traffic per inference (MB)",
    "peak_macs_per_cycle": "peak MACs per cycle", "expected_accuracy": "expected accuracy (%)",
    "full_energy_mj": "full-model energy per inference (mJ)", "full_latency_ms": "full-model latency (ms)",
}
METRIC_LABELS = {"top1": "top-1 accuracy (%)", "miou": "mIoU (%)"}


def column_label(column: str) -> str:
    """'energy_mj' -> 'energy per inference (mJ)'; unknown columns get their unit suffix spelled out."""
    if column in COLUMN_LABELS:
        return COLUMN_LABELS[column]
    if column.startswith("energy_") and column.endswith("_mj"):
        return f"{column.removeprefix('energy_').removesuffix('_mj').replace('_', ' ')} energy (mJ)"
    for suffix, unit in (("_mj", "mJ"), ("_ms", "ms"), ("_mm2", "mm²"), ("_mb", "MB"), ("_s", "s")):
        if column.endswith(suffix):
            return f"{column.removesuffix(suffix).replace('_', ' ')} ({unit})"
    return column.replace("_", " ")


def accuracy_axis_label(metrics) -> str:
    """The accuracy axis's name from the data's metric field(s): 'top-1 accuracy (%)', 'mIoU (%)'."""
    named = sorted({m for m in metrics if m})
    if len(named) == 1:
        return METRIC_LABELS.get(named[0].lower(), f"{named[0]} (%)")
    if len(named) > 1:
        return f"accuracy (%): {' and '.join(METRIC_LABELS.get(m.lower(), m).removesuffix(' (%)') for m in named)}"
    return "accuracy (%)"


MOST_NAMED_PATHS = 15  # up to this many paths every one is named; beyond, the selected ones only


def frontier(points: list[dict], path: str | Path, *, selected: list[str] = (), title: str = "",
             accuracy_label: str | None = None) -> Path:
    """Energy vs accuracy of paths (dicts with name, energy_mj, accuracy or None, optionally metric); the
    selected ones marked. Paths without an accuracy are drawn on a strip below the axes, labelled "accuracy
    unknown", at their energy. The accuracy axis is named after the points' metric (top-1, mIoU)."""
    known = [p for p in points if p.get("accuracy") is not None]
    unknown = [p for p in points if p.get("accuracy") is None]
    if not points:
        raise HwmapError("no paths to plot")
    label = accuracy_label or accuracy_axis_label(p.get("metric") for p in known)
    plt = _pyplot()
    ratios = [5, 1] if unknown else [1]
    fig, axes = plt.subplots(len(ratios), 1, figsize=(8, 5.2 if unknown else 4.5), dpi=120, sharex=True,
                             gridspec_kw={"height_ratios": ratios}, squeeze=False)
    ax = axes[0][0]
    chosen_names = set(selected)
    if known:
        energy = np.array([p["energy_mj"] for p in known])
        accuracy = np.array([p["accuracy"] for p in known])
        ax.scatter(energy, accuracy, color="#999999", label="paths", zorder=2)
        order = np.argsort(energy)
        best = np.maximum.accumulate(accuracy[order])
        ax.step(energy[order], best, where="post", color="#1f77b4", alpha=0.6, label="best accuracy within energy")
    else:
        ax.text(0.5, 0.5, "no path has a known accuracy", transform=ax.transAxes, ha="center", color="#666666")
        ax.set_yticks([])  # no scale to show
    chosen = [p for p in known if p["name"] in chosen_names]
    if chosen:
        ax.scatter([p["energy_mj"] for p in chosen], [p["accuracy"] for p in chosen], s=90, facecolors="none",
                   edgecolors="#d62728", linewidths=2, label="selected", zorder=3)
    for p in known if len(known) <= MOST_NAMED_PATHS else chosen or known:
        ax.annotate(p["name"], (p["energy_mj"], p["accuracy"]), fontsize=7, xytext=(4, -10),
                    textcoords="offset points")
    ax.margins(x=0.06, y=0.1)  # room for the names at the edges
    ax.set_ylabel(label)
    ax.set_title(title or "energy / accuracy of the execution paths")
    ax.grid(alpha=0.3)
    if known:
        ax.legend(fontsize=8)
    bottom = ax
    if unknown:
        strip = axes[1][0]
        strip.scatter([p["energy_mj"] for p in unknown], [0] * len(unknown), marker="x", color="#7f7f7f",
                      label=f"accuracy unknown ({len(unknown)})")
        for i, p in enumerate(unknown):
            strip.annotate(p["name"], (p["energy_mj"], 0), fontsize=7, xytext=(4, 4 if i % 2 == 0 else -10),
                           textcoords="offset points")
        strip.set_yticks([0], ["accuracy\nunknown"])
        strip.set_ylim(-1, 1)
        strip.grid(axis="x", alpha=0.3)
        bottom = strip
    bottom.set_xlabel("energy per inference (mJ)")
    return save_figure(fig, path)


@dataclass(frozen=True)
class ParetoPanel:
    """One model's design points and its front (row positions in the model's rows, ascending)."""

    model: str
    points: int
    front: tuple[int, ...]
    template: str = ""


TEMPLATE_COLUMNS = ("template", "accelerator")  # the column naming the template a results row was costed on
DATAFLOW_MARKERS = {"ws": "^", "os": "o", "is": "s"}
CATEGORY_MARKERS = ("D", "v", "P", "X", "<", ">", "p", "h")
MOST_NUMBERED_FRONT_POINTS = 12
FRONT_COLOUR = "#d62728"


def _template_column(frame) -> str | None:
    return next((c for c in TEMPLATE_COLUMNS if c in frame.columns), None)


def _marker_column(frame) -> str | None:
    """The column whose values get one marker shape each: the dataflow axis, else the template when several."""
    flows = [c for c in frame.columns if c == "dataflow" or str(c).endswith(".dataflow")]
    if flows:
        return flows[0]
    template = _template_column(frame)
    return template if template and frame[template].nunique() > 1 else None


def _bytes_text(value: float) -> str:
    for unit, size in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if value >= size:
            return f"{value / size:g} {unit}"
    return f"{value:g} B"


def _axis_columns(part) -> list[str]:
    """The swept axes (dotted template fields such as array.rows) whose value varies among these rows."""
    return [c for c in part.columns if "." in str(c) and not str(c).startswith(("energy_", "mac_pct"))
            and part[c].nunique(dropna=True) > 1]


def design_label(row, axes: list[str]) -> str:
    """A design point in a reader's words: '64x64 ws, ifmap 256 KiB, DRAM 32 B/cycle'."""
    parts, done = [], set()
    rows_cols = [c for c in axes if c.endswith((".rows", ".cols"))]
    if len(rows_cols) == 2:
        parts.append(f"{row[rows_cols[0]]:g}x{row[rows_cols[1]]:g}" if rows_cols[0].endswith(".rows")
                     else f"{row[rows_cols[1]]:g}x{row[rows_cols[0]]:g}")
        done.update(rows_cols)
    for column in axes:
        if column in done:
            continue
        value, leaf = row[column], column.split(".")
        if column.endswith(("size_bytes", "capacity_bytes")):  # a buffer's (systolic) or a level's (hierarchy)
            parts.append(f"{leaf[-2]} {_bytes_text(float(value))}")
        elif column.endswith("bw_bytes_per_cycle"):
            parts.append(f"{leaf[-2].upper() if leaf[-2] == 'dram' else leaf[-2]} {value:g} B/cycle")
        elif isinstance(value, str):
            parts.append(value)
        else:
            parts.append(f"{leaf[-1]} {format_number(float(value))}")
    return ", ".join(parts)


def _unit_of(column: str) -> str:
    label = column_label(column)
    return label[label.rindex("(") + 1:-1] if label.endswith(")") else ""


def _front_key(part, picked_in_order, x: str, y: str) -> list[tuple[int, int, str]]:
    """(number, row position, label) of the front points that get a number, at most MOST_NUMBERED_FRONT_POINTS
    evenly along the front (the first and last always)."""
    count = len(picked_in_order)
    if count <= MOST_NUMBERED_FRONT_POINTS:
        chosen = list(range(count))
    else:
        chosen = sorted({round(k * (count - 1) / (MOST_NUMBERED_FRONT_POINTS - 1))
                         for k in range(MOST_NUMBERED_FRONT_POINTS)})
    axes = _axis_columns(part)
    key = []
    for number, index in enumerate(chosen, start=1):
        row = part.iloc[picked_in_order[index]]
        where = f"variant {row['variant']}" if "variant" in part.columns else f"row {picked_in_order[index]}"
        design = design_label(row, axes) if axes else where
        values = f"{row[x]:.3g} {_unit_of(x)}, {row[y]:.3g} {_unit_of(y)}".replace(" ,", ",")
        key.append((number, int(picked_in_order[index]), f"{design}: {values}"))
    return key


def _marker_for(value, index: int) -> str:
    return DATAFLOW_MARKERS.get(str(value), CATEGORY_MARKERS[index % len(CATEGORY_MARKERS)])


def _draw_pareto_panel(fig, ax, part, on_front, *, x: str, y: str, colour: str | None, title: str,
                       limits=None, key: bool = True) -> tuple[tuple[int, ...], list[tuple[int, float, float]]]:
    """One model's points and front on ax (within limits, ((x0, x1), (y0, y1)), if given); with key, the legend
    below the axes describes the numbered front points. Returns (the front's row positions, the numbered front
    points (number, x, y)), the numbers to be written by number_points once the figure is laid out."""
    from matplotlib.colors import Normalize
    from matplotlib.lines import Line2D

    xs, ys = part[x].to_numpy(float), part[y].to_numpy(float)
    shade = part[colour].to_numpy(float) if colour else None
    norm = Normalize(np.nanmin(shade), np.nanmax(shade)) if shade is not None else None
    marker_column = _marker_column(part)
    categories = list(dict.fromkeys(part[marker_column])) if marker_column else [None]
    handles = []
    scatter = None
    for index, category in enumerate(categories):
        rows = np.flatnonzero(part[marker_column].to_numpy() == category) if marker_column else np.arange(len(part))
        marker = _marker_for(category, index) if marker_column else "o"
        scatter = ax.scatter(xs[rows], ys[rows], c=shade[rows] if shade is not None else "#999999", norm=norm,
                             cmap="viridis" if shade is not None else None, s=12 if limits is None else 20,
                             alpha=0.6, marker=marker, zorder=1)
        if marker_column:
            name = marker_column.split(".")[-1]
            handles.append(Line2D([], [], marker=marker, linestyle="none", color="#777777",
                                  label=f"{name} {category} ({len(rows)} point{'s' * (len(rows) != 1)})"))
    if shade is not None:
        fig.colorbar(scatter, ax=ax, label=column_label(colour))
    picked = np.flatnonzero(on_front)
    order = picked[np.argsort(xs[picked], kind="stable")]
    positions = len({(xs[i], ys[i]) for i in picked})
    ties = f" at {positions} positions: ties" if positions < len(picked) else ""
    ax.plot(xs[order], ys[order], "-", color=FRONT_COLOUR, linewidth=1.4, zorder=2)
    ax.scatter(xs[order], ys[order], s=60, facecolors="none", edgecolors=FRONT_COLOUR, linewidths=1.5, zorder=3)
    handles.append(Line2D([], [], marker="o", markerfacecolor="none", color=FRONT_COLOUR,
                          label=f"Pareto front of the two plotted metrics ({len(picked)} "
                                f"point{'s' * (len(picked) != 1)}{ties}); numbered:"))
    numbered = []
    for number, row, label in _front_key(part, order, x, y):
        numbered.append((number, xs[row], ys[row]))
        handles.append(Line2D([], [], marker=f"${number}$", linestyle="none", color=FRONT_COLOUR,
                              markersize=6 if number < 10 else 9, label=label))
    if (xs > 0).all() and (ys > 0).all():
        ax.set_xscale("log")
        ax.set_yscale("log")
    if limits is not None:
        ax.set_xlim(*limits[0])
        ax.set_ylim(*limits[1])
    log_axis_labels(ax)
    ax.set_xlabel(column_label(x))
    ax.set_ylabel(column_label(y))
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3, which="both")
    if key:
        ax.legend(handles=handles, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.12))  # no data hidden
    return tuple(int(i) for i in picked), numbered


ZOOM_MARGIN = 1.12  # a magnified panel shows the front's extent widened by this factor each way (log axes)
CRAMPED_FRONT = 0.25  # a front spanning less than this share of its panel on both axes gets a magnified panel


def _span(values: np.ndarray, log: bool) -> float:
    values = np.log10(values) if log else values
    return float(values.max() - values.min()) if len(values) else 0.0


def front_is_cramped(xs: np.ndarray, ys: np.ndarray, front: np.ndarray) -> bool:
    """Whether a front of 2+ points spans less than CRAMPED_FRONT of the points' range on both axes (its numbers
    would crowd: the figure then magnifies it)."""
    if len(front) < 2:
        return False
    log = bool((xs > 0).all() and (ys > 0).all())
    return all(_span(v[front], log) < CRAMPED_FRONT * _span(v, log) for v in (xs, ys) if _span(v, log) > 0)


def front_zoom_limits(xs: np.ndarray, ys: np.ndarray, front: np.ndarray):
    """((x0, x1), (y0, y1)) around the front's points: widened by ZOOM_MARGIN, and to a 1.6x span at least, on
    log axes (all values > 0); by the same shares of the span on linear ones."""
    limits = []
    for values in (xs[front], ys[front]):
        low, high = float(values.min()), float(values.max())
        if (xs > 0).all() and (ys > 0).all():
            low, high = low / ZOOM_MARGIN, high * ZOOM_MARGIN
            widen = max(1.0, (1.6 / (high / low)) ** 0.5)
            limits.append((low / widen, high * widen))
        else:
            pad = max(high - low, abs(high) * 0.05, 1e-12) * 0.15
            limits.append((low - pad, high + pad))
    return tuple(limits)


def zoom_box(limits):
    """A dashed rectangle marking a magnified region, ((x0, x1), (y0, y1)), on the overview panel."""
    from matplotlib.patches import Rectangle

    (x0, x1), (y0, y1) = limits
    return Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, linestyle="--", edgecolor="black", linewidth=1.0,
                     zorder=5)


LABEL_STEP_PT = 9.0  # the least distance between two front numbers, and between a number and a front point
LABEL_CANDIDATES = [(ring, side) for ring in (1, 2, 3) for side in (0, 1, -1, 2, -2, 3, -3, 4, -4)]


def number_points(ax, numbered: list[tuple[int, float, float]], away_from: tuple[float, float]) -> None:
    """Write each number beside its point, on the side away from away_from (data coordinates, the cloud's median):
    the first free place one step out, else sideways along the front, else further out, with a thin line back
    to its point when it is not the nearest place. Call once the figure is laid out (positions are in pixels)."""
    if not numbered:
        return
    to_pixels = ax.transData.transform
    step = LABEL_STEP_PT * ax.figure.dpi / 72.0
    centre = np.asarray(to_pixels(away_from), float)
    points = np.asarray(to_pixels([(px, py) for _n, px, py in numbered]), float)
    outward = points.mean(axis=0) - centre
    length = np.hypot(*outward)
    outward = outward / length if length > 0 else np.array([-1.0, -1.0]) / np.sqrt(2)
    sideways = np.array([-outward[1], outward[0]])
    taken = list(points)  # the points themselves are not covered either
    for (number, px, py), point in zip(numbered, points, strict=True):
        for ring, side in LABEL_CANDIDATES:
            where = point + (outward * ring + sideways * side * 0.8) * step
            if all(np.hypot(*(where - other)) >= step * 0.95 for other in taken):
                break
        taken.append(where)
        offset_pt = (where - point) * 72.0 / ax.figure.dpi
        ax.annotate(str(number), (px, py), xytext=tuple(offset_pt), textcoords="offset points", ha="center",
                    va="center", fontsize=8, color=FRONT_COLOUR, fontweight="bold", zorder=4,
                    arrowprops=None if (ring, side) == (1, 0) else
                    {"arrowstyle": "-", "color": FRONT_COLOUR, "linewidth": 0.5, "shrinkA": 3, "shrinkB": 3})


def leave_room_outward(ax, numbered: list[tuple[int, float, float]], away_from: tuple[float, float],
                       *, fraction: float = 0.08) -> None:
    """Widen ax's limits by fraction of their span on the side(s) the front faces, so its numbers stay inside."""
    if not numbered:
        return
    front_x = np.mean([px for _n, px, _py in numbered])
    front_y = np.mean([py for _n, _px, py in numbered])
    for axis_values, get, put, centre in ((front_x, ax.get_xlim, ax.set_xlim, away_from[0]),
                                          (front_y, ax.get_ylim, ax.set_ylim, away_from[1])):
        low, high = get()
        log = (ax.get_xscale() if put == ax.set_xlim else ax.get_yscale()) == "log"
        forward = (lambda v: np.log10(v)) if log else (lambda v: v)
        back = (lambda v: 10.0 ** v) if log else (lambda v: v)
        a, b = forward(low), forward(high)
        margin = fraction * (b - a)
        put(back(a - margin) if axis_values < centre else low, back(b + margin) if axis_values >= centre else high)


def default_pareto_title(frame, x: str, y: str) -> str:
    """'Pareto fronts of energy vs latency: resnet50, segformer-b2 on variants of systolic32x32'."""
    models = ", ".join(map(str, dict.fromkeys(frame["model"]))) if "model" in frame.columns else ""
    template = _template_column(frame)
    templates = ", ".join(map(str, dict.fromkeys(frame[template].dropna()))) if template else ""
    what = " vs ".join(column_label(c).split(" (")[0].removesuffix(" per inference") for c in (x, y))
    where = f" on variants of {templates}" if templates else " (the table does not name its template)"
    return f"Pareto fronts of {what}: {models or 'all rows'}{where}"


def pareto_figure(frame, front, *, x: str, y: str, colour: str | None = None, title: str | None = None):
    """Design points of a sweep table (pandas), one panel per model, each with its own Pareto front over x and y
    (front: the table's front rows, computed per model by the caller -- hwmap.api.pareto), marker shape by
    dataflow (or template), the front's points numbered and described in the legend; where a front is cramped
    in a corner (front_is_cramped), a second row magnifies it and carries the numbers. (Figure, panels)."""
    plt = _pyplot()
    models = list(dict.fromkeys(frame["model"])) if "model" in frame.columns else [""]
    parts = [frame[frame["model"] == model] if model else frame for model in models]
    on_fronts = [part.index.isin(front.index) for part in parts]
    magnify = any(front_is_cramped(part[x].to_numpy(float), part[y].to_numpy(float), np.flatnonzero(on))
                  for part, on in zip(parts, on_fronts, strict=True))
    template_column = _template_column(frame)
    columns = min(len(models), 3)
    model_rows = -(-len(models) // columns)
    legend_lines = max(min(int(on.sum()), MOST_NUMBERED_FRONT_POINTS) for on in on_fronts) + 4
    key_height_in = 0.14 * legend_lines
    heights = [4.6, 4.0 + key_height_in] if magnify else [4.6 + key_height_in]
    fig, axes = plt.subplots(model_rows * len(heights), columns, figsize=(6.4 * columns, sum(heights) * model_rows),
                             dpi=120, squeeze=False, layout="constrained",
                             gridspec_kw={"height_ratios": heights * model_rows})
    panels, to_number = [], []
    for index, (model, part, on_front) in enumerate(zip(models, parts, on_fronts, strict=True)):
        row, column = divmod(index, columns)
        ax = axes[row * len(heights)][column]
        template = ", ".join(map(str, dict.fromkeys(part[template_column].dropna()))) if template_column else ""
        heading = f"{model or 'all rows'}{' on ' + template if template else ''}: {len(part)} design points"
        picked, numbered = _draw_pareto_panel(fig, ax, part, on_front, x=x, y=y, colour=colour, title=heading,
                                              key=not magnify)
        median = (float(part[x].median()), float(part[y].median()))
        if magnify:
            limits = front_zoom_limits(part[x].to_numpy(float), part[y].to_numpy(float), np.array(picked))
            ax.add_patch(zoom_box(limits))
            ax = axes[row * len(heights) + 1][column]
            _, numbered = _draw_pareto_panel(fig, ax, part, on_front, x=x, y=y, colour=colour, limits=limits,
                                             title=f"{model or 'all rows'}: the dashed box above, magnified")
            median = (limits[0][1], limits[1][1])  # number away from the box's far corner
        panels.append(ParetoPanel(str(model), len(part), picked, template))
        to_number.append((ax, numbered, median))
    for index in range(len(models), model_rows * columns):
        row, column = divmod(index, columns)
        for offset in range(len(heights)):
            axes[row * len(heights) + offset][column].set_visible(False)
    fig.suptitle(title or default_pareto_title(frame, x, y))
    if not magnify:
        for ax, numbered, median in to_number:
            leave_room_outward(ax, numbered, median)
    fig.canvas.draw()  # lay out first: the front's numbers are placed in pixels
    for ax, numbered, median in to_number:
        number_points(ax, numbered, median)
    return fig, tuple(panels)


def pareto_panels(frame, front, path: str | Path, *, x: str, y: str, colour: str | None = None,
                  title: str | None = None) -> tuple[ParetoPanel, ...]:
    """pareto_figure written to path."""
    fig, panels = pareto_figure(frame, front, x=x, y=y, colour=colour, title=title)
    save_figure(fig, path)
    return panels
