r"""Generators on graphs: incidence matrices, edge weightings (Eq. 72, 94-97) and the GCN operator.

A graph on ``d`` nodes is given by its directed edges ``edge_index`` of shape ``(2, E)``
(row 0 the source ``mu``, row 1 the target ``nu``; an undirected link is two edges). The
incidence matrix ``B`` (``E x d``) has ``B[alpha, mu] = -1`` and ``B[alpha, nu] = +1``,
so ``(B f)_alpha = f_nu - f_mu`` is the discrete derivative along edge ``alpha``.

A generator is a weighting of the outgoing edges of each node (Eq. 72):

.. math::
    (L_i f)_\mu = \sum_{\alpha \in \langle\mu\rangle} l_i^\alpha\, (B f)_\alpha
                = \sum_{\alpha: \mu \to \nu} l_i^\alpha (f_\nu - f_\mu),

i.e. ``L_i = diag-restricted(l_i) B`` with ``<mu>`` the edges leaving ``mu``. Like a vector
field, it annihilates constant features.
"""

from __future__ import annotations

import torch
from torch import Tensor


def _check_edges(edge_index: Tensor, num_nodes: int, where: str) -> Tensor:
    edge_index = torch.as_tensor(edge_index)
    if edge_index.dim() != 2 or edge_index.shape[0] != 2:
        raise ValueError(f"{where}: edge_index must have shape (2, E), got {tuple(edge_index.shape)}")
    if edge_index.dtype.is_floating_point or edge_index.dtype == torch.bool:
        raise TypeError(f"{where}: edge_index must hold integer node ids; cast with .long()")
    edge_index = edge_index.long()
    if edge_index.numel() and (edge_index.min() < 0 or edge_index.max() >= num_nodes):
        raise ValueError(f"{where}: edge_index refers to nodes outside 0..{num_nodes - 1}; check num_nodes")
    return edge_index


def edges_from_adjacency(adjacency: Tensor) -> Tensor:
    """Directed edges ``(2, E)`` of the nonzero off-diagonal entries of a ``(d, d)`` adjacency matrix."""
    a = torch.as_tensor(adjacency)
    if a.dim() != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"edges_from_adjacency: adjacency must be square (d, d), got {tuple(a.shape)}")
    a = a.clone()
    a.fill_diagonal_(0)
    return a.nonzero().T.contiguous()


def incidence(edge_index: Tensor, num_nodes: int, *, dtype: torch.dtype | None = None) -> Tensor:
    """Incidence matrix ``B``, shape ``(E, d)``: ``-1`` at each edge's source, ``+1`` at its target."""
    e = _check_edges(edge_index, num_nodes, "incidence")
    rows = torch.arange(e.shape[1])
    b = torch.zeros(e.shape[1], num_nodes, dtype=dtype or torch.get_default_dtype())
    b[rows, e[0]] -= 1
    b[rows, e[1]] += 1
    return b


def from_incidence(edge_index: Tensor, weights: Tensor, num_nodes: int) -> Tensor:
    """Dense generators ``(n, d, d)`` from edge weights ``(n, E)`` (Eq. 72).

    ``L_i[mu, :] = sum over edges alpha leaving mu of weights[i, alpha] * B[alpha, :]``.
    """
    e = _check_edges(edge_index, num_nodes, "from_incidence")
    w = torch.as_tensor(weights)
    if w.dim() == 1:
        w = w[None]
    if w.dim() != 2 or w.shape[1] != e.shape[1]:
        raise ValueError(f"from_incidence: weights must be (n, E={e.shape[1]}), got {tuple(w.shape)}")
    b = incidence(e, num_nodes, dtype=w.dtype)  # (E, d)
    out = torch.zeros(w.shape[0], num_nodes, num_nodes, dtype=w.dtype)
    out.index_add_(1, e[0], w[:, :, None] * b[None])
    return out


def gcn(adjacency: Tensor, *, self_loops: bool = True, dtype: torch.dtype | None = None) -> Tensor:
    r"""The GCN propagation operator ``D^{-1/2} \hat A D^{-1/2}`` as one generator, ``(1, d, d)``.

    ``\hat A = A + I`` with ``self_loops`` (Kipf & Welling), else ``A``; ``D`` is the
    degree matrix of ``\hat A``. An :class:`~lconv.nn.LConv` with this generator,
    ``W0 = 0`` and ``W1 = Theta^T`` is the GCN layer ``\hat A H \Theta`` (Sec. 5).
    """
    a = torch.as_tensor(adjacency, dtype=dtype or torch.get_default_dtype())
    if a.dim() != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"gcn: adjacency must be square (d, d), got {tuple(a.shape)}")
    if self_loops:
        a = a + torch.eye(a.shape[0], dtype=a.dtype)
    deg = a.sum(-1)
    if (deg <= 0).any():
        raise ValueError("gcn: a node has zero degree; add self_loops=True or connect every node")
    s = deg.rsqrt()
    return (s[:, None] * a * s[None, :])[None]
