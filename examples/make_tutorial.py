"""Writes examples/tutorial.ipynb (outputs cleared: tests/examples/test_tutorial.py executes it on every test run,
so it cannot rot). Edit the cells here, then run

    python examples/make_tutorial.py
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

CELLS = [
    ("md", """# hwmap tutorial: from one estimate to the execution paths a device keeps

What a vision model costs on an accelerator, how its layers map onto the array, which array and buffer sizes are
worth building, and which execution paths of a model to keep so that a device can trade accuracy for energy at run
time. Everything runs on a laptop CPU in about a minute: models are built on torch's meta device (no weights, no
download) and only their shapes are traced."""),
    ("code", """import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import hwmap

%matplotlib inline"""),
    ("md", """## 1. What does a model cost on an accelerator?

`hwmap.estimate(model, template)`: cycles, latency, energy by term and utilisation. A model is a name (timm,
torchvision, `segformer-b2`, ...), an `nn.Module`, an `.onnx` file or a saved graph; `hwmap accels list` names the
templates. The command line says the same: `hwmap estimate resnet18 -a systolic16x16 --resolution 128`."""),
    ("code", """cost = hwmap.estimate("resnet18", "systolic16x16", resolution=128)
print(f"{cost.model} on {cost.accelerator}: {cost.cycles:,} cycles ({cost.stall_cycles:,} waiting for DRAM), "
      f"{cost.latency_ms:.3f} ms, {cost.energy_mj:.3f} mJ, MAC utilisation {cost.utilisation:.1%}")
pd.Series(cost.energy_terms_mj, name="energy mJ").round(4)"""),
    ("md", """MACs are not cost: each op group's share of the MACs, the cycles and the energy."""),
    ("code", """shares = pd.DataFrame(cost.shares_by("op-group")).T
shares[["macs", "cycles", "energy"]].plot.bar(figsize=(7, 3), ylabel="share", title=f"{cost.model} on "
                                              f"{cost.accelerator}")
shares.round(3)"""),
    ("md", """## 2. How does each layer map onto the array?

The mapper picks each conv/GEMM layer's loop order and buffer tiles (N images, K output channels, C input channels,
P x Q output pixels; a 1x1 convolution is a GEMM whose rows NPQ are every image's output pixels) and counts the
DRAM bytes per operand."""),
    ("code", """mapped = hwmap.map_layers("resnet18", "systolic16x16", layer="layer1.*", resolution=128)
layers = mapped.cost.layers
pd.DataFrame([{"layer": layers.scopes[i], **layers.mappings[i].record()} for i in mapped.layers])[
    ["layer", "map_order", "map_tiles", "dram_input_read_bytes", "dram_weight_read_bytes", "map_refetch_input"]]"""),
    ("md", """Your own `nn.Module` works the same way (from the shell: `hwmap estimate examples/mynet.py:MyNet
--input 3x64x64 -a systolic16x16`)."""),
    ("code", """from torch import nn


class TinyNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
                                  nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1))
        self.head = nn.Linear(64, 10)

    def forward(self, x):
        return self.head(self.body(x).flatten(1))


tiny = hwmap.estimate(TinyNet(), "systolic16x16", input_shape=(3, 64, 64))
print(f"TinyNet: {tiny.macs:,} MACs, {tiny.cycles:,} cycles, {tiny.energy_mj * 1e3:.1f} uJ")"""),
    ("md", """## 3. Which array and buffer sizes are worth building?

A design space is data: a base template, axes over its fields and the workloads. `hwmap.sweep` costs every point
(on local processes or a Dask cluster) through the same cost functions as `estimate`; the Pareto front keeps the
points no other point beats on every objective. The same space as a YAML file: `hwmap sweep space.yaml`."""),
    ("code", """space = {
    "schema_version": 1,
    "base": "systolic32x32",
    "axes": {"array.rows": [8, 16, 32, 64], "buffers.ifmap.size_bytes": [8192, 65536, 524288]},
    "square": True,  # array.cols follows array.rows
    "models": [{"model": "resnet18", "input": "3x128x128"}],
    "objectives": ["latency_ms", "energy_mj", "area_mm2"],
}
result = hwmap.sweep(space, workers=1)
table = result.table[["array.rows", "buffers.ifmap.size_bytes", "latency_ms", "energy_mj", "area_mm2"]]
front = hwmap.pareto(result.table, ["latency_ms", "area_mm2"])
print(f"{len(table)} design points, {len(front)} on the latency / area front")
front[["array.rows", "buffers.ifmap.size_bytes", "latency_ms", "energy_mj", "area_mm2"]]"""),
    ("code", """fig, ax = plt.subplots(figsize=(6, 4))
for size, group in table.groupby("buffers.ifmap.size_bytes"):
    ax.scatter(group["area_mm2"], group["latency_ms"], label=f"ifmap buffer {size // 1024} KiB")
ordered = front.sort_values("area_mm2")
ax.plot(ordered["area_mm2"], ordered["latency_ms"], "k--", lw=1, label="Pareto front")
for i, (_, point) in enumerate(ordered.iterrows()):  # label the front: array, buffer, latency
    rows, kib = int(point["array.rows"]), int(point["buffers.ifmap.size_bytes"]) // 1024
    ax.annotate(f"{rows}x{rows}, {kib} KiB: {point['latency_ms']:.2f} ms", (point["area_mm2"], point["latency_ms"]),
                fontsize=7, xytext=(4, 5 if i % 2 == 0 else -11), textcoords="offset points")
ax.set(xscale="log", yscale="log", xlabel="area (mm²)", ylabel="latency (ms)",
       title="resnet18 at 128x128 on square systolic arrays")
ax.legend(fontsize=8, loc="upper right");"""),
    ("md", """## 4. Which execution paths should a device keep?

A path is the model run differently: blocks skipped, another resolution, a smaller variant. Generate candidate
paths, cost them, give their accuracies, and let the ILP choose the paths to keep and the path to run at each
energy budget. Accuracies are their own input (a YAML or CSV file with a `provenance`, or the same as a mapping):
editing one never means costing the paths again. **The two skipped-block accuracies below are illustrative, not
measured**: measure yours with `hwmap evaluate` on your data and weights."""),
    ("code", """paths = hwmap.generate_paths("deit_tiny_patch16_224", out="deit_tiny_paths.yaml", skip_last=2)
costed = hwmap.cost_paths(paths, "systolic16x16")
pd.DataFrame([{"path": c.name, "energy_mJ": c.energy_mj, "latency_ms": c.latency_ms,
               "accuracy": c.accuracy.value if c.accuracy else None} for c in costed])"""),
    ("code", """accuracies = {
    "provenance": "illustrative numbers for this tutorial, not measured",
    "metric": "top1",
    "accuracies": {"skip-blocks.11": 70.6, "skip-blocks.10-11": 67.9},
}
selection = hwmap.select_paths(costed, budgets="0.85,0.93,1.0", accuracies=accuracies)
print(selection.describe_budgets())
pd.DataFrame(selection.rows())[["budget", "budget_mj", "path", "energy_mj", "accuracy"]]"""),
    ("md", """Replaying the selection over a budget trace (fractions of the full model's energy per inference):
the device switches to the most accurate kept path that fits each budget."""),
    ("code", """rng = np.random.default_rng(0)
budget = np.clip(0.93 + np.cumsum(rng.normal(0, 0.01, 300)), 0.84, 1.0)
pd.DataFrame({"step": range(len(budget)), "budget_fraction": budget}).to_csv("trace.csv", index=False)
run = hwmap.simulate(selection, "trace.csv", switch_energy_mj=0.01)
print(f"{run.switches} switches, {run.energy_saved_pct:.1f}% energy saved, mean accuracy drop "
      f"{run.mean_accuracy_drop:.2f} points, {run.violations} budget violations")

scale = selection.reference_value  # mJ per 1.0 of budget
chosen = [selection.selection.path_for(b * scale) for b in budget]
fig, ax = plt.subplots(figsize=(8, 3))
ax.plot(budget * scale, lw=1, label="energy budget")
ax.step(range(len(budget)), [p.energy_mj for p in chosen], where="mid", label="path run")
ax.set(xlabel="step", ylabel="energy per inference (mJ)", title="run-time switching between the kept paths")
ax.legend(fontsize=8);"""),
    ("md", """The same steps on the command line: `hwmap paths generate`, `hwmap paths cost --csv`,
`hwmap select-paths costed.csv --budget 0.85,0.93,1 --accuracies acc.yaml --out sel.json`,
`hwmap simulate sel.json --budget-trace trace.csv`; `hwmap plot pareto|frontier|shares|layers` draws the figures
to files. docs/ARCHITECTURE.md says where each step lives in the code."""),
]


def build() -> nbformat.NotebookNode:
    cells = [new_markdown_cell(text) if kind == "md" else new_code_cell(text) for kind, text in CELLS]
    notebook = new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.metadata["language_info"] = {"name": "python"}
    return notebook


def main() -> None:
    target = Path(__file__).resolve().parent / "tutorial.ipynb"
    nbformat.write(build(), target)
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
