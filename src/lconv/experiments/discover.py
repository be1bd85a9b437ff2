"""The main job: plant a symmetry in synthetic pairs, discover it, measure it against the truth.

:func:`discover` is what ``lconv discover`` runs. It writes a run folder (DESIGN.md):
``config.json`` (resolved options), ``metrics.json``, ``generators.npy`` (``(k, d, d)``),
``report.md`` and ``figures/*.png``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import torch

from .. import __version__, analysis
from .._io import write_json, write_npy, write_text
from ..algebra import SPACES, SearchSpace, identify_algebra, structure_constants
from ..algebra._spaces import is_space_name
from ..data import IMAGE_ALGEBRAS, Pairs, image_pairs, vector_pairs
from ..discovery import PairsOptions, fit_pairs
from .datafile import algebra_text
from .dataset import DATASET_TASKS, discover_dataset

VECTOR_ALGEBRAS = ("so3", "sl2", "so13", "gl2")
#: Pair tasks (images, vectors), then one-dataset tasks (:mod:`lconv.experiments.dataset`).
TASKS = IMAGE_ALGEBRAS + VECTOR_ALGEBRAS + DATASET_TASKS
#: Vector tasks whose planted group acts by isometries: their default search space is the
#: antisymmetric matrices.
ISOMETRIC = ("so3",)


def default_structure(task: str) -> str:
    """Image tasks: ``vector-field`` (their groups move pixels); so3: ``antisymmetric``; else ``full``."""
    if task in IMAGE_ALGEBRAS:
        return "vector-field"
    return "antisymmetric" if task in ISOMETRIC else "full"


def check_structure(structure: str) -> None:
    """A ``--structure`` name (:data:`lconv.algebra.SPACES`), checked before any data are made."""
    if not is_space_name(structure):
        raise ValueError(f"unknown structure {structure!r}; choose one of {', '.join(SPACES)}")


def search_space(structure: str, pairs: Pairs) -> SearchSpace:
    """The :class:`~lconv.algebra.SearchSpace` a ``--structure`` name means for ``pairs``."""
    check_structure(structure)
    if structure == "vector-field" and pairs.grid is None:
        raise ValueError("--structure vector-field needs an image task (vector fields live on the image grid)")
    return SearchSpace.parse(structure, pairs.x.shape[-1], grid=pairs.grid)


def run_folder_path(kind: str, name: str, out: str | Path | None) -> Path:
    """Where a run will write; refuses a folder that already holds files, so nothing is overwritten.

    Call it before the work starts, so a bad ``--out`` fails at once; the folder itself is
    made when the first file is written.
    """
    if out is None:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        out = Path("runs") / f"{kind}-{name}-{stamp}"
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(f"output folder {out} already exists and is not empty; choose another --out or remove it")
    return out


def make_pairs(task: str, *, n: int, size: int, t_range, param: str, images: str, transform: str, seed: int) -> Pairs:
    if task in IMAGE_ALGEBRAS:
        return image_pairs(
            task, n=n, size=size, t_range=t_range, param=param, images=images, transform=transform, seed=seed
        )
    if task in VECTOR_ALGEBRAS:
        return vector_pairs(task, n=n, t_range=t_range, param=param, seed=seed)
    raise ValueError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")


def _evaluate(gens: torch.Tensor, pairs: Pairs, heldout: Pairs) -> dict:
    truth = pairs.truth
    aligned, cos = analysis.align(gens, truth)
    out = {
        "cosine": [float(c) for c in cos],
        "grassmann_distance": analysis.grassmann_distance(gens, truth),
        "principal_angles": [float(a) for a in analysis.principal_angles(gens, truth)],
        "heldout_error": analysis.transform_error(gens, heldout.x, heldout.y),
    }
    proj = analysis.data_projector(pairs.x)
    rank = int(round(float(proj.trace())))
    if rank < proj.shape[0]:  # data on a subspace: the generators are identifiable only there
        g_data, t_data = analysis.restrict(gens, proj), analysis.restrict(truth, proj)
        out["data_rank"] = rank
        out["cosine_on_data"] = [float(c) for c in analysis.align(g_data, t_data)[1]]
        out["grassmann_distance_on_data"] = analysis.grassmann_distance(g_data, t_data)
    if len(truth) >= 2:
        c_true = structure_constants(truth.double()).constants
        c_learned = structure_constants(aligned.double())
        denom = float(c_true.norm()) or 1.0
        out["structure_constants_error"] = float((c_learned.constants - c_true).norm()) / denom
        out["closure_residual"] = structure_constants(gens.double()).residual
    return out


def discover(
    *,
    task: str = "rotation",
    size: int = 7,
    t_min: float = 0.0,
    t_max: float = math.pi / 8,
    param: str = "random",
    known_t: bool = False,
    images: str = "uniform",
    transform: str = "grid_sample",
    method: str = "exp",
    structure: str | None = None,
    n_generators: int | None = None,
    n: int | None = None,
    epochs: int = 30,
    seed: int = 0,
    device: str = "cpu",
    out: str | Path | None = None,
    progress: Callable[[int, int, float], None] | None = None,
    dt: float = 0.1,
    model: str = "kernel",
) -> tuple[Path, dict]:
    """Discover the generators of a planted symmetry and compare them with the truth.

    The default is the paper's SI C.3 setting: the rotation generator from 7x7 images with
    uniform random pixels, rotated by ``grid_sample`` by angles uniform in ``[0, pi/8)``
    that the learner does not see. The least-squares baseline runs beside the method.
    ``n`` is the number of pairs (default 2000). The tasks ``kepler``, ``o5`` and
    ``lorentz`` have no pairs: one dataset of ``n`` samples of a map
    (:func:`lconv.experiments.dataset.discover_dataset`, with ``dt`` and ``model``).

    Returns:
        ``(run folder, metrics)``.
    """
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    if task in DATASET_TASKS:
        folder = run_folder_path("discover", task, out)
        return discover_dataset(task=task, n=n, dt=dt, model=model, seed=seed, folder=folder)
    n = n or 2000
    structure = structure or default_structure(task)
    check_structure(structure)
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive int, got {epochs!r}")
    if device != "cpu" and device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} is not available here; use --device cpu")
    t_range = (float(t_min), float(t_max))
    pairs = make_pairs(
        task, n=n, size=size, t_range=t_range, param=param, images=images, transform=transform, seed=seed
    )
    heldout = make_pairs(task, n=max(200, n // 4), size=size, t_range=t_range, param=param, images=images,
                         transform=transform, seed=seed + 1)  # fmt: skip
    k = n_generators or len(pairs.truth)  # "auto": as many as the data say
    space = search_space(structure, pairs)
    folder = run_folder_path("discover", task, out)
    config = dict(task=task, size=size, t_min=t_min, t_max=t_max, param=param, known_t=known_t, images=images,
                  transform=transform, method=method, structure=structure, n_generators=k, n=n, epochs=epochs,
                  seed=seed, device=device, data=pairs.description, version=__version__)  # fmt: skip

    t = pairs.t if known_t else None
    start = time.perf_counter()
    result = fit_pairs(pairs.x, pairs.y, t=t, space=space, n_generators=k, method=method, seed=seed, device=device,
                       options=PairsOptions(epochs=epochs), progress=progress)  # fmt: skip
    seconds = time.perf_counter() - start
    gens = result.generators.float()
    config["n_generators"] = len(gens)
    baseline = fit_pairs(pairs.x, pairs.y, t=t, n_generators=len(gens), method="lstsq")

    metrics = {
        "method": method,
        **_evaluate(gens, pairs, heldout),
        "baseline_lstsq": _evaluate(baseline.generators.float(), pairs, heldout),
        # the truth measured as the fits are (t fitted per pair), and with the true t
        "truth": _evaluate(pairs.truth.float(), pairs, heldout),
        "truth_heldout_error": analysis.transform_error(heldout.truth, heldout.x, heldout.y, heldout.t),
        "final_loss": result.history["loss"][-1] if result.history["loss"] else None,
        "epochs_run": len(result.history["loss"]),
        "fit_seconds": seconds,
        "start": result.config.get("start"),
        "algebra": identify_algebra(gens.double()).to_dict(),
    }
    if result.spectrum is not None:
        metrics["spectrum"] = [float(v) for v in result.spectrum]
    if t is None and len(pairs.truth) == 1 and k == 1:
        metrics["t_correlation"] = float(torch.corrcoef(torch.stack([result.t[:, 0], pairs.t[:, 0]]))[0, 1].abs())
    run_folder_path("discover", task, folder)  # still free after the fit?
    write_json(folder / "config.json", config)
    write_npy(folder / "generators.npy", gens.numpy())
    write_json(folder / "metrics.json", metrics)

    aligned = analysis.align(gens, pairs.truth)[0]  # drawn in the basis of the truth
    figures = [analysis.plot_generators(aligned, folder / "figures" / "generators.png", truth=pairs.truth)]
    if pairs.grid is not None and pairs.grid.ndim == 2:
        figures.append(
            analysis.plot_vector_fields(aligned, pairs.grid, folder / "figures" / "flows.png", truth=pairs.truth)
        )
    if result.history["loss"]:
        figures.append(analysis.plot_history(result.history, folder / "figures" / "loss.png", title=f"{method} fit"))
    write_text(folder / "report.md", _report(config, metrics, figures, folder))
    return folder, metrics


def _fmt(v) -> str:
    if isinstance(v, list):
        return ", ".join(f"{x:.4f}" for x in v)
    if isinstance(v, float):
        return f"{v:.4f}"
    return str(v)


def _report(config: dict, metrics: dict, figures: list[Path], folder: Path) -> str:
    rows = [
        ("\\|cos\\| with the true generator(s), best-aligned", "cosine"),
        ("Grassmann distance to the true span (rad)", "grassmann_distance"),
        ("\\|cos\\| on the span of the data", "cosine_on_data"),
        ("Grassmann distance on the span of the data", "grassmann_distance_on_data"),
        ("held-out error of exp(t L) x, relative to \\|y - x\\|", "heldout_error"),
        ("structure constants, relative error", "structure_constants_error"),
        ("closure residual of the learned basis", "closure_residual"),
    ]
    base, truth = metrics["baseline_lstsq"], metrics["truth"]
    alg = metrics["algebra"]
    lines = [
        f"# lconv discover: {config['task']}",
        "",
        f"Data: {config['data']}; parameters {'given to' if config['known_t'] else 'hidden from'} the learner.",
        f"Method: `{config['method']}`, search space `{config['structure']}`, {config['n_generators']} generator(s), seed {config['seed']}.",
        "",
        f"| measure | {config['method']} | least squares (first order) | true generators |",
        "|---|---|---|---|",
    ]
    for label, key in rows:
        if key in metrics:
            lines.append(f"| {label} | {_fmt(metrics[key])} | {_fmt(base.get(key, ''))} | {_fmt(truth.get(key, ''))} |")
    lines += [
        "",
        "Every error is measured the same way for the three columns (each pair's t fitted, on the held-out "
        "pairs), so the true generators' column is the floor the data allow: with the true t they score "
        f"{metrics['truth_heldout_error']:.4f}. Where the data's transformation is not exactly exp(t L_true) "
        "(grid_sample's bilinear interpolation), a method can score below the truth by fitting the interpolation "
        "instead of the symmetry; the cosines say which.",
        f"Algebra of the generators found: {algebra_text(alg)}.",
        f"Fit: {metrics['epochs_run']} rounds in {metrics['fit_seconds']:.1f} s from the {metrics['start'] or 'given'} "
        f"start, final loss {_fmt(metrics['final_loss'])}.",
        "",
    ]
    lines += [f"![{p.stem}](figures/{p.name})" for p in figures]
    return "\n".join(lines) + "\n"
