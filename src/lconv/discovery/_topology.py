r"""Topology discovery: the graph, and where the data allow it the lattice, hidden behind a fixed permutation of the nodes.

A fixed permutation of the pixels hides where each pixel sits, not how pixels co-vary:
neighbouring pixels stay strongly correlated across images whatever their new indices.
:func:`fit_topology` reads the graph off the correlations of unlabelled samples
``x`` of shape ``(N, d)``, and when the graph is a square lattice it puts every node back
at a site of an ``H x W`` grid (up to the symmetries of the lattice: the 8 rotations and
reflections of the square, and shifts, which no statistic of the samples can tell apart).

Method (see :func:`fit_topology` for the assumptions):

1. **Correlation.** Each node is standardised across samples,
   ``z[:, v] = (x[:, v] - mean_v) / std_v``, and ``C = z^T z / N`` (``d x d``).
   Nodes whose values never vary (``std_v <= tol * max std``) are *constant*: they carry
   no information about their place and are reported and left isolated.
2. **Graph.** Mutual ``k``-nearest neighbours: ``u ~ v`` when ``v`` is among the ``k``
   nodes most correlated with ``u`` and ``u`` among those of ``v``. Edge weight ``C[u, v]``.
3. **Lattice** (when a shape ``(H, W)`` is given or ``d`` is a square). A quadratic
   assignment of nodes to sites, maximising
   ``J = sum_{sites p, q} K(q - p) C[node(p), node(q)]`` with ``K = 1`` for the four
   lattice neighbours and ``1/2`` for the four diagonals, solved greedily and then refined:

   * *growth*: start from the node most tightly tied to its ``4`` best partners (largest
     4th correlation); repeatedly place the unplaced node and free site (next to a placed
     one, keeping the placed region within ``H x W``) with the largest evidence
     ``S[w, s] = sum_{placed z} K(s - pos_z) C[w, z]`` (kept up to date in ``O(d)`` per step).
     Nodes with few effective samples ``N / mean(z^4) < min_effective`` (pixels that leave
     the background in a handful of images: two such pixels lit in the same image correlate
     near 1 wherever they are) wait until the others have grown the lattice;
   * *line shifts*: move the contents of a whole row or column by one site when that
     increases ``J`` (undoes a border line grown one site off, which no single swap can);
   * *local swaps*: exchange each node with any node or empty site within two steps when
     that increases ``J``, until no exchange does.

   The lattice is *found* when at least ``min_fit`` of the ``k``-NN graph's edges between
   reliable nodes join lattice neighbours. The graph returned is then the lattice's own: the 4-neighbour
   pairs of the placement among the varying nodes (the ``k``-NN graph stays in
   ``knn_edges``); it repairs the edges that correlation alone ranks wrongly (anisotropic
   content, e.g. long vertical strokes). Constant nodes fill the free sites (row-major),
   so ``order`` is a permutation of the ``d`` nodes, but their sites are not evidence of anything.
4. **Coordinates.** The lattice sites ``(row, col)`` when the lattice is found; otherwise
   the Laplacian eigenmap of the weighted graph (eigenvectors 2 and 3 of
   ``L = D - A``), with NaN for isolated nodes.

Cost: the correlations take ``O(N d^2)`` (one matrix product), the growth ``O(d^2)``
with numpy, each pass of swaps ``O(d)`` in Python. On the 54,000 rotated+scrambled MNIST
training images (``d = 784``) the whole fit takes about 2-5 s on 2 cores and puts 99.5%
of the varying pixels at their true site; about 2,000 images suffice there (97%), 1,000
do not (the lattice is then not claimed). See ``docs/results/topology.md``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

__all__ = ["TopologyResult", "fit_topology"]

# Lattice kernel K: the four neighbours weigh 1, the four diagonals 1/2.
_KERNEL = (
    ((1, 0), 1.0),
    ((-1, 0), 1.0),
    ((0, 1), 1.0),
    ((0, -1), 1.0),
    ((1, 1), 0.5),
    ((1, -1), 0.5),
    ((-1, 1), 0.5),
    ((-1, -1), 0.5),
)
_FOUR = ((1, 0), (-1, 0), (0, 1), (0, -1))


@dataclass
class TopologyResult:
    """What :func:`fit_topology` found.

    Attributes:
        edges: int64 ``(E, 2)``, each undirected edge once with ``edges[:, 0] < edges[:, 1]``:
            the lattice's 4-neighbour edges when the lattice is found, else ``knn_edges``.
        weights: float64 ``(E,)``, the correlation of each edge's two nodes.
        graph: ``"lattice"`` or ``"knn"``, where ``edges`` come from.
        knn_edges: int64 ``(E', 2)``, the mutual ``k``-nearest-neighbour graph of the correlations.
        num_nodes: ``d``.
        constant: int64 indices of the nodes that never vary (isolated, never placed by evidence).
        isolated: int64 indices of all nodes without an edge (the constant ones included).
        coordinates: float64 ``(d, 2)``: lattice ``(row, col)`` when the lattice is found,
            else the Laplacian eigenmap; NaN for constant nodes (and isolated ones in the eigenmap).
        order: int64 ``(d,)`` or ``None``: ``order[p]`` is the node at lattice site ``p``
            (row-major on ``shape``), so ``x[:, order]`` puts scrambled samples back on the
            lattice; ``None`` when no lattice was found.
        shape: ``(H, W)`` of the lattice that was tried, or ``None``.
        lattice_fit: share of the ``k``-NN graph's edges that join lattice neighbours in the
            placement (``None`` when no lattice was tried).
        num_samples: ``N``.
        seconds: wall time of each stage (``correlation``, ``graph``, ``lattice``, ``total``).
    """

    edges: Tensor
    weights: Tensor
    num_nodes: int
    graph: str
    knn_edges: Tensor
    constant: Tensor
    isolated: Tensor
    coordinates: Tensor
    order: Tensor | None = None
    shape: tuple[int, int] | None = None
    lattice_fit: float | None = None
    num_samples: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def edge_index(self) -> Tensor:
        """Directed edges ``(2, 2E)``, both directions of each edge, for :mod:`lconv.algebra` and
        :meth:`lconv.nn.LocalGenerators.on_graph`."""
        e = self.edges.T
        return torch.cat([e, e.flip(0)], dim=1).contiguous()

    @property
    def lattice_found(self) -> bool:
        return self.order is not None

    def unscramble(self, x: Tensor) -> Tensor:
        """Samples ``(..., d)`` rearranged onto the lattice: ``(..., H, W)``."""
        if self.order is None:
            raise ValueError("unscramble: no lattice was found; check result.lattice_fit, or pass shape=(H, W)")
        x = torch.as_tensor(x)
        if x.shape[-1] != self.num_nodes:
            raise ValueError(f"unscramble: samples have {x.shape[-1]} nodes, the topology {self.num_nodes}")
        return x[..., self.order.to(x.device)].reshape(*x.shape[:-1], *self.shape)

    def __repr__(self) -> str:
        lat = "no lattice" if self.order is None else f"lattice {self.shape[0]}x{self.shape[1]}"
        fit = "" if self.lattice_fit is None else f", lattice_fit={self.lattice_fit:.3f}"
        return (
            f"TopologyResult({self.num_nodes} nodes, {len(self.edges)} edges, {len(self.constant)} constant, "
            f"{lat}{fit}, {self.seconds.get('total', 0.0):.2f} s)"
        )


def _check_x(x, min_samples: int) -> Tensor:
    if not isinstance(x, Tensor):
        try:
            x = torch.as_tensor(np.asarray(x))
        except (TypeError, ValueError) as err:
            raise TypeError(
                f"fit_topology: x must be a tensor or array of shape (N, d), got {type(x).__name__}"
            ) from err
    if x.dim() == 3:
        x = x.reshape(len(x), -1)
    if x.dim() != 2:
        raise ValueError(f"fit_topology: x must be (N, d) samples (or (N, H, W) images), got shape {tuple(x.shape)}")
    if not (x.dtype.is_floating_point or x.dtype in (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)):
        raise TypeError(f"fit_topology: x must hold numbers, got {x.dtype}")
    n, d = x.shape
    if d < 2:
        raise ValueError(f"fit_topology: x has {d} node(s); a graph needs at least 2 columns")
    if n < min_samples:
        raise ValueError(
            f"fit_topology: {n} samples are too few for a stable correlation estimate; "
            f"pass at least {min_samples} samples (or lower min_samples)"
        )
    if x.dtype.is_floating_point and not torch.isfinite(x).all():
        raise ValueError(
            "fit_topology: x contains NaN or inf; drop those samples (x[torch.isfinite(x).all(1)]) or impute them first"
        )
    return x


def _correlation(x: Tensor, tol: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Correlation matrix ``(d, d)`` float64 (zero rows/cols for constant nodes, zero diagonal), the varying
    mask, and each node's effective number of samples ``N / mean(z^4)`` (``N / 3`` for a Gaussian, ``m`` for a
    node that leaves its usual value in only ``m`` samples)."""
    xf = x.double() if x.dtype == torch.float64 else x.float()
    mean = xf.double().mean(0)
    std = xf.double().std(0, unbiased=False)
    top = float(std.max())
    vary = std > tol * top if top > 0 else torch.zeros_like(std, dtype=torch.bool)
    scale = torch.where(vary, 1.0 / std.clamp_min(1e-300), torch.zeros_like(std))
    z = (xf - mean.to(xf.dtype)) * scale.to(xf.dtype)
    c = (z.T @ z).double().numpy() / len(x)
    np.fill_diagonal(c, 0.0)
    kurt = z.double().pow(4).mean(0)
    n_eff = torch.where(vary, len(x) / kurt.clamp_min(1e-300), torch.zeros_like(kurt))
    return c, vary.numpy(), n_eff.numpy()


def _mutual_knn(c: np.ndarray, vary: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    nodes = np.flatnonzero(vary)
    kk = min(k, len(nodes) - 1)
    s = c[np.ix_(nodes, nodes)].copy()
    np.fill_diagonal(s, -np.inf)
    nn = np.argpartition(-s, kk - 1, axis=1)[:, :kk]
    a = np.zeros((len(nodes), len(nodes)), dtype=bool)
    a[np.arange(len(nodes))[:, None], nn] = True
    a &= a.T
    i, j = np.nonzero(np.triu(a, 1))
    edges = np.stack([nodes[i], nodes[j]], 1).astype(np.int64).reshape(-1, 2)
    return edges, c[edges[:, 0], edges[:, 1]]


def _grow(c: np.ndarray, nodes: np.ndarray, reliable: np.ndarray, span: int) -> np.ndarray:
    """Greedy growth of the placement on a canvas; returns ``(d, 2)`` canvas positions (-1 unplaced).

    The ``reliable`` nodes grow the lattice first; the others (whose correlations rest on a
    few samples and can be spuriously high) only fill it in afterwards.
    """
    d = len(c)
    rows = cols = 2 * span + 1
    evidence = np.zeros((d, rows * cols), dtype=np.float32)
    site = -np.ones(rows * cols, dtype=np.int64)
    pos = -np.ones((d, 2), dtype=np.int64)
    unplaced = np.zeros(d, dtype=bool)
    first = nodes[reliable[nodes]] if reliable[nodes].any() else nodes
    unplaced[first] = True
    fourth = np.sort(c[first], axis=1)[:, -min(4, d - 1)]
    frontier: set[int] = set()
    box = [span, span, span, span]  # rmin, rmax, cmin, cmax
    ccol = c.astype(np.float32)

    def place(w: int, r: int, q: int) -> None:
        pos[w] = (r, q)
        site[r * cols + q] = w
        unplaced[w] = False
        box[:] = [min(box[0], r), max(box[1], r), min(box[2], q), max(box[3], q)]
        for (dr, dq), kw in _KERNEL:
            rr, qq = r + dr, q + dq
            if 0 <= rr < rows and 0 <= qq < cols:
                evidence[:, rr * cols + qq] += kw * ccol[:, w]
        frontier.discard(r * cols + q)
        for dr, dq in _FOUR:
            rr, qq = r + dr, q + dq
            if 0 <= rr < rows and 0 <= qq < cols and site[rr * cols + qq] < 0:
                frontier.add(rr * cols + qq)

    place(int(first[np.argmax(fourth)]), span, span)
    while True:
        if not unplaced.any():
            rest = nodes[pos[nodes, 0] < 0]
            if not len(rest):
                break
            unplaced[rest] = True
        fr = np.array(
            [
                s
                for s in sorted(frontier)
                if max(box[1], s // cols) - min(box[0], s // cols) < span
                and max(box[3], s % cols) - min(box[2], s % cols) < span
            ],
            dtype=np.int64,
        )
        if not len(fr):
            break
        un = np.flatnonzero(unplaced)
        best = int(np.argmax(evidence[np.ix_(un, fr)]))
        w, s = int(un[best // len(fr)]), int(fr[best % len(fr)])
        place(w, s // cols, s % cols)
    return pos


def _objective(c: np.ndarray, grid: np.ndarray) -> float:
    """``J = sum_{p, q} K(q - p) C[node(p), node(q)]`` over the occupied sites of ``grid`` (each pair once)."""
    h, w = grid.shape
    total = 0.0
    for (dr, dq), kw in (((1, 0), 1.0), ((0, 1), 1.0), ((1, 1), 0.5), ((1, -1), 0.5)):
        a = grid[: h - dr, max(0, -dq) : w - max(0, dq)]
        b = grid[dr:, max(0, dq) : w - max(0, -dq)]
        ok = (a >= 0) & (b >= 0)
        total += kw * float(c[a[ok], b[ok]].sum())
    return total


def _shift_lines(c: np.ndarray, grid: np.ndarray) -> int:
    """Move the contents of whole rows and columns by one site along themselves when that raises ``J``.

    Local swaps cannot undo a border line placed one site off as a block (each single swap
    breaks more than it mends); this move can. In place; returns the lines moved.
    """
    moved = 0
    best = _objective(c, grid)
    for axis in (0, 1):
        g = grid if axis == 0 else grid.T  # a view: moving rows of g.T moves columns of grid
        for i in range(g.shape[0]):
            for step in (1, -1):
                line = g[i].copy()
                occupied = np.flatnonzero(line >= 0)
                if not len(occupied):
                    continue
                lo, hi = occupied[0] + step, occupied[-1] + step
                if lo < 0 or hi >= len(line):
                    continue
                g[i] = np.roll(line, step)
                if step == 1 and line[-1] >= 0 or step == -1 and line[0] >= 0:
                    g[i] = line
                    continue
                value = _objective(c, grid)
                if value > best + 1e-9:
                    best = value
                    moved += 1
                else:
                    g[i] = line
    return moved


def _refine(c: np.ndarray, grid: np.ndarray, max_passes: int) -> int:
    """Line shifts and local swaps (within two steps, empty sites included) that raise ``J``; in place.

    Returns the moves made.
    """
    h, w = grid.shape

    def local(v: int, r: int, q: int) -> float:
        s = 0.0
        for (dr, dq), kw in _KERNEL:
            rr, qq = r + dr, q + dq
            if 0 <= rr < h and 0 <= qq < w:
                u = grid[rr, qq]
                if u >= 0 and u != v:
                    s += kw * c[v, u]
        return s

    swaps = 0
    for _ in range(max_passes):
        changed = _shift_lines(c, grid)
        for r0, q0 in np.argwhere(grid >= 0):
            v = int(grid[r0, q0])
            gain, target = 1e-12, None
            for dr in range(-2, 3):
                for dq in range(-2, 3):
                    rr, qq = r0 + dr, q0 + dq
                    if (dr or dq) and 0 <= rr < h and 0 <= qq < w:
                        u = int(grid[rr, qq])
                        before = local(v, r0, q0) + (local(u, rr, qq) if u >= 0 else 0.0)
                        grid[r0, q0], grid[rr, qq] = u, v
                        after = local(v, rr, qq) + (local(u, r0, q0) if u >= 0 else 0.0)
                        grid[r0, q0], grid[rr, qq] = v, u
                        if after - before > gain:
                            gain, target = after - before, (rr, qq)
            if target is not None:
                rr, qq = target
                grid[r0, q0], grid[rr, qq] = grid[rr, qq], v
                changed += 1
        swaps += changed
        if not changed:
            break
    return swaps


def _lattice(
    c: np.ndarray, vary: np.ndarray, reliable: np.ndarray, shape: tuple[int, int], max_passes: int
) -> np.ndarray | None:
    """Sites ``(d, 2)`` on the ``H x W`` grid for the varying nodes (-1 elsewhere), or None if they do not fit."""
    h, w = shape
    nodes = np.flatnonzero(vary)
    pos = _grow(c, nodes, reliable, max(h, w))
    if (pos[nodes] < 0).any():
        return None
    p = pos[nodes]
    lo = p.min(0)
    ext = p.max(0) - lo + 1
    if ext[0] > h or ext[1] > w:
        if ext[0] <= w and ext[1] <= h:  # the transposed lattice fits
            p = p[:, ::-1]
            lo, ext = lo[::-1], ext[::-1]
        else:
            return None
    p = p - lo + (np.array([h, w]) - ext) // 2
    grid = -np.ones((h, w), dtype=np.int64)
    grid[p[:, 0], p[:, 1]] = nodes
    _refine(c, grid, max_passes)
    out = -np.ones((len(c), 2), dtype=np.int64)
    r, q = np.nonzero(grid >= 0)
    out[grid[r, q]] = np.stack([r, q], 1)
    return out


def _site_edges(sites: np.ndarray, placed: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The 4-neighbour pairs ``(E, 2)`` of a placement, among the placed nodes (smaller node first)."""
    h, w = shape
    grid = -np.ones((h, w), dtype=np.int64)
    nodes = np.flatnonzero(placed)
    grid[sites[nodes, 0], sites[nodes, 1]] = nodes
    pairs = np.concatenate(
        [np.stack([grid[:, :-1].ravel(), grid[:, 1:].ravel()], 1), np.stack([grid[:-1].ravel(), grid[1:].ravel()], 1)]
    )
    pairs = pairs[(pairs >= 0).all(1)]
    pairs = np.sort(pairs, axis=1)
    return pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))].astype(np.int64).reshape(-1, 2)


def _eigenmap(edges: np.ndarray, weights: np.ndarray, d: int) -> np.ndarray:
    out = np.full((d, 2), np.nan)
    used = np.unique(edges)
    if len(used) < 3:
        return out
    idx = -np.ones(d, dtype=np.int64)
    idx[used] = np.arange(len(used))
    a = np.zeros((len(used), len(used)))
    wpos = np.clip(weights, 1e-6, None)
    a[idx[edges[:, 0]], idx[edges[:, 1]]] = wpos
    a[idx[edges[:, 1]], idx[edges[:, 0]]] = wpos
    lap = np.diag(a.sum(1)) - a
    _, vec = np.linalg.eigh(lap)
    out[used] = vec[:, 1:3]
    return out


def fit_topology(
    x: Tensor,
    *,
    k: int = 4,
    shape: tuple[int, int] | None = None,
    lattice: bool = True,
    min_samples: int = 50,
    tol: float = 1e-6,
    min_fit: float = 0.9,
    min_effective: float = 20.0,
    max_passes: int = 20,
) -> TopologyResult:
    r"""The graph on the ``d`` nodes of samples ``x``, and the lattice when the graph is one.

    From unlabelled samples alone (no labels, no pairs, and never the permutation that
    scrambled them): correlations ``C = z^T z / N`` of the standardised nodes, the mutual
    ``k``-nearest-neighbour graph of ``C``, then (for lattices) the assignment of nodes to
    the sites of an ``H x W`` grid that maximises
    ``J = sum_{p, q} K(q - p) C[node(p), node(q)]`` (``K = 1`` on the four neighbours,
    ``1/2`` on the diagonals), by greedy growth and local swaps; when the lattice fits, the
    graph returned is the lattice's 4-neighbour graph. See the module docstring.

    **Assumptions.** (i) Nearby nodes correlate more than distant ones, and each node's
    ``k`` most correlated nodes are its lattice neighbours (images with smooth content:
    correlation falling with distance, roughly the same in every direction, as after
    random rotations); (ii) the same permutation applies to every sample; (iii) enough
    samples that correlations are estimated well (their error is about ``1/sqrt(N)``);
    nodes that vary in very few samples are placed less reliably. A lattice is recovered
    only up to its symmetries: the 8 rotations and reflections of the square and shifts.

    Args:
        x: samples ``(N, d)`` (or images ``(N, H, W)``, flattened row-major), any real dtype.
        k: neighbours per node in the mutual ``k``-NN graph (4 for a square lattice).
        shape: ``(H, W)`` of the lattice to look for, ``H * W == d``; by default the square
            ``sqrt(d) x sqrt(d)`` when ``d`` is a square, else no lattice is tried.
        lattice: ``False`` skips the lattice (graph and eigenmap only).
        min_samples: fewer samples than this raise an error.
        tol: a node is constant when its standard deviation is at most ``tol`` times the largest.
        min_fit: the lattice is accepted when this share of the graph's edges (between
            reliable nodes) join lattice neighbours.
        min_effective: nodes with fewer effective samples ``N / mean(z^4)`` than this (pixels
            that leave the background in only a few images, whose correlations can be
            spuriously high) are placed after the others have grown the lattice.
        max_passes: passes of local swaps at most.

    Returns:
        :class:`TopologyResult`: ``edges`` ``(E, 2)`` (``graph`` says whether from the lattice
        or the ``k``-NN graph, which stays in ``knn_edges``), ``weights``, ``constant`` and
        ``isolated`` nodes, ``coordinates`` ``(d, 2)``, ``order`` ``(d,)`` when the lattice
        was found (``x[:, order]`` is row-major on ``shape``), ``lattice_fit``, ``seconds``.

    Raises:
        ValueError: too few samples, NaN or inf, fewer than 3 varying nodes, a ``shape``
            that does not hold ``d`` nodes, or ``k < 1``.
    """
    t0 = time.perf_counter()
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"fit_topology: k must be an int >= 1, got {k!r}")
    if not 0.0 <= min_fit <= 1.0:
        raise ValueError(f"fit_topology: min_fit must be in [0, 1], got {min_fit}")
    if isinstance(min_samples, bool) or not isinstance(min_samples, int) or min_samples < 2:
        raise ValueError(f"fit_topology: min_samples must be an int >= 2, got {min_samples!r}")
    images_shape = tuple(int(s) for s in np.shape(x)[1:]) if np.ndim(x) == 3 else None
    x = _check_x(x, min_samples)
    n, d = x.shape
    if shape is None:
        shape = images_shape
    if shape is None and lattice:
        side = math.isqrt(d)
        shape = (side, side) if side * side == d else None
    if shape is not None:
        shape = tuple(int(s) for s in shape)
        if len(shape) != 2 or shape[0] * shape[1] != d:
            raise ValueError(
                f"fit_topology: shape {shape} does not hold {d} nodes; pass shape=(H, W) with H * W == {d}"
            )

    c, vary, n_eff = _correlation(x.detach().cpu(), tol)
    reliable = vary & (n_eff >= min_effective)
    t1 = time.perf_counter()
    if vary.sum() < 3:
        raise ValueError(
            f"fit_topology: only {int(vary.sum())} of {d} nodes vary across the samples; "
            "pass samples in which at least 3 nodes change"
        )
    edges, weights = _mutual_knn(c, vary, k)
    t2 = time.perf_counter()

    order = None
    fit = None
    coords = None
    lattice_edges = None
    if lattice and shape is not None:
        sites = _lattice(c, vary, reliable, shape, max_passes)
        if sites is not None:
            placed = sites[:, 0] >= 0
            both = reliable[edges[:, 0]] & reliable[edges[:, 1]]
            same = np.abs(sites[edges[both, 0]] - sites[edges[both, 1]]).sum(1) == 1
            fit = float(same.mean()) if len(same) else 0.0
            if fit >= min_fit:
                h, w = shape
                site_of = sites[:, 0] * w + sites[:, 1]
                order = -np.ones(d, dtype=np.int64)
                order[site_of[placed]] = np.flatnonzero(placed)
                free = np.flatnonzero(order < 0)
                order[free] = np.flatnonzero(~placed)
                coords = np.where(placed[:, None], sites.astype(np.float64), np.nan)
                lattice_edges = _site_edges(sites, placed, shape)
        else:
            fit = 0.0
    t3 = time.perf_counter()
    if coords is None:
        coords = _eigenmap(edges, weights, d)

    knn = edges
    if lattice_edges is not None:
        edges = lattice_edges
        weights = c[edges[:, 0], edges[:, 1]]
    deg = np.bincount(edges.reshape(-1), minlength=d)
    return TopologyResult(
        edges=torch.from_numpy(edges),
        weights=torch.from_numpy(np.asarray(weights, dtype=np.float64)),
        num_nodes=d,
        graph="knn" if lattice_edges is None else "lattice",
        knn_edges=torch.from_numpy(knn),
        constant=torch.from_numpy(np.flatnonzero(~vary).astype(np.int64)),
        isolated=torch.from_numpy(np.flatnonzero(deg == 0).astype(np.int64)),
        coordinates=torch.from_numpy(coords),
        order=None if order is None else torch.from_numpy(order),
        shape=shape,
        lattice_fit=fit,
        num_samples=n,
        seconds={
            "correlation": t1 - t0,
            "graph": t2 - t1,
            "lattice": t3 - t2,
            "total": time.perf_counter() - t0,
        },
    )
