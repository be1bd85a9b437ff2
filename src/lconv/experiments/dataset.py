"""Symmetries from one dataset: the two-body map, an O(5)-invariant and a Lorentz-invariant function.

:func:`discover_dataset` is what ``lconv discover --task kepler | o5 | lorentz`` runs;
:data:`DATASET_EXPERIMENTS` feeds ``lconv repro kepler | o5 | lorentz``. Each fits
:func:`lconv.discovery.fit_dataset` twice, from a model fitted to the samples (the task:
only samples are given) and from the exact map (a reference that shows what the data
allow), and prints the peers' figures from ``BENCHMARKS.md`` beside ours where they exist.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import torch

from .. import __version__, analysis
from .._io import write_json, write_npy, write_text
from ..algebra import antisymmetric_space, factorised_space, structure_constants
from ..data.regression import Regression, kepler_symmetries, regression_task
from ..discovery import fit_dataset, fit_model, map_derivatives

DATASET_TASKS = ("kepler", "o5", "lorentz")
DEFAULT_N = {"kepler": 600, "o5": 3000, "lorentz": 600}
#: Peers' figures on the two-body task, from BENCHMARKS.md (both in LieGAN's space I_4 (x) A).
KEPLER_PEERS = (("LieGAN (Yang et al. 2023)", 0.9998), ("Augerino", 0.67))
TARGETS = {"liegan": ">= 0.999", "full": ">= 0.99 where the data allow it", "o5": "<= 0.05",
           "lorentz": "<= 0.05"}  # fmt: skip
RANKED = 12  # generators listed by residual in the full space


def _spaces(task: str, d: int) -> dict[str, torch.Tensor | None]:
    if task == "kepler":
        return {
            "I_4 (x) A": factorised_space(4, 2, dtype=torch.float64),
            "so(8)": antisymmetric_space(8),
            "gl(8)": None,
        }
    if task == "lorentz":  # non-compact: the antisymmetric space holds only its rotations
        return {f"gl({d})": None}
    return {f"so({d})": antisymmetric_space(d), f"gl({d})": None}


def _algebra_metrics(gens: torch.Tensor, truth: torch.Tensor) -> dict:
    aligned, cos = analysis.align(gens, truth)
    out = {
        "grassmann_distance": analysis.grassmann_distance(gens, truth),
        "cosine": [float(c) for c in cos],
        "closure_residual": structure_constants(gens.double()).residual,
    }
    if len(truth) >= 2:
        c_true = structure_constants(truth.double()).constants
        c_found = structure_constants(aligned.double()).constants
        out["structure_constants_error"] = float((c_found - c_true).norm() / c_true.norm())
    return out


def _fit_space(data: Regression, derivatives, basis, k_truth: int, route: str) -> dict:
    """One fit in one search space (every generator of the space ranked); what it found against the truth."""
    start = time.perf_counter()
    d = data.x.shape[1]
    m = d * d if basis is None else len(basis)
    val, jac = derivatives
    scalar = data.y.dim() == 1
    y, jac = (val[:, 0], jac[:, 0]) if scalar else (val, jac)
    kw = {"basis": basis} if basis is not None else {}
    res = fit_dataset(data.x, y, m, jacobian=jac, **kw)  # all of them, best first
    k = max(res.n_symmetries, k_truth)
    gens = res.generators[:k].double()
    out = {
        "route": route,
        "n_symmetries": res.n_symmetries,
        "n_generators": k,
        "residuals": [float(v) for v in res.singular_values[:k]],
        "singular_values": [float(v) for v in res.singular_values],
        "seconds": time.perf_counter() - start,
        # as many least-violated generators as the truth has, against it
        **_algebra_metrics(gens[:k_truth], data.truth),
    }
    if res.n_symmetries > k_truth:  # more symmetries found than planted: is the truth inside their span?
        out["span_grassmann_distance"] = analysis.grassmann_distance(gens, data.truth)
        out["span_cosine"] = [float(c) for c in analysis.align(gens, data.truth)[1]]
    if k_truth == 1:  # one true generator: how each ranked candidate compares with it
        out["ranked"] = [
            {"residual": float(r), "cosine": analysis.cosine(g, data.truth[0])}
            for r, g in zip(res.singular_values[:RANKED], res.generators[:RANKED].double())
        ]
        out["best_cosine"] = out["ranked"][0]["cosine"]
    return out | {"generators": gens}


def run_task(task: str, *, n: int | None = None, dt: float = 0.1, function: str = "polynomial", model: str = "kernel",
             seed: int = 0, progress: Callable[[str], None] | None = None) -> tuple[Regression, dict]:  # fmt: skip
    """Make the data of ``task``, fit in each search space by both routes, return ``(data, metrics)``."""
    if task not in DATASET_TASKS:
        raise ValueError(f"unknown task {task!r}; choose one of {', '.join(DATASET_TASKS)}")
    n = n or DEFAULT_N[task]
    kwargs = {"n": n, "seed": seed} | ({"dt": dt} if task == "kepler" else {})
    kwargs |= {"function": function} if task == "lorentz" else {}
    data = regression_task(task, **kwargs)
    start = time.perf_counter()
    fitted = fit_model(data.x, data.y, model, seed=seed)
    metrics: dict = {
        "task": task,
        "data": data.description,
        "model": fitted.description,
        "model_error": fitted.error,
        "model_seconds": time.perf_counter() - start,
        "spaces": {},
    }
    if progress is not None:
        progress(f"{task}: model fitted")
    routes = {"fitted": map_derivatives(fitted, data.x), "exact": map_derivatives(data.f, data.x)}
    for name, basis in _spaces(task, data.x.shape[1]).items():
        metrics["spaces"][name] = {
            route: _fit_space(data, derivs, basis, len(data.truth), route) for route, derivs in routes.items()
        }
        if progress is not None:
            progress(f"{task}: {name} done")
    if task == "kepler":
        full = metrics["spaces"]["gl(8)"]
        for route in ("fitted", "exact"):
            full[route]["grassmann_to_all_symmetries"] = analysis.grassmann_distance(
                full[route]["generators"], kepler_symmetries()
            )
    return data, metrics


def _strip(metrics: dict) -> tuple[dict, dict]:
    """Split the generators out of the metrics (they go to .npy files)."""
    gens, clean = {}, dict(metrics)
    clean["spaces"] = {}
    for name, routes in metrics["spaces"].items():
        clean["spaces"][name] = {}
        for route, m in routes.items():
            gens[(name, route)] = m["generators"]
            clean["spaces"][name][route] = {k: v for k, v in m.items() if k != "generators"}
    return clean, gens


def discover_dataset(
    *,
    task: str,
    n: int | None = None,
    dt: float = 0.1,
    model: str = "kernel",
    seed: int = 0,
    folder: Path,
    progress: Callable[[str], None] | None = None,
) -> tuple[Path, dict]:
    """Discover the symmetry of one dataset and write the run folder (see :mod:`lconv.experiments.discover`).

    ``generators.npy`` holds what the fitted route found in the full space ``gl(d)``
    (``n_symmetries`` generators, at least as many as the truth has); ``figures/`` the
    algebra it found (aligned with the truth when the truth has several generators) and
    the constraint spectrum.
    """
    config = dict(task=task, n=n or DEFAULT_N[task], dt=dt if task == "kepler" else None, model=model, seed=seed,
                  version=__version__)  # fmt: skip
    data, metrics = run_task(task, n=n, dt=dt, model=model, seed=seed, progress=progress)
    metrics, gens = _strip(metrics)
    config["data"] = data.description
    full_name = list(metrics["spaces"])[-1]
    found = gens[(full_name, "fitted")]
    write_json(folder / "config.json", config)
    write_npy(folder / "generators.npy", found.float().numpy())
    write_json(folder / "metrics.json", metrics)
    figures = []
    drawn = analysis.align(found, data.truth)[0] if len(data.truth) >= 2 else found
    names = _truth_names(task) if len(data.truth) >= 2 else None
    figures.append(analysis.plot_algebra(drawn, folder / "figures" / "algebra.png", names=names,
                                         title=f"{task}: algebra found in {full_name} (fitted model)"))  # fmt: skip
    full = metrics["spaces"][full_name]["fitted"]
    figures.append(analysis.plot_spectrum(torch.tensor(full["singular_values"]), folder / "figures" / "spectrum.png",
                                          n_symmetries=full["n_symmetries"], title=f"{task}, {full_name}, fitted model"))  # fmt: skip
    write_text(folder / "report.md", _report(config, metrics, figures))
    return folder, metrics


def _truth_names(task: str) -> list[str] | None:
    if task == "lorentz":
        return ["Jx", "Jy", "Jz", "Kx", "Ky", "Kz"]
    if task == "o5":
        return [f"R{i}{j}" for i in range(1, 6) for j in range(i + 1, 6)]
    return None


def fmt_value(v) -> str:
    """Four decimals, or two significant digits for tiny values (residuals of exact symmetries)."""
    if v is None:
        return ""
    if isinstance(v, list):
        return ", ".join(fmt_value(x) for x in v[:10]) + (", ..." if len(v) > 10 else "")
    if isinstance(v, float):
        return f"{v:.4f}" if v == 0 or abs(v) >= 1e-3 else f"{v:.1e}"
    return str(v)


def summary_rows(task: str, metrics: dict) -> list[dict]:
    """Rows ``experiment, method, measure, ours, paper, target`` for tables.

    The first row of each fit compares as many least-violated generators as the truth has
    with it; when more symmetries were found, a second row asks whether the truth lies in
    their span.
    """
    rows = []
    data = metrics["data"]
    row = lambda method, measure, ours, paper=None, target="": dict(  # noqa: E731
        experiment=data, method=method, measure=measure, ours=ours, paper=paper, target=target
    )
    if task == "kepler":
        rows += [row(f"{peer}, I_4 (x) A", "|cos| to the rotation", None, value) for peer, value in KEPLER_PEERS]
    for space, routes in metrics["spaces"].items():
        for route in ("fitted", "exact"):
            m = routes[route]
            label = f"ours, {space}, {'fitted model' if route == 'fitted' else 'exact map'}, {m['n_symmetries']} found"
            fitted = route == "fitted"
            if task == "kepler":
                first = TARGETS["liegan"] if space == "I_4 (x) A" else TARGETS["full"] if space == "so(8)" else ""
                rows.append(row(label, "|cos| to the rotation, least-violated generator", m["cosine"][0], None,
                                first if fitted else ""))  # fmt: skip
                if "span_cosine" in m:
                    rows.append(row(label, f"|cos| to the rotation, best-aligned in the span of the {m['n_symmetries']}",
                                    m["span_cosine"][0], None, TARGETS["full"] if fitted else ""))  # fmt: skip
                if "grassmann_to_all_symmetries" in m:
                    rows.append(row(label, "Grassmann distance of that span to the 9 exact symmetries (rad)",
                                    m["grassmann_to_all_symmetries"]))  # fmt: skip
            else:
                k = len(m["cosine"])
                rows.append(row(label, f"Grassmann distance of the {k} least-violated to the truth (rad)",
                                m["grassmann_distance"], None, TARGETS[task] if fitted else ""))  # fmt: skip
                rows.append(row(label, "structure constants, relative error", m["structure_constants_error"], None,
                                "<= 0.02" if fitted else ""))  # fmt: skip
                if "span_grassmann_distance" in m:
                    rows.append(row(label, f"Grassmann distance of the truth to the span of the {m['n_symmetries']}",
                                    m["span_grassmann_distance"]))  # fmt: skip
    return rows


def _report(config: dict, metrics: dict, figures: list[Path]) -> str:
    task = config["task"]
    lines = [
        f"# lconv discover: {task}",
        "",
        f"Data: {metrics['data']}.",
        f"Fitted model: {metrics['model']}, relative held-out error {metrics['model_error']:.4f} "
        f"({metrics['model_seconds']:.1f} s). The exact route differentiates the true map instead.",
        "",
        "| search space | route | symmetries found | residuals of the first ones | Grassmann distance (as many as the truth has) | \\|cos\\| (aligned) | structure constants error | truth in the span found: Grassmann distance |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for space, routes in metrics["spaces"].items():
        for route, m in routes.items():
            lines.append(f"| {space} | {route} | {m['n_symmetries']} | {fmt_value(m['residuals'])} | "
                         f"{fmt_value(m['grassmann_distance'])} | {fmt_value(m['cosine'])} | "
                         f"{fmt_value(m.get('structure_constants_error'))} | "
                         f"{fmt_value(m.get('span_grassmann_distance'))} |")  # fmt: skip
    if task == "kepler":
        lines += ["", "Peers, in the space I_4 (x) A (BENCHMARKS.md): "
                  + ", ".join(f"{p} {v}" for p, v in KEPLER_PEERS) + "; target >= 0.999.", ""]  # fmt: skip
        for route in ("fitted", "exact"):
            m = metrics["spaces"]["gl(8)"][route]
            lines += [
                f"Full space gl(8), {route} route: {m['n_symmetries']} symmetries; Grassmann distance of their span "
                f"to the nine exact linear symmetries of the map (centre-of-mass motion: 8, relative rotation: 1) "
                f"{m['grassmann_to_all_symmetries']:.4f}. Candidates ranked by residual:",
                "",
                "| rank | residual | \\|cos\\| to the rotation |",
                "|---|---|---|",
            ]
            lines += [f"| {i + 1} | {r['residual']:.2e} | {r['cosine']:.4f} |" for i, r in enumerate(m["ranked"])]
            lines.append("")
    lines += ["", "Residual: the normalised violation of the symmetry condition, 0 for an exact symmetry and about "
              "1 for a random generator of the space.", ""]  # fmt: skip
    lines += [f"![{p.stem}](figures/{p.name})" for p in figures]
    return "\n".join(lines) + "\n"


def _experiment(task: str, settings: tuple[dict, ...] = ({},)):
    def run(seed: int, progress) -> list[dict]:
        rows = []
        for kwargs in settings:
            _, metrics = run_task(task, seed=seed, progress=progress, **kwargs)
            rows += summary_rows(task, _strip(metrics)[0])
        return rows

    return run


#: ``lconv repro`` experiments: name -> (function(seed, progress) -> rows, title).
DATASET_EXPERIMENTS: dict[str, tuple[Callable, str]] = {
    "kepler": (
        _experiment("kepler", tuple({"dt": dt} for dt in (0.03, 0.1, 0.3, 1.0))),
        "Symmetry of the two-body map from one dataset, several time steps",
    ),
    "o5": (_experiment("o5"), "O(5)-invariant regression (EMLP / LieGG): so(5) acting on two 5-vectors"),
    "lorentz": (
        _experiment("lorentz", ({"function": "polynomial"}, {"function": "sine"})),
        "Lorentz-invariant functions of two 4-vectors: so(1,3)",
    ),
}
