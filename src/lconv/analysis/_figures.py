"""Figures: generators as matrix heat maps, as vector fields on the grid, and loss curves.

Every function writes one PNG (atomically) and returns its path. matplotlib runs on the
non-interactive Agg backend, so no display is needed.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import torch
from torch import Tensor

from .._io import write_bytes
from ..grid import Grid


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | Path) -> Path:
    buf = io.BytesIO()
    try:
        fig.savefig(buf, dpi=110, bbox_inches="tight", format="png")
    finally:
        _plt().close(fig)
    return write_bytes(path, buf.getvalue())


def _sign_fixed(a: Tensor, ref: Tensor | None) -> Tensor:
    if ref is not None and float((a * ref).sum()) < 0:
        return -a
    return a


def plot_generators(
    generators: Tensor, path: str | Path, *, truth: Tensor | None = None, titles: list[str] | None = None
) -> Path:
    """Heat maps of ``(k, d, d)`` generators; with ``truth``, the true ones in a second row.

    Each learned generator is flipped in sign to match its true counterpart when given
    (the sign of a generator is arbitrary).
    """
    plt = _plt()
    gens = generators.detach().double().cpu()
    gens = gens[None] if gens.dim() == 2 else gens
    rows = 1 if truth is None else 2
    k = len(gens)
    fig, axes = plt.subplots(rows, k, figsize=(3.2 * k, 3.2 * rows), squeeze=False)
    for i in range(k):
        ref = None if truth is None else truth[i].detach().double().cpu()
        g = _sign_fixed(gens[i], ref)
        lim = float(g.abs().max()) or 1.0
        axes[0, i].imshow(g.numpy(), cmap="RdBu_r", vmin=-lim, vmax=lim)
        axes[0, i].set_title(titles[i] if titles else f"learned L{i + 1}", fontsize=9)
        if ref is not None:
            lim = float(ref.abs().max()) or 1.0
            axes[1, i].imshow(ref.numpy(), cmap="RdBu_r", vmin=-lim, vmax=lim)
            axes[1, i].set_title(f"true L{i + 1}", fontsize=9)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    return _save(fig, path)


def vector_field(generator: Tensor, grid: Grid, *, width: float = 1.5) -> Tensor:
    """The flow of a generator on a grid, ``(d, ndim)``: where it moves each node.

    With the convention ``L = -v . grad`` (:mod:`lconv.algebra`), ``v^alpha(p)`` is minus
    ``L`` applied to the coordinate ``x^alpha`` measured from ``p``. The coordinate is
    taken under a Gaussian window of ``width`` pixels around ``p`` (with the shortest
    displacement on periodic axes), so that it stays smooth where a periodic grid wraps:
    ``v^alpha(p) = -sum_q L[p, q] w(q - p) (q - p)^alpha``.
    """
    xy = grid.coordinates(dtype=torch.float64)
    diff = xy[None, :, :] - xy[:, None, :]  # (p, q, alpha): q - p
    for alpha in range(grid.ndim):
        n = grid.extent(alpha)
        if grid.periodic[grid.axis(alpha)]:
            diff[..., alpha] = torch.remainder(diff[..., alpha] + n / 2, n) - n / 2
    window = torch.exp(-diff.pow(2).sum(-1) / (2 * width**2))
    L = generator.detach().double().cpu()
    return -torch.einsum("pq,pqa->pa", L * window, diff)


def plot_vector_fields(
    generators: Tensor, grid: Grid, path: str | Path, *, truth: Tensor | None = None, margin: int = 1
) -> Path:
    """Quiver plots of the flow of each generator on a 2-D grid (true flows beside them when given)."""
    if grid.ndim != 2:
        raise ValueError(f"plot_vector_fields: needs a 2-D grid, got {grid!r}")
    plt = _plt()
    gens = generators[None] if generators.dim() == 2 else generators
    rows = 1 if truth is None else 2
    k = len(gens)
    fig, axes = plt.subplots(rows, k, figsize=(3.2 * k, 3.2 * rows), squeeze=False)
    xy = grid.coordinates(dtype=torch.float64)
    half = torch.tensor([(s - 1) / 2 for s in reversed(grid.shape)], dtype=torch.float64)
    inside = ((xy.abs() <= half - margin).all(-1)).numpy()
    for i in range(k):
        ref = None if truth is None else truth[i]
        panels = [
            (0, _sign_fixed(gens[i].detach().double().cpu(), None if ref is None else ref.double().cpu()), "learned")
        ]
        if ref is not None:
            panels.append((1, ref, "true"))
        for row, g, name in panels:
            v = vector_field(g, grid).numpy()
            ax = axes[row, i]
            pts = xy.numpy()
            ax.quiver(
                pts[inside, 0],
                pts[inside, 1],
                v[inside, 0],
                v[inside, 1],
                angles="xy",
                color="C0" if row == 0 else "C3",
            )
            ax.set_aspect("equal")
            ax.invert_yaxis()  # rows grow downwards, as in the image
            ax.set_title(f"{name} L{i + 1}: flow", fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
    return _save(fig, path)


def plot_history(history: dict[str, list[float]], path: str | Path, *, title: str = "training loss") -> Path:
    """Loss against epoch (log scale)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    loss = history.get("loss", [])
    ax.plot(range(1, len(loss) + 1), loss, marker="o", ms=3)
    if loss and min(loss) > 0:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean squared error")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_algebra(
    generators: Tensor, path: str | Path, *, names: list[str] | None = None, title: str | None = None
) -> Path:
    """A Lie algebra as a picture: its generators as matrix heat maps, and its structure constants.

    The table below the matrices has one row per bracket ``[L_i, L_j]`` (``i < j``) and one
    column per ``L_k``: the least-squares ``c_ij^k`` of ``[L_i, L_j] = sum_k c_ij^k L_k``
    (:func:`lconv.algebra.structure_constants`), annotated when there are few; the title
    gives the closure residual. Draw an aligned basis (:func:`lconv.analysis.align`) to
    compare with a known algebra's constants.

    Shapes: ``generators (k, d, d)``.
    """
    from ..algebra import structure_constants

    plt = _plt()
    gens = generators.detach().double().cpu()
    gens = gens[None] if gens.dim() == 2 else gens
    if gens.dim() != 3 or gens.shape[-1] != gens.shape[-2]:
        raise ValueError(f"plot_algebra: generators must be (k, d, d), got {tuple(generators.shape)}")
    k = len(gens)
    names = names or [f"L{i + 1}" for i in range(k)]
    if len(names) != k:
        raise ValueError(f"plot_algebra: {len(names)} names for {k} generators")
    cols = min(k, 6)
    rows = math.ceil(k / cols)
    pairs = [(i, j) for i in range(k) for j in range(i + 1, k)]
    table_h = 0.0 if not pairs else max(1.6, 0.28 * len(pairs) + 0.8)
    fig = plt.figure(figsize=(max(2.3 * cols, 0.5 * k + 2.5), 2.4 * rows + table_h + 0.4), layout="constrained")
    grid = fig.add_gridspec(rows + (1 if pairs else 0), cols, height_ratios=[2.4] * rows + ([table_h] if pairs else []))
    for i in range(k):
        ax = fig.add_subplot(grid[i // cols, i % cols])
        g = gens[i]
        lim = float(g.abs().max()) or 1.0
        ax.imshow(g.numpy(), cmap="RdBu_r", vmin=-lim, vmax=lim)
        ax.set_title(names[i], fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    sc = structure_constants(gens)
    if pairs:
        table = torch.stack([sc.constants[i, j] for i, j in pairs]).numpy()  # (pairs, k)
        ax = fig.add_subplot(grid[rows, :])
        lim = float(abs(table).max()) or 1.0
        ax.imshow(table, cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto")
        ax.set_yticks(range(len(pairs)), [f"[{names[i]}, {names[j]}]" for i, j in pairs], fontsize=7)
        ax.set_xticks(range(k), names, fontsize=7)
        if k <= 6:
            for r, row in enumerate(table):
                for c, v in enumerate(row):
                    if abs(v) >= 0.005 * lim:
                        ax.text(c, r, f"{v:.2f}", ha="center", va="center", fontsize=7)
        ax.set_title(f"structure constants c_ij^k (closure residual {sc.residual:.3f})", fontsize=9)
    fig.suptitle(title or f"algebra of {k} generator{'s' if k > 1 else ''}", fontsize=10)
    return _save(fig, path)


def plot_spectrum(
    singular_values: Tensor, path: str | Path, *, n_symmetries: int | None = None, title: str = "constraint spectrum"
) -> Path:
    """Residuals of all generators of a search space, ascending, log scale, with the symmetry cut.

    ``singular_values`` as :func:`lconv.discovery.fit_dataset` returns them; the first
    ``n_symmetries`` are drawn in another colour, left of a dashed line.
    """
    plt = _plt()
    s = singular_values.detach().double().cpu().clamp_min(1e-16).numpy()
    fig, ax = plt.subplots(figsize=(5.0, 3.2))
    idx = range(1, len(s) + 1)
    cut = n_symmetries or 0
    colours = ["C3" if i < cut else "C0" for i in range(len(s))]
    ax.scatter(idx, s, c=colours, s=12)
    if 0 < cut < len(s):
        ax.axvline(cut + 0.5, ls="--", color="grey", lw=1)
    ax.set_yscale("log")
    ax.set_xlabel("generator, ranked by residual")
    ax.set_ylabel("normalised residual")
    ax.set_title(f"{title}: {cut} symmetr{'y' if cut == 1 else 'ies'}", fontsize=9)
    ax.grid(alpha=0.3)
    return _save(fig, path)
