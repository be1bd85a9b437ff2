"""Find the pixel lattice hidden in rotated+scrambled MNIST and Fashion-MNIST from the training images alone.

    python benchmarks/topology.py                      # both datasets, about 10 s each on 2 cores
    python benchmarks/topology.py --markdown docs/results/topology.md --figures docs/results

For each dataset the training split of ``lconv train`` (54,000 images: the 60,000
training images less the 10% validation split of the seed) of the ``rotated-scrambled``
variant goes to :func:`lconv.discovery.fit_topology` with its defaults (``k = 4``, the
28 x 28 lattice). Only then is the true permutation (:func:`lconv.data.pixel_permutation`)
used, for the metrics: recall and precision of the 4-neighbour edges among the pixels
that vary, and the share of those pixels put at their true site up to a rotation or
reflection of the square and a shift (:func:`lconv.analysis.lattice_recovery`).
Seconds are the wall time of ``fit_topology`` with ``--threads`` torch threads (loading
and rotating the images is not counted).

The checkout's ``src/`` comes first on the path, so this measures the code next to it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import torch  # noqa: E402

from lconv import analysis  # noqa: E402
from lconv.data import load_dataset, pixel_permutation, split_validation  # noqa: E402
from lconv.discovery import fit_topology  # noqa: E402


def training_images(name: str, seed: int, data_dir: str | None) -> torch.Tensor:
    """The images ``lconv train`` trains on (validation split removed), flattened: ``(54000, 784)``."""
    x, _ = load_dataset(name, "train", variant="rotated-scrambled", seed=seed, data_dir=data_dir)
    chosen = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    train_idx, _ = split_validation(len(x), 0.1, seed=seed)
    return x[chosen[train_idx]].reshape(len(train_idx), -1)


def run(name: str, seed: int, data_dir: str | None, figures: str | None, images: int | None = None) -> dict:
    x = training_images(name, seed, data_dir)
    if images is not None:
        x = x[:images]
    result = fit_topology(x)  # the permutation is not passed: discovery sees the images only
    h, w = result.shape
    perm = pixel_permutation(h * w, seed=seed)
    vary = torch.ones(h * w, dtype=torch.bool)
    vary[result.constant] = False
    edges = analysis.edge_recovery(result.edges, analysis.grid_edges((h, w), perm), nodes=vary)
    lattice = (
        analysis.lattice_recovery(result.order, perm, (h, w), nodes=vary)
        if result.order is not None
        else {"fraction": 0.0, "correct": 0, "counted": int(vary.sum())}
    )
    if figures:
        out = Path(figures)
        analysis.plot_recovered_graph(
            result.edges, perm, (h, w), out / f"topology-{name}-graph.png", constant=result.constant,
            title=f"{name} rotated+scrambled: recovered graph on the true pixel positions",
        )  # fmt: skip
        if result.order is not None:
            analysis.plot_unscrambled(
                x[:4], result.order, perm, (h, w), out / f"topology-{name}-unscrambled.png",
                title=f"{name}: scrambled | recovered | original",
            )  # fmt: skip
    return {
        "name": name,
        "images": len(x),
        "vary": int(vary.sum()),
        "constant": len(result.constant),
        "edges": edges,
        "lattice": lattice,
        "lattice_fit": result.lattice_fit,
        "seconds": result.seconds["total"],
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="mnist,fashion-mnist")
    parser.add_argument("--seed", type=int, default=0, help="the variant's seed (rotations and permutation)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads for the timed discovery")
    parser.add_argument("--data-dir", default=None, help="dataset folder (default: $LCONV_DATA)")
    parser.add_argument("--images", type=int, default=None, help="use only the first N training images")
    parser.add_argument("--figures", help="write the graph and unscrambled-image figures into this folder")
    parser.add_argument("--markdown", help="also write the table to this markdown file")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = []
    for name in [s.strip() for s in args.datasets.split(",") if s.strip()]:
        r = run(name, args.seed, args.data_dir, args.figures, args.images)
        e, lat = r["edges"], r["lattice"]
        print(
            f"{name}: {r['images']} images, {r['vary']} pixels vary ({r['constant']} constant); "
            f"4-neighbour edges recall {e['recall']:.4f} ({e['correct']}/{e['true']}), "
            f"precision {e['precision']:.4f} ({e['correct']}/{e['found']}); "
            f"lattice {lat['fraction']:.4f} ({lat['correct']}/{lat['counted']} varying pixels); "
            f"{r['seconds']:.1f} s",
            flush=True,
        )
        rows.append(r)
    lines = [
        "| dataset | images | pixels that vary | edge recall | edge precision | lattice recovered | seconds |",
        "|---|---|---|---|---|---|---|",
        *[
            f"| {r['name']} | {r['images']} | {r['vary']} | {r['edges']['recall']:.4f} | "
            f"{r['edges']['precision']:.4f} | {r['lattice']['fraction']:.4f} | {r['seconds']:.1f} |"
            for r in rows
        ],
    ]
    print("\n".join(lines))
    if args.markdown:
        cmd = f"python benchmarks/topology.py --datasets {args.datasets} --seed {args.seed} --threads {args.threads}"
        if args.images is not None:
            cmd += f" --images {args.images}"
        if args.figures:
            cmd += f" --figures {args.figures}"
        head = (
            f"# Topology discovery on rotated+scrambled images\n\n`{cmd} --markdown {args.markdown}`: "
            f"`lconv.discovery.fit_topology` (defaults: mutual 4-nearest neighbours of pixel correlations, "
            f"28 x 28 lattice) on the {rows[0]['images'] if rows else 0} training images of `lconv train` "
            f"(variant `rotated-scrambled`, seed {args.seed}); the true permutation is used only for the "
            "metrics. Edge recall and precision: 4-neighbour edges among the pixels that vary; lattice: "
            "share of those pixels at their true site up to the 8 symmetries of the square and a shift; "
            f"seconds: wall time of `fit_topology` with {args.threads} torch threads.\n\n"
        )
        Path(args.markdown).parent.mkdir(parents=True, exist_ok=True)
        Path(args.markdown).write_text(head + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
