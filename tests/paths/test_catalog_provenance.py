"""Every published fact shipped in hwmap/data cites something a reader can look up: a URL (a repository file, a
documentation page) or a paper with its table or figure. Phrasings that point at this project's own tooling
("search-index file id ...", "this session") or at nobody ("unattributed third-party research note") are refused.
The catalogue's Accuracy objects, which is what a paths file and a selection carry, are checked the same way."""

from __future__ import annotations

import json
import re
from importlib import resources

import pytest

from hwmap.paths.catalog import _IMAGENET_ALIASES, Accuracy, published_accuracy

FORBIDDEN = re.compile(r"search[- ]index|file id|unattributed|third-party research note|research note|"
                       r"this (research )?session", re.IGNORECASE)
URL = re.compile(r"https?://\S+|github\.com/\S+")
PAPER_TABLE = re.compile(r"(NeurIPS|ICLR|ICML|ICCV|CVPR|ECCV|arXiv:\d{4}\.\d{4,5}).*(Table|Figure|abstract)", re.S)
# A value measured by hwmap's authors is labelled as such, and a fact whose origin is unknown says so plainly.
MEASURED = re.compile(r"measured for hwmap|origin not traced", re.IGNORECASE)


def _data_files() -> dict[str, str]:
    root = resources.files("hwmap.data")
    files = {}
    for entry in root.iterdir():
        items = entry.iterdir() if entry.is_dir() else [entry]
        for item in items:
            if item.name.endswith((".json", ".md")):
                files[item.name] = item.read_text(encoding="utf-8")
    return files


def _citations(node, key: str = "") -> list[str]:
    """Every citation string: values under source/sources/accuracy_source/note keys of the JSON catalogues."""
    found: list[str] = []
    if isinstance(node, dict):
        for k, v in node.items():
            found += _citations(v, k)
    elif isinstance(node, list):
        for v in node:
            found += _citations(v, key)
    elif isinstance(node, str) and key in ("source", "sources", "accuracy_source"):
        found.append(node)
    return found


def _is_citable(text: str) -> bool:
    return bool(URL.search(text) or PAPER_TABLE.search(text) or MEASURED.search(text))


def test_no_data_file_uses_a_forbidden_phrasing():
    files = _data_files()
    assert {"segformer_variants.json", "imagenet_reference.json", "ofa_resnet50_subnets.json",
            "ofa_resnet50_reconstructed.json", "ofa_resnet50_space.json", "timm_results_imagenet.md",
            "PROVENANCE.md"} <= set(files)
    bad = {name: FORBIDDEN.findall(text) for name, text in files.items() if FORBIDDEN.search(text)}
    assert not bad


@pytest.mark.parametrize("name", ["segformer_variants.json", "imagenet_reference.json", "ofa_resnet50_subnets.json",
                                  "ofa_resnet50_reconstructed.json", "ofa_resnet50_space.json"])
def test_every_citation_names_a_url_or_a_paper_and_its_table(name):
    data = json.loads(_data_files()[name])
    keys = set(data.get("sources", {})) if isinstance(data.get("sources"), dict) else set()
    citations = [c for c in _citations(data) if c not in keys]  # a key refers to a citation checked itself
    assert citations
    uncitable = [c for c in citations if not _is_citable(c)]
    assert not uncitable


def test_every_segformer_metric_resolves_to_a_paper_table_or_a_url():
    data = json.loads(_data_files()["segformer_variants.json"])
    sources = data["sources"]
    checked = 0
    for variant in data["variants"].values():
        for dataset in ("ade20k", "cityscapes"):
            for field, metric in variant[dataset].items():
                if not isinstance(metric, dict) or "value" not in metric:
                    continue
                if metric["value"] is None:  # not published: no source, said so
                    assert metric["source"] == [] and metric["provenance"] is None, field
                    continue
                assert metric["source"] and metric["provenance"] in ("primary", "derived"), field
                assert all(_is_citable(sources[key]) for key in metric["source"]), field
                if metric["provenance"] == "derived":
                    assert metric.get("note"), field  # the arithmetic is written down
                checked += 1
    # 6 variants x (5 ADE20K: params, flops, mIoU SS/MS, FPS + 3 Cityscapes) + B0's Figure-1 params - the FPS of
    # B1 and B3, which the paper does not print
    assert checked == 6 * 8 + 1 - 2
    # SegFormer paper Table 1(a), read from the paper: B2 ADE20K 46.5 / 47.5 (SS/MS), Cityscapes 81.0 / 82.2,
    # B5 Cityscapes Flops 1460.4 G (the copy this file used before said 1460.3)
    b2, b5 = data["variants"]["B2"], data["variants"]["B5"]
    assert (b2["ade20k"]["miou_ss"]["value"], b2["ade20k"]["miou_ms"]["value"]) == (46.5, 47.5)
    assert (b2["cityscapes"]["miou_ss"]["value"], b2["cityscapes"]["miou_ms"]["value"]) == (81.0, 82.2)
    assert b5["cityscapes"]["gflops"]["value"] == 1460.4
    assert "PAPER_TABLE1A" in b5["cityscapes"]["gflops"]["source"]


def _catalogue_accuracies() -> dict[str, Accuracy | None]:
    from hwmap.paths.ofa_subnets import reconstructed_subnets

    found = {f"segformer-b{i}": published_accuracy(f"segformer-b{i}") for i in range(5)}
    found["segformer-b5@640"] = published_accuracy("segformer-b5", resolution=640)
    found.update({name: published_accuracy(name) for name in _IMAGENET_ALIASES})
    found.update({s.spec: published_accuracy(s.spec) for s in reconstructed_subnets()})
    found["efficientnet_b0"] = published_accuracy("efficientnet_b0")
    return found


def test_every_catalogue_accuracy_cites_a_url_or_a_paper_table():
    accuracies = _catalogue_accuracies()
    missing = [name for name, acc in accuracies.items() if acc is None]
    assert not missing
    assert len(accuracies) == 6 + len(_IMAGENET_ALIASES) + 8 + 1
    for name, acc in accuracies.items():
        assert acc.source == "catalogue", name
        assert _is_citable(acc.provenance) and not MEASURED.search(acc.provenance), (name, acc.provenance)
        assert not FORBIDDEN.search(acc.provenance), (name, acc.provenance)
    b2 = accuracies["segformer-b2"]
    assert b2.value == 46.5 and "Table 1(a)" in b2.provenance and "NeurIPS 2021" in b2.provenance
    ofa = accuracies[next(k for k in accuracies if k.startswith("ofa-resnet50:"))]
    assert "github.com/mit-han-lab/once-for-all" in ofa.provenance and "reconstructed" in ofa.provenance


def test_the_published_ofa_paths_cite_the_readme_table_of_their_accuracy():
    from hwmap.paths.generate import ofa_published_paths

    paths = ofa_published_paths().paths
    assert len(paths) == 8
    for path in paths:
        assert path.accuracy.provenance == published_accuracy(path.model).provenance
        assert "ResNet50 Design Space" in path.accuracy.provenance and "ICLR 2020" in path.accuracy.provenance


def test_segformer_b5_published_miou_is_only_given_at_its_published_640_input():
    # Table 1(a): B5's ADE20K numbers are at 640x640 (short side 640); hwmap traces SegFormer at 512 by default.
    assert published_accuracy("segformer-b5") is None
    assert published_accuracy("segformer-b5", resolution=512) is None
    b5 = published_accuracy("segformer-b5", resolution=640)
    assert b5.value == 51.0 and "640x640" in b5.provenance
    assert published_accuracy("segformer-b2", resolution=640) is None


def test_copied_timm_tables_name_the_file_url_at_its_commit():
    files = _data_files()
    for name, table in (("timm_results_imagenet.md", "results-imagenet.csv"),
                        ("PROVENANCE.md", "benchmark-infer-amp-nchw-pt240-cu124-rtx3090.csv")):
        assert re.search(r"https://github\.com/huggingface/pytorch-image-models/blob/[0-9a-f]{40}/results/"
                         + re.escape(table), files[name]), name
        assert "doi:10.5281/zenodo.4414861" in files[name]
