r"""Theorem 1 in 2-D: an SE(2) group convolution from a stack of lifted L-conv layers, and what the old layers miss.

Run ``python -m lconv.nn.theorem1`` to print, as markdown, (1) the relative error of a
stack of ``m`` L-conv layers with the left-invariant generators of SE(2)
(:func:`~lconv.nn.left_invariant`, SWI derivatives) against the exact SE(2) group
convolution with a small lifted kernel, for growing depth ``m``, and (2) the
equivariance errors of layers whose generators do not commute with the group (the
constructions that the README used to call equivariant), beside the lifted layers.

The group convolution (Eq. 3) with a kernel of point masses ``sum_s a_s delta(u_s)`` is
``[kappa * f](g) = sum_s a_s f(g u_s)``. For ``u_s = exp(t_s . A)`` (``A`` the basis of
se(2): translation along the body axis, translation across it, rotation), ``f(g u_s)`` is
the flow of the left-invariant fields, ``exp(t_s . A_hat) f``, which
:meth:`LConvStack.from_kernel` replaces by ``(I + t_s . A_hat / m)^m``: ``m`` L-conv layers,
one channel per tap (Lemma 2). The reference is computed exactly: the lifted test
function is a trigonometric polynomial in ``(x, y, theta)`` evaluated in closed form at
``g u_s``, with ``g u_s = (x + R(theta) tau_s, theta + phi_s)`` from the 3x3 matrix
exponential of each tap.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..grid import Grid
from ._layer import LConv, LConvStack
from ._lifted import SE2Grid, left_invariant

__all__ = ["DEFAULT_TAPS", "gconv_reference", "non_equivariance", "theorem1_curve"]

#: The small lifted kernel of the curve: (a_s, t_forward, t_lateral, t_rotation) per tap;
#: translations in pixels, rotations in radians.
DEFAULT_TAPS: tuple[tuple[float, float, float, float], ...] = (
    (0.50, 0.0, 0.0, 0.0),
    (0.30, 1.5, 0.0, 0.0),
    (-0.40, 0.0, -1.0, 0.0),
    (0.25, 0.0, 0.0, math.pi / 4),
    (0.35, 1.0, 0.5, -math.pi / 8),
)


def _se2_exp(t: Tensor) -> tuple[Tensor, Tensor]:
    """Translation ``tau`` (S, 2) and angle ``phi`` (S,) of ``exp(t_1 A_1 + t_2 A_2 + t_3 A_3)``."""
    s = t.shape[0]
    m = torch.zeros(s, 3, 3, dtype=torch.float64)
    m[:, 0, 2], m[:, 1, 2] = t[:, 0], t[:, 1]
    m[:, 1, 0], m[:, 0, 1] = t[:, 2], -t[:, 2]
    e = torch.linalg.matrix_exp(m)
    return e[:, :2, 2], t[:, 2]


class _TrigField:
    """A random real trigonometric polynomial on the periodic ``n x n`` grid times degree-1 harmonics in theta."""

    def __init__(self, n: int, max_freq: int, seed: int):
        gen = torch.Generator().manual_seed(seed)
        freqs = [(p, q) for p in range(-max_freq, max_freq + 1) for q in range(0, max_freq + 1) if (q > 0 or p >= 0)]
        self.n = n
        self.k = torch.tensor(freqs, dtype=torch.float64) * (2 * math.pi / n)  # (F, 2) wave vectors
        self.coef = torch.randn(len(freqs), 3, 2, generator=gen, dtype=torch.float64)  # theta harmonic, cos/sin
        self.coef /= math.sqrt(len(freqs))

    def __call__(self, xy: Tensor, theta: Tensor) -> Tensor:
        """Values at points ``xy (..., 2)`` and angles ``theta (...)``."""
        phase = xy @ self.k.T  # (..., F)
        harm = torch.stack([torch.ones_like(theta), torch.cos(theta), torch.sin(theta)], -1)  # (..., 3)
        wave = torch.stack([torch.cos(phase), torch.sin(phase)], -1)  # (..., F, 2)
        return torch.einsum("...fc,fhc,...h->...", wave, self.coef, harm)


def _sample(field: _TrigField, space: SE2Grid, tau: Tensor | None = None, phi: float = 0.0) -> Tensor:
    """``f(g u)`` at every lifted node ``g = (x_p, theta_m)``, for ``u = (tau, phi)``; shape ``(N d,)``."""
    xy = space.grid.coordinates(dtype=torch.float64)  # (d, 2)
    theta = space.angles()  # (N,)
    pts = xy[None].expand(len(theta), -1, -1)
    if tau is not None:
        c, s = torch.cos(theta), torch.sin(theta)
        moved = torch.stack([c * tau[0] - s * tau[1], s * tau[0] + c * tau[1]], -1)  # R(theta) tau, (N, 2)
        pts = pts + moved[:, None]
    th = (theta + phi)[:, None].expand(-1, xy.shape[0])
    return field(pts, th).reshape(-1)


def gconv_reference(field: _TrigField, space: SE2Grid, taps: Tensor, points: Tensor) -> Tensor:
    """The exact group convolution ``sum_s a_s f(g u_s)`` on the lifted grid, ``(N d,)``."""
    tau, phi = _se2_exp(points)
    return sum(a * _sample(field, space, tau[i], float(phi[i])) for i, a in enumerate(taps))


def theorem1_curve(
    depths=(1, 2, 4, 8, 16, 32, 64),
    *,
    side: int = 32,
    orientations: int = 16,
    max_freq: int = 2,
    taps=DEFAULT_TAPS,
    seed: int = 0,
) -> list[dict]:
    """Relative error of ``LConvStack.from_kernel`` with the left-invariant SE(2) generators against the exact G-conv.

    Args:
        depths: the depths ``m`` to measure.
        side: the periodic ``side x side`` grid.
        orientations: ``N``.
        max_freq: the test function's spatial frequencies (cycles per grid side).
        taps: ``(a_s, t_forward, t_lateral, t_rotation)`` per tap (:data:`DEFAULT_TAPS`).
        seed: of the test function.

    Returns:
        one row per depth: ``depth``, ``error`` (relative, Frobenius norm over the lifted
        grid) and ``parameters`` of the stack. The error is ``O(1/m)`` from the
        ``(I + tA/m)^m`` steps plus a discretisation floor (the SWI derivatives are exact
        for these frequencies; the orientation axis aliases the high theta harmonics
        that the products with ``cos/sin(theta)`` create), below the curve's range here.
    """
    space = SE2Grid(Grid((side, side)), orientations)
    field = _TrigField(side, max_freq, seed)
    table = torch.tensor(taps, dtype=torch.float64)
    a, points = table[:, 0], table[:, 1:]
    f = _sample(field, space)[None, None]  # (1, 1, N d)
    exact = gconv_reference(field, space, a, points)
    gens = left_invariant(space, method="swi")
    rows = []
    for m in depths:
        stack = LConvStack.from_kernel(a, points, gens, m).double()
        with torch.no_grad():
            out = stack(f)[0, 0]
        err = float((out - exact).norm() / exact.norm())
        rows.append(dict(depth=m, error=err, parameters=sum(p.numel() for p in stack.parameters())))
    return rows


def non_equivariance(seeds=(0, 1, 2)) -> list[dict]:
    """Equivariance errors (float64) of layers whose generators do not commute with the group, and of lifted layers.

    Each row: ``construction``, ``transformation``, ``errors`` (one per seed: the seed of
    the weights and of the random input).
    """
    from ..algebra import exp, family, matrix_algebra, rotation
    from ..testing import equivariance_error
    from ._lifted import Lifting

    rows = []

    def add(construction: str, transformation: str, errs: list[float]) -> None:
        rows.append(dict(construction=construction, transformation=transformation, errors=errs))

    so3 = matrix_algebra("so3", dtype=torch.float64)
    for j in range(3):
        errs = []
        for seed in seeds:
            torch.manual_seed(seed)
            layer = LConv(2, 2, generators=so3, bias=False).double()  # a bias needs g 1 = 1 too
            errs.append(equivariance_error(layer, torch.randn(16, 2, 3, dtype=torch.float64), exp(so3[j], 0.7)))
        add("LConv(2, 2, so(3) on R^3, no bias)", f"exp(0.7 L_{'xyz'[j]})", errs)

    grid = Grid((12, 12))
    se2 = family("se2", grid, dtype=torch.float64)
    for name, act in (("quarter turn", grid.rot90), ("shift (2, 1)", lambda f: grid.shift(f, (2, 1)))):
        errs = []
        for seed in seeds:
            torch.manual_seed(seed)
            layer = LConv(1, 4, generators=se2).double()
            errs.append(equivariance_error(layer, torch.randn(8, 1, grid.size, dtype=torch.float64), act))
        add('LConv(1, 4, family("se2")) on 12x12', name, errs)

    rot = rotation(grid, dtype=torch.float64)
    g = exp(rot[0], 0.3)
    for relu in (False, True):
        errs = []
        for seed in seeds:
            torch.manual_seed(seed)
            first, second = LConv(1, 4, generators=rot).double(), LConv(4, 2, generators=rot).double()
            net = torch.nn.Sequential(first, torch.nn.ReLU(), second) if relu else torch.nn.Sequential(first, second)
            errs.append(equivariance_error(net, torch.randn(8, 1, grid.size, dtype=torch.float64), g))
        add(f"LConv -> {'ReLU -> ' if relu else ''}LConv, rotation generator, 12x12", "exp(0.3 L)", errs)

    space = SE2Grid(grid, 8)
    for name, act_img, act in (
        ("quarter turn", grid.rot90, space.rot90),
        ("shift (2, 1)", lambda f: grid.shift(f, (2, 1)), lambda f: space.shift(f, (2, 1))),
    ):
        errs = []
        for seed in seeds:
            torch.manual_seed(seed)
            lift = Lifting(1, 4, space).double()
            gens = left_invariant(space)
            net = torch.nn.Sequential(
                lift, torch.nn.ReLU(), LConv(4, 4, gens).double(), torch.nn.ReLU(), LConv(4, 2, gens).double()
            )
            errs.append(equivariance_error(net, torch.randn(8, 1, grid.size, dtype=torch.float64), act_img, act))
        add("Lifting -> ReLU -> LConv -> ReLU -> LConv, left-invariant se(2), N = 8, 12x12", name, errs)

    # continuous rotations: interpolations, exact only to the discretisation, and not through ReLU
    xy = grid.coordinates(dtype=torch.float64)
    img_rot = exp(rot[0], 0.3)
    disk = (xy.norm(dim=-1) < 4.5).repeat(space.orientations)
    for relu in (False, True):
        for smooth in (True, False):
            errs = []
            for seed in seeds:
                torch.manual_seed(seed)
                gens = left_invariant(space, method="swi")
                parts = [Lifting(1, 4, space, order=1, method="swi"), LConv(4, 4, gens), LConv(4, 2, gens)]
                if relu:
                    parts = [parts[0], torch.nn.ReLU(), parts[1], torch.nn.ReLU(), parts[2]]
                net = torch.nn.Sequential(*parts).double()
                if smooth:
                    centres = torch.randn(4, 2, dtype=torch.float64) * 1.5
                    x = torch.exp(-((xy[None] - centres[:, None]) ** 2).sum(-1) / (2 * 1.8**2))[:, None]
                else:
                    x = torch.randn(4, 1, grid.size, dtype=torch.float64)
                errs.append(
                    equivariance_error(net, x, img_rot, lambda f: space.rotate(f, 0.3), region=disk if smooth else None)
                )
            what = "Gaussian bumps, central disk" if smooth else "random images"
            add(
                f"Lifting -> {'ReLU -> ' if relu else ''}LConv -> {'ReLU -> ' if relu else ''}LConv, SWI, N = 8, "
                f"12x12, {what}",
                "exp(0.3 L) (continuous)",
                errs,
            )
    return rows


def markdown(curve: list[dict], rows: list[dict], command: str) -> str:
    """Both tables as markdown, headed by ``command``."""
    lines = [
        f"Printed by `{command}`.",
        "",
        "Theorem 1 in 2-D: relative error of `LConvStack.from_kernel(taps, points, left_invariant(space, "
        "method='swi'), m)` against the exact SE(2) group convolution `sum_s a_s f(g u_s)` (5 taps, "
        "32x32 periodic grid, N = 16 orientations, float64). Taps `(a_s; t_forward, t_lateral, t_rotation)`: "
        + ", ".join(f"({a:g}; {u:g}, {v:g}, {w:.4g})" for a, u, v, w in DEFAULT_TAPS)
        + "; test function: random trigonometric polynomial, spatial frequencies up to 2 cycles per side, "
        "harmonics 0 and 1 in theta.",
        "",
        "| depth m | relative error | parameters |",
        "|---|---|---|",
    ]
    lines += [f"| {r['depth']} | {r['error']:.4f} | {r['parameters']} |" for r in curve]
    lines += [
        "",
        "Equivariance errors in float64 (relative, `lconv.testing.equivariance_error`; one figure per seed "
        "of the weights and of the random input):",
        "",
        "| construction | transformation | errors |",
        "|---|---|---|",
    ]
    lines += [
        f"| {r['construction']} | {r['transformation']} | {', '.join(f'{e:.2g}' for e in r['errors'])} |" for r in rows
    ]
    return "\n".join(lines) + "\n"


def main() -> None:  # pragma: no cover - a report
    print(markdown(theorem1_curve(), non_equivariance(), "python -m lconv.nn.theorem1"))


if __name__ == "__main__":  # pragma: no cover
    main()
