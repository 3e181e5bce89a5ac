"""GPU templates (kind gpu): every one loads, cites its published peaks, labels its priors, names its units."""

from __future__ import annotations

import json
import pickle
import re
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

from hwmap.cost.gpu import template_for_device_name
from hwmap.errors import TemplateError
from hwmap.hardware import Accelerator, load_accelerator, registered_kinds
from hwmap.hardware.catalog import catalog_entries
from hwmap.hardware.gpu_schema import FIT_CLASSES, GpuSpec

GPU = sorted(name for name, entry in catalog_entries().items() if entry.relpath.startswith("gpu/"))
REQUIRED = {"h100_sxm", "a100_sxm", "v100", "titan_v", "rtx4090", "jetson_orin"}


def test_the_gpu_kind_is_registered_and_the_required_templates_ship() -> None:
    assert "gpu" in registered_kinds()
    assert REQUIRED <= set(GPU)


@pytest.mark.parametrize("name", GPU)
def test_every_gpu_template_loads(name: str) -> None:
    acc = load_accelerator(name)
    spec = acc.spec
    assert isinstance(spec, GpuSpec) and acc.kind == "gpu"
    assert acc.freq_mhz == spec.boost_clock_mhz
    # peak_macs_per_cycle = FP16 tensor TFLOP/s x 1e12 / 2 / (boost MHz x 1e6)
    assert acc.peak_macs_per_cycle == round(spec.peak.fp16_tensor_tflops * 1e12 / 2 / (spec.boost_clock_mhz * 1e6))
    assert 0 < spec.priors.idle_power_w < spec.tdp_w
    for cls in FIT_CLASSES:
        prior = spec.priors.classes.get(cls)
        assert 0 < prior.compute_eff_frac <= 1 and prior.launch_overhead_us > 0 and prior.host_overhead_us > 0
    back = Accelerator.from_dict(json.loads(json.dumps(acc.to_dict())))
    assert back == acc and hash(back) == hash(acc)
    assert pickle.loads(pickle.dumps(acc)) == acc


@pytest.mark.parametrize(("name", "fp16", "fp32", "bandwidth", "tdp", "sms"), [
    ("h100_sxm", 989.4, 66.9, 3350, 700, 132),  # H100 whitepaper / datasheet
    ("a100_sxm", 312, 19.5, 2039, 400, 108),  # A100 whitepaper / datasheet (80 GB SXM4)
    ("v100", 125, 15.7, 900, 300, 80),  # V100 whitepaper
    ("titan_v", 110, 14.9, 652.8, 250, 80),
    ("rtx4090", 165.2, 82.6, 1008, 450, 128),  # Ada whitepaper, FP32 accumulate
    ("jetson_orin", 42.5, 5.3, 204.8, 60, 16),  # Jetson AGX Orin datasheet (dense = sparse / 2)
])
def test_published_peaks(name, fp16, fp32, bandwidth, tdp, sms) -> None:
    spec = load_accelerator(name).spec
    assert (spec.peak.fp16_tensor_tflops, spec.peak.fp32_tflops) == (fp16, fp32)
    assert (spec.memory.bandwidth_gb_per_s, spec.tdp_w, spec.sm_count) == (bandwidth, tdp, sms)


def test_volta_has_fp16_tensor_cores_only() -> None:
    for name in ("v100", "titan_v"):
        peak = load_accelerator(name).spec.peak
        assert peak.bf16_tensor_tflops is peak.tf32_tensor_tflops is peak.fp8_tensor_tflops is None
    assert load_accelerator("a100_sxm").spec.peak.fp8_tensor_tflops is None
    assert load_accelerator("h100_sxm").spec.peak.fp8_tensor_tflops == 1978.9


@pytest.mark.parametrize("name", GPU)
def test_every_published_number_cites_a_source_and_priors_are_labelled(name: str) -> None:
    lines = catalog_entries()[name].read_text().splitlines()
    header = "\n".join(line for line in lines if line.startswith("#"))
    assert re.search(r"whitepaper|datasheet|specifications", header, re.IGNORECASE), "no source in the header"
    assert "Priors" in header or "priors" in header
    in_priors = False
    value = re.compile(r"^(\s*)(\w+):\s*[-+0-9.]")
    for i, line in enumerate(lines):
        if line.startswith("priors:"):
            in_priors = True
        match = value.match(line)
        if not match or match.group(2) == "schema_version":
            continue
        comment_block = [lines[j] for j in range(max(0, i - 12), i) if lines[j].lstrip().startswith("#")]
        text = (line.split("#", 1)[1] if "#" in line else "") + " ".join(comment_block)
        if in_priors:
            assert "prior" in text.lower() or "prior" in header.lower(), f"{name}:{i + 1}: prior not labelled"
        else:
            assert "[" in text or "derived" in text, f"{name}:{i + 1}: {line.strip()} cites no source"


def _numeric_fields(model: type[BaseModel], path: tuple[str, ...] = ()):
    for key, info in model.model_fields.items():
        ann = info.annotation
        args = [a for a in typing.get_args(ann) if a is not type(None)]
        ann = args[0] if len(args) == 1 else ann
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            yield from _numeric_fields(ann, (*path, key))
        elif ann in (int, float):
            yield (*path, key)


def test_every_numeric_gpu_key_names_its_unit() -> None:
    units = ("_tflops", "_tops", "_gb_per_s", "_gib", "_mib", "_w", "_us", "_mhz", "_frac", "_elements")
    for loc in _numeric_fields(GpuSpec):
        key = loc[-1]
        assert key in ("schema_version", "sm_count") or key.endswith(units), ".".join(loc)


def _template(tmp_path: Path, old: str, new: str) -> Path:
    text = catalog_entries()["h100_sxm"].read_text()
    assert old in text
    path = tmp_path / "h100_sxm.yaml"
    path.write_text(text.replace(old, new, 1))
    return path


@pytest.mark.parametrize(("old", "new", "fragments"), [
    ("idle_power_w: 100", "idle_power_w: 800", ["priors.idle_power_w", "below the TDP"]),
    ("fp16_tensor_tflops: 989.4", "fp16_tensor_tflops: 9.4", ["peak.fp16_tensor_tflops", "at least as fast"]),
    ("tdp_w: 700", "tdp_watts: 700", ["tdp_watts", "expected 'tdp_w'"]),
    ("boost_clock_mhz: 1980", "boost_clock_mhz: \"1980\"", ["boost_clock_mhz", "remove the quotes"]),
    ("architecture: hopper", "architecture: lovelace", ["architecture", "'hopper'"]),
])
def test_bad_gpu_templates_are_one_error(tmp_path: Path, old, new, fragments) -> None:
    with pytest.raises(TemplateError) as info:
        load_accelerator(_template(tmp_path, old, new))
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, message
    assert "\n" not in message


def test_overrides_revalidate() -> None:
    acc = load_accelerator("h100_sxm").with_overrides({"memory.bandwidth_gb_per_s": 4800})
    assert acc.spec.memory.bandwidth_gb_per_s == 4800 and acc.name.startswith("h100_sxm[")
    with pytest.raises(TemplateError, match="below the TDP"):
        load_accelerator("h100_sxm").with_overrides({"priors.idle_power_w": 701})


@pytest.mark.parametrize(("device", "template"), [
    ("NVIDIA H100 80GB HBM3", "h100_sxm"), ("NVIDIA H100 PCIe", "h100_pcie"), ("NVIDIA H200", "h200_sxm"),
    ("NVIDIA A100-SXM4-80GB", "a100_sxm"), ("Tesla V100-SXM2-32GB", "v100"), ("NVIDIA TITAN V", "titan_v"),
    ("NVIDIA GeForce RTX 4090", "rtx4090"), ("Orin", "jetson_orin"), ("NVIDIA GeForce GTX 1080", None),
    ("NVIDIA GeForce RTX 3090", "rtx3090"), ("NVIDIA GeForce RTX 5090", "rtx5090"), ("NVIDIA B200", "b200"),
    ("NVIDIA RTX PRO 6000 Blackwell Workstation Edition", "rtx_pro6000_blackwell"),
    ("NVIDIA RTX PRO 6000 Blackwell Max-Q Workstation Edition", "rtx_pro6000_blackwell_maxq"),
    ("NVIDIA L4", "l4"), ("NVIDIA L40S", "l40s"), ("Tesla T4", "t4"), ("NVIDIA A10", "a10"), ("NVIDIA A10G", "a10"),
    ("Orin Nano", "jetson_orin_nano"), ("NVIDIA A100 80GB PCIe", "a100_sxm"),
])
def test_device_names_map_to_templates(device: str, template: str | None) -> None:
    assert template_for_device_name(device) == template
    if template is not None:
        assert template in GPU
