"""Figures: generators as matrix heat maps, as vector fields on the grid, and loss curves.

Every ``plot_*`` function writes one PNG (atomically) and returns its path. Each is a thin
wrapper around a private ``_*_figure`` builder that returns the matplotlib ``Figure``, so
that what a figure shows (colour bars, axis labels, titles) can be checked before it is
saved. matplotlib runs on the non-interactive Agg backend, so no display is needed.

Every figure says what it shows: heat maps and coloured arrows have a colour bar, axes are
labelled, and with a ground truth each learned panel's title gives its sign- and
scale-invariant cosine with its true counterpart (:func:`lconv.analysis.cosine`).
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import torch
from torch import Tensor

from .. import _optional
from .._io import write_bytes
from ..grid import Grid
from ._compare import cosine

_MAX_COLS = 6  # panels per row before a figure wraps onto more rows
_VALUES_UP_TO = 8  # matrices this small have their values written in the cells


def _plt():
    return _optional.pyplot()


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


def _stack(gens: Tensor, where: str) -> Tensor:
    g = gens.detach().double().cpu()
    g = g[None] if g.dim() == 2 else g
    if g.dim() != 3 or g.shape[-1] != g.shape[-2]:
        raise ValueError(f"{where}: generators must be (k, d, d) or (d, d), got {tuple(gens.shape)}")
    return g


def _panels(plt, counts: list[int], panel: tuple[float, float], extra: tuple[float, float] = (1.2, 0.6)):
    """A constrained-layout figure for ``counts[kind]`` panels of each kind (learned, true).

    Wraps after :data:`_MAX_COLS` panels; each block of the wrap has one row per kind.
    Returns ``(fig, axes, where)`` with ``where(kind, i)`` the axes of panel ``i`` of
    ``kind``; unused axes are hidden.
    """
    n, kinds = max(counts), len(counts)
    cols = max(1, min(n, _MAX_COLS))
    blocks = max(1, math.ceil(n / cols))
    rows = blocks * kinds
    fig, axes = plt.subplots(
        rows,
        cols,
        figsize=(panel[0] * cols + extra[0], panel[1] * rows + extra[1]),
        squeeze=False,
        layout="constrained",
    )

    def where(kind: int, i: int):
        return axes[(i // cols) * kinds + kind, i % cols]

    for kind, count in enumerate(counts):
        for i in range(count, blocks * cols):
            where(kind, i).set_visible(False)
    return fig, axes, where


def _rows_of(axes, where, kind: int, count: int) -> list:
    """The rows of axes holding panels ``0 .. count - 1`` of ``kind``.

    Whole rows, hidden axes included, so that the colour bars of wrapped rows line up.
    """
    rows = []
    for i in range(0, count, _MAX_COLS):
        ax = where(kind, i)
        row = next(r for r in range(axes.shape[0]) if axes[r, 0] is ax)
        rows.append(list(axes[row, :]))
    return rows


def _ranges(tops: list[float]) -> tuple[list[float], bool]:
    """Colour ranges for the rows of panels (learned, true) from each row's largest value.

    One range for all when the rows agree within a factor of 2, so the same colour means
    the same value in both; otherwise one per row, so that neither row washes out.
    Returns ``(range per row, shared)``.
    """
    tops = [t if t > 0 else 1.0 for t in tops]
    if max(tops) <= 2 * min(tops):
        return [max(tops)] * len(tops), True
    return tops, False


def _add_colour_bars(fig, axes, where, counts, mappables, shared: bool, names: list[str], shared_name: str):
    """One colour bar for the whole figure when ``shared``, else one per row of panels of each kind."""
    if shared:
        bar = fig.colorbar(mappables[0], ax=list(axes.flat), shrink=0.85 if axes.shape[0] < 3 else 0.6, pad=0.02)
        bar.set_label(shared_name, fontsize=8)
        bar.ax.tick_params(labelsize=7)
        return
    for kind, count in enumerate(counts):
        for row_axes in _rows_of(axes, where, kind, count):
            bar = fig.colorbar(mappables[kind], ax=row_axes, shrink=0.85, pad=0.02)
            bar.set_label(names[kind], fontsize=8)
            bar.ax.tick_params(labelsize=7)


def _fmt_cell(v: float, lim: float) -> str:
    if lim >= 100:
        return f"{v:.0f}"
    if lim >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def _write_values(ax, m, lim: float, fontsize: float) -> None:
    for r, row in enumerate(m):
        for c, v in enumerate(row):
            text = _fmt_cell(float(v), lim)
            if float(text) == 0:
                continue  # blank cells read as zero; fewer numbers to scan
            colour = "white" if abs(v) > 0.6 * lim else "black"
            ax.text(c, r, text, ha="center", va="center", fontsize=fontsize, color=colour)


def _matrix_axes(ax, d: int, labels: list[str] | None, *, xlabel: bool, ylabel: bool) -> None:
    MaxNLocator = _optional.matplotlib().ticker.MaxNLocator

    if labels is not None:
        step = max(1, math.ceil(d / 24))
        ticks = list(range(0, d, step))
        long = max(len(s) for s in labels) > 2
        ax.set_xticks(ticks, [labels[t] for t in ticks], fontsize=7, rotation=90 if long else 0)
        ax.set_yticks(ticks, [labels[t] for t in ticks], fontsize=7)
    elif d <= 12:
        ax.set_xticks(range(d))
        ax.set_yticks(range(d))
        ax.tick_params(labelsize=7)
    else:
        ax.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
        ax.yaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
        ax.tick_params(labelsize=7)
    if xlabel:
        ax.set_xlabel("column j: input x_j", fontsize=8)
    if ylabel:
        ax.set_ylabel("row i: output dx_i/dt", fontsize=8)


def _generators_figure(
    generators: Tensor,
    *,
    truth: Tensor | None = None,
    titles: list[str] | None = None,
    labels: list[str] | None = None,
):
    """The figure of :func:`plot_generators`, not yet saved."""
    plt = _plt()
    gens = _stack(generators, "plot_generators")
    true = None if truth is None else _stack(truth, "plot_generators")
    k, d = gens.shape[0], gens.shape[-1]
    if true is not None and true.shape[-1] != d:
        t = true.shape[-1]
        raise ValueError(f"plot_generators: the learned generators are {d}x{d}, the true ones {t}x{t}")
    if labels is not None and len(labels) != d:
        raise ValueError(f"plot_generators: {len(labels)} labels for {d} coordinates")
    if titles is not None and len(titles) < k:
        raise ValueError(f"plot_generators: {len(titles)} titles for {k} generators")
    counts = [k] if true is None else [k, len(true)]
    show_values = d <= _VALUES_UP_TO
    side = 2.2 + 0.1 * d if show_values else 2.7
    fig, axes, where = _panels(plt, counts, (side, side + 0.25))
    fontsize = min(9.0, max(5.0, 60.0 / d))

    learned = []
    for i in range(k):
        ref = true[i] if true is not None and i < len(true) else None
        learned.append(_sign_fixed(gens[i], ref))
    rows_of = [learned] + ([list(true)] if true is not None else [])
    limits, shared = _ranges([max((float(m.abs().max()) for m in mats), default=0.0) for mats in rows_of])
    images = []
    for kind, mats in enumerate(rows_of):
        lim = limits[kind]
        for i, m in enumerate(mats):
            ax = where(kind, i)
            image = ax.imshow(m.numpy(), cmap="RdBu_r", vmin=-lim, vmax=lim)
            if show_values:
                _write_values(ax, m.numpy(), lim, fontsize)
            _matrix_axes(ax, d, labels, xlabel=True, ylabel=i % _MAX_COLS == 0)
            if kind == 0:
                name = titles[i] if titles else f"learned L{i + 1}"
                if true is not None and i < len(true):
                    name += f"  |cos| = {cosine(gens[i], true[i]):.3f}"
            else:
                name = f"true L{i + 1}"
            ax.set_title(name, fontsize=9)
        images.append(image if mats else None)
    _add_colour_bars(fig, axes, where, counts, images, shared, ["learned entry", "true entry"],
                     "matrix entry" if true is None else "matrix entry (learned and true)")  # fmt: skip
    what = f"{k} generator{'s' if k > 1 else ''} as {d}x{d} matrices"
    if true is not None:
        what += "; |cos|: sign- and scale-invariant cosine with the true generator"
    fig.suptitle(what, fontsize=9)
    return fig


def plot_generators(
    generators: Tensor,
    path: str | Path,
    *,
    truth: Tensor | None = None,
    titles: list[str] | None = None,
    labels: list[str] | None = None,
) -> Path:
    """Heat maps of ``(k, d, d)`` generators; with ``truth``, the true ones in a second row.

    Each learned generator is flipped in sign to match its true counterpart when given
    (the sign of a generator is arbitrary), and its title gives its ``|cos|`` with it.
    Colour ranges are symmetric about 0, with a colour bar: one for the whole figure when
    the learned and true rows' largest entries agree within a factor of 2 (so the same
    colour means the same value in both), else one per row of panels; matrices of ``d <= 8`` have their values written in the cells. ``labels`` names the
    ``d`` coordinates (e.g. ``["x", "y", "z"]``) for the ticks; rows are the output
    ``dx_i/dt``, columns the input ``x_j`` of ``dx/dt = L x``. More than six generators
    wrap onto further rows.
    """
    return _save(_generators_figure(generators, truth=truth, titles=titles, labels=labels), path)


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


def _speed_cmap(plt):
    ListedColormap = _optional.matplotlib().colors.ListedColormap

    return ListedColormap(plt.get_cmap("viridis")(torch.linspace(0, 0.85, 256).numpy()))  # no pale yellow


def _vector_fields_figure(generators: Tensor, grid: Grid, *, truth: Tensor | None = None, margin: int = 1):
    """The figure of :func:`plot_vector_fields`, not yet saved."""
    if grid.ndim != 2:
        raise ValueError(f"plot_vector_fields: needs a 2-D grid, got {grid!r}")
    Normalize = _optional.matplotlib().colors.Normalize

    plt = _plt()
    gens = _stack(generators, "plot_vector_fields")
    true = None if truth is None else _stack(truth, "plot_vector_fields")
    k = len(gens)
    counts = [k] if true is None else [k, len(true)]
    aspect = grid.shape[0] / grid.shape[1]  # height / width of a panel
    side = 3.0
    fig, axes, where = _panels(plt, counts, (side, side * aspect + 0.45))
    xy = grid.coordinates(dtype=torch.float64)
    half = torch.tensor([(s - 1) / 2 for s in reversed(grid.shape)], dtype=torch.float64)
    inside = ((xy.abs() <= half - margin).all(-1)).numpy()
    if not inside.any():
        inside[:] = True  # too small a grid for a margin
    pts = xy.numpy()
    cmap = _speed_cmap(plt)

    learned = []
    for i in range(k):
        ref = true[i] if true is not None and i < len(true) else None
        learned.append(_sign_fixed(gens[i], ref))
    rows_of = [learned] + ([list(true)] if true is not None else [])
    fields = [[vector_field(g, grid).numpy()[inside] for g in mats] for mats in rows_of]
    speeds = [[(f**2).sum(-1) ** 0.5 for f in row] for row in fields]
    limits, shared = _ranges([max((float(s.max()) for s in row), default=0.0) for row in speeds])
    arrows_of = []
    for kind in range(len(rows_of)):
        norm = Normalize(vmin=0.0, vmax=limits[kind])
        arrows = None
        for i, (v, s) in enumerate(zip(fields[kind], speeds[kind])):
            ax = where(kind, i)
            longest = float(s.max()) or 1.0
            arrows = ax.quiver(
                pts[inside, 0],
                pts[inside, 1],
                v[:, 0],
                v[:, 1],
                s,
                cmap=cmap,
                norm=norm,
                angles="xy",
                scale_units="xy",
                scale=longest / 0.9,  # the fastest arrow of the panel spans 0.9 pixels
                pivot="mid",
                width=0.012,
            )
            ax.set_xlim(pts[:, 0].min() - 0.7, pts[:, 0].max() + 0.7)
            ax.set_ylim(pts[:, 1].max() + 0.7, pts[:, 1].min() - 0.7)  # rows grow downwards, as in the image
            ax.set_aspect("equal")
            ax.tick_params(labelsize=7)
            ax.set_xlabel("x (pixels)", fontsize=8)
            if i % _MAX_COLS == 0:
                ax.set_ylabel("y (pixels, down)", fontsize=8)
            if kind == 0:
                name = f"learned L{i + 1}"
                if true is not None and i < len(true):
                    name += f"  |cos| = {cosine(gens[i], true[i]):.3f}"
            else:
                name = f"true L{i + 1}"
            ax.set_title(name, fontsize=9)
        arrows_of.append(arrows)
    name = "speed (pixels per unit t)"
    _add_colour_bars(fig, axes, where, counts, arrows_of, shared, [f"learned {name}", f"true {name}"], name)
    fig.suptitle("flow of each generator on the grid: colour = speed, arrow length scaled per panel", fontsize=9)
    return fig


def plot_vector_fields(
    generators: Tensor, grid: Grid, path: str | Path, *, truth: Tensor | None = None, margin: int = 1
) -> Path:
    """Quiver plots of the flow of each generator on a 2-D grid (true flows below them when given).

    Arrows are coloured by speed (pixels per unit of the group parameter; one colour bar
    for the whole figure when the learned and true top speeds agree within a factor of 2,
    else one per row of panels); their lengths are scaled per panel so the fastest spans most of a
    pixel. With ``truth``, each learned panel's title gives its ``|cos|`` with the true
    generator. Nodes within ``margin`` of the edge are left out.
    """
    return _save(_vector_fields_figure(generators, grid, truth=truth, margin=margin), path)


def _history_figure(history: dict[str, list[float]], *, title: str = "training loss"):
    """The figure of :func:`plot_history`, not yet saved."""
    plt = _plt()
    MaxNLocator = _optional.matplotlib().ticker.MaxNLocator
    fig, ax = plt.subplots(figsize=(5.0, 3.4), layout="constrained")
    loss = list(history.get("loss", []))
    ax.plot(range(1, len(loss) + 1), loss, marker="o", ms=3, label="loss")
    log = bool(loss) and min(loss) > 0
    identity = history.get("identity_loss") or []
    if identity and identity[0] > 0 and loss:
        ax.axhline(identity[0], ls="--", color="grey", lw=1, label="no transformation (y = x)")
        ax.legend(fontsize=7)
    if log:
        ax.set_yscale("log")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean squared error" + (" (log scale)" if log else ""))
    seconds = history.get("seconds") or []
    if seconds:
        title = f"{title} ({_duration(float(seconds[-1]))} in total)"
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    return fig


def _duration(s: float) -> str:
    if s < 60:
        return f"{s:.1f} s"
    if s < 3600:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


def plot_history(history: dict[str, list[float]], path: str | Path, *, title: str = "training loss") -> Path:
    """Loss against epoch (log scale when positive); the title notes the total time of ``history["seconds"]``.

    ``seconds`` is the time since the start at each epoch, as :func:`lconv.discovery.fit_pairs`
    records it; an ``identity_loss`` (the loss of taking ``y = x``) is drawn as a reference line.
    """
    return _save(_history_figure(history, title=title), path)


def _algebra_figure(generators: Tensor, *, names: list[str] | None = None, title: str | None = None):
    """The figure of :func:`plot_algebra`, not yet saved."""
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
    fig = plt.figure(
        figsize=(max(2.3 * cols + 1.0, 0.5 * k + 3.2), 2.4 * rows + table_h + 0.4), layout="constrained"
    )
    grid = fig.add_gridspec(rows + (1 if pairs else 0), cols, height_ratios=[2.4] * rows + ([table_h] if pairs else []))
    lim = float(gens.abs().max()) or 1.0  # one colour range for all matrices, so one colour bar
    mat_axes, image = [], None
    for i in range(k):
        ax = fig.add_subplot(grid[i // cols, i % cols])
        image = ax.imshow(gens[i].numpy(), cmap="RdBu_r", vmin=-lim, vmax=lim)
        ax.set_title(names[i], fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        mat_axes.append(ax)
    bar = fig.colorbar(image, ax=mat_axes, shrink=0.85, pad=0.02)
    bar.set_label("matrix entry", fontsize=8)
    bar.ax.tick_params(labelsize=7)
    sc = structure_constants(gens)
    if pairs:
        table = torch.stack([sc.constants[i, j] for i, j in pairs]).numpy()  # (pairs, k)
        ax = fig.add_subplot(grid[rows, :])
        tlim = float(abs(table).max()) or 1.0
        shown = ax.imshow(table, cmap="RdBu_r", vmin=-tlim, vmax=tlim, aspect="auto")
        ax.set_yticks(range(len(pairs)), [f"[{names[i]}, {names[j]}]" for i, j in pairs], fontsize=7)
        ax.set_xticks(range(k), names, fontsize=7)
        ax.set_xlabel("k: component along L_k", fontsize=8)
        if k <= 6:
            for r, row in enumerate(table):
                for c, v in enumerate(row):
                    if abs(v) >= 0.005 * tlim:
                        colour = "white" if abs(v) > 0.6 * tlim else "black"
                        ax.text(c, r, f"{v:.2f}", ha="center", va="center", fontsize=7, color=colour)
        ax.set_title(f"structure constants c_ij^k (closure residual {sc.residual:.3f})", fontsize=9)
        tbar = fig.colorbar(shown, ax=ax, pad=0.02)
        tbar.set_label("c_ij^k", fontsize=8)
        tbar.ax.tick_params(labelsize=7)
    fig.suptitle(title or f"algebra of {k} generator{'s' if k > 1 else ''}", fontsize=10)
    return fig


def plot_algebra(
    generators: Tensor, path: str | Path, *, names: list[str] | None = None, title: str | None = None
) -> Path:
    """A Lie algebra as a picture: its generators as matrix heat maps, and its structure constants.

    The matrices share one symmetric colour range and colour bar. The table below them
    has one row per bracket ``[L_i, L_j]`` (``i < j``) and one column per ``L_k``: the
    least-squares ``c_ij^k`` of ``[L_i, L_j] = sum_k c_ij^k L_k``
    (:func:`lconv.algebra.structure_constants`), with its own colour bar, annotated when
    there are few; the title gives the closure residual. Draw an aligned basis
    (:func:`lconv.analysis.align`) to compare with a known algebra's constants.

    Shapes: ``generators (k, d, d)``.
    """
    return _save(_algebra_figure(generators, names=names, title=title), path)


def _spectrum_figure(
    singular_values: Tensor, *, n_symmetries: int | None = None, title: str = "constraint spectrum"
):
    """The figure of :func:`plot_spectrum`, not yet saved."""
    plt = _plt()
    s = singular_values.detach().double().cpu().clamp_min(1e-16).numpy()
    fig, ax = plt.subplots(figsize=(6.0, 4.0), layout="constrained")
    cut = min(n_symmetries or 0, len(s))
    idx = list(range(1, len(s) + 1))
    word = "symmetry" if cut == 1 else "symmetries"
    if cut:
        ax.scatter(idx[:cut], s[:cut], color="C3", s=14, label=f"{word} ({cut})")
    if cut < len(s):
        ax.scatter(idx[cut:], s[cut:], color="C0", s=12, label=f"other directions ({len(s) - cut})")
    if 0 < cut < len(s):
        ax.axvline(cut + 0.5, ls="--", color="grey", lw=1, label=f"cut: {cut} {word}")
    ax.set_yscale("log")
    ax.set_xlabel("direction of the search space, ascending residual", fontsize=9)
    ax.set_ylabel("residual (0: exact symmetry, ~1: random generator)\n(log scale)", fontsize=8)
    ax.set_title(f"{title}: {cut} {word}", fontsize=9)
    ax.grid(alpha=0.3)
    if len(s):
        ax.legend(fontsize=8, loc="best")
    return fig


def plot_spectrum(
    singular_values: Tensor, path: str | Path, *, n_symmetries: int | None = None, title: str = "constraint spectrum"
) -> Path:
    """Residuals of all generators of a search space, ascending, log scale, with the symmetry cut.

    ``singular_values`` as :func:`lconv.discovery.fit_dataset` returns them; the first
    ``n_symmetries`` are drawn in another colour, left of a dashed line; the legend gives
    the counts on each side of the cut.
    """
    return _save(_spectrum_figure(singular_values, n_symmetries=n_symmetries, title=title), path)
