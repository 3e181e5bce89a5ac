"""The spread behind tests/paths/test_evaluate.py's accuracy bounds: its small CNN and ViT trained on the digits
with several seeds (a proxy for other machines' kernels, which move a seconds-long training as much as a seed), and
every accuracy the tests bound, measured as they measure it. Prints one JSON line per seed, then worst and best.

    python experiments/digits_test_margins.py 0 1 2 3 4 5 6 7 8 9
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

import tests.paths.test_evaluate as t  # noqa: E402
from hwmap.paths.datasets import load_class_map  # noqa: E402
from hwmap.paths.evaluate import evaluate_paths  # noqa: E402
from hwmap.paths.model import load_paths  # noqa: E402


def measure(seed: int, folder: Path) -> dict[str, float]:
    nets = t.train_digit_nets(folder, seed=seed)
    test, vit_weights = nets["test"], {t.VIT: nets["weights"][t.VIT]}
    cnn = nets["cnn"]

    def top1(paths, data=test, weights=vit_weights, **options) -> dict[str, float]:
        return {name: a.value for name, a in evaluate_paths(paths, data_dir=data, weights=weights,
                                                            **options).items()}

    vit = load_paths(t._paths_yaml(folder / "vit.yaml", t.VIT, "  - name: full\n  - name: skip-last3\n"
                                                               "    skip_blocks: [\"blocks.[3-5]\"]\n"))
    full = load_paths(t._paths_yaml(folder / "full.yaml", t.VIT, "  - name: full\n"))
    words = t._word_folders({"test": test}, folder / "words")
    subset = t._word_folders({"test": test}, folder / "subset", keep=(3, 7))
    class_map = folder / "map.json"
    class_map.write_text(json.dumps({word: digit for digit, word in enumerate(t.WORDS)}))
    row = {f"vit_{k}": v for k, v in top1(vit).items()}
    row |= {f"vit150_{k}": v for k, v in top1(vit, limit=150).items()}
    row["vit60_full"] = top1(full, limit=60)["full"]
    row["vit_shifted_labels"] = top1(full, data=words)["full"]
    row["vit_digits_3_7"] = top1(full, data=subset, class_map=load_class_map(class_map))["full"]
    cnn_paths = load_paths(t._paths_yaml(folder / "cnn.yaml", cnn, t.CNN_PATHS))
    cnn_weights = {cnn: nets["weights"][cnn]}
    row |= {f"cnn_{k}": v for k, v in top1(cnn_paths, weights=cnn_weights).items()}
    row["cnn60_full"] = top1(cnn_paths, weights=cnn_weights, limit=60)["full"]
    return row


def main(seeds: list[int]) -> None:
    torch.set_num_threads(1)  # as the tests run
    rows = []
    for seed in seeds:
        with tempfile.TemporaryDirectory() as folder:
            rows.append(measure(seed, Path(folder)))
        print(json.dumps({"seed": seed, **rows[-1]}), flush=True)
    for key in rows[0]:
        values = [r[key] for r in rows]
        print(f"{key:28s} worst {min(values):6.2f}  best {max(values):6.2f}")
    drops = [r["vit_full"] - r["vit_skip-last3"] for r in rows]
    print(f"{'vit skip-last3 drop':28s} least {min(drops):6.2f} points")
    drops = [r["cnn_full"] - r["cnn_skip-every-stage-last"] for r in rows]
    print(f"{'cnn skip-every-stage drop':28s} least {min(drops):6.2f} points")


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("seeds", nargs="*", type=int, default=[0, 1, 2], help="seeds to train with (default 0 1 2)")
    main(parser.parse_args().seeds)
