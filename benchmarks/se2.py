"""The SE(2)-equivariant classifier (``lconv-se2``) against the CNN: time per training step, quarter-turn robustness.

    python benchmarks/se2.py speed                                   # one thread, about a minute
    python benchmarks/se2.py robustness RUN_FOLDER [RUN_FOLDER ...]   # runs of lconv train / repro d-table; LCONV_DATA set

``speed`` times one training step (forward, backward, AdamW; batch 128, MNIST shape) of
``lconv-se2`` and of the 185k-parameter CNN of the d-table in the same process, on one
thread, interleaved (the minimum over repeats, so that other load on the machine counts
as little as possible), and prints the ratio, i.e. the ratio of the epoch times. Rows:
the default ``lconv-se2`` (fibre-major forward pass), the same model through the
``LConv`` modules on batch-major features (``features_reference``), and the former
default (24 channels, 5 layers, 8 orientations, first layer at 14 x 14) both ways.

``robustness`` loads each run's best weights (``best.safetensors``) and its test set
(same dataset, variant and seed as the run) and prints the test accuracy before and
after turning every test image by a further quarter turn, and the drop in points.

The checkout's ``src/`` comes first on the path, so this measures the code next to it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from lconv.nn import build_model, param_count  # noqa: E402

FORMER = dict(channels=24, layers=5, orientations=8, lift_pool=False)


def _stepper(model, reference: bool = False):
    x = torch.randn(128, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    y = torch.randint(0, 10, (128,), generator=torch.Generator().manual_seed(1))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    forward = (lambda v: model.head(model.features_reference(v))) if reference else model

    def step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(forward(x), y).backward()
        opt.step()

    step()
    return step


def _time(step, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        step()
    return (time.perf_counter() - start) / n


def speed(repeats: int) -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    cnn = build_model("cnn", (1, 28, 28), 10)
    rows = [
        ("lconv-se2 (default), fibre-major", build_model("lconv-se2", (1, 28, 28), 10), False),
        ("lconv-se2 (default), LConv modules", build_model("lconv-se2", (1, 28, 28), 10), True),
        ("lconv-se2 (former default), fibre-major", build_model("lconv-se2", (1, 28, 28), 10, **FORMER), False),
        ("lconv-se2 (former default), LConv modules", build_model("lconv-se2", (1, 28, 28), 10, **FORMER), True),
    ]
    cnn_step = _stepper(cnn)
    print(f"one training step, batch 128, 1 thread, min over {repeats} interleaved repeats")
    print(f"{'model':44s} {'params':>8s} {'s/step':>8s} {'CNN s/step':>10s} {'ratio':>6s}")
    for name, model, reference in rows:
        step = _stepper(model, reference)
        n = 2 if "former" in name else 4
        mine, theirs = [], []
        for _ in range(repeats):
            mine.append(_time(step, n))
            theirs.append(_time(cnn_step, 8))
        a, b = min(mine), min(theirs)
        print(f"{name:44s} {param_count(model):8d} {a:8.4f} {b:10.4f} {a / b:6.2f}")
    print(f"{'cnn (d-table: 32 filters 5x5, no pooling)':44s} {param_count(cnn):8d}")


def _accuracy(model, x, y, batch: int = 1000) -> float:
    with torch.no_grad():
        hits = sum(int((model(x[i : i + batch]).argmax(1) == y[i : i + batch]).sum()) for i in range(0, len(x), batch))
    return hits / len(x)


def robustness(folders: list[str]) -> None:
    from lconv.data import DATASETS
    from lconv.experiments.train import _load_data, load_checkpoint

    print(f"{'run':40s} {'model':10s} {'test':>7s} {'turned':>7s} {'drop (points)':>14s}")
    for folder in map(Path, folders):
        config = json.loads((folder / "config.json").read_text())
        _, _, (x, y) = _load_data(config, None, False)
        keys = ("channels", "layers", "rank", "shared", "kernel", "padding", "pool")
        model = build_model(config["model"], tuple(x.shape[1:]), DATASETS[config["dataset"]].num_classes,
                            n_generators=config["generators"], **{k: config[k] for k in keys})  # fmt: skip
        state, _, _ = load_checkpoint(folder / "best.safetensors")
        model.load_state_dict(state)
        model.eval()

        plain, turned = _accuracy(model, x, y), _accuracy(model, torch.rot90(x, 1, (-2, -1)), y)
        print(f"{folder.name:40s} {config['model']:10s} {plain:7.4f} {turned:7.4f} {100 * (plain - turned):14.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("speed")
    p.add_argument("--repeats", type=int, default=3)
    r = sub.add_parser("robustness")
    r.add_argument("folders", nargs="+")
    args = parser.parse_args()
    if args.what == "speed":
        speed(args.repeats)
    else:
        robustness(args.folders)


if __name__ == "__main__":
    main()
