r"""Parametrisations of generators: how the ``n`` matrices ``L_i`` (``d x d``) are stored and applied.

Every parametrisation is a :class:`Generators` module whose ``forward`` applies all
generators at once, ``f (..., d) -> (L_1 f, ..., L_n f) (..., n, d)``, and whose
:meth:`Generators.matrices` returns the dense ``(n, d, d)`` tensor for analysis (the
only place where ``d x d`` is formed for the memory-light kinds).

=================  ==============================  ===================  ==============
kind               ``L_i``                         parameters           apply cost
=================  ==============================  ===================  ==============
fixed              a given matrix (buffer)         none                 ``n d^2``
dense              free ``d x d``                  ``n d^2``            ``n d^2``
low-rank           ``U_i V_i^T``, rank ``r``       ``2 n d r``          ``2 n d r``
local              weights on each node's          ``n d K``            ``n d K``
                   ``K`` neighbours (grid/graph)
stencil            one ``K``-weight stencil        ``n K``              ``n d K``
                   shared by all nodes (Eq. 97)
=================  ==============================  ===================  ==============

Every constructor takes ``device=`` and ``dtype=`` as torch's modules do: the parameters
(and buffers) are made there, in that floating dtype (default: torch's default dtype, on
the CPU).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ..grid import Grid
from ._kernels import dense_sum, local_sum, low_rank_sum, mix_channels, stencil_sum

__all__ = [
    "DenseGenerators",
    "FixedGenerators",
    "Generators",
    "LocalGenerators",
    "LowRankGenerators",
    "StencilGenerators",
    "as_generators",
    "learned",
]


def factory(device, dtype, where: str) -> dict:
    """``dict(device=, dtype=)`` for torch's factory functions, after checking that ``dtype`` is floating point."""
    if dtype is not None and not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise TypeError(f"{where}: dtype must be a floating torch.dtype such as torch.float64, got {dtype!r}")
    return dict(device=None if device is None else torch.device(device), dtype=dtype)


def check_features(f: Tensor, d: int, where: str) -> None:
    """Raise a clear error unless ``f`` is a floating tensor whose last axis has ``d`` nodes."""
    if not isinstance(f, Tensor):
        raise TypeError(f"{where}: expected a torch.Tensor, got {type(f).__name__}")
    if not f.is_floating_point():
        raise TypeError(f"{where}: expected a floating-point tensor, got {f.dtype}; cast with .float()")
    if f.dim() < 1 or f.shape[-1] != d:
        raise ValueError(
            f"{where}: input has {f.shape[-1] if f.dim() else 0} nodes on its last axis but the generators act on "
            f"{d}; flatten grid-shaped inputs with Grid.flatten (shape (..., {d}))"
        )


class Generators(nn.Module):
    """Base class: ``n`` generators acting on ``d`` nodes.

    Subclasses implement :meth:`forward`; :meth:`matrices` defaults to applying the
    generators to the identity.

    Shapes:
        input ``(..., d)``; output ``(..., n, d)`` with ``out[..., i, :] = L_i f``.
    """

    def __init__(self, n: int, d: int):
        super().__init__()
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"{type(self).__name__}: the number of generators must be a positive int, got {n!r}")
        if not isinstance(d, int) or d < 1:
            raise ValueError(f"{type(self).__name__}: the number of nodes must be a positive int, got {d!r}")
        self.n = n
        self.d = d

    def matrices(self) -> Tensor:
        """The dense generators, ``(n, d, d)``. Costs ``n d^2`` memory: for analysis, not training."""
        ref = next(iter(self.parameters()), None)
        if ref is None:
            ref = next(iter(self.buffers()))
        dtype = ref.dtype if ref.is_floating_point() else torch.get_default_dtype()
        eye = torch.eye(self.d, dtype=dtype, device=ref.device)
        return self(eye).permute(1, 2, 0)  # self(eye)[u, i, v] = L_i[v, u]

    def weighted_sum(self, f: Tensor, weight0: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
        """The L-conv sum ``W0 f + sum_i W_i (L_i f) + b``.

        This base version applies the generators (:meth:`forward`) and mixes the
        ``(n + 1) c_in`` results in one product; the parametrisations override it with the
        order of products that their structure makes cheapest (``lconv.nn._kernels``).

        Shapes:
            ``f`` ``(B, c_in, d)``, ``weight0`` ``(c_out, c_in)``, ``weight``
            ``(n, c_out, c_in)``, ``bias`` ``(c_out,)`` or None; returns ``(B, c_out, d)``.
        """
        return mix_channels(f, self(f), weight0, weight, bias)

    def extra_repr(self) -> str:
        return f"n={self.n}, d={self.d}"


class FixedGenerators(Generators):
    """Given generators, stored as a buffer (not trained): the inductive-bias case.

    Args:
        matrices: ``(n, d, d)`` or one ``(d, d)`` generator, e.g.
            ``generators.rotation(grid)``.
        device, dtype: where and in which floating dtype the buffer is kept (default:
            those of ``matrices``).
    """

    def __init__(self, matrices: Tensor, *, device: torch.device | str | None = None, dtype: torch.dtype | None = None):
        if not isinstance(matrices, Tensor):
            raise TypeError(f"FixedGenerators: expected a torch.Tensor (n, d, d), got {type(matrices).__name__}")
        if matrices.dim() == 2:
            matrices = matrices[None]
        if matrices.dim() != 3 or matrices.shape[-1] != matrices.shape[-2]:
            raise ValueError(
                f"FixedGenerators: generators must be square matrices, shape (n, d, d); got {tuple(matrices.shape)}"
            )
        if not matrices.is_floating_point():
            raise TypeError(f"FixedGenerators: generators must be floating point, got {matrices.dtype}; use .float()")
        if not torch.isfinite(matrices).all():
            raise ValueError("FixedGenerators: the generators contain NaN or inf; pass finite matrices")
        kw = factory(device, dtype, "FixedGenerators")
        super().__init__(matrices.shape[0], matrices.shape[-1])
        self.register_buffer("L", matrices.detach().to(**kw).clone())

    def forward(self, f: Tensor) -> Tensor:
        check_features(f, self.d, type(self).__name__)
        return _apply_dense(self.L, f)

    def weighted_sum(self, f: Tensor, weight0: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
        check_features(f, self.d, type(self).__name__)
        return dense_sum(f, self.L, weight0, weight, bias)

    def matrices(self) -> Tensor:
        return self.L


def _apply_dense(L: Tensor, f: Tensor) -> Tensor:
    n, d, _ = L.shape
    out = f.reshape(-1, d) @ L.reshape(n * d, d).T  # one GEMM for all generators
    return out.reshape(*f.shape[:-1], n, d)


class DenseGenerators(Generators):
    """Learnable dense generators, ``n d^2`` parameters.

    Init: entries i.i.d. ``N(0, 1/d)``, so that ``|L_i f| ~ |f|`` for random ``f``.
    """

    def __init__(self, n: int, d: int, *, device: torch.device | str | None = None, dtype: torch.dtype | None = None):
        kw = factory(device, dtype, "DenseGenerators")
        super().__init__(n, d)
        self.weight = nn.Parameter(torch.randn(n, d, d, **kw) / math.sqrt(d))

    def forward(self, f: Tensor) -> Tensor:
        check_features(f, self.d, type(self).__name__)
        return _apply_dense(self.weight, f)

    def weighted_sum(self, f: Tensor, weight0: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
        check_features(f, self.d, type(self).__name__)
        return dense_sum(f, self.weight, weight0, weight, bias)

    def matrices(self) -> Tensor:
        return self.weight


class LowRankGenerators(Generators):
    """Learnable low-rank generators ``L_i = U_i V_i^T`` with ``U_i, V_i`` of shape ``(d, r)``.

    Applied as ``U_i (V_i^T f)``, never forming ``d x d``: ``2 n d r`` parameters and
    flops per feature vector.

    Init: ``U ~ N(0, 1/r)``, ``V ~ N(0, 1/d)`` entry-wise, so that ``|L_i f| ~ |f|``.
    """

    def __init__(
        self, n: int, d: int, rank: int, *, device: torch.device | str | None = None, dtype: torch.dtype | None = None
    ):
        kw = factory(device, dtype, "LowRankGenerators")
        super().__init__(n, d)
        if not isinstance(rank, int) or not 1 <= rank <= d:
            raise ValueError(f"LowRankGenerators: rank must be an int in 1..{d}, got {rank!r}")
        self.rank = rank
        self.U = nn.Parameter(torch.randn(n, d, rank, **kw) / math.sqrt(rank))
        self.V = nn.Parameter(torch.randn(n, d, rank, **kw) / math.sqrt(d))

    def forward(self, f: Tensor) -> Tensor:
        check_features(f, self.d, type(self).__name__)
        n, d, r = self.U.shape
        flat = f.reshape(-1, d)
        coef = (flat @ self.V.permute(1, 0, 2).reshape(d, n * r)).reshape(-1, n, r)  # V_i^T f
        out = torch.bmm(coef.transpose(0, 1), self.U.transpose(1, 2))  # (n, M, d)
        return out.transpose(0, 1).reshape(*f.shape[:-1], n, d)

    def weighted_sum(self, f: Tensor, weight0: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
        check_features(f, self.d, type(self).__name__)
        return low_rank_sum(f, self.U, self.V, weight0, weight, bias)

    def matrices(self) -> Tensor:
        return self.U @ self.V.transpose(1, 2)

    def extra_repr(self) -> str:
        return f"n={self.n}, d={self.d}, rank={self.rank}"


class LocalGenerators(Generators):
    r"""Learnable generators supported on each node's neighbourhood: a sparse ``L_i``.

    ``(L_i f)_v = sum_j w[i, v, j] f[index[v, j]]`` over the ``K`` slots of node ``v``
    (masked slots are ignored). With ``difference=True`` the incidence form of Eq. 72 is
    used instead, ``(L_i f)_v = sum_j w[i, v, j] (f[index[v, j]] - f_v)``, which, like a
    vector field, annihilates constant features.

    Build it with :meth:`on_grid` (a max-norm ball of radius ``r`` on a grid,
    ``K = (2r + 1)^ndim``) or :meth:`on_graph` (the out-edges of each node of a graph),
    or :func:`learned`. Memory: ``n d K`` weights, never ``d x d``.

    Init: weights i.i.d. ``N(0, 1/K)``.

    Args:
        index: ``(d, K)`` long, the neighbour of node ``v`` in slot ``j``.
        mask: ``(d, K)`` bool, which slots exist.
        n: number of generators.
        difference: use the incidence (difference) form.
        device, dtype: where the weights and buffers are made, and the weights' floating dtype.
    """

    def __init__(
        self,
        index: Tensor,
        mask: Tensor,
        n: int,
        *,
        difference: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ):
        kw = factory(device, dtype, type(self).__name__)
        index = torch.as_tensor(index)
        mask = torch.as_tensor(mask, dtype=torch.bool)
        if index.dim() != 2 or mask.shape != index.shape:
            raise ValueError(
                f"{type(self).__name__}: index and mask must both be (d, K), got {tuple(index.shape)} and {tuple(mask.shape)}"
            )
        d, k = index.shape
        if index.numel() and (index.min() < 0 or index.max() >= d):
            raise ValueError(f"{type(self).__name__}: index refers to nodes outside 0..{d - 1}")
        super().__init__(n, d)
        self.difference = difference
        self.register_buffer("index", index.long().to(kw["device"]).contiguous())
        self.register_buffer("mask", mask.to(kw["device"]).contiguous())
        own = (self.index == torch.arange(d, device=self.index.device)[:, None]) & self.mask
        slots = own.all(0).nonzero()
        # a slot that is every node itself (the centre of a grid stencil) takes W0 and the
        # difference form's -sum_j w; without one, weighted_sum appends it
        self._self_slot = int(slots[0]) if len(slots) else None
        self._init_weight(n, d, k, kw)

    def _init_weight(self, n: int, d: int, k: int, kw: dict) -> None:
        self.weight = nn.Parameter(torch.randn(n, d, k, **kw) / math.sqrt(k))

    def node_weights(self) -> Tensor:
        """Masked weights per node and slot, ``(n, d, K)``."""
        return self.weight * self.mask

    @classmethod
    def on_grid(
        cls, grid: Grid, n: int, radius: int = 1, *, difference: bool = False, device=None, dtype=None
    ) -> LocalGenerators:
        """Weights on the ``(2 radius + 1)^ndim`` box around every node of ``grid``."""
        index, mask, _ = grid.neighbours(radius)
        return cls(index, mask, n, difference=difference, device=device, dtype=dtype)

    @classmethod
    def on_graph(
        cls, edge_index: Tensor, num_nodes: int, n: int, *, difference: bool = False, device=None, dtype=None
    ) -> LocalGenerators:
        """One weight per directed edge ``(2, E)`` of a graph: slot ``j`` of node ``v`` is its j-th out-edge."""
        from ..algebra._graph import _check_edges

        e = _check_edges(edge_index, num_nodes, f"{cls.__name__}.on_graph").cpu()
        order = torch.argsort(e[0], stable=True)
        src, dst = e[0, order], e[1, order]
        deg = torch.bincount(src, minlength=num_nodes)
        k = max(int(deg.max()) if len(src) else 0, 1)
        start = torch.cumsum(deg, 0) - deg
        slot = torch.arange(len(src)) - start[src]
        index = torch.arange(num_nodes)[:, None].repeat(1, k)
        mask = torch.zeros(num_nodes, k, dtype=torch.bool)
        index[src, slot] = dst
        mask[src, slot] = True
        return cls(index, mask, n, difference=difference, device=device, dtype=dtype)

    def edge_weights(self, edge_index: Tensor) -> Tensor:
        """Weights ``(n, E)`` of the edges of an :meth:`on_graph` layer, in the order of ``edge_index``."""
        e = torch.as_tensor(edge_index).long().to(self.index.device)
        hit = (self.index[e[0]] == e[1][:, None]) & self.mask[e[0]]  # (E, K)
        slot = hit.float().argmax(-1)
        return self.node_weights()[:, e[0], slot]

    def forward(self, f: Tensor) -> Tensor:
        check_features(f, self.d, type(self).__name__)
        w = self.node_weights()  # (n, d, K)
        gathered = f[..., self.index]  # (..., d, K)
        out = torch.einsum("...vj,ivj->...iv", gathered, w)
        if self.difference:
            out = out - w.sum(-1) * f[..., None, :]
        return out

    def weighted_sum(self, f: Tensor, weight0: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
        check_features(f, self.d, type(self).__name__)
        w, index, j = self.node_weights(), self.index, self._self_slot
        if j is None:
            index = torch.cat([index, torch.arange(self.d, device=index.device)[:, None]], 1)
            w = torch.cat([w, w.new_zeros(self.n, self.d, 1)], 2)
            j = index.shape[1] - 1
        if self.difference:  # sum_j w_j (f_j - f_v): the self slot carries -sum_j w_j
            w = w - w.sum(-1, keepdim=True) * (torch.arange(w.shape[-1], device=w.device) == j)
        return local_sum(f, w, index, j, weight0, weight, bias)

    def extra_repr(self) -> str:
        return f"n={self.n}, d={self.d}, K={self.index.shape[1]}, difference={self.difference}"


class StencilGenerators(LocalGenerators):
    """One stencil per generator, shared by every node of a regular grid (Eq. 97).

    On a lattice the lift ``g_mu`` of Eq. 97 is the translation to node ``mu``, so pushing
    one stencil forward gives the same ``K`` weights at every node: a translation-
    equivariant (convolution-like) generator with only ``n K`` parameters. On
    non-periodic grids the stencil is cut at the edges.

    Init: ``N(0, 1/K)``.
    """

    def __init__(
        self,
        grid: Grid,
        n: int,
        radius: int = 1,
        *,
        difference: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ):
        index, mask, offsets = grid.neighbours(radius)
        super().__init__(index, mask, n, difference=difference, device=device, dtype=dtype)
        self.offsets = offsets  # (K, ndim), Cartesian: slot j reads the node at v + offsets[j]
        self.grid_shape, self.periodic, self.radius = grid.shape, grid.periodic, radius

    def _init_weight(self, n: int, d: int, k: int, kw: dict) -> None:
        self.weight = nn.Parameter(torch.randn(n, k, **kw) / math.sqrt(k))

    def node_weights(self) -> Tensor:
        return self.weight[:, None, :] * self.mask

    def weighted_sum(self, f: Tensor, weight0: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
        """One convolution with the kernel ``sum_i s_i W_i`` (plus ``W0`` at the centre)."""
        check_features(f, self.d, type(self).__name__)
        return stencil_sum(
            f, self.weight, weight0, weight, bias, shape=self.grid_shape, periodic=self.periodic, offsets=self.offsets,
            radius=self.radius, mask=self.mask, difference=self.difference,
        )  # fmt: skip


def as_generators(generators) -> Generators:
    """A :class:`Generators` module from a tensor (fixed) or a module (kept as it is)."""
    if isinstance(generators, Generators):
        return generators
    if isinstance(generators, Tensor):
        return FixedGenerators(generators)
    raise TypeError(
        f"expected generators as a torch.Tensor (n, d, d) or a Generators module, got {type(generators).__name__}; "
        "build them with lconv.generators (e.g. generators.rotation(grid) or generators.learned(grid, n=4, rank=8))"
    )


def learned(
    space: Grid | int,
    n: int,
    *,
    rank: int | None = None,
    local: int | None = None,
    stencil: int | None = None,
    edges: Tensor | None = None,
    difference: bool = False,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> Generators:
    """Learnable generators on a grid, a graph or ``d`` unstructured nodes.

    Choose at most one structure; with none the generators are dense.

    Args:
        space: a :class:`Grid`, or the number of nodes ``d``.
        n: number of generators.
        rank: low-rank ``U V^T`` of this rank (:class:`LowRankGenerators`).
        local: weights on the neighbours within this max-norm radius on a grid
            (:class:`LocalGenerators`).
        stencil: one shared stencil of this radius on a grid (:class:`StencilGenerators`).
        edges: ``(2, E)`` directed edges of a graph: one weight per edge
            (:class:`LocalGenerators.on_graph`).
        difference: for ``local``, ``stencil`` and ``edges``, the incidence form of
            Eq. 72 (``l (f_nu - f_mu)``).
        device, dtype: where and in which floating dtype the parameters are made, as for
            torch's modules.

    Example:
        >>> gens = learned(Grid((28, 28)), n=4, rank=8)
    """
    chosen = [k for k, v in dict(rank=rank, local=local, stencil=stencil, edges=edges).items() if v is not None]
    if len(chosen) > 1:
        raise ValueError(f"learned: choose one of rank=, local=, stencil=, edges=; got {', '.join(chosen)}")
    if isinstance(space, Grid):
        d = space.size
    elif isinstance(space, int) and space >= 1:
        d = space
    else:
        raise TypeError(f"learned: space must be a Grid or a positive int (number of nodes), got {space!r}")
    if chosen and chosen[0] in ("local", "stencil") and not isinstance(space, Grid):
        raise ValueError(f"learned: {chosen[0]}= needs a Grid for its neighbourhoods; pass Grid(shape) as space")
    kw = dict(device=device, dtype=dtype)
    if rank is not None:
        return LowRankGenerators(n, d, rank, **kw)
    if local is not None:
        return LocalGenerators.on_grid(space, n, local, difference=difference, **kw)
    if stencil is not None:
        return StencilGenerators(space, n, stencil, difference=difference, **kw)
    if edges is not None:
        return LocalGenerators.on_graph(edges, d, n, difference=difference, **kw)
    return DenseGenerators(n, d, **kw)
