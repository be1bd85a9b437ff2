"""Discover, then augment: does the symmetry found in a few hundred samples help a model trained on them?

    python benchmarks/augment.py                       # 3 seeds, about a minute on 2 cores
    python benchmarks/augment.py --seeds 0,1,2,3,4 --train 200 --markdown docs/results/augment.md

LieGAN's downstream test on its two-body protocol (:func:`lconv.data.liegan_two_body_regression`):
for each seed, ``--train`` pairs (state, state ``dt = 20/49`` later) are drawn; the
symmetry is discovered from them alone (:func:`lconv.discovery.fit_dataset`, one
generator in LieGAN's space of four independent 2x2 blocks); then the same small MLP
(8 -> 64 -> 64 -> 8, predicting the change ``y - x``, Adam, full batch) is trained three
ways: on the pairs as they are, augmented with the discovered symmetry, and augmented
with the true one (the rotation of all four 2-vectors). Augmentation moves each
training pair by its own random element ``g = exp(s L)``: ``(g x, g y)`` (the map is
equivariant), ``s`` uniform over a full turn of ``L``. The error is
``|F(x) - y| / |y - x|`` on 2000 new pairs of other orbits, the seeds' mean ± std.

The checkout's ``src/`` comes first on the path, so this measures the code next to it.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import torch  # noqa: E402

from lconv import analysis  # noqa: E402
from lconv.algebra import SearchSpace  # noqa: E402
from lconv.data import liegan_two_body_regression  # noqa: E402
from lconv.discovery import fit_dataset  # noqa: E402


def augment(x: torch.Tensor, y: torch.Tensor, L: torch.Tensor | None, gen: torch.Generator):
    """Each pair moved by its own ``exp(s L)``, ``s`` uniform over one turn of ``L`` (its period)."""
    if L is None:
        return x, y
    period = 2 * math.pi / float(torch.linalg.eigvals(L).imag.abs().max().clamp_min(1e-12))
    s = period * torch.rand(len(x), generator=gen, dtype=x.dtype)
    g = torch.linalg.matrix_exp(s[:, None, None] * L)
    return torch.einsum("nij,nj->ni", g, x), torch.einsum("nij,nj->ni", g, y)


def train_mlp(x, y, L, *, seed: int, steps: int = 3000, width: int = 64) -> torch.nn.Module:
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    net = torch.nn.Sequential(
        torch.nn.Linear(8, width), torch.nn.Tanh(), torch.nn.Linear(width, width), torch.nn.Tanh(),
        torch.nn.Linear(width, 8),
    ).double()  # fmt: skip
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    for _ in range(steps):
        xa, ya = augment(x, y, L, gen)
        loss = (net(xa) - (ya - xa)).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return net


def error(net, x, y) -> float:
    with torch.no_grad():
        return float((x + net(x) - y).norm() / (y - x).norm())


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--train", type=int, default=200, help="training pairs per seed")
    parser.add_argument("--steps", type=int, default=3000, help="Adam steps per model")
    parser.add_argument("--markdown", help="also write the table to this markdown file")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    test = liegan_two_body_regression(2000, seed=10_000)
    errors: dict[str, list[float]] = {"none": [], "discovered": [], "true": []}
    cosines = []
    for seed in seeds:
        data = liegan_two_body_regression(args.train, seed=seed)
        found = fit_dataset(data.x, data.y, n_generators=1, space=SearchSpace.blocks(8, 2), seed=seed)
        L = found.generators[0].double()
        cosines.append(analysis.cosine(L, data.truth[0]))
        for name, gen in (("none", None), ("discovered", L), ("true", data.truth[0])):
            net = train_mlp(data.x, data.y, gen, seed=seed, steps=args.steps)
            errors[name].append(error(net, test.x, test.y))
        print(f"seed {seed}: |cos| {cosines[-1]:.6f}; held-out error none {errors['none'][-1]:.4f}, "
              f"discovered {errors['discovered'][-1]:.4f}, true {errors['true'][-1]:.4f}", flush=True)  # fmt: skip

    def stat(v):
        t = torch.tensor(v, dtype=torch.float64)
        return f"{float(t.mean()):.4f} ± {float(t.std()) if len(t) > 1 else 0.0:.4f}"

    lines = [
        "| augmentation | held-out error, mean ± std | per seed |",
        "|---|---|---|",
        *[f"| {name} | {stat(v)} | {', '.join(f'{e:.4f}' for e in v)} |" for name, v in errors.items()],
    ]
    ratio = torch.tensor(errors["discovered"]) / torch.tensor(errors["true"])
    summary = (f"|cos| of the discovered generator with the true one: {', '.join(f'{c:.6f}' for c in cosines)}; "
               f"discovered / true error: {float(ratio.mean()):.3f} (max {float(ratio.max()):.3f}).")  # fmt: skip
    print("\n".join(lines))
    print(summary)
    if args.markdown:
        head = (f"# Discover, then augment (LieGAN's two-body protocol)\n\n`python benchmarks/augment.py "
                f"--seeds {args.seeds} --train {args.train} --steps {args.steps} --markdown {args.markdown}`: "
                f"{args.train} training pairs per seed; held-out error `|F(x) - y| / |y - x|` on 2000 pairs of "
                "other orbits.\n\n")  # fmt: skip
        Path(args.markdown).write_text(head + "\n".join(lines) + "\n\n" + summary + "\n")


if __name__ == "__main__":
    main()
