"""The published-table experiments trace the form of a model the table measured: a row whose parameter count is
the fused (re-parameterised) model's is traced fused (timm's newer tables list RepVGG and LeViT fused)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"

PROBE = """
import json, sys
sys.path.insert(0, {experiments!r})
from gpu_published import _ran_fused
cases = [("repvgg_a2", 25.5), ("repvgg_a2", 28.21), ("levit_128", 9.19), ("levit_128", 9.21), ("resnet18", 11.69)]
print(json.dumps([_ran_fused(model, params_m) for model, params_m in cases]))
"""


def test_the_rows_parameter_count_picks_trained_or_fused_form():
    # repvgg_a2: 28.21 M parameters as trained (the 3090 table), 25.50 M fused (the 4090/5090/Max-Q tables);
    # levit_128: 9.21 M / 9.19 M (batch norms folded); resnet18 has nothing to fuse
    result = subprocess.run([sys.executable, "-c", PROBE.format(experiments=str(EXPERIMENTS))],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [True, False, True, False, False]
