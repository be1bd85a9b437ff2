"""``lconv discover --data FILE``: symmetries of a user's own data, named, saved and ready to use.

:func:`discover_file` reads the file (:func:`lconv.data.read_data`: pairs, an invariant
map or an equivariant map), fits in the chosen search space (pairs:
:func:`lconv.discovery.fit_pairs`; maps: :func:`lconv.discovery.fit_dataset`), names the
algebra found (:func:`lconv.algebra.identify_algebra`) and writes a run folder:
``config.json``, ``metrics.json`` (with ``"algebra": {"name", "dimension", "error", ...}``),
``generators.npy`` ``(k, d, d)``, ``symmetries.npz`` (:func:`load_symmetries` reads it
back), ``report.md`` and ``figures/``.
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np
import torch

from .. import __version__, analysis
from .._io import write_bytes, write_json, write_npy, write_text
from ..algebra import SPACES, SearchSpace
from ..algebra._spaces import is_space_name
from ..data import read_data
from ..discovery import PairsOptions, fit_dataset, fit_pairs


def parse_space(text: str | None, d: int, image_shape: tuple[int, ...] | None) -> SearchSpace:
    """The search space a ``--space`` name means (:meth:`lconv.algebra.SearchSpace.parse`); None: by the data's shape.

    Default: ``vector-field`` on ``image_shape`` when it is given, else ``full``.
    """
    text = text or ("vector-field" if image_shape else "full")
    if not is_space_name(text):
        raise ValueError(f"unknown --space {text!r}; choose one of {', '.join(SPACES)}")
    if text == "vector-field" and not image_shape:
        raise ValueError("--space vector-field needs the image shape: add --image-shape HEIGHT,WIDTH")
    return SearchSpace.parse(text, d, grid=tuple(image_shape) if image_shape else None)


def discover_file(
    data: str | Path,
    *,
    target: str | Path | None = None,
    x_columns: str | None = None,
    y_columns: str | None = None,
    kind: str | None = None,
    space: str | None = None,
    image_shape: tuple[int, ...] | None = None,
    n_generators: int | str = "auto",
    model: str = "kernel",
    epochs: int = 30,
    seed: int = 0,
    out: str | Path | None = None,
    progress=None,
) -> tuple[Path, dict]:
    """Find, name and save the symmetries of the data in a file.

    Pairs hold out every tenth pair (at least 100 pairs) to measure the held-out error
    of ``exp(t L) x``, beside doing nothing (``y = x``).

    Returns:
        ``(run folder, metrics)``.
    """
    from ..algebra import identify_algebra
    from .discover import run_folder_path

    if space is not None and not is_space_name(space):
        raise ValueError(f"unknown --space {space!r}; choose one of {', '.join(SPACES)}")  # before reading the file
    df = read_data(data, target=target, x_columns=x_columns, y_columns=y_columns, kind=kind)
    d = df.x.shape[-1]
    if image_shape is not None and int(np.prod(image_shape)) != d:
        raise ValueError(f"--image-shape {image_shape} has {int(np.prod(image_shape))} pixels, the data d = {d}")
    if not (n_generators == "auto" or (isinstance(n_generators, int) and n_generators >= 1)):
        raise ValueError(f"-k must be a positive number or 'auto', got {n_generators!r}")
    searched = parse_space(space, d, image_shape)
    folder = run_folder_path("discover", Path(data).stem, out)
    config = dict(file=Path(data).name, data=df.description, source=df.source, kind=df.kind, space=space or "default", n_generators=n_generators,
                  image_shape=list(image_shape) if image_shape else None, epochs=epochs, seed=seed, version=__version__)  # fmt: skip
    start = time.perf_counter()
    metrics: dict = {"kind": df.kind, "samples": len(df)}
    if df.kind == "pairs":
        result, extra = _fit_pairs_file(df, searched, n_generators, epochs, seed, progress)
        metrics.update(extra)
    else:
        result = fit_dataset(df.x, df.y, space=searched, n_generators=None if n_generators == "auto" else n_generators,
                             model=model, seed=seed)  # fmt: skip
        metrics.update(singular_values=result.singular_values.tolist(), n_symmetries=result.n_symmetries,
                       model_error=result.model_error)  # fmt: skip
    metrics["fit_seconds"] = time.perf_counter() - start
    gens = result.generators.double()
    metrics["n_generators"] = len(gens)
    metrics["residuals"] = None if result.residuals is None else [float(r) for r in result.residuals]
    metrics["spectrum"] = None if getattr(result, "spectrum", None) is None else [float(v) for v in result.spectrum]
    info = identify_algebra(gens)
    metrics["algebra"] = info.to_dict()
    run_folder_path("discover", Path(data).stem, folder)  # still free after the fit?
    write_json(folder / "config.json", config)
    write_npy(folder / "generators.npy", gens.float().numpy())
    save_symmetries(folder / "symmetries.npz", gens, info, metrics)
    write_json(folder / "metrics.json", metrics)
    figures = [analysis.plot_algebra(info.basis, folder / "figures" / "algebra.png", title=_algebra_title(info))]
    values = metrics.get("spectrum") or metrics.get("singular_values")
    if values:
        figures.append(analysis.plot_spectrum(torch.tensor(values), folder / "figures" / "spectrum.png",
                                              n_symmetries=len(gens), title="evidence for the number of generators"))  # fmt: skip
    if result.history.get("loss"):
        figures.append(analysis.plot_history(result.history, folder / "figures" / "loss.png", title="exp fit"))
    write_text(folder / "report.md", _report(config, metrics, figures))
    return folder, metrics


def _fit_pairs_file(df, space, n_generators, epochs, seed, progress):
    n = len(df)
    held = torch.zeros(n, dtype=torch.bool)
    if n >= 100:
        held[torch.randperm(n, generator=torch.Generator().manual_seed(seed))[: n // 10]] = True
    fit = ~held
    t = None if df.t is None else df.t[fit]
    k = n_generators
    if t is not None and k == "auto":
        k = 1 if df.t.dim() == 1 else df.t.shape[1]
    result = fit_pairs(df.x[fit], df.y[fit], t=t, space=space, n_generators=k, seed=seed,
                       options=PairsOptions(epochs=epochs), progress=progress)  # fmt: skip
    extra = {"start": result.config.get("start"), "epochs_run": len(result.history.get("loss", [])),
             "count_rule": result.config.get("count_rule")}  # fmt: skip
    if bool(held.any()):
        x, y = df.x[held], df.y[held]
        th = None if df.t is None else df.t[held]
        extra["heldout_error"] = analysis.transform_error(result.generators, x, y, th)
        extra["heldout_pairs"] = int(held.sum())
    return result, extra


def save_symmetries(path: str | Path, generators: torch.Tensor, info, metrics: dict) -> Path:
    """Write ``generators`` ``(k, d, d)``, the algebra's canonical basis and constants, and the evidence to ``.npz``."""
    arrays = {
        "generators": generators.double().numpy(),
        "basis": info.basis.double().numpy(),
        "structure_constants": info.constants.double().numpy(),
        "algebra": np.array(info.name or ""),
    }
    for key in ("residuals", "spectrum", "singular_values"):
        if metrics.get(key) is not None:
            arrays[key] = np.asarray(metrics[key], dtype=np.float64)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return write_bytes(path, buf.getvalue())


def load_symmetries(path: str | Path) -> dict:
    """Read a ``symmetries.npz`` back: ``{"generators": (k, d, d) tensor, "algebra": name or None, ...}``.

    ``LConv(c_in, c_out, generators=load_symmetries(path)["generators"])`` uses them.
    """
    with np.load(Path(path), allow_pickle=False) as z:
        out = {key: torch.from_numpy(z[key]) for key in z.files if key != "algebra"}
        out["algebra"] = str(z["algebra"]) or None
    return out


def algebra_text(alg: dict) -> str:
    """One line for ``AlgebraInfo.to_dict()``: the name and its fit error, or why there is none."""
    if alg.get("name"):
        return f"{alg['name']} (dimension {alg['dimension']}, fit error {alg['error']:.2g})"
    if alg["dimension"] > 6:
        return f"not named (dimension {alg['dimension']} > 6; closure residual {alg['closure']:.2g})"
    return (f"no known algebra (dimension {alg['dimension']}, closure residual {alg['closure']:.2g}, "
            f"closest {alg['candidates'][0][0]} at error {alg['candidates'][0][1]:.2g})")  # fmt: skip


def evidence_label(metrics: dict) -> str:
    """What the residuals of a run mean: the counting rule of its start, or fit_dataset's residuals."""
    rule = metrics.get("count_rule")
    return f"evidence for the count ({rule})" if rule else "residual of each generator (0: exact symmetry)"


def _algebra_title(info) -> str:
    return algebra_text(info.to_dict())


def _report(config: dict, metrics: dict, figures: list[Path]) -> str:
    alg = metrics["algebra"]
    lines = [
        f"# lconv discover --data {config['file']}",
        "",
        f"Data: {config['data']}.",
        f"Kind: {metrics['kind']}; search space `{config['space']}`; generators: {config['n_generators']}.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| generators found | {metrics['n_generators']} |",
        f"| algebra | {algebra_text(alg)} |",
        f"| Killing form signature (+, -, 0) | {tuple(alg['killing_signature'])} |",
    ]
    if metrics.get("residuals") is not None:
        lines.append(f"| {evidence_label(metrics)} | {', '.join(f'{r:.3g}' for r in metrics['residuals'])} |")
    if "heldout_error" in metrics:
        lines.append(f"| held-out error of exp(t L) x, relative to \\|y - x\\| ({metrics['heldout_pairs']} pairs) | "
                     f"{metrics['heldout_error']:.4f} (doing nothing: 1) |")  # fmt: skip
    if metrics.get("model_error") is not None:
        lines.append(f"| relative error of the fitted model | {metrics['model_error']:.4f} |")
    lines += ["", f"Fit: {metrics['fit_seconds']:.1f} s.", ""]
    lines += [f"![{p.stem}](figures/{p.name})" for p in figures]
    return "\n".join(lines) + "\n"
