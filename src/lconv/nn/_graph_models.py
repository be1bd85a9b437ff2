r"""L-conv on a discovered graph (``lconv-graph``): the classifier for images whose pixel lattice is hidden.

A fixed permutation of the pixels hides the lattice but not the correlations of
neighbouring pixels; :func:`lconv.discovery.fit_topology` reads the graph back off the
training images. :class:`GraphLConvClassifier` puts the generators on that graph:
local generators with one weight per directed edge in the incidence (difference) form
of Eq. 72,

.. math::
    (L_i f)_v = \sum_{u \sim v} w^i_{vu} (f_u - f_v),

so each generator is a weighted graph Laplacian-like operator that moves signal only
along discovered edges (``n E`` parameters, ``E`` the directed edges), never a dense
``d x d`` matrix. The graph is used as given, in the scrambled pixel order: when the
lattice is found its 4-neighbour graph is exactly the graph of the unscrambled grid, so
unscrambling first would give the same model (up to the order of the nodes) and is not
needed. Constant pixels are isolated (no edges): their generators are zero and only
``W0`` sees them.

:func:`lconv.analysis.save_topology` and :func:`lconv.analysis.load_topology` write and read
the :class:`~lconv.discovery.TopologyResult` (a layer above this one), which
``lconv train --model lconv-graph`` keeps in its run folder and reuses on ``--resume``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from ._generators import LocalGenerators
from ._layer import LConv

__all__ = ["GraphLConvClassifier", "graph_edges"]


def _grid_edges(h: int, w: int) -> Tensor:
    idx = torch.arange(h * w).reshape(h, w)
    right = torch.stack([idx[:, :-1].reshape(-1), idx[:, 1:].reshape(-1)], 1)
    down = torch.stack([idx[:-1].reshape(-1), idx[1:].reshape(-1)], 1)
    return torch.cat([right, down])


def graph_edges(graph, num_nodes: int, where: str = "lconv-graph") -> Tensor:
    """Undirected edges ``(E, 2)`` int64 from a :class:`~lconv.discovery.TopologyResult` or an ``(E, 2)`` tensor."""
    edges = getattr(graph, "edges", graph)
    if getattr(graph, "num_nodes", num_nodes) != num_nodes:
        raise ValueError(
            f"{where}: the graph has {graph.num_nodes} nodes, the images {num_nodes} pixels; "
            "fit the topology on images of the same shape"
        )
    try:
        edges = torch.as_tensor(np.asarray(edges)).long()
    except (TypeError, ValueError) as err:
        raise TypeError(f"{where}: graph must be a TopologyResult or (E, 2) edges, got {type(graph).__name__}") from err
    if edges.dim() != 2 or edges.shape[1] != 2:
        raise ValueError(f"{where}: edges must have shape (E, 2), got {tuple(edges.shape)}")
    if edges.numel() and (edges.min() < 0 or edges.max() >= num_nodes):
        raise ValueError(f"{where}: edges refer to nodes outside 0..{num_nodes - 1}")
    if (edges[:, 0] == edges[:, 1]).any():
        raise ValueError(f"{where}: edges must join two different nodes (no self-loops)")
    return edges


class GraphLConvClassifier(nn.Module):
    r"""L-conv layers with local generators on a graph of the pixels, then flatten and a linear head.

    Layer ``l`` computes ``f <- ReLU(W0 f + sum_i W_i (L_i f) + b)`` on the ``d = H W``
    pixels as nodes, with ``n`` generators ``(L_i f)_v = sum_{u ~ v} w^i_{vu} (f_u - f_v)``
    (Eq. 72: edge weights on the incidence matrix, :meth:`LocalGenerators.on_graph` with
    ``difference=True``; ``n d K`` parameters per layer, ``K`` the largest degree, 4 on a
    lattice). Each layer has its own generators. Then the paper's head: flatten and one
    linear layer.

    Args:
        image_shape: ``(C, H, W)``.
        num_classes: number of classes.
        graph: a :class:`~lconv.discovery.TopologyResult` (its ``edges``) or undirected edges
            ``(E, 2)`` on the ``H W`` pixels in the order the images come in (scrambled or
            not). ``None``: the 4-neighbour graph of the ``H x W`` grid itself, right only for
            images that are not scrambled.
        channels: output channels of every layer.
        layers: number of L-conv layers.
        n_generators: ``n`` per layer.

    Shapes:
        input ``(batch, C, H, W)``; output ``(batch, num_classes)``.
    """

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        num_classes: int,
        graph=None,
        *,
        channels: int = 16,
        layers: int = 1,
        n_generators: int = 8,
    ):
        super().__init__()
        self.image_shape = tuple(image_shape)
        c, h, w = self.image_shape
        d = h * w
        edges = _grid_edges(h, w) if graph is None else graph_edges(graph, d)
        directed = torch.cat([edges.T, edges.T.flip(0)], 1)
        self.num_edges = len(edges)
        blocks = []
        for i in range(layers):
            gens = LocalGenerators.on_graph(directed, d, n_generators, difference=True)
            blocks.append(LConv(c if i == 0 else channels, channels, gens))
        self.layers = nn.ModuleList(blocks)
        self.head = nn.Linear(channels * d, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 4 or tuple(x.shape[1:]) != self.image_shape:
            raise ValueError(
                f"GraphLConvClassifier: expected images of shape (batch, {', '.join(map(str, self.image_shape))}), "
                f"got {tuple(x.shape)}"
            )
        f = x.flatten(2)  # (B, C, d)
        for layer in self.layers:
            f = torch.relu(layer(f))
        return self.head(f.flatten(1))

    def extra_repr(self) -> str:
        return f"image_shape={self.image_shape}, undirected_edges={self.num_edges}"
