"""Regular grids of nodes: the discretised spaces that generators act on.

A :class:`Grid` is a 1-, 2- or 3-D array of nodes, flattened row-major (node ``y*W + x``
on an ``(H, W)`` image). Coordinates are Cartesian and centred:

* ``x`` runs along the **last** array axis (columns), ``y`` along the one before it
  (rows), ``z`` along the first axis of a 3-D grid; Cartesian index ``alpha = 0, 1, 2``
  stands for ``x, y, z``, so axis ``ndim - 1 - alpha`` of the array.
* The centre is the middle of the array, ``(N - 1) / 2`` on an axis of ``N`` nodes, the
  same centre that ``torch.nn.functional.grid_sample`` rotates about with
  ``align_corners=False``.
* ``y`` grows with the row index (downwards on screen). No axis is flipped.

Exact actions (integer shifts, quarter turns) are permutations of the nodes and are the
references that the interpolated generators of :mod:`lconv.algebra` are tested against.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = ["Grid"]

_AXIS_NAMES = "xyz"


class Grid:
    r"""A regular 1-, 2- or 3-D grid of ``d = prod(shape)`` nodes.

    Args:
        shape: number of nodes per array axis, e.g. ``(28, 28)`` for an image with 28
            rows and 28 columns, or an ``int`` for a 1-D grid.
        periodic: whether the grid wraps around, for all axes (``bool``) or per array
            axis (a sequence of ``bool``). The SWI derivative needs periodic axes.

    Example:
        >>> grid = Grid((3, 4))
        >>> grid.size
        12
        >>> grid.coordinates()[5]     # node 5 = row 1, column 1
        tensor([-0.5000,  0.0000], dtype=torch.float64)
    """

    def __init__(self, shape: int | Sequence[int], periodic: bool | Sequence[bool] = True):
        if isinstance(shape, int):
            shape = (shape,)
        shape = tuple(shape)
        if not 1 <= len(shape) <= 3 or not all(isinstance(n, int) and n >= 1 for n in shape):
            raise ValueError(
                f"Grid: shape must be 1 to 3 positive ints, got {shape!r}; pass e.g. Grid((28, 28)) for a 28x28 image"
            )
        if isinstance(periodic, bool):
            periodic = (periodic,) * len(shape)
        periodic = tuple(bool(p) for p in periodic)
        if len(periodic) != len(shape):
            raise ValueError(
                f"Grid: periodic has {len(periodic)} entries for a {len(shape)}-D shape; pass one bool, or one per axis"
            )
        self.shape: tuple[int, ...] = shape
        self.periodic: tuple[bool, ...] = periodic

    # ------------------------------------------------------------------ basic facts
    @property
    def ndim(self) -> int:
        """Number of spatial dimensions (1, 2 or 3)."""
        return len(self.shape)

    @property
    def size(self) -> int:
        """Number of nodes ``d``."""
        n = 1
        for s in self.shape:
            n *= s
        return n

    def __len__(self) -> int:
        return self.size

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Grid) and (self.shape, self.periodic) == (other.shape, other.periodic)

    def __hash__(self) -> int:
        return hash((self.shape, self.periodic))

    def __repr__(self) -> str:
        per = self.periodic[0] if len(set(self.periodic)) == 1 else self.periodic
        return f"Grid({self.shape}, periodic={per})"

    def axis(self, alpha: int) -> int:
        """Array axis of Cartesian direction ``alpha`` (0 = x, 1 = y, 2 = z)."""
        if not 0 <= alpha < self.ndim:
            raise ValueError(f"Grid: direction {alpha} does not exist on a {self.ndim}-D grid; use 0..{self.ndim - 1}")
        return self.ndim - 1 - alpha

    def extent(self, alpha: int) -> int:
        """Number of nodes along Cartesian direction ``alpha``."""
        return self.shape[self.axis(alpha)]

    # ------------------------------------------------------------------ coordinates
    def coordinates(self, *, dtype: torch.dtype = torch.float64, device=None) -> Tensor:
        """Centred Cartesian coordinates of every node.

        Returns:
            Tensor of shape ``(d, ndim)``; column ``alpha`` is coordinate ``x, y, z``
            (``alpha = 0, 1, 2``) and equals ``index_along_that_axis - (N - 1) / 2``.
        """
        axes = [torch.arange(n, dtype=dtype, device=device) - (n - 1) / 2 for n in self.shape]
        mesh = torch.meshgrid(*axes, indexing="ij")  # array-axis order
        return torch.stack([m.reshape(-1) for m in reversed(mesh)], dim=-1)

    def index(self) -> Tensor:
        """Integer array indices of every node, shape ``(d, ndim)`` in array-axis order."""
        axes = [torch.arange(n) for n in self.shape]
        mesh = torch.meshgrid(*axes, indexing="ij")
        return torch.stack([m.reshape(-1) for m in mesh], dim=-1)

    # ------------------------------------------------------------------ reshaping
    def flatten(self, f: Tensor) -> Tensor:
        """Flatten the trailing grid axes row-major: ``(..., *shape) -> (..., d)``."""
        k = self.ndim
        if tuple(f.shape[f.dim() - k :]) != self.shape or f.dim() < k:
            raise ValueError(
                f"Grid.flatten: expected a tensor ending in {self.shape}, got shape {tuple(f.shape)}; "
                "reshape the input so its last axes are the grid"
            )
        return f.reshape(*f.shape[: f.dim() - k], self.size)

    def unflatten(self, f: Tensor) -> Tensor:
        """Inverse of :meth:`flatten`: ``(..., d) -> (..., *shape)``."""
        self._check_nodes(f, "Grid.unflatten")
        return f.reshape(*f.shape[:-1], *self.shape)

    def _check_nodes(self, f: Tensor, where: str) -> None:
        if f.dim() < 1 or f.shape[-1] != self.size:
            raise ValueError(
                f"{where}: expected a tensor whose last axis has {self.size} nodes, got shape {tuple(f.shape)}; "
                "flatten grid-shaped inputs with Grid.flatten"
            )

    # ------------------------------------------------------------------ exact actions
    def shift(self, f: Tensor, shifts: int | Sequence[int]) -> Tensor:
        """Move the content of ``f`` by integer ``shifts`` (Cartesian order ``x, y, z``).

        ``shift(f, s)[p] = f[p - s]``: content at ``p`` moves to ``p + s``. Periodic axes
        wrap around; non-periodic axes fill the vacated nodes with zeros. This is the
        exact action that ``exp(s . T)`` reproduces for the translation generators
        ``T = generators.translation(grid)``.

        Shapes: ``f`` is ``(..., d)``; the result has the same shape.
        """
        self._check_nodes(f, "Grid.shift")
        if isinstance(shifts, int):
            shifts = (shifts,)
        shifts = tuple(int(s) for s in shifts)
        if len(shifts) != self.ndim:
            raise ValueError(f"Grid.shift: need {self.ndim} shifts (x, y, z order), got {shifts}")
        g = self.unflatten(f)
        base = g.dim() - self.ndim
        for alpha, s in enumerate(shifts):
            if s == 0:
                continue
            ax = self.axis(alpha)
            dim = base + ax
            g = torch.roll(g, s, dims=dim)
            if not self.periodic[ax]:
                n = self.shape[ax]
                zero = torch.arange(n, device=f.device)
                zero = (zero < s) if s > 0 else (zero >= n + s)
                shape = [1] * g.dim()
                shape[dim] = n
                g = g.masked_fill(zero.reshape(shape), 0)
        return self.flatten(g)

    def rot90(self, f: Tensor, k: int = 1) -> Tensor:
        """Rotate the content of a square 2-D grid by ``k`` quarter turns.

        The sense is that of ``exp(theta L)`` with ``L = generators.rotation(grid)`` and
        ``theta = k pi / 2``: ``rot90(f)[p] = f[R(-pi/2) p]`` with
        ``R(theta) = [[cos, -sin], [sin, cos]]`` acting on ``(x, y)``.

        Shapes: ``f`` is ``(..., d)``; the result has the same shape.
        """
        if self.ndim != 2 or self.shape[0] != self.shape[1]:
            raise ValueError(f"Grid.rot90: needs a square 2-D grid, this is {self!r}")
        self._check_nodes(f, "Grid.rot90")
        g = self.unflatten(f)
        return self.flatten(torch.rot90(g, -k, dims=(-2, -1)))

    def action_matrix(self, action, *, dtype: torch.dtype = torch.float64, device=None) -> Tensor:
        """The ``(d, d)`` matrix ``M`` of a linear action on features, ``action(f) = M f``.

        Example: ``grid.action_matrix(lambda f: grid.shift(f, (1, 0)))``.
        """
        eye = torch.eye(self.size, dtype=dtype, device=device)
        return action(eye).T  # rows of eye are basis vectors e_v; action(e_v) is column v

    # ------------------------------------------------------------------ neighbourhoods
    def offsets(self, radius: int = 1) -> Tensor:
        """All integer offsets with max-norm <= ``radius``, shape ``(K, ndim)``, Cartesian order.

        ``K = (2 radius + 1) ** ndim``; the zero offset is included.
        """
        if not isinstance(radius, int) or radius < 0:
            raise ValueError(f"Grid.offsets: radius must be a non-negative int, got {radius!r}")
        rng = range(-radius, radius + 1)
        return torch.tensor(list(itertools.product(rng, repeat=self.ndim)), dtype=torch.long).flip(-1)

    def neighbours(self, radius: int = 1) -> tuple[Tensor, Tensor, Tensor]:
        """Neighbour table of every node within max-norm ``radius``.

        Returns:
            ``(index, mask, offsets)``: ``index[v, j]`` (long, ``(d, K)``) is the node at
            ``v + offsets[j]``; ``mask[v, j]`` (bool, ``(d, K)``) is False where that node
            falls off a non-periodic edge (its ``index`` is then ``v`` itself);
            ``offsets`` is ``(K, ndim)`` in Cartesian order.
        """
        offsets = self.offsets(radius)
        idx = self.index()  # (d, ndim) array-axis order
        shape = torch.tensor(self.shape)
        per = torch.tensor(self.periodic)
        off_axes = offsets.flip(-1)  # array-axis order
        target = idx[:, None, :] + off_axes[None, :, :]  # (d, K, ndim)
        inside = ((target >= 0) & (target < shape)) | per
        mask = inside.all(-1)
        target = torch.remainder(target, shape)
        strides = torch.tensor([int(torch.tensor(self.shape[a + 1 :]).prod()) for a in range(self.ndim)])
        index = (target * strides).sum(-1)
        own = torch.arange(self.size)[:, None].expand_as(index)
        index = torch.where(mask, index, own)
        return index, mask, offsets

    def edges(self, radius: int = 1) -> Tensor:
        """Directed edges to every neighbour within ``radius`` (no self-loops), ``(2, E)``.

        Row 0 holds the source node, row 1 the target; each undirected link appears in
        both directions.
        """
        index, mask, offsets = self.neighbours(radius)
        keep = mask & (offsets.abs().sum(-1) > 0)[None, :]
        src = torch.arange(self.size)[:, None].expand_as(index)
        return torch.stack([src[keep], index[keep]])
