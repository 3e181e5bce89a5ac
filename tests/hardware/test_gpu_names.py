"""Names people type (--accel h100) and device names (NVML) resolve through the GPU templates' own lists."""

from __future__ import annotations

import pytest

from hwmap.errors import TemplateError
from hwmap.hardware import load_accelerator
from hwmap.hardware.catalog import catalog_entries
from hwmap.hardware.gpu_schema import gpu_aliases, gpu_device_names, template_for_device_name


@pytest.mark.parametrize(("typed", "template"), [
    ("h100", "h100_sxm"), ("a100", "a100_sxm"), ("h200", "h200_sxm"), ("4090", "rtx4090"), ("rtx-3090", "rtx3090"),
    ("pro6000_maxq", "rtx_pro6000_blackwell_maxq"), ("H100", "h100_sxm"),
])
def test_aliases_resolve_with_a_one_line_note(typed, template, capsys):
    assert load_accelerator(typed).name == template
    err = capsys.readouterr().err
    assert err.count("\n") <= 1  # one line, printed once per process and alias


def test_alias_note_names_the_template(capsys):
    from hwmap.hardware.loader import _note_alias

    _note_alias.cache_clear()
    load_accelerator("a100")
    assert capsys.readouterr().err == ("note: accelerator 'a100' is template 'a100_sxm' (an alias listed in "
                                       "gpu/a100_sxm.yaml)\n")


def test_aliases_never_shadow_a_template_and_are_unique():
    names = set(catalog_entries())
    aliases = gpu_aliases()
    assert not names & set(aliases)
    assert aliases["h100"] == "h100_sxm"
    per_template = [a.lower() for spec in (load_accelerator(t).spec for t in set(aliases.values()))
                    for a in spec.aliases]
    assert len(per_template) == len(set(per_template))  # no alias claimed by two templates


def test_every_gpu_template_lists_its_device_names():
    names = gpu_device_names()
    assert len(names) >= 18 and all(names.values())


def test_unknown_names_still_fail_with_the_catalogue():
    with pytest.raises(TemplateError, match="unknown accelerator 'h101'"):
        load_accelerator("h101")
    assert template_for_device_name("NVIDIA GeForce RTX 3080") is None


def test_the_cost_model_holds_no_device_name_table():
    import hwmap.cost.gpu as gpu

    assert not [n for n in vars(gpu) if "DEVICE" in n.upper() and n.startswith("_")]
    assert gpu.template_for_device_name is template_for_device_name  # one function, reading the templates
