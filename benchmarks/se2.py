"""The SE(2)-equivariant classifier (``lconv-se2``) against the CNN: time per training step, quarter-turn robustness.

    python benchmarks/se2.py speed                                   # one thread, about a minute
    python benchmarks/se2.py robustness RUN_FOLDER [RUN_FOLDER ...]   # runs of lconv train / repro d-table; LCONV_DATA set

``speed`` times one training step (forward, backward, AdamW; batch 128, MNIST shape) of
``lconv-se2``, of ``cnn-pooled`` (two pooled 5x5 layers with at least as many parameters)
and of the 185k-parameter one-layer CNN of the d-table in the same process, on one thread,
interleaved (the minimum over repeats, so that other load on the machine counts as
little as possible), and prints the ratios, i.e. the ratios of the epoch times. Rows:
``lconv-se2`` with its fibre-major forward pass, and the same model through the ``LConv``
modules on batch-major features (``features_reference``), and ``lconv-se2-order2`` (the
second-order terms in every layer) with its fibre-major pass.

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
    shape = (1, 28, 28)
    baselines = [("cnn-pooled", build_model("cnn-pooled", shape, 10)), ("cnn", build_model("cnn", shape, 10))]
    rows = [
        ("lconv-se2, fibre-major", build_model("lconv-se2", shape, 10), False),
        ("lconv-se2, LConv modules", build_model("lconv-se2", shape, 10), True),
        ("lconv-se2-order2", build_model("lconv-se2-order2", shape, 10), False),
    ]
    steps = {name: _stepper(model) for name, model in baselines}
    print(f"one training step, batch 128, 1 thread, min over {repeats} interleaved repeats")
    head = "".join(f" {name + ' s/step':>17s} {'ratio':>6s}" for name, _ in baselines)
    print(f"{'model':28s} {'params':>8s} {'s/step':>8s}{head}")
    for name, model, reference in rows:
        step = _stepper(model, reference)
        mine, theirs = [], {b: [] for b, _ in baselines}
        for _ in range(repeats):
            mine.append(_time(step, 3))
            for b, _ in baselines:
                theirs[b].append(_time(steps[b], 3))
        a = min(mine)
        cells = "".join(f" {min(theirs[b]):17.4f} {a / min(theirs[b]):6.2f}" for b, _ in baselines)
        print(f"{name:28s} {param_count(model):8d} {a:8.4f}{cells}")
    for name, model in baselines:
        print(f"{name:28s} {param_count(model):8d}")


def _accuracy(model, x, y, batch: int = 1000) -> float:
    with torch.no_grad():
        hits = sum(int((model(x[i : i + batch]).argmax(1) == y[i : i + batch]).sum()) for i in range(0, len(x), batch))
    return hits / len(x)


def _quarter_turn(x, perm=None):
    """Images ``(N, C, H, W)`` turned by a quarter turn; scrambled ones (pixel ``j`` is pixel ``perm[j]``) on their hidden grid."""
    if perm is None:
        return torch.rot90(x, 1, (-2, -1))
    from lconv.data import scramble_pixels

    return scramble_pixels(torch.rot90(scramble_pixels(x, torch.argsort(perm)), 1, (-2, -1)), perm)


def robustness(folders: list[str]) -> None:
    from lconv.analysis import load_topology
    from lconv.data import DATASETS, pixel_permutation
    from lconv.experiments.train import TOPOLOGY_FILE, _load_data, load_checkpoint

    print(f"{'run':40s} {'model':18s} {'test':>7s} {'turned':>7s} {'drop (points)':>14s}")
    for folder in map(Path, folders):
        config = json.loads((folder / "config.json").read_text())
        _, _, (x, y) = _load_data(config, None, False)
        keys = ("channels", "layers", "rank", "shared", "kernel", "padding", "pool")
        extra = {}
        if (folder / TOPOLOGY_FILE).is_file():  # lconv-graph, lconv-se2-lattice: the graph the run found
            extra["graph"] = load_topology(folder / TOPOLOGY_FILE)
        model = build_model(config["model"], tuple(x.shape[1:]), DATASETS[config["dataset"]].num_classes,
                            n_generators=config["generators"], **{k: config[k] for k in keys}, **extra)  # fmt: skip
        state, _, _ = load_checkpoint(folder / "best.safetensors")
        model.load_state_dict(state)
        model.eval()

        perm = None
        if config["variant"] == "rotated-scrambled":  # turn the hidden image: put it back, turn, scramble again
            perm = pixel_permutation(x.shape[-2] * x.shape[-1], seed=config["seed"])
        plain, turned = _accuracy(model, x, y), _accuracy(model, _quarter_turn(x, perm), y)
        print(f"{folder.name:40s} {config['model']:18s} {plain:7.4f} {turned:7.4f} {100 * (plain - turned):14.2f}")


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
