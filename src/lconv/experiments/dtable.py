"""``lconv repro d-table``: SI D's grid of datasets x variants x models at a given budget.

Every cell is one :func:`lconv.experiments.train.train` run (its own run folder inside
the table's folder), or, with ``lrs``, one run per learning rate of which the one with
the best validation accuracy is kept (the same grid and the same rule for every model, so
no model is compared at a learning rate tuned for another), or, with several ``seeds``,
one run per seed at each learning rate, the learning rate kept being the one with the
best mean validation accuracy over the seeds. A seed fixes the data (rotation angles,
pixel permutation, validation split) and the model's initial weights, so every model
of one seed sees the same images. The table holds the test accuracy of the
best-validation weights (mean and standard deviation over the seeds), the learning
rate, the parameter count and the time per epoch, with the paper's figures beside ours where
it gives one (on rotated and scrambled MNIST the paper's
L-conv reached 0.9445 and its best CNN 0.9259, both as best validation accuracy).
"""

from __future__ import annotations

import io
import statistics
from collections.abc import Callable
from pathlib import Path

from .. import __version__
from .._io import write_bytes, write_json, write_text
from .discover import run_folder_path
from .train import check_lr, train

__all__ = ["PAPER", "d_table"]

#: What each row's ``grid`` keeps of every learning rate's runs.
_GRID_KEYS = ("lr", "val_accuracy", "test_accuracy", "test_std")

#: (dataset, variant, model) -> the paper's figure (SI D, best validation accuracy).
PAPER: dict[tuple[str, str, str], float] = {
    ("mnist", "rotated-scrambled", "lconv"): 0.9445,
    ("mnist", "rotated-scrambled", "cnn"): 0.9259,
}


def d_table(
    *,
    datasets: tuple[str, ...] = ("mnist", "fashion-mnist"),
    variants: tuple[str, ...] = ("default", "rotated", "rotated-scrambled"),
    models: tuple[str, ...] = ("lconv", "cnn", "fc", "fc-shallow", "lconv-random"),
    epochs: int = 10,
    train_size: int | None = None,
    seeds: tuple[int, ...] = (0,),
    lrs: tuple[float, ...] | None = None,
    out: str | Path | None = None,
    table: str | Path | None = None,
    data_dir: str | Path | None = None,
    download: bool = False,
    device: str = "cpu",
    resume: bool = False,
    progress: Callable[[str], None] | None = None,
    **options,
) -> tuple[Path, list[dict]]:
    """Train every (dataset, variant, model) and tabulate the results.

    ``options`` go to every :func:`train` call (e.g. ``channels``, ``generators``,
    ``rank``, ``kernel``, ``batch_size``, ``lr``). ``lrs``: train every cell at each of
    these learning rates and keep the run with the best validation accuracy (its test
    accuracy is the one reported; the test set plays no part in the choice; each row's
    ``grid`` lists every run). ``seeds``: train every cell once per seed (at every
    learning rate) and report the mean test accuracy and its standard deviation
    (``test_std``, ``n - 1`` in the denominator; 0 for one seed), the learning rate
    being chosen on the mean validation accuracy. ``resume``: ``out`` is an earlier d-table's
    folder; every run already there is continued from its last checkpoint (a finished one
    is only measured again), the others are trained, so an interrupted table ends where an
    uninterrupted one would, and a finished one takes more models, variants or seeds
    without training the old cells again. Writes ``results.json``, ``table.md`` and
    ``figures/d-table.png`` into the run folder (and the table to ``table`` if given).
    """
    if lrs is not None:  # checked before the first run, so that a bad value late in the grid wastes no training
        lrs = tuple(float(v) for v in lrs)
        if not lrs:
            raise ValueError("lrs must name at least one learning rate")
        for v in lrs:
            check_lr(v)
        if options.get("lr") is not None:
            raise ValueError("give either lr or lrs, not both")
    seeds = tuple(seeds)
    if not seeds or len(set(seeds)) != len(seeds) or not all(isinstance(s, int) and s >= 0 for s in seeds):
        raise ValueError(f"seeds must be distinct non-negative ints, at least one, got {seeds}")
    if resume:
        if out is None or not Path(out, "runs").is_dir():
            raise ValueError(f"--resume continues a d-table: pass --out with the folder of one (got {out})")
        folder = Path(out)
    else:
        folder = run_folder_path("repro", "d-table", out)
    rows = []
    for dataset in datasets:
        for variant in variants:
            for model in models:
                cell = f"{dataset}-{variant}-{model}"
                grid = []
                for lr in lrs or (options.get("lr"),):
                    runs = []
                    for seed in seeds:
                        name = cell + ("" if lrs is None else f"-lr{lr:g}")
                        name += "" if len(seeds) == 1 else f"-seed{seed}"
                        run = folder / "runs" / name
                        again = resume and (run / "checkpoint.safetensors").is_file()
                        _, m = train(
                            dataset=dataset, variant=variant, model=model, epochs=epochs, train_size=train_size,
                            seed=seed, out=run, data_dir=data_dir, download=download, device=device,
                            resume=again, **dict(options, lr=lr),
                        )  # fmt: skip
                        runs.append(m)
                    grid.append(dict(lr=runs[0]["lr"], val_accuracy=statistics.fmean(r["val_accuracy"] for r in runs),
                                     test_accuracy=statistics.fmean(r["test_accuracy"] for r in runs),
                                     test_std=_std([r["test_accuracy"] for r in runs]),
                                     epoch_seconds=statistics.fmean(r["epoch_seconds"] for r in runs),
                                     param_count=runs[0]["param_count"], discovery=_discovery(runs),
                                     runs=[dict(seed=s, val_accuracy=r["val_accuracy"], test_accuracy=r["test_accuracy"])
                                           for s, r in zip(seeds, runs)]))  # fmt: skip
                g = max(grid, key=lambda r: r["val_accuracy"])  # the first of equals: grid order breaks ties
                rows.append(dict(dataset=dataset, variant=variant, model=model, **g, seeds=list(seeds),
                                 paper=PAPER.get((dataset, variant, model)),
                                 grid=None if lrs is None else [{k: v[k] for k in _GRID_KEYS} for v in grid]))  # fmt: skip
                if progress is not None:
                    progress(cell)
    flags = f" --datasets {','.join(datasets)} --variants {','.join(variants)} --models {','.join(models)}"
    flags += f" --epochs {epochs}" + (f" --train-size {train_size}" if train_size else "")
    flags += f" --seed {seeds[0]}" if len(seeds) == 1 else f" --seeds {','.join(map(str, seeds))}"
    flags += f" --lrs {','.join(f'{v:g}' for v in lrs)}" if lrs else ""
    flags += "".join(f" --{k.replace('_', '-')} {v}" for k, v in options.items() if v is not None)
    md = markdown(rows, f"lconv repro d-table{flags}")
    config = dict(datasets=datasets, variants=variants, models=models, epochs=epochs, train_size=train_size,
                  seeds=seeds, lrs=lrs, options=options)  # fmt: skip
    write_json(folder / "results.json", dict(experiment="d-table", version=__version__, config=config, rows=rows))
    write_text(folder / "table.md", md)
    _bar_chart(rows, folder / "figures" / "d-table.png")
    if table is not None:
        write_text(table, md)
    return folder, rows


_DISCOVERY = ("topology_edge_recall", "topology_edge_precision", "topology_lattice_fraction", "topology_seconds")


def _discovery(runs: list[dict]) -> dict | None:
    """The mean over the seeds of how well each run found the pixel lattice (models that fit it; else None)."""
    if "topology_edge_recall" not in runs[0]:
        return None
    out = {}
    for key in _DISCOVERY:
        values = [r[key] for r in runs if r.get(key) is not None]
        out[key.removeprefix("topology_")] = statistics.fmean(values) if values else None
    return out


def _std(values: list[float]) -> float:
    """Sample standard deviation (``n - 1`` in the denominator); 0 for a single value."""
    return statistics.stdev(values) if len(values) > 1 else 0.0


def markdown(rows: list[dict], command: str) -> str:
    """The table as markdown, headed by the command that made it (and the ``--lrs`` grid, where rows have one).

    With several seeds, accuracies read ``mean ± standard deviation`` over the seeds.
    """
    lr_grid = bool(rows) and rows[0].get("grid") is not None
    n_seeds = len(rows[0].get("seeds", [0])) if rows else 1
    chosen = (" Every model was trained at each learning rate of `--lrs`; the run with the best validation accuracy "
              "is the one shown (`lr`).") if lr_grid else ""  # fmt: skip
    if n_seeds > 1:
        chosen += (f" Each figure is the mean ± standard deviation over {n_seeds} seeds (each seed draws its own "
                   "rotations, pixel permutation, validation split and initial weights, the same for every model)"
                   + ("; the learning rate kept is the one with the best mean validation accuracy." if lr_grid else "."))  # fmt: skip
    acc = (lambda m, s: f"{m:.4f} ± {s:.4f}") if n_seeds > 1 else (lambda m, s: f"{m:.4f}")  # noqa: E731
    lines = [
        "# SI D: image classification, test accuracy",
        "",
        f"Made by `{command}` (lconv {__version__}). Test accuracy of the weights with the best validation "
        f"accuracy, on the official test set; the paper's figures are its best validation accuracy.{chosen}",
        "",
        "| dataset | variant | model | test accuracy | paper | parameters | lr | s / epoch |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        paper = "" if r["paper"] is None else f"{r['paper']:.4f}"
        test = acc(r["test_accuracy"], r.get("test_std", 0.0))
        lines.append(f"| {r['dataset']} | {r['variant']} | {r['model']} | {test} | {paper} | "
                     f"{r['param_count']:,} | {r['lr']:g} | {r['epoch_seconds']:.1f} |")  # fmt: skip
    found = [r for r in rows if r.get("discovery")]
    if found:
        lines += ["", "The pixel lattice each model found on its training images alone (`fit_topology`; mean over the "
                  "seeds), against the true one: share of the true 4-neighbour edges recovered, share of the recovered "
                  "edges that are true, share of the varying pixels placed at their true position up to a symmetry "
                  "of the square:", "",
                  "| dataset | variant | model | edges recovered | edges true | lattice | s |", "|---|---|---|---|---|---|---|"]  # fmt: skip
        for r in found:
            q = r["discovery"]
            cell = lambda v: "" if v is None else f"{v:.4f}"  # noqa: E731
            lines.append(f"| {r['dataset']} | {r['variant']} | {r['model']} | {cell(q['edge_recall'])} | "
                         f"{cell(q['edge_precision'])} | {cell(q['lattice_fraction'])} | {q['seconds']:.1f} |")  # fmt: skip
    if lr_grid:
        lrs = [g["lr"] for g in rows[0]["grid"]]
        mean = " (mean over the seeds;" if n_seeds > 1 else " ("
        lines += ["", f"Validation accuracy at each learning rate{mean} bold: the run kept):", "",
                  "| dataset | variant | model | " + " | ".join(f"lr {v:g}" for v in lrs) + " |",
                  "|---|---|---|" + "---|" * len(lrs)]  # fmt: skip
        for r in rows:
            cells = [
                f"**{g['val_accuracy']:.4f}**" if g["lr"] == r["lr"] else f"{g['val_accuracy']:.4f}" for g in r["grid"]
            ]
            lines.append(f"| {r['dataset']} | {r['variant']} | {r['model']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _bar_chart(rows: list[dict], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = list(dict.fromkeys((r["dataset"], r["variant"]) for r in rows))
    models = list(dict.fromkeys(r["model"] for r in rows))
    width = 0.8 / len(models)
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(groups)) + 1.5, 3.8))
    for j, model in enumerate(models):
        cell = [next((r for r in rows if (r["dataset"], r["variant"]) == g and r["model"] == model), None)
                for g in groups]  # fmt: skip
        acc = [float("nan") if r is None else r["test_accuracy"] for r in cell]
        std = [0.0 if r is None else r.get("test_std", 0.0) for r in cell]  # error bars: the spread over the seeds
        ax.bar([i + (j - (len(models) - 1) / 2) * width for i in range(len(groups))], acc, width, label=model,
               yerr=std if any(std) else None, capsize=2)  # fmt: skip
    for i, g in enumerate(groups):
        for j, model in enumerate(models):
            paper = PAPER.get((*g, model))
            if paper is not None:
                x = i + (j - (len(models) - 1) / 2) * width
                ax.plot([x - width / 2, x + width / 2], [paper, paper], "k-", lw=2)
    ax.set_xticks(range(len(groups)), [f"{d}\n{v}" for d, v in groups], fontsize=8)
    lo = min(r["test_accuracy"] for r in rows)
    ax.set(ylabel="test accuracy", ylim=(max(0.0, lo - 0.05), 1.0), title="SI D (black bars: the paper)")
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return write_bytes(path, buf.getvalue())
