r"""How well a discovered topology matches a known lattice, and its figures.

The truth is a permutation ``perm`` of the pixels of an ``H x W`` image (the convention
of :func:`lconv.data.pixel_permutation`): scrambled node ``j`` is original pixel
``perm[j]``, i.e. sits at ``(perm[j] // W, perm[j] % W)``.

* :func:`grid_edges`: the true 4-neighbour edges, among the scrambled nodes.
* :func:`edge_recovery`: recall (share of true edges found) and precision (share of
  found edges that are true).
* :func:`lattice_recovery`: the share of nodes a recovered ``order`` puts at their true
  site, after the best of the 8 symmetries of the square and the best shift.
* :func:`plot_recovered_graph`, :func:`plot_unscrambled`: the figures.
* :func:`save_topology`, :func:`load_topology`: a :class:`~lconv.discovery.TopologyResult`
  as a ``.npz`` file (arrays and a JSON header, no pickle).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .. import _optional
from .._io import write_bytes
from ..discovery import TopologyResult
from ._figures import _plt, _save

__all__ = [
    "edge_recovery",
    "grid_edges",
    "lattice_recovery",
    "load_topology",
    "plot_recovered_graph",
    "plot_unscrambled",
    "save_topology",
]


def _shape(shape, where: str) -> tuple[int, int]:
    try:
        h, w = (int(s) for s in shape)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{where}: shape must be (H, W), got {shape!r}") from err
    if h < 1 or w < 1:
        raise ValueError(f"{where}: shape must be positive, got {(h, w)}")
    return h, w


def _perm(perm, d: int, where: str) -> np.ndarray:
    if perm is None:
        return np.arange(d)
    p = np.asarray(torch.as_tensor(perm).cpu()).astype(np.int64).reshape(-1)
    if len(p) != d or not np.array_equal(np.sort(p), np.arange(d)):
        raise ValueError(f"{where}: perm must be a permutation of 0..{d - 1}; pass lconv.data.pixel_permutation(H * W)")
    return p


def _nodes(nodes, d: int) -> np.ndarray:
    """Boolean mask ``(d,)`` from a mask or an index list (all nodes when None)."""
    if nodes is None:
        return np.ones(d, dtype=bool)
    a = np.asarray(torch.as_tensor(nodes).cpu())
    if a.dtype == bool:
        if a.shape != (d,):
            raise ValueError(f"nodes: a mask must have shape ({d},), got {a.shape}")
        return a
    m = np.zeros(d, dtype=bool)
    m[a.astype(np.int64)] = True
    return m


def _pairs(edges, where: str) -> np.ndarray:
    e = np.asarray(torch.as_tensor(edges).cpu()).astype(np.int64)
    if e.size == 0:
        return np.zeros((0, 2), dtype=np.int64)
    if e.ndim != 2 or e.shape[1] != 2:
        raise ValueError(f"{where}: edges must be (E, 2), got {e.shape}; transpose an edge_index (2, E) with .T")
    return np.sort(e, axis=1)


def grid_edges(shape: tuple[int, int], perm: Tensor | None = None) -> Tensor:
    """The 4-neighbour edges of an ``H x W`` lattice, ``(E, 2)`` int64, each once (smaller node first).

    With ``perm`` (scrambled node ``j`` is pixel ``perm[j]``), the edges join the scrambled
    nodes whose pixels are neighbours; without it, the row-major pixels themselves.
    ``E = H (W - 1) + W (H - 1)``.
    """
    h, w = _shape(shape, "grid_edges")
    p = _perm(perm, h * w, "grid_edges")
    node_at = np.empty(h * w, dtype=np.int64)
    node_at[p] = np.arange(h * w)
    idx = np.arange(h * w).reshape(h, w)
    pix = np.concatenate(
        [np.stack([idx[:, :-1].ravel(), idx[:, 1:].ravel()], 1), np.stack([idx[:-1].ravel(), idx[1:].ravel()], 1)]
    )
    return torch.from_numpy(np.sort(node_at[pix], axis=1))


def edge_recovery(edges: Tensor, true_edges: Tensor, *, nodes: Tensor | None = None) -> dict[str, float]:
    """Recall and precision of recovered undirected edges against the true ones.

    ``recall = |found & true| / |true|`` and ``precision = |found & true| / |found|``,
    edges compared without direction. With ``nodes`` (a mask ``(d,)`` or indices, e.g. the
    pixels that vary), only true edges with both ends in ``nodes`` count for the recall
    (the others cannot be seen in the data); every found edge counts for the precision.

    Returns:
        ``{"recall", "precision", "found", "true", "correct"}``.
    """
    found = np.unique(_pairs(edges, "edge_recovery"), axis=0)
    true = np.unique(_pairs(true_edges, "edge_recovery"), axis=0)
    d = int(max(found.max(initial=-1), true.max(initial=-1))) + 1
    if nodes is not None:
        a = np.asarray(torch.as_tensor(nodes).cpu())
        if a.dtype == bool:
            if len(a) < d:
                raise ValueError(f"edge_recovery: nodes mask has {len(a)} entries for edges on {d} nodes")
            m = a
        else:
            m = np.zeros(max(d, int(a.max(initial=-1)) + 1), dtype=bool)
            m[a.astype(np.int64)] = True
        true = true[m[true[:, 0]] & m[true[:, 1]]]
    key = max(d, 1)
    hit = np.isin(found[:, 0] * key + found[:, 1], true[:, 0] * key + true[:, 1])
    correct = int(hit.sum())
    return {
        "recall": correct / len(true) if len(true) else float("nan"),
        "precision": correct / len(found) if len(found) else float("nan"),
        "found": len(found),
        "true": len(true),
        "correct": correct,
    }


def _symmetries(p: np.ndarray):
    """The 8 images of integer points ``(n, 2)`` under the rotations and reflections of the square."""
    r, c = p[:, 0], p[:, 1]
    for flip in (False, True):
        cc = -c if flip else c
        q = np.stack([r, cc], 1)
        for turn in range(4):
            yield (turn, flip), q
            q = np.stack([q[:, 1], -q[:, 0]], 1)


def lattice_recovery(
    order: Tensor, perm: Tensor, shape: tuple[int, int], *, nodes: Tensor | None = None
) -> dict[str, object]:
    r"""Share of nodes a recovered lattice places at their true site, up to the symmetries of the square.

    ``order[p]`` is the node put at site ``p`` (as :attr:`lconv.discovery.TopologyResult.order`),
    so node ``j`` is placed at ``s_j``; its true site is ``t_j = perm[j]``. The score is
    ``max_{g, b} |{j in nodes: g(s_j) + b = t_j}| / |nodes|`` over the 8 rotations and
    reflections ``g`` of the square and all integer shifts ``b`` (for each ``g`` the best
    ``b`` is the most common ``t_j - g(s_j)``).

    Args:
        order: ``(d,)`` permutation.
        perm: ``(d,)`` true permutation (scrambled node ``j`` is pixel ``perm[j]``).
        shape: ``(H, W)``.
        nodes: the nodes that count (mask or indices), e.g. the pixels that vary; all by default.

    Returns:
        ``{"fraction", "correct", "counted", "symmetry": (quarter_turns, flipped), "shift": (dr, dc)}``.
    """
    h, w = _shape(shape, "lattice_recovery")
    d = h * w
    o = _perm(order, d, "lattice_recovery")
    p = _perm(perm, d, "lattice_recovery")
    m = _nodes(nodes, d)
    site = np.empty(d, dtype=np.int64)
    site[o] = np.arange(d)
    s = np.stack([site // w, site % w], 1)[m]
    t = np.stack([p // w, p % w], 1)[m]
    best = (-1, (0, False), (0, 0))
    for g, gs in _symmetries(s):
        diff = t - gs
        if not len(diff):
            continue
        u, cnt = np.unique(diff, axis=0, return_counts=True)
        i = int(np.argmax(cnt))
        if cnt[i] > best[0]:
            best = (int(cnt[i]), g, (int(u[i, 0]), int(u[i, 1])))
    counted = int(m.sum())
    correct = max(best[0], 0)
    return {
        "fraction": correct / counted if counted else float("nan"),
        "correct": correct,
        "counted": counted,
        "symmetry": best[1],
        "shift": best[2],
    }


def _graph_figure(edges, perm, shape, *, constant=None, title=None):
    plt = _plt()
    h, w = _shape(shape, "plot_recovered_graph")
    p = _perm(perm, h * w, "plot_recovered_graph")
    e = np.unique(_pairs(edges, "plot_recovered_graph"), axis=0)
    true = np.asarray(grid_edges((h, w), torch.from_numpy(p)))
    key = h * w
    ok = np.isin(e[:, 0] * key + e[:, 1], true[:, 0] * key + true[:, 1])
    yx = np.stack([p // w, p % w], 1).astype(float)
    fig, ax = plt.subplots(figsize=(5.2, 5.6))
    LineCollection = _optional.matplotlib().collections.LineCollection

    def seg(sel):
        return np.stack([yx[e[sel, 0]][:, ::-1], yx[e[sel, 1]][:, ::-1]], 1)

    ax.add_collection(LineCollection(seg(ok), colors="tab:blue", linewidths=0.8, label=f"true edges ({int(ok.sum())})"))
    ax.add_collection(
        LineCollection(seg(~ok), colors="tab:red", linewidths=1.2, label=f"false edges ({int((~ok).sum())})")
    )
    ax.scatter(yx[:, 1], yx[:, 0], s=2, c="0.6", zorder=0)
    if constant is not None and len(np.asarray(torch.as_tensor(constant))):
        cst = np.asarray(torch.as_tensor(constant)).astype(np.int64)
        ax.scatter(yx[cst, 1], yx[cst, 0], s=6, marker="x", c="0.3", label=f"constant ({len(cst)})")
    ax.set_xlim(-1, w)
    ax.set_ylim(h, -1)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.01), ncol=3, fontsize=8, frameon=False)
    ax.set_title(title or "recovered graph on the true pixel positions")
    return fig


def plot_recovered_graph(
    edges: Tensor,
    perm: Tensor,
    shape: tuple[int, int],
    path: str | Path,
    *,
    constant: Tensor | None = None,
    title: str | None = None,
) -> Path:
    """The recovered edges ``(E, 2)`` drawn on the true pixel positions (``perm``): true 4-neighbour
    edges blue, false ones red; ``constant`` nodes marked with a cross. Writes a PNG to ``path``."""
    return _save(_graph_figure(edges, perm, shape, constant=constant, title=title), path)


def _unscrambled_figure(scrambled, order, perm, shape, *, title=None):
    plt = _plt()
    h, w = _shape(shape, "plot_unscrambled")
    x = torch.as_tensor(scrambled).detach().cpu().double().reshape(-1, h * w)
    o = _perm(order, h * w, "plot_unscrambled")
    p = _perm(perm, h * w, "plot_unscrambled")
    n = len(x)
    fig, axes = plt.subplots(n, 3, figsize=(6.0, 2.0 * n + 0.4), squeeze=False)
    for i in range(n):
        original = np.zeros(h * w)
        original[p] = x[i].numpy()
        panels = (x[i].numpy(), x[i, torch.from_numpy(o)].numpy(), original)
        for j, (img, name) in enumerate(zip(panels, ("scrambled", "recovered", "original"), strict=True)):
            ax = axes[i, j]
            ax.imshow(img.reshape(h, w), cmap="gray", interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(name)
    if title:
        fig.suptitle(title)
    return fig


def plot_unscrambled(
    scrambled: Tensor,
    order: Tensor,
    perm: Tensor,
    shape: tuple[int, int],
    path: str | Path,
    *,
    title: str | None = None,
) -> Path:
    """Scrambled images ``(n, d)`` put back in order: one row each, scrambled | recovered (``x[order]``)
    | original (from the true ``perm``). The recovered image may be a rotated or reflected copy
    of the original (the lattice is found up to the symmetries of the square). Writes a PNG."""
    return _save(_unscrambled_figure(scrambled, order, perm, shape, title=title), path)


# -- the topology as a file ---------------------------------------------------------------------------------------------


def save_topology(result, path: str | Path) -> Path:
    """Write a :class:`~lconv.discovery.TopologyResult` to ``path`` (``.npz``; arrays and a JSON header, no pickle)."""
    header = dict(num_nodes=result.num_nodes, graph=result.graph, shape=result.shape, lattice_fit=result.lattice_fit,
                  num_samples=result.num_samples, seconds=result.seconds)  # fmt: skip
    arrays = dict(
        edges=result.edges.numpy(),
        weights=result.weights.numpy(),
        knn_edges=result.knn_edges.numpy(),
        constant=result.constant.numpy(),
        isolated=result.isolated.numpy(),
        coordinates=result.coordinates.numpy(),
        order=(np.zeros(0, np.int64) if result.order is None else result.order.numpy()),
        header=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8),
    )
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    path = Path(path)
    write_bytes(path, buf.getvalue())
    return path


def load_topology(path: str | Path):
    """The :class:`~lconv.discovery.TopologyResult` written by :func:`save_topology`."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            a = {k: z[k] for k in z.files}
        header = json.loads(a.pop("header").tobytes().decode())
    except (OSError, ValueError, KeyError) as exc:
        raise ValueError(f"topology file {path} is unreadable ({exc}); delete it to fit the topology again") from None
    t = {k: torch.from_numpy(v) for k, v in a.items()}
    return TopologyResult(
        edges=t["edges"],
        weights=t["weights"],
        num_nodes=int(header["num_nodes"]),
        graph=header["graph"],
        knn_edges=t["knn_edges"],
        constant=t["constant"],
        isolated=t["isolated"],
        coordinates=t["coordinates"],
        order=t["order"] if len(t["order"]) else None,
        shape=None if header["shape"] is None else tuple(header["shape"]),
        lattice_fit=header["lattice_fit"],
        num_samples=int(header["num_samples"]),
        seconds=header["seconds"],
    )
