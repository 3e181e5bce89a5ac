"""`hwmap accels list` shows every CNN template's memory levels (DRAM first) and MAC array; GPUs have none."""

from __future__ import annotations

from hwmap.api import load_accelerator
from hwmap.report.tables import template_levels


def test_systolic_and_vector_pe_levels():
    assert template_levels(load_accelerator("systolic16x16")) == ["dram", "ifmap", "filter", "ofmap", "mac 16x16"]
    assert template_levels(load_accelerator("magnet16pe_v16"))[-1] == "mac 16x16x16"


def test_gpu_has_no_levels():
    assert template_levels(load_accelerator("h100_sxm")) == []
