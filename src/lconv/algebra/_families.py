r"""Generator families on grids: the pushforward of a matrix Lie algebra acting on coordinates.

Convention (used by every family here). A matrix ``A`` (``k x k``, ``k = ndim``) or an
affine ``A`` (``(k+1) x (k+1)``, homogeneous coordinates ``(x, 1)``) acts on the Cartesian
coordinates of the grid. Its discrete generator is

.. math::
    L_A = -\sum_\alpha \operatorname{diag}\big([A x]^\alpha\big)\, D_\alpha ,

with ``D_alpha`` the derivative along ``x^alpha`` (:func:`~lconv.algebra.derivative`).
``L_A`` generates the left action on features, ``(g \cdot f)(x) = f(g^{-1} x)``:

* ``exp(t L_A)`` moves the content of ``f`` by ``exp(t A)``, i.e.
  ``exp(t L_A) f (x) = f(exp(-t A) x)`` (exactly for band-limited content that stays
  inside the grid);
* ``A -> L_A`` is a Lie algebra homomorphism, ``[L_A, L_B] = L_{[A, B]}``, so the
  structure constants of ``L`` are those of the matrix algebra.

Written with the paper's SWI matrix ``\partial^{paper} = -D`` this is
``L_A = [A x]^\alpha \partial^{paper}_\alpha``, which is how the paper writes its
generators (``\partial_x`` for translations, ``x \partial_y - y \partial_x`` for rotations).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ..grid import Grid
from ._derivative import derivative

# ---------------------------------------------------------------------------------
# Matrix Lie algebras acting on coordinates


def _so3() -> Tensor:
    eps = torch.zeros(3, 3, 3, dtype=torch.float64)
    for i, j, k in [(0, 1, 2), (1, 2, 0), (2, 0, 1)]:
        eps[i, j, k], eps[i, k, j] = 1.0, -1.0
    return -eps  # (A_i)_{jk} = -eps_{ijk}: [A_x, A_y] = A_z


def _so13() -> Tensor:
    # Lorentz algebra on (t, x, y, z) with metric diag(-1, 1, 1, 1): 3 rotations, 3 boosts.
    out = torch.zeros(6, 4, 4, dtype=torch.float64)
    out[:3, 1:, 1:] = _so3()
    for i in range(3):
        out[3 + i, 0, 1 + i] = out[3 + i, 1 + i, 0] = 1.0
    return out


def _unit(k: int, i: int, j: int) -> Tensor:
    e = torch.zeros(k, k, dtype=torch.float64)
    e[i, j] = 1.0
    return e


_MATRIX_ALGEBRAS: dict[str, tuple[Callable[[], Tensor], str]] = {
    "so2": (lambda: torch.tensor([[[0.0, -1.0], [1.0, 0.0]]], dtype=torch.float64), "rotations of the plane"),
    "so3": (_so3, "rotations of space, [A_x, A_y] = A_z"),
    "sl2": (
        lambda: torch.stack([_unit(2, 0, 0) - _unit(2, 1, 1), _unit(2, 0, 1), _unit(2, 1, 0)]),
        "traceless 2x2 matrices: h, e, f with [h, e] = 2e, [h, f] = -2f, [e, f] = h",
    ),
    "gl2": (lambda: torch.stack([_unit(2, i, j) for i in range(2) for j in range(2)]), "all 2x2 matrices"),
    "se2": (
        lambda: torch.stack([_unit(3, 0, 2), _unit(3, 1, 2), _unit(3, 1, 0) - _unit(3, 0, 1)]),
        "affine 3x3: translation x, translation y, rotation",
    ),
    "so13": (_so13, "Lorentz algebra on (t, x, y, z): rotations J_x, J_y, J_z, then boosts K_x, K_y, K_z"),
}


def matrix_algebra(name: str, *, dtype: torch.dtype | None = None) -> Tensor:
    """A basis of a named matrix Lie algebra, shape ``(m, k, k)``.

    Names: ``so2``, ``so3``, ``sl2``, ``gl2``, ``se2`` (affine, 3x3 homogeneous), ``so13``.
    """
    if name not in _MATRIX_ALGEBRAS:
        raise ValueError(f"matrix_algebra: unknown algebra {name!r}; choose one of {sorted(_MATRIX_ALGEBRAS)}")
    return _MATRIX_ALGEBRAS[name][0]().to(dtype or torch.get_default_dtype())


# ---------------------------------------------------------------------------------
# Pushforward


def pushforward(
    grid: Grid, algebra: Tensor, *, method: str = "swi", dtype: torch.dtype | None = None, device=None
) -> Tensor:
    r"""Discrete generators of a matrix Lie algebra acting on the grid coordinates.

    ``L_A = -sum_alpha diag([A x]^alpha) D_alpha`` for each basis matrix ``A`` (see the
    module docstring for the convention; Eq. 11, 19-20 of the paper).

    Args:
        grid: the grid; coordinates are centred and Cartesian (:meth:`Grid.coordinates`).
        algebra: ``(k, k)`` or ``(m, k, k)`` with ``k = grid.ndim`` (linear action) or
            ``k = grid.ndim + 1`` (affine action on ``(x, 1)``; the last row is ignored).
        method: derivative, ``"swi"`` or ``"central"``.

    Returns:
        ``(m, d, d)`` generators, dense (memory ``m d^2``).
    """
    a = torch.as_tensor(algebra, dtype=torch.float64)
    if a.dim() == 2:
        a = a[None]
    k = grid.ndim
    if a.dim() != 3 or a.shape[-1] != a.shape[-2] or a.shape[-1] not in (k, k + 1):
        raise ValueError(
            f"pushforward: algebra must be (m, {k}, {k}) (linear) or (m, {k + 1}, {k + 1}) (affine) "
            f"for a {k}-D grid, got shape {tuple(a.shape)}"
        )
    if not torch.isfinite(a).all():
        raise ValueError("pushforward: the algebra contains NaN or inf; pass finite matrices")
    x = grid.coordinates(dtype=torch.float64)  # (d, k)
    if a.shape[-1] == k + 1:
        x = torch.cat([x, torch.ones(len(x), 1, dtype=torch.float64)], dim=-1)
    field = torch.einsum("mab,db->mda", a, x)[..., :k]  # (m, d, k): [A x]^alpha at each node
    out = torch.zeros(a.shape[0], grid.size, grid.size, dtype=torch.float64)
    for alpha in range(k):
        coeff = field[..., alpha]
        if bool((coeff == 0).all()):
            continue
        out -= coeff[:, :, None] * derivative(grid, alpha, method=method, dtype=torch.float64)[None]
    return out.to(dtype=dtype or torch.get_default_dtype(), device=device)


def translation(grid: Grid, **kwargs) -> Tensor:
    """One translation generator per Cartesian axis, ``(ndim, d, d)``: ``T_alpha = -D_alpha``.

    ``exp(z T_x) f = grid.shift(f, (z, 0, ...))`` for integer ``z`` (see
    :func:`swi_derivative` for when this is exact). Keyword arguments go to
    :func:`pushforward`.
    """
    k = grid.ndim
    algebra = torch.stack([_unit(k + 1, alpha, k) for alpha in range(k)])
    return pushforward(grid, algebra, **kwargs)


def rotation(grid: Grid, **kwargs) -> Tensor:
    r"""Rotation generators: one on a 2-D grid, the three of so(3) on a 3-D grid.

    2-D: ``L = -(x D_y - y D_x)`` (the paper's ``x \partial_y - y \partial_x`` written
    with its SWI matrix), so ``exp(theta L) f (p) = f(R(-theta) p)`` with
    ``R(theta) = [[cos, -sin], [sin, cos]]`` on centred ``(x, y)``: the content turns by
    ``+theta`` from the x axis towards the y axis (``y`` grows downwards on screen, so
    this is clockwise as displayed). ``exp(pi/2 L)`` approximates ``grid.rot90``.
    3-D: ``L_x, L_y, L_z`` with ``[L_x, L_y] = L_z``.
    Shape ``(1, d, d)`` or ``(3, d, d)``.
    """
    if grid.ndim == 2:
        return pushforward(grid, matrix_algebra("so2", dtype=torch.float64), **kwargs)
    if grid.ndim == 3:
        return pushforward(grid, matrix_algebra("so3", dtype=torch.float64), **kwargs)
    raise ValueError(f"rotation: needs a 2-D or 3-D grid, got {grid!r}")


def scaling(grid: Grid, **kwargs) -> Tensor:
    """The isotropic scaling generator ``-(x^alpha D_alpha)``, ``(1, d, d)``.

    ``exp(s L) f (x) = f(exp(-s) x)``: the content is magnified by ``exp(s)`` about the centre.
    """
    return pushforward(grid, torch.eye(grid.ndim, dtype=torch.float64), **kwargs)


def _se2(grid: Grid, **kwargs) -> Tensor:
    if grid.ndim != 2:
        raise ValueError(f"se2: needs a 2-D grid, got {grid!r}")
    return pushforward(grid, matrix_algebra("se2", dtype=torch.float64), **kwargs)


def _sim2(grid: Grid, **kwargs) -> Tensor:
    return torch.cat([_se2(grid, **kwargs), scaling(grid, **kwargs)])


FAMILIES: dict[str, Callable[..., Tensor]] = {
    "translation": translation,
    "rotation": rotation,
    "scaling": scaling,
    "se2": _se2,
    "sim2": _sim2,
}


def family(name: str, grid: Grid, **kwargs) -> Tensor:
    """Generators of a named family on ``grid``, ``(n, d, d)``.

    Names: ``translation`` (n = ndim), ``rotation`` (1 in 2-D, 3 in 3-D), ``scaling``
    (1), ``se2`` (translation x, translation y, rotation), ``sim2`` (se2 and scaling).
    """
    if name not in FAMILIES:
        raise ValueError(f"family: unknown generator family {name!r}; choose one of {sorted(FAMILIES)}")
    return FAMILIES[name](grid, **kwargs)
