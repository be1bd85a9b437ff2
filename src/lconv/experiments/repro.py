"""Reproductions of the paper's SI C experiments, with the paper's numbers beside ours.

``lconv repro c1 | c2 | c3 | c3-large`` runs one of them, prints a table and writes a run
folder with ``results.json`` and ``table.md`` (the same table, headed by the command that
made it).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import torch

from .. import __version__, analysis
from .._io import write_json, write_text
from ..algebra import SearchSpace, exp, exp_approx, translation
from ..data import image_pairs
from ..discovery import fit_pairs, fit_recursive
from ..grid import Grid
from .dataset import DATASET_EXPERIMENTS, fmt_value
from .discover import run_folder_path

Row = dict


def _cos(gens, truth) -> float:
    return float(analysis.align(gens, truth)[1][0])


def _c1(seed: int, progress) -> list[Row]:
    grid = Grid(20)
    T = translation(grid, dtype=torch.float64)[0]
    shift = grid.action_matrix(lambda f: grid.shift(f, 2))
    rows = []
    for k, paper, target in ((8, 0.77, "0.77"), (16, 0.93, "0.93-0.94")):
        rows.append(dict(experiment=f"(I + 2T/{k})^{k} vs shift by 2, d = 20", method="SWI generator",
                         ours=analysis.cosine(exp_approx(T, 2.0, k), shift), paper=paper, target=target))  # fmt: skip
    rows.append(dict(experiment="exp(2T) vs shift by 2, d = 20", method="SWI generator",
                     ours=analysis.cosine(exp(T, 2.0), shift), paper=None, target="1"))  # fmt: skip
    return rows


def _pairs_rows(experiment: str, pairs, runs, paper_rows, target: str, progress) -> list[Row]:
    rows = [dict(experiment=experiment, method=m, ours=None, paper=v, target="") for m, v in paper_rows]
    heldout = None
    for label, kwargs in runs:
        start = time.perf_counter()
        if kwargs.get("method") == "recursive":
            res = fit_recursive(pairs.x, pairs.y, t=pairs.t[:, 0], **{k: v for k, v in kwargs.items() if k != "method"})
        else:
            with warnings.catch_warnings():  # the full space is one of the compared spaces here, on purpose
                warnings.filterwarnings("ignore", message="fit_pairs: searching all")
                res = fit_pairs(pairs.x, pairs.y, n_generators=1, **kwargs)
        if heldout is None:
            cfg = dict(pairs.config)
            cfg.update(seed=cfg["seed"] + 1, n=max(200, cfg["n"] // 4))
            heldout = image_pairs(**cfg)
        rows.append(dict(experiment=experiment, method=label, ours=_cos(res.generators, pairs.truth), paper=None,
                         target=target if "ours" in label else "",
                         heldout_error=analysis.transform_error(res.generators, heldout.x, heldout.y),
                         seconds=time.perf_counter() - start))  # fmt: skip
        if progress is not None:
            progress(label)
    return rows


def _c2(seed: int, progress) -> list[Row]:
    pairs = image_pairs("rotation", n=2000, size=7, t_range=(0.0, math.pi / 10), param="fixed", seed=seed)
    t = pairs.t
    runs = [
        ("least squares (R - I)/t", dict(t=t, method="lstsq")),
        (
            "one L-conv layer, Adam (SI C.2)",
            dict(t=t, method="lconv", seed=seed, options=dict(epochs=20, batch_size=64, lr=1e-3)),
        ),
        ("ours: exp, free", dict(t=t, method="exp")),
        ("ours: exp, antisymmetric", dict(t=t, method="exp", space="antisymmetric")),
        ("ours: exp, vector fields", dict(t=t, method="exp", space=SearchSpace.vector_field(pairs.grid))),
    ]
    paper = [("paper: L-conv, SGD", 0.27), ("paper: least squares", 0.27)]
    return _pairs_rows("7x7 random images, one known angle pi/10", pairs, runs, paper, ">= 0.5", progress)


def _c3(size: int, t_max: float, n: int, paper_value: float, target: str, epochs: int):
    def run(seed: int, progress) -> list[Row]:
        pairs = image_pairs("rotation", n=n, size=size, t_range=(0.0, t_max), seed=seed)
        runs = [
            ("recursive L-conv + angle regression (SI C.3, angles as labels)", dict(method="recursive", seed=seed)),
            ("first-order least squares", dict(method="lstsq")),
            ("ours: exp, free", dict(method="exp", options=dict(epochs=epochs))),
            ("ours: exp, antisymmetric", dict(method="exp", space="antisymmetric", options=dict(epochs=epochs))),
            (
                "ours: exp, vector fields",
                dict(method="exp", space=SearchSpace.vector_field(pairs.grid), options=dict(epochs=epochs)),
            ),
        ]
        paper = [("paper: recursive L-conv + angle regression", paper_value)]
        name = f"{size}x{size} random images, angle in [0, {t_max:.4g}) hidden"
        return _pairs_rows(name, pairs, runs, paper, target, progress)

    return run


EXPERIMENTS: dict[str, tuple[Callable[[int, Callable | None], list[Row]], str]] = {
    "c1": (_c1, "SI C.1 / Fig. 6: finite shifts from the SWI translation generator"),
    "c2": (_c2, "SI C.2 / Fig. 7c: rotation generator from one fixed, known angle"),
    "c3": (
        _c3(7, math.pi / 8, 2000, 0.70, ">= 0.85", 30),
        "SI C.3 / Fig. 7b: rotation generator, hidden random angles",
    ),
    "c3-large": (_c3(20, math.pi / 4, 4000, 0.12, ">= 0.7", 15), "SI C.3 / Fig. 8: 20x20 images, angles up to pi/4"),
    **DATASET_EXPERIMENTS,
}


def repro(name: str, *, seed: int = 0, out: str | Path | None = None, table: str | Path | None = None,
          progress: Callable[[str], None] | None = None) -> tuple[Path, list[Row]]:  # fmt: skip
    """Run experiment ``name`` (a key of :data:`EXPERIMENTS`); returns the run folder and the rows."""
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; choose one of {', '.join(EXPERIMENTS)}")
    folder = run_folder_path("repro", name, out)
    fn, title = EXPERIMENTS[name]
    torch.manual_seed(seed)
    rows = fn(seed, progress)
    command = f"lconv repro {name} --seed {seed}"
    md = markdown_table(title, rows, command)
    write_json(folder / "results.json", dict(experiment=name, title=title, seed=seed, version=__version__, rows=rows))
    write_text(folder / "table.md", md)
    if table is not None:
        write_text(table, md)
    return folder, rows


def _f(v) -> str:
    return "" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))


def markdown_table(title: str, rows: list[Row], command: str) -> str:
    if any("measure" in r for r in rows):  # one-dataset experiments: a measure per row, peers' figures
        lines = [f"# {title}", "", f"Made by `{command}` (lconv {__version__}).", "",
                 "| experiment | method | measure | ours | peers / paper | target |", "|---|---|---|---|---|---|"]  # fmt: skip
        f4 = fmt_value
        esc = lambda text: str(text).replace("|", "\\|")  # noqa: E731
        lines += [f"| {esc(r['experiment'])} | {esc(r['method'])} | {esc(r['measure'])} | {f4(r['ours'])} | {f4(r['paper'])} | "
                  f"{r['target']} |" for r in rows]  # fmt: skip
        return "\n".join(lines) + "\n"
    lines = [f"# {title}", "", f"Made by `{command}` (lconv {__version__}).", "",
             "| experiment | method | \\|cos\\| with the SWI generator | paper | target | held-out error |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    for r in rows:
        lines.append(f"| {r['experiment']} | {r['method']} | {_f(r['ours'])} | {_f(r['paper'])} | {r['target']} | "
                     f"{_f(r.get('heldout_error'))} |")  # fmt: skip
    lines += ["", "Held-out error: `|exp(t L) x - y| / |y - x|` on new pairs, `t` fitted per pair."]
    return "\n".join(lines) + "\n"
