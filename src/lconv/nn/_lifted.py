r"""L-conv that is equivariant to non-abelian groups: features lifted to the group, left-invariant generators.

An :class:`~lconv.LConv` with free channel weights commutes with a transformation ``g``
exactly when ``g`` commutes with every generator ``L_i``. Generators pushed forward from
a non-abelian algebra (``se2`` on a grid, ``so3`` on vectors) do not commute with the
group they generate, so such a layer is *not* equivariant to it. The paper's layer is
built from the left-invariant vector fields ``g L_i . d/dg`` on the group itself (Eq. 13,
SI A): their flows are right multiplications ``g -> g exp(t L_i)``, which commute with
the group acting on the left. This module makes that construction concrete for groups
``R^k x| H`` acting on a grid, ``H`` a rotation group sampled at ``M`` elements:

* a lifted grid (:class:`SE2Grid`, :class:`SE3Grid`): the nodes ``(h, p)`` for every
  sampled rotation ``h`` and pixel ``p``, **orientation-major**: node ``m d + p`` for the
  ``m``-th rotation and pixel ``p`` (``d`` pixels), so a lifted feature map is
  ``(batch, channels, M d)`` and ``space.unflatten`` gives ``(batch, channels, M, *grid.shape)``;
* :class:`Lifting`: image ``(batch, c_in, d)`` -> lifted ``(batch, c_out, M d)`` through
  learned combinations of derivatives along the rotated axes of every ``h``;
* :class:`LeftInvariantGenerators`: the left-invariant fields as a :class:`Generators`
  module that applies them matrix-free (per-orientation derivatives on the grid and a
  derivative along the rotation axis), never forming an ``(M d) x (M d)`` matrix;
* :class:`OrientationPool`: max or mean over the rotations, ``(.., M d) -> (.., d)``,
  the projection back to the image (then any spatial pooling gives invariants).

The group acts on lifted features by ``(u f)(h, x) = f(r^{-1} h, r^{-1}(x - t))`` for
``u = (t, r)``. On the grid this is a permutation of the lifted nodes when ``t`` is an
integer shift and ``r`` maps the grid onto itself (quarter turns of a square grid, the 24
rotations of a cube); for those the layers here commute with the action up to rounding,
pointwise nonlinearities included (Corollary 1). Continuous rotations are interpolations
on a grid: the linear layers commute with them to the accuracy of the discrete
derivatives on band-limited content, and pointwise nonlinearities between layers break
that (a nonlinearity commutes with permutations of the nodes, not with interpolations).
"""

from __future__ import annotations

import itertools
import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..algebra import central_difference, swi_derivative
from ..grid import Grid
from ._generators import Generators, check_features, factory

__all__ = [
    "LeftInvariantGenerators",
    "Lifting",
    "OrientationPool",
    "SE2Grid",
    "SE3Grid",
    "left_invariant",
]

METHODS = ("central", "swi")


# ----------------------------------------------------------------------------- lifted grids
class _LiftedGrid:
    """A grid times a finite set of ``M`` rotations ``h_m`` (``frames``, ``(M, k, k)``).

    Column ``a`` of ``frames[m]`` is body axis ``a`` of rotation ``m`` in the grid's
    Cartesian coordinates ``(x, y, z)``. Nodes are orientation-major: ``m d + p``.
    """

    name = "lifted"

    def __init__(self, grid: Grid, frames: Tensor):
        self.grid = grid
        self.frames = frames  # float64, exact zeros and signs where the rotation maps the grid onto itself
        self.orientations = int(frames.shape[0])

    # ------------------------------------------------------------------ basic facts
    @property
    def ndim(self) -> int:
        """Spatial dimensions ``k``."""
        return self.grid.ndim

    @property
    def size(self) -> int:
        """Number of lifted nodes ``M d``."""
        return self.orientations * self.grid.size

    @property
    def shape(self) -> tuple[int, ...]:
        """``(M, *grid.shape)``, the shape :meth:`unflatten` gives the node axis."""
        return (self.orientations, *self.grid.shape)

    def __len__(self) -> int:
        return self.size

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self.grid == other.grid and self.orientations == other.orientations

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.grid, self.orientations))

    # ------------------------------------------------------------------ reshaping
    def _check(self, f: Tensor, where: str) -> None:
        if not isinstance(f, Tensor):
            raise TypeError(f"{where}: expected a torch.Tensor, got {type(f).__name__}")
        if f.dim() < 1 or f.shape[-1] != self.size:
            raise ValueError(
                f"{where}: expected lifted features whose last axis has {self.orientations} x {self.grid.size} = "
                f"{self.size} nodes, got shape {tuple(f.shape)}; lift images with Lifting first"
            )

    def unflatten(self, f: Tensor) -> Tensor:
        """``(..., M d) -> (..., M, *grid.shape)``."""
        self._check(f, f"{type(self).__name__}.unflatten")
        return f.reshape(*f.shape[:-1], *self.shape)

    def flatten(self, f: Tensor) -> Tensor:
        """Inverse of :meth:`unflatten`: ``(..., M, *grid.shape) -> (..., M d)``."""
        k = len(self.shape)
        if f.dim() < k or tuple(f.shape[f.dim() - k :]) != self.shape:
            raise ValueError(
                f"{type(self).__name__}.flatten: expected a tensor ending in {self.shape}, got {tuple(f.shape)}"
            )
        return f.reshape(*f.shape[: f.dim() - k], self.size)

    # ------------------------------------------------------------------ exact actions and pooling
    def shift(self, f: Tensor, shifts) -> Tensor:
        """Integer shift of every orientation's image (:meth:`Grid.shift`); the orientations stay."""
        self._check(f, f"{type(self).__name__}.shift")
        g = f.reshape(*f.shape[:-1], self.orientations, self.grid.size)
        return self.grid.shift(g, shifts).reshape(f.shape)

    def pool(self, f: Tensor, mode: str = "max") -> Tensor:
        """Max or mean over the orientations: ``(..., M d) -> (..., d)``, invariant to the fibre's rotations."""
        self._check(f, f"{type(self).__name__}.pool")
        g = f.reshape(*f.shape[:-1], self.orientations, self.grid.size)
        if mode == "max":
            return g.amax(-2)
        if mode == "mean":
            return g.mean(-2)
        raise ValueError(f"{type(self).__name__}.pool: mode must be 'max' or 'mean', got {mode!r}")

    def _permute(self, f: Tensor, fibre: Tensor, pixels: Tensor) -> Tensor:
        """``out[m, p] = f[fibre[m], pixels[p]]``."""
        g = f.reshape(*f.shape[:-1], self.orientations, self.grid.size)
        g = g.index_select(-2, fibre.to(f.device)).index_select(-1, pixels.to(f.device))
        return g.reshape(f.shape)


def _square_grid(grid, where: str, ndim: int) -> Grid:
    if isinstance(grid, (int, tuple, list)):
        grid = Grid(grid)
    if not isinstance(grid, Grid):
        raise TypeError(f"{where}: grid must be a Grid or a shape, got {type(grid).__name__}")
    if grid.ndim != ndim:
        raise ValueError(f"{where}: needs a {ndim}-D grid, got {grid!r}")
    return grid


class SE2Grid(_LiftedGrid):
    r"""The lifted grid of SE(2): an ``(H, W)`` image grid times ``N`` orientations.

    Orientation ``m`` is the angle ``theta_m = 2 pi m / N`` (``N`` a multiple of 4, so that
    quarter turns map orientations onto orientations); its frame has body axes
    ``e(theta) = (cos theta, sin theta)`` and ``e_perp(theta) = (-sin theta, cos theta)``.
    Nodes are orientation-major, ``m d + p``, ``d = H W`` (row-major pixels as in
    :class:`~lconv.Grid`).

    The group acts on lifted features by ``(u f)(theta, x) = f(theta - phi, R(-phi)(x - t))``
    for a rotation by ``phi`` and a translation ``t``. Exact on the grid (permutations of
    the nodes): :meth:`rot90` (square grids; the image turned by :meth:`Grid.rot90` and
    the orientations shifted cyclically by ``N/4``) and :meth:`shift` (integer shifts;
    periodic grids). :meth:`rotation_generator` gives the generator of the continuous
    rotations, for tests on small grids.

    Args:
        grid: a 2-D :class:`~lconv.Grid` or its shape.
        orientations: ``N``, a positive multiple of 4.

    Example:
        >>> space = SE2Grid(Grid((8, 8)), orientations=4)
        >>> space.size
        256
    """

    name = "se2"

    def __init__(self, grid: Grid | tuple[int, int], orientations: int = 8):
        grid = _square_grid(grid, "SE2Grid", 2)
        if not isinstance(orientations, int) or orientations < 4 or orientations % 4:
            raise ValueError(
                f"SE2Grid: orientations must be a positive multiple of 4 (quarter turns exact), got {orientations!r}"
            )
        q = orientations // 4
        base = torch.arange(q, dtype=torch.float64) * (2 * math.pi / orientations)
        c, s = torch.cos(base), torch.sin(base)
        # the other quadrants by exact quarter turns: (c, s) -> (-s, c)
        cos = torch.cat([c, -s, -c, s])
        sin = torch.cat([s, c, -s, -c])
        frames = torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2)  # (N, 2, 2)
        super().__init__(grid, frames)

    def __repr__(self) -> str:
        return f"SE2Grid({self.grid!r}, orientations={self.orientations})"

    def angles(self, *, dtype: torch.dtype = torch.float64) -> Tensor:
        """The orientations ``theta_m = 2 pi m / N``, ``(N,)``."""
        return (torch.arange(self.orientations, dtype=torch.float64) * (2 * math.pi / self.orientations)).to(dtype)

    def rot90(self, f: Tensor, k: int = 1) -> Tensor:
        """Turn lifted features by ``k`` quarter turns (exact: a permutation of the nodes).

        Every orientation's image is turned by :meth:`Grid.rot90` (``k`` quarter turns in
        the sense of ``generators.rotation``) and the orientation axis is shifted
        cyclically by ``k N / 4``: ``out[m] = rot90(f[m - k N/4])``.

        Shapes: ``(..., N d)`` to the same.
        """
        self._check(f, "SE2Grid.rot90")
        if not isinstance(k, int):
            raise TypeError(f"SE2Grid.rot90: k must be an int number of quarter turns, got {k!r}")
        g = f.reshape(*f.shape[:-1], self.orientations, self.grid.size)
        g = torch.roll(self.grid.rot90(g, k), k * (self.orientations // 4), dims=-2)
        return g.reshape(f.shape)

    def rotation_generator(self, *, method: str = "swi", dtype: torch.dtype = torch.float64) -> Tensor:
        r"""The generator of continuous rotations of lifted features, dense ``(N d, N d)``.

        ``L = L_rot (x) I`` on the pixels plus ``(N / 2 pi) T_theta`` on the orientations,
        with ``L_rot = generators.rotation(grid)`` and ``T_theta`` the translation
        generator of the periodic orientation axis, so that ``exp(phi L)`` turns the
        image by ``phi`` and moves the orientations by ``phi``; ``exp(pi/2 L)`` approximates
        :meth:`rot90`. Memory ``(N d)^2``: for tests on small grids.
        """
        from ..algebra import rotation

        spatial = rotation(self.grid, method=method, dtype=torch.float64)[0]
        n = self.orientations
        fibre = -_derivative_1d(n, method, True) * (n / (2 * math.pi))
        eye_n, eye_d = torch.eye(n, dtype=torch.float64), torch.eye(self.grid.size, dtype=torch.float64)
        return (torch.kron(eye_n, spatial) + torch.kron(fibre, eye_d)).to(dtype)

    def rotate(self, f: Tensor, phi: float, *, method: str = "swi") -> Tensor:
        """``exp(phi L) f`` for :meth:`rotation_generator` ``L``, without forming ``exp`` of an ``(N d)^2`` matrix.

        The pixel and orientation parts of ``L`` commute, so ``exp(phi L)`` is the image
        rotation ``exp(phi L_rot)`` (``d x d``) on every orientation followed by the shift
        of the orientation axis by ``phi`` (``N x N``). For tests on small grids.
        """
        from ..algebra import rotation

        self._check(f, "SE2Grid.rotate")
        n = self.orientations
        spatial = torch.linalg.matrix_exp(phi * rotation(self.grid, method=method, dtype=torch.float64)[0])
        fibre = torch.linalg.matrix_exp(-phi * (n / (2 * math.pi)) * _derivative_1d(n, method, True))
        g = f.reshape(*f.shape[:-1], n, self.grid.size)
        g = g @ spatial.to(f).T
        g = (g.transpose(-1, -2) @ fibre.to(f).T).transpose(-1, -2)
        return g.reshape(f.shape)


def _cube_rotations() -> Tensor:
    """The 24 rotations of a cube (signed permutation matrices of determinant 1), identity first."""
    out = []
    for perm in itertools.permutations(range(3)):
        for signs in itertools.product((1.0, -1.0), repeat=3):
            m = torch.zeros(3, 3, dtype=torch.float64)
            for row, (col, sgn) in enumerate(zip(perm, signs)):
                m[row, col] = sgn
            if torch.linalg.det(m) > 0:
                out.append(m)
    return torch.stack(out)


def _quarter_turn(axis: int) -> Tensor:
    """Rotation by ``+pi/2`` about Cartesian ``axis`` (right-handed), ``(3, 3)``."""
    m = torch.zeros(3, 3, dtype=torch.float64)
    a, b = [i for i in range(3) if i != axis]
    if axis == 1:  # right-handed about y: z -> x
        a, b = b, a
    m[axis, axis] = 1.0
    m[b, a], m[a, b] = 1.0, -1.0
    return m


class SE3Grid(_LiftedGrid):
    r"""The lifted grid of SE(3) on a cubic 3-D grid, rotations sampled at the 24 rotations of the cube.

    The 24 rotations (signed permutation matrices of determinant 1, identity first) map a
    cubic grid onto itself, so the group they generate with integer shifts acts on
    lifted features by permutations: :meth:`rotate` and :meth:`shift` are exact. Nodes
    are rotation-major, ``m d + p``; ``frames[m]`` is the ``m``-th rotation matrix.

    Args:
        grid: a cubic 3-D :class:`~lconv.Grid` (all sides equal) or its shape.
    """

    name = "se3"

    def __init__(self, grid: Grid | tuple[int, int, int]):
        grid = _square_grid(grid, "SE3Grid", 3)
        if len(set(grid.shape)) != 1:
            raise ValueError(f"SE3Grid: the 24 cube rotations need a cubic grid (all sides equal), got {grid!r}")
        frames = _cube_rotations()
        super().__init__(grid, frames)
        flat = frames.reshape(24, 9)

        def index(m: Tensor) -> int:
            return int((flat == m.reshape(1, 9)).all(1).nonzero()[0])

        self._table = torch.tensor([[index(a @ b) for b in frames] for a in frames])  # index of h_a h_b
        self._inverse = torch.tensor([index(a.T) for a in frames])
        self.quarter_turns = torch.tensor([index(_quarter_turn(a)) for a in range(3)])

    def __repr__(self) -> str:
        return f"SE3Grid({self.grid!r})"

    def _pixels(self, r: Tensor) -> Tensor:
        """``src[p]``: the node at ``r^{-1} x_p`` (so ``(r f)[p] = f[src[p]]``)."""
        x = self.grid.coordinates(dtype=torch.float64)
        src = x @ r  # rows: (r^T x_p)^T = (r^{-1} x_p)^T
        n = self.grid.shape[0]
        idx = torch.round(src + (n - 1) / 2).long()  # Cartesian x, y, z indices
        return (idx[:, 2] * n + idx[:, 1]) * n + idx[:, 0]

    def multiply(self, a: int, b: int) -> int:
        """Index of the product ``h_a h_b``."""
        return int(self._table[a, b])

    def rotate(self, f: Tensor, element: int) -> Tensor:
        """Act by the ``element``-th cube rotation ``r`` (exact): ``out(h, x) = f(r^{-1} h, r^{-1} x)``.

        Shapes: ``(..., 24 d)`` to the same.
        """
        self._check(f, "SE3Grid.rotate")
        if not isinstance(element, int) or not 0 <= element < 24:
            raise ValueError(f"SE3Grid.rotate: element must be an int in 0..23, got {element!r}")
        inv = int(self._inverse[element])
        fibre = self._table[inv]  # index of r^{-1} h_m
        return self._permute(f, fibre, self._pixels(self.frames[element]))


# ----------------------------------------------------------------------------- derivatives
def _derivative_1d(n: int, method: str, periodic: bool) -> Tensor:
    if method == "swi":
        if not periodic:
            raise ValueError(
                "the SWI derivative needs a periodic grid; use Grid(..., periodic=True) or method='central'"
            )
        return swi_derivative(n, dtype=torch.float64)
    return central_difference(n, periodic, dtype=torch.float64)


def _neighbours(f: Tensor, dim: int, op) -> Tensor:
    """``op(f[r + 1], f[r - 1])`` along one periodic axis, in one pass (a roll makes two copies)."""
    n = f.shape[dim]
    out = torch.empty_like(f)
    op(f.narrow(dim, 2, n - 2), f.narrow(dim, 0, n - 2), out=out.narrow(dim, 1, n - 2))
    op(f.narrow(dim, 1, 1), f.narrow(dim, n - 1, 1), out=out.narrow(dim, 0, 1))
    op(f.narrow(dim, 0, 1), f.narrow(dim, n - 2, 1), out=out.narrow(dim, n - 1, 1))
    return out


def _central(f: Tensor, dim: int) -> Tensor:
    return _neighbours(f, dim, torch.sub).mul_(0.5)


def _second(f: Tensor, dim: int) -> Tensor:
    return _neighbours(f, dim, torch.add).sub_(f, alpha=2)


class _PeriodicStencil(torch.autograd.Function):
    """A 3-point periodic stencil along one axis: ``(f[r + 1] - f[r - 1]) / 2`` or ``f[r + 1] - 2 f[r] + f[r - 1]``.

    The central difference is antisymmetric, so its backward pass is the same difference of
    the output gradient with the opposite sign; the second difference is symmetric, its own backward.
    """

    @staticmethod
    def forward(ctx, f: Tensor, dim: int, second: bool) -> Tensor:
        ctx.dim, ctx.second = dim, second
        return _second(f, dim) if second else _central(f, dim)

    @staticmethod
    def backward(ctx, grad: Tensor):
        return (_second(grad, ctx.dim) if ctx.second else -_central(grad, ctx.dim)), None, None


def periodic_central(f: Tensor, dim: int) -> Tensor:
    """Periodic central difference ``(f[r + 1] - f[r - 1]) / 2`` along ``dim`` (at least 3 nodes)."""
    return _PeriodicStencil.apply(f, dim % f.dim(), False)


def periodic_second(f: Tensor, dim: int) -> Tensor:
    """Periodic compact second difference ``f[r + 1] - 2 f[r] + f[r - 1]`` along ``dim`` (at least 3 nodes)."""
    return _PeriodicStencil.apply(f, dim % f.dim(), True)


class _AxisDerivatives(nn.Module):
    """``d/dx^alpha`` on the trailing grid axes of a tensor: shifted differences (periodic central) or a small matrix."""

    def __init__(self, grid: Grid, method: str, where: str):
        super().__init__()
        if method not in METHODS:
            raise ValueError(f"{where}: method must be one of {METHODS}, got {method!r}")
        self.ndim = grid.ndim
        self.rolls = method == "central" and all(grid.periodic) and min(grid.shape) >= 3
        self._mats: list[Tensor | None] = []
        for alpha in range(grid.ndim):
            ax = grid.axis(alpha)
            if self.rolls:
                self._mats.append(None)
            else:
                if method == "central" and grid.shape[ax] < 2:
                    raise ValueError(f"{where}: central differences need at least 2 nodes per axis, got {grid!r}")
                self._mats.append(_derivative_1d(grid.shape[ax], method, grid.periodic[ax]))
        self._cache: dict = {}

    def _mat(self, alpha: int, like: Tensor) -> Tensor:
        key = (alpha, like.dtype, like.device)
        if key not in self._cache:
            self._cache[key] = self._mats[alpha].to(dtype=like.dtype, device=like.device)
        return self._cache[key]

    def forward(self, f: Tensor, alpha: int) -> Tensor:
        """Derivative along Cartesian ``alpha`` of ``f (..., *grid.shape)``."""
        dim = f.dim() - 1 - alpha  # x is the last axis
        if self.rolls:
            return periodic_central(f, dim)
        m = self._mat(alpha, f)
        return (f.transpose(dim, -1) @ m.T).transpose(dim, -1)


def _cached(cache: dict, name: str, master: Tensor, like: Tensor) -> Tensor:
    key = (name, like.dtype, like.device)
    if key not in cache:
        cache[key] = master.to(dtype=like.dtype, device=like.device)
    return cache[key]


# ----------------------------------------------------------------------------- left-invariant generators
class LeftInvariantGenerators(Generators):
    r"""The left-invariant vector fields of ``R^k x| H`` on a lifted grid, applied matrix-free.

    On :class:`SE2Grid` the three fields (``n = 3``) are, at orientation ``theta``,

    * ``A_1 = cos(theta) d/dx + sin(theta) d/dy`` (along the body axis ``e(theta)``),
    * ``A_2 = -sin(theta) d/dx + cos(theta) d/dy`` (along ``e_perp(theta)``),
    * ``A_3 = d/dtheta`` (per radian, along the periodic orientation axis);

    on :class:`SE3Grid` the six fields are the derivatives along the three body axes
    ``h e_a`` of every rotation ``h``, then three rotation fields
    ``(f(h r_a) - f(h r_a^{-1})) / pi``, ``r_a`` the quarter turn about axis ``a`` (a
    central difference on the group with step ``pi/2``; finer steps would leave the
    rotations that map the cube onto itself). Their flows are right multiplications,
    ``f(g) -> f(g exp(t A_i))``, which commute with the group acting on the left, so an
    :class:`~lconv.LConv` with these generators (free ``W_i``) commutes with every
    transformation of the lifted grid that is a permutation (quarter turns or cube
    rotations, integer shifts) up to rounding, and with continuous rotations up to the
    accuracy of the discrete derivatives (``method="swi"`` on band-limited content).

    Spatial derivatives are the SWI derivative (``method="swi"``, periodic grids) or
    central differences (``"central"``, one pass of shifted differences on periodic grids); the
    orientation derivative of SE(2) uses the same method on the periodic orientation axis.
    Cost per feature vector: a few ``M d`` (central) or ``M d (H + W + N)`` (SWI)
    operations; nothing of size ``(M d)^2`` is formed.

    **Second-order terms** (SE(2), periodic grids, ``method="central"``): products of
    the fields are left-invariant too, so a layer may add ``sum_k W''_k (S_k f)`` with
    ``S = (A_1^2, A_2^2, (A_1 A_2 + A_2 A_1) / 2, A_3^2)`` (:meth:`second_order_fields`,
    the ``weight2`` of :meth:`weighted_sum_fibre_major`) and stay equivariant. With them
    one layer has the symmetric part of a 3x3 stencil (a blur or a Laplacian along the
    body axes), which central first differences lack: ``(f[r+1] - f[r-1]) / 2`` only
    sees the odd part. The second differences are compact (``f[r+1] - 2 f[r] + f[r-1]``
    on each axis, ``D_x D_y`` the product of central differences).

    **Learned variant** (``learned=True``): ``n`` generators ``L_i = sum_j c_ij A_j`` with
    learned coefficients ``c`` (``(n, n_fields)``) that do not depend on position or
    orientation, so every learned generator is itself left-invariant and the layer keeps
    its equivariance: the layer learns which directions of the Lie algebra it uses.
    Init: the first ``min(n, n_fields)`` rows of the identity, further rows
    ``N(0, 1/n_fields)``.

    Args:
        space: an :class:`SE2Grid` or :class:`SE3Grid`.
        method: ``"central"`` (default) or ``"swi"``.
        n: number of generators; default all fields (3 for SE(2), 6 for SE(3)).
            Other values need ``learned=True``.
        learned: learn the coefficients ``c`` (see above).
        device, dtype: where the buffers and learned coefficients are made, and the
            coefficients' floating dtype (the fields follow the dtype of their input).

    Shapes:
        input ``(..., M d)``; output ``(..., n, M d)``.
    """

    def __init__(
        self,
        space,
        *,
        method: str = "central",
        n: int | None = None,
        learned: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ):
        kw = factory(device, dtype, "LeftInvariantGenerators")
        if not isinstance(space, _LiftedGrid):
            raise TypeError(
                f"LeftInvariantGenerators: space must be an SE2Grid or SE3Grid, got {type(space).__name__}; "
                "lift the grid first, e.g. SE2Grid(Grid((28, 28)), orientations=8)"
            )
        fields = 3 if isinstance(space, SE2Grid) else 6
        n = fields if n is None else n
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"LeftInvariantGenerators: n must be a positive int, got {n!r}")
        if n != fields and not learned:
            raise ValueError(
                f"LeftInvariantGenerators: {type(space).__name__} has {fields} left-invariant fields; for n={n} learned "
                "combinations of them pass learned=True"
            )
        super().__init__(n, space.size)
        self.space = space
        self.method = method
        self.fields = fields
        self.learned = learned
        self.derivatives = _AxisDerivatives(space.grid, method, "LeftInvariantGenerators")
        self._frames = space.frames  # float64 master copy: exact signs and zeros in every dtype
        self._cache: dict = {}
        if isinstance(space, SE2Grid):
            N = space.orientations
            self._fibre = None if method == "central" else _derivative_1d(N, "swi", True) * (N / (2 * math.pi))
            self._fibre_scale = N / (2 * math.pi) * 0.5  # central difference with step 2 pi / N
        else:
            plus = space._table[:, space.quarter_turns]  # (24, 3): index of h_m r_a
            minus = space._table[:, space._inverse[space.quarter_turns]]
            self.register_buffer("plus", plus.T.to(kw["device"]).contiguous(), persistent=False)
            self.register_buffer("minus", minus.T.to(kw["device"]).contiguous(), persistent=False)
        if learned:
            init = torch.randn(n, fields, **kw) / math.sqrt(fields)
            k = min(n, fields)
            init[:k] = torch.eye(fields, **kw)[:k]
            self.coefficients = nn.Parameter(init)
        else:
            self.coefficients = None

    def fields_of(self, f: Tensor) -> Tensor:
        """The basic fields ``A_j f``, ``(..., n_fields, M d)`` (before any learned combination)."""
        check_features(f, self.d, type(self).__name__)
        space = self.space
        lead = f.shape[:-1]
        g = f.reshape(-1, *space.shape)  # (B, M, *grid)
        k = space.ndim
        grads = torch.stack([self.derivatives(g, alpha) for alpha in range(k)], 1)  # (B, k, M, *grid)
        frames = _cached(self._cache, "frames", self._frames, f)  # (M, k, k): [m, b, a]
        grads = grads.reshape(g.shape[0], k, space.orientations, -1)
        body = torch.einsum("xbmp,mba->xamp", grads, frames)  # (B, k, M, d)
        if isinstance(space, SE2Grid):
            if self._fibre is None:
                rot = periodic_central(g, 1) * (2 * self._fibre_scale)
            else:
                mat = _cached(self._cache, "fibre", self._fibre, f)
                rot = torch.einsum("mn,xn...->xm...", mat, g)
            rot = rot.reshape(g.shape[0], 1, space.orientations, -1)
        else:
            gm = g.reshape(g.shape[0], space.orientations, -1)
            rot = (gm[:, self.plus] - gm[:, self.minus]) / math.pi  # (B, 3, M, d)
        out = torch.cat([body, rot], 1)
        return out.reshape(*lead, self.fields, self.d)

    def _second_order_ready(self, where: str) -> None:
        if not isinstance(self.space, SE2Grid) or not self.derivatives.rolls:
            raise ValueError(
                f"{where}: second-order terms need an SE2Grid on a periodic grid with method='central' "
                f"(sides >= 3), got {self.space!r}, method={self.method!r}"
            )

    def _cartesian_second(self, g: Tensor, theta_dim: int) -> list[Tensor]:
        """``[D_xx, D_xy, D_yy, D_theta^2]`` of ``g (..., N, ..., H, W)`` (orientation axis ``theta_dim``)."""
        k = 2 * self._fibre_scale  # N / (2 pi): per radian
        return [
            periodic_second(g, -1),
            periodic_central(periodic_central(g, -1), -2),
            periodic_second(g, -2),
            periodic_second(g, theta_dim) * (k * k),
        ]

    def _second_coefficients(self, like: Tensor) -> Tensor:
        """``(N, 3, 3)``: ``[m, Cartesian term (xx, xy, yy), body term (11, 22, 12)]``, from the frames."""
        frames = _cached(self._cache, "frames", self._frames, like)  # (N, 2, 2): [m, b, a]
        pairs = ((0, 0), (1, 1), (0, 1))  # A_1^2, A_2^2, sym(A_1 A_2)
        rows = []
        for b, b2 in ((0, 0), (0, 1), (1, 1)):  # D_xx, D_xy, D_yy (x: the last grid axis, Cartesian 0)
            row = []
            for a, a2 in pairs:
                c = frames[:, b, a] * frames[:, b2, a2]
                if b != b2:
                    c = c + frames[:, b2, a] * frames[:, b, a2]
                row.append(c)
            rows.append(torch.stack(row, -1))
        return torch.stack(rows, 1)

    def second_order_fields(self, f: Tensor) -> Tensor:
        """The second-order left-invariant operators ``S_k f``, ``(..., 4, M d)`` (see the class docstring).

        ``S = (A_1^2, A_2^2, (A_1 A_2 + A_2 A_1) / 2, A_3^2)`` with compact second differences;
        each commutes with quarter turns and integer shifts of the lifted grid, as the fields do.
        """
        check_features(f, self.d, type(self).__name__)
        self._second_order_ready("second_order_fields")
        space = self.space
        lead = f.shape[:-1]
        g = f.reshape(-1, *space.shape)  # (B, N, H, W)
        dxx, dxy, dyy, dtt = self._cartesian_second(g, 1)
        coef = self._second_coefficients(f)  # (N, 3 Cartesian, 3 body)
        cart = torch.stack([dxx, dxy, dyy], 1)  # (B, 3, N, H, W)
        body = torch.einsum("xcmhw,mcj->xjmhw", cart, coef)  # (B, 3, N, H, W)
        out = torch.cat([body, dtt[:, None]], 1)
        return out.reshape(*lead, 4, self.d)

    def forward(self, f: Tensor) -> Tensor:
        out = self.fields_of(f)
        if self.coefficients is None:
            return out
        return torch.einsum("ij,...jv->...iv", self.coefficients.to(out.dtype), out)

    def weighted_sum(self, f: Tensor, weight0: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
        """``W0 f + sum_i W_i (L_i f) + b``, channels first: ``sum_j A_j (W'_j f)``.

        The fields act on nodes and the weights on channels, so the channels are mixed
        first by one product with ``[W0; W'_1; ...]`` (``W'_j = sum_i c_ij W_i`` for learned
        combinations) and the fields then act on ``c_out`` channels; for SE(2) the two
        translation fields fold into ``D_x (c z_1 - s z_2) + D_y (s z_1 + c z_2)`` with
        ``c, s = cos, sin`` of each orientation.
        """
        check_features(f, self.d, type(self).__name__)
        if self.coefficients is not None:
            weight = torch.einsum("ij,ioc->joc", self.coefficients.to(weight.dtype), weight)
        space = self.space
        b, _, _ = f.shape
        o = weight.shape[1]
        w = torch.cat([weight0[None], weight]).reshape((1 + self.fields) * o, -1)
        z = (
            torch.bmm(w.expand(b, -1, -1), f).reshape(b, 1 + self.fields, o, *space.shape).unbind(1)
        )  # each (B, o, M, *grid)
        k = space.ndim
        frames = _cached(self._cache, "frames", self._frames, f)  # (M, k, k): [m, b, a]
        expand = (slice(None),) + (None,) * k
        out = z[0]
        for beta in range(k):  # sum_a A_a z_a = sum_b D_b (sum_a frames[m, b, a] z_a)
            comb = sum(frames[:, beta, a][expand] * z[1 + a] for a in range(k) if bool(self._frames[:, beta, a].any()))
            out = out + self.derivatives(comb, beta)
        if isinstance(space, SE2Grid):
            zr = z[1 + k]
            if self._fibre is None:
                out = out + periodic_central(zr, 2) * (2 * self._fibre_scale)
            else:
                out = out + torch.einsum("mn,xon...->xom...", _cached(self._cache, "fibre", self._fibre, f), zr)
        else:
            for a in range(3):
                zr = z[1 + k + a]
                out = out + (zr[:, :, self.plus[a]] - zr[:, :, self.minus[a]]) / math.pi
        out = out.reshape(b, o, self.d)
        return out if bias is None else out + bias[:, None]

    def weighted_sum_fibre_major(
        self,
        f: Tensor,
        weight0: Tensor,
        weight: Tensor,
        bias: Tensor | None = None,
        weight2: Tensor | None = None,
    ) -> Tensor:
        """:meth:`weighted_sum` on SE(2) features laid out **fibre-major**, ``(N, c_in, B, H, W) -> (N, c_out, B, H, W)``.

        The same layer (same weights, same result up to rounding) as one batched product
        per orientation: the fields act on the input, ``X = [f, D_x f, D_y f, D_theta f]``
        (``4 c_in`` channels), and orientation ``m`` mixes them with
        ``[W0, c W'_1 - s W'_2, s W'_1 + c W'_2, W'_3]`` (``c, s = cos, sin theta_m``), so the
        whole layer is three stencils, one concatenation and one ``bmm`` of ``N`` products
        ``(c_out, 4 c_in) @ (4 c_in, B H W)``, with no per-orientation loop. With the
        orientation axis first, a per-channel batch normalisation is ``BatchNorm1d`` on
        ``(N, C, B H W)`` and the orientation pooling a reduction over axis 0.

        ``weight2`` (``(4, c_out, c_in)``, optional): the weights of the second-order terms
        ``S_k`` (:meth:`second_order_fields`), steered to every orientation the same way
        (four more blocks of ``c_in`` in ``X``: ``D_xx, D_xy, D_yy, D_theta^2``).
        """
        space = self.space
        if not isinstance(space, SE2Grid):
            raise TypeError(f"weighted_sum_fibre_major: needs an SE2Grid, got {space!r}")
        n_or = space.orientations
        if f.dim() != 5 or f.shape[0] != n_or or tuple(f.shape[3:]) != space.grid.shape:
            raise ValueError(
                f"weighted_sum_fibre_major: expected features (N={n_or}, C, B, *{space.grid.shape}), got {tuple(f.shape)}"
            )
        if self.coefficients is not None:
            weight = torch.einsum("ij,ioc->joc", self.coefficients.to(weight.dtype), weight)
        c, b = f.shape[1], f.shape[2]
        o = weight0.shape[0]
        if self._fibre is None:
            dt = periodic_central(f, 0) * (2 * self._fibre_scale)
        else:
            dt = torch.einsum("mn,n...->m...", _cached(self._cache, "fibre", self._fibre, f), f)
        blocks = [f, self.derivatives(f, 0), self.derivatives(f, 1), dt]
        frames = _cached(self._cache, "frames", self._frames, f)  # (N, 2, 2): [m, b, a]
        spatial = torch.einsum("mba,aoc->mboc", frames, weight[:2])  # (N, 2, o, c): the weights of D_x, D_y
        effs = [weight0.expand(n_or, 1, o, c), spatial, weight[2].expand(n_or, 1, o, c)]
        if weight2 is not None:
            self._second_order_ready("weighted_sum_fibre_major")
            if weight2.shape != (4, o, c):
                raise ValueError(
                    f"weighted_sum_fibre_major: weight2 must have shape (4, {o}, {c}), got {tuple(weight2.shape)}"
                )
            blocks += self._cartesian_second(f, 0)
            cart = torch.einsum("mcj,joi->mcoi", self._second_coefficients(f), weight2[:3])  # (N, 3, o, c)
            effs += [cart, weight2[3].expand(n_or, 1, o, c)]
        x = torch.cat(blocks, 1).reshape(n_or, len(blocks) * c, -1)
        eff = torch.cat(effs, 1).permute(0, 2, 1, 3).reshape(n_or, o, len(blocks) * c)
        out = torch.bmm(eff, x)  # (N, o, B d)
        if bias is not None:
            out = out + bias[:, None]
        return out.reshape(n_or, o, b, *space.grid.shape)

    def matrices(self, *, dtype: torch.dtype = torch.float64) -> Tensor:
        """The dense generators ``(n, M d, M d)``. Memory ``n (M d)^2``: for analysis on small grids only."""
        ref = self.coefficients
        device = ref.device if ref is not None else None
        eye = torch.eye(self.d, dtype=dtype, device=device)
        return self(eye).permute(1, 2, 0)

    def extra_repr(self) -> str:
        return f"{self.space!r}, n={self.n}, method={self.method!r}, learned={self.learned}"


def left_invariant(
    space,
    *,
    method: str = "central",
    n: int | None = None,
    learned: bool = False,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
):
    """The left-invariant generators of a lifted grid (:class:`LeftInvariantGenerators`).

    Example:
        >>> from lconv import Grid, LConv
        >>> space = SE2Grid(Grid((16, 16)), orientations=8)
        >>> layer = LConv(4, 4, generators=left_invariant(space))   # equivariant to SE2Grid.rot90 and shifts
    """
    return LeftInvariantGenerators(space, method=method, n=n, learned=learned, device=device, dtype=dtype)


# ----------------------------------------------------------------------------- lifting and pooling
def _monomials(k: int, order: int) -> list[tuple[int, ...]]:
    """Exponents ``alpha`` with ``|alpha| <= order`` in ``k`` variables, by degree."""
    out = []
    for deg in range(order + 1):
        out += sorted((a for a in itertools.product(range(deg + 1), repeat=k) if sum(a) == deg), reverse=True)
    return out


def _expand(frame: Tensor, alpha: tuple[int, ...]) -> dict[tuple[int, ...], float]:
    """``prod_a (sum_b frame[b, a] D_b)^alpha_a`` as a polynomial in the Cartesian ``D_b``."""
    k = frame.shape[0]
    poly = {(0,) * k: 1.0}
    for a, power in enumerate(alpha):
        for _ in range(power):
            nxt: dict = {}
            for mono, c in poly.items():
                for b in range(k):
                    w = float(frame[b, a])
                    if w == 0.0:
                        continue
                    m = list(mono)
                    m[b] += 1
                    nxt[tuple(m)] = nxt.get(tuple(m), 0.0) + c * w
            poly = nxt
    return poly


class Lifting(nn.Module):
    r"""Lift images to a lifted grid by derivatives along every rotated frame.

    .. math::
        F(h, x) = \sum_{|\alpha| \le p} W_\alpha \, (D_{h e_1}^{\alpha_1} \cdots D_{h e_k}^{\alpha_k} f)(x) + b ,

    with ``D_{h e_a}`` the derivative along body axis ``a`` of rotation ``h`` (for SE(2),
    ``d/ds`` along ``e(theta)`` and ``e_perp(theta)``), ``W_alpha`` learned
    ``(c_out, c_in)`` matrices shared by all rotations and pixels, and ``p = order``. The
    same learned filter is thus steered to every orientation analytically: turning the
    image by an exact rotation of the grid turns every output map and moves it along
    the orientation axis (exact; :class:`SE2Grid`.rot90, :class:`SE3Grid`.rotate), and
    integer shifts shift the output. ``order=2`` on SE(2) has 6 terms
    (``1, D_par, D_perp, D_par^2, D_par D_perp, D_perp^2``).

    Args:
        in_channels, out_channels: ``c_in``, ``c_out``.
        space: an :class:`SE2Grid` or :class:`SE3Grid`.
        order: highest derivative order ``p`` (``>= 0``).
        method: ``"central"`` (default; derivatives of order 2 are central differences
            applied twice) or ``"swi"``.
        bias: add a learnable ``b`` (``c_out``).
        average: average the derivatives over ``average x average`` windows before they
            are steered, so the output lives on the coarser grid :attr:`out_space`
            (sides divided by ``average``; cheaper than lifting at full resolution and
            pooling after). Windows map onto windows under quarter turns when the sides
            are multiples of ``average`` (SE(2) only).

    Init:
        uniform in ``+-1/sqrt(c_in T)``, ``T`` the number of terms.

    Shapes:
        input ``(batch, c_in, d)``; output ``(batch, c_out, M d')``, orientation-major, with
        ``d' = d / average^2`` the pixels of :attr:`out_space`.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        space,
        *,
        order: int = 2,
        method: str = "central",
        bias: bool = True,
        average: int = 1,
    ):
        super().__init__()
        if not isinstance(space, _LiftedGrid):
            raise TypeError(f"Lifting: space must be an SE2Grid or SE3Grid, got {type(space).__name__}")
        for name, v in (("in_channels", in_channels), ("out_channels", out_channels)):
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"Lifting: {name} must be a positive int, got {v!r}")
        if not isinstance(order, int) or order < 0:
            raise ValueError(f"Lifting: order must be a non-negative int, got {order!r}")
        self.in_channels, self.out_channels, self.order = in_channels, out_channels, order
        self.space = space
        if not isinstance(average, int) or average < 1:
            raise ValueError(f"Lifting: average must be a positive int, got {average!r}")
        self.average = average
        self.out_space = space
        if average > 1:
            if not isinstance(space, SE2Grid) or any(side % average for side in space.grid.shape):
                raise ValueError(
                    f"Lifting: average={average} needs an SE2Grid whose sides are multiples of it, got {space!r}"
                )
            coarse = Grid(tuple(side // average for side in space.grid.shape), periodic=space.grid.periodic)
            self.out_space = SE2Grid(coarse, space.orientations)
        self.derivatives = _AxisDerivatives(space.grid, method, "Lifting")
        k = space.ndim
        self.terms = _monomials(k, order)
        t = len(self.terms)
        coef = torch.zeros(space.orientations, t, t, dtype=torch.float64)  # [m, oriented term, Cartesian term]
        where = {mono: j for j, mono in enumerate(self.terms)}
        for m in range(space.orientations):
            for i, alpha in enumerate(self.terms):
                for mono, c in _expand(space.frames[m], alpha).items():
                    coef[m, i, where[mono]] += c
        self._coef = coef
        self._cache: dict = {}
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, t))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1 / math.sqrt(self.in_channels * len(self.terms))
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.uniform_(self.bias, -bound, bound)

    def _cartesian(self, x: Tensor) -> Tensor:
        """All ``D^beta x`` for the Cartesian monomials, ``(B, c, T, d)``."""
        g = x.reshape(*x.shape[:2], *self.space.grid.shape)
        maps: dict[tuple[int, ...], Tensor] = {(0,) * self.space.ndim: g}
        for mono in self.terms[1:]:
            a = next(i for i, e in enumerate(mono) if e > 0)  # differentiate a lower monomial along axis a
            lower = list(mono)
            lower[a] -= 1
            maps[mono] = self.derivatives(maps[tuple(lower)], a)
        return torch.stack([maps[m] for m in self.terms], 2).reshape(*x.shape[:2], len(self.terms), -1)

    def forward(self, x: Tensor) -> Tensor:
        d = self.space.grid.size
        check_features(x, d, "Lifting")
        if x.dim() != 3 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"Lifting: expected images of shape (batch, {self.in_channels}, {d}), got {tuple(x.shape)}; "
                "flatten the pixels with Grid.flatten"
            )
        if x.dtype != self.weight.dtype:
            raise TypeError(
                f"Lifting: input is {x.dtype} but the layer is {self.weight.dtype}; use layer.to({x.dtype})"
            )
        b, m = x.shape[0], self.space.orientations
        base = self._cartesian(x)  # (B, c_in, T, d)
        if self.average > 1:
            base = F.avg_pool2d(base.reshape(-1, *self.space.grid.shape), self.average)
            d = self.out_space.grid.size
        base = base.reshape(b, -1, d)  # (B, c_in T, d)
        coef = _cached(self._cache, "coef", self._coef, x)  # (M, T, T)
        eff = torch.einsum("oct,mts->omcs", self.weight, coef)  # (c_out, M, c_in, T): rows in output order
        out = torch.bmm(eff.reshape(self.out_channels * m, -1).expand(b, -1, -1), base)  # (B, c_out M, d)
        out = out.reshape(b, self.out_channels, m * d)
        if self.bias is not None:
            out = out + self.bias[:, None]
        return out

    def fibre_major(self, x: Tensor, *, max_pool: bool = False) -> Tensor:
        """:meth:`forward` with the output laid out fibre-major, ``(M, c_out, B, *out_space.grid.shape)``.

        One batched product of the ``M`` steered filters ``(c_out, c_in T)`` with the
        Cartesian derivatives ``(c_in T, B d')``; the input of
        :meth:`LeftInvariantGenerators.weighted_sum_fibre_major`. ``max_pool``: followed by
        the 2x2 max-pooling of every orientation's image (:func:`lifted_max_pool2`; sides of
        :attr:`out_space` even), computed as a maximum over the four positions of every
        window, so the output is ``(M, c_out, B, H'/2, W'/2)``.
        """
        d = self.space.grid.size
        check_features(x, d, "Lifting")
        if x.dim() != 3 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"Lifting: expected images of shape (batch, {self.in_channels}, {d}), got {tuple(x.shape)}"
            )
        b, m = x.shape[0], self.space.orientations
        base = self._cartesian(x)  # (B, c_in, T, d)
        if self.average > 1:
            base = F.avg_pool2d(base.reshape(-1, *self.space.grid.shape), self.average)
        h, w = self.out_space.grid.shape
        if max_pool:
            if h % 2 or w % 2:
                raise ValueError(f"Lifting.fibre_major: max_pool needs even sides, got {self.out_space.grid!r}")
            h, w = h // 2, w // 2
            base = base.reshape(b, -1, h, 2, w, 2).permute(1, 3, 5, 0, 2, 4)  # (c_in T, 2, 2, B, h, w)
        else:
            base = base.reshape(b, -1, h * w).transpose(0, 1)
        base = base.reshape(base.shape[0], -1)
        coef = _cached(self._cache, "coef", self._coef, x)  # (M, T, T)
        eff = torch.einsum("oct,mts->mocs", self.weight, coef).reshape(m, self.out_channels, -1)
        out = torch.matmul(eff, base)  # (M, c_out, [4,] B d')
        if max_pool:
            out = out.reshape(m, self.out_channels, 4, -1).amax(2)
        if self.bias is not None:
            out = out + self.bias[:, None]
        return out.reshape(m, self.out_channels, b, h, w)

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, {self.space!r}, order={self.order}, terms={len(self.terms)}"


class OrientationPool(nn.Module):
    """Max or mean over the rotations of a lifted grid: ``(batch, C, M d) -> (batch, C, d)``.

    The result transforms like an image (it turns with the input and no longer moves
    along an orientation axis); any pooling over the pixels after it is invariant.
    """

    def __init__(self, space, mode: str = "max"):
        super().__init__()
        if mode not in ("max", "mean"):
            raise ValueError(f"OrientationPool: mode must be 'max' or 'mean', got {mode!r}")
        if not isinstance(space, _LiftedGrid):
            raise TypeError(f"OrientationPool: space must be an SE2Grid or SE3Grid, got {type(space).__name__}")
        self.space, self.mode = space, mode

    def forward(self, f: Tensor) -> Tensor:
        return self.space.pool(f, self.mode)

    def extra_repr(self) -> str:
        return f"{self.space!r}, mode={self.mode!r}"


def lifted_max_pool2(f: Tensor, space: SE2Grid) -> tuple[Tensor, SE2Grid]:
    """2x2 max-pooling of every orientation's image: ``(B, C, N H W) -> (B, C, N H/2 W/2)`` and the coarser grid.

    On a square grid of even side the 2x2 windows are mapped onto windows by quarter
    turns, so this commutes with :meth:`SE2Grid.rot90` exactly (and with even shifts).
    """
    h, w = space.grid.shape
    if h % 2 or w % 2:
        raise ValueError(f"lifted_max_pool2: needs even sides, got {space.grid!r}")
    b, c = f.shape[:2]
    g = F.max_pool2d(f.reshape(b, c * space.orientations, h, w), 2)
    coarse = SE2Grid(Grid((h // 2, w // 2), periodic=space.grid.periodic), space.orientations)
    return g.reshape(b, c, coarse.size), coarse
