r"""Regression tasks with a known symmetry: one dataset ``(x_n, y_n = F(x_n))``, no pairs.

Each task returns a :class:`Regression` holding the samples, the map ``F`` itself as a
differentiable torch function (for exact Jacobians in tests), and the generators of the
symmetry under which ``F`` is invariant (scalar ``y``) or equivariant (``y`` a vector moved
by the same action as ``x``).

``kepler``
    Two bodies in the plane under gravity (``G = 1``, masses ``m1 = 1``, ``m2 = 0.5`` by
    default) on bound orbits with a random centre-of-mass motion. The state is
    ``x = (q1x, q1y, q2x, q2y, p1x, p1y, p2x, p2y)``: positions, then momenta, each a
    2-vector; ``y`` is the state a time ``dt`` later (:func:`two_body_step`). Truth: the
    simultaneous rotation of all four 2-vectors, ``I_4 (x) J``, ``J = [[0, -1], [1, 0]]``
    (one generator).
``o5``
    The O(5)-invariant function of two 5-vectors of Finzi et al. (EMLP) used by LieGG,
    ``f(x1, x2) = sin|x1| - |x2|^3 / 2 + x1.x2 / (|x1| |x2|)``, ``x = (x1, x2)``, Gaussian
    inputs. Truth: ``I_2 (x) so(5)`` (ten generators).
``lorentz``
    A Lorentz-invariant function of two 4-vectors ``x = (x1, x2)``, each ``(t, x, y, z)``,
    of their Minkowski products ``<a, b> = -a_t b_t + a_x b_x + a_y b_y + a_z b_z``:
    ``f = <x1, x2> + <x1, x1>^2 / 4 - <x2, x2>^2 / 8`` (``function="polynomial"``, degree 4
    in ``x``) or ``f = sin<x1, x2> + tanh<x1, x1> / 2 - tanh<x2, x2> / 4``
    (``function="sine"``). In both, nothing beyond the Lorentz group acting on both vectors
    at once leaves ``f`` unchanged (a quadratic ``f`` alone would have the far larger
    symmetry of its quadratic form). Truth: ``I_2 (x) so(1,3)`` (six generators,
    non-compact).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor

from ..algebra import antisymmetric_space, kron_space

__all__ = [
    "REGRESSION_TASKS",
    "Regression",
    "kepler_regression",
    "kepler_symmetries",
    "lorentz_regression",
    "o5_regression",
    "regression_task",
    "two_body_states",
    "two_body_step",
]


@dataclass
class Regression:
    """Samples of a map with a known symmetry.

    Attributes:
        x: ``(N, d)`` inputs.
        y: ``(N,)`` invariant outputs or ``(N, d)`` equivariant ones.
        truth: ``(k, d, d)`` generators of the symmetry.
        f: the map itself, batched and differentiable: ``(B, d) -> (B,)`` or ``(B, d)``.
        description: one line saying what the data are.
        config: the options that made them.
    """

    x: Tensor
    y: Tensor
    truth: Tensor
    f: Callable[[Tensor], Tensor]
    description: str = ""
    config: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.x)


# ------------------------------------------------------------------------------ two bodies
def _two_body_rate(z: Tensor, m1: float, m2: float) -> Tensor:
    q1, q2, p1, p2 = z[..., 0:2], z[..., 2:4], z[..., 4:6], z[..., 6:8]
    r = q1 - q2
    force = -m1 * m2 * r / r.pow(2).sum(-1, keepdim=True).pow(1.5)  # on body 1; G = 1
    return torch.cat([p1 / m1, p2 / m2, force, -force], dim=-1)


def two_body_step(
    state: Tensor, dt: float, *, masses: tuple[float, float] = (1.0, 0.5), max_step: float = 2e-3
) -> Tensor:
    """The two-body state a time ``dt`` later, by classical Runge-Kutta (RK4) substeps.

    ``q_i' = p_i / m_i``, ``p_1' = -p_2' = -m1 m2 (q1 - q2) / |q1 - q2|^3`` (``G = 1``).
    The substep is at most ``max_step``; RK4 keeps the total momentum exactly and commutes
    exactly with rotations and translations, so the discrete map has the symmetries of
    the flow. Differentiable (autograd and ``torch.func``).

    Shapes: ``state (..., 8) -> (..., 8)``, layout ``(q1, q2, p1, p2)``, each a 2-vector.
    """
    if state.shape[-1] != 8:
        raise ValueError(f"two_body_step: the state must be (..., 8) = (q1, q2, p1, p2), got {tuple(state.shape)}")
    m1, m2 = float(masses[0]), float(masses[1])
    steps = max(1, math.ceil(abs(dt) / max_step))
    h = dt / steps
    z = state
    for _ in range(steps):
        k1 = _two_body_rate(z, m1, m2)
        k2 = _two_body_rate(z + 0.5 * h * k1, m1, m2)
        k3 = _two_body_rate(z + 0.5 * h * k2, m1, m2)
        k4 = _two_body_rate(z + h * k3, m1, m2)
        z = z + (h / 6) * (k1 + 2 * k2 + 2 * k3 + k4)
    return z


def two_body_states(
    n: int,
    *,
    masses: tuple[float, float] = (1.0, 0.5),
    a_range: tuple[float, float] = (0.8, 1.2),
    e_max: float = 0.5,
    com_position: float = 1.0,
    com_velocity: float = 0.3,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Random states of two bodies on bound Kepler orbits, ``(n, 8)`` float64.

    The relative orbit has semi-major axis uniform in ``a_range``, eccentricity uniform in
    ``[0, e_max]``, a uniform orientation and phase (mean anomaly), and turns either way;
    the centre of mass sits at a Gaussian position (std ``com_position`` per axis) and
    moves with a Gaussian velocity (std ``com_velocity``).
    """
    m1, m2 = float(masses[0]), float(masses[1])
    total, mu = m1 + m2, m1 * m2 / (m1 + m2)
    u = torch.rand(n, 5, generator=generator, dtype=torch.float64)
    a = a_range[0] + (a_range[1] - a_range[0]) * u[:, 0]
    e = e_max * u[:, 1]
    omega, mean_anomaly = 2 * math.pi * u[:, 2], 2 * math.pi * u[:, 3]
    turn = torch.where(u[:, 4] < 0.5, -1.0, 1.0).double()
    ecc = mean_anomaly.clone()
    for _ in range(30):  # Kepler's equation E - e sin E = M by Newton
        ecc = ecc - (ecc - e * torch.sin(ecc) - mean_anomaly) / (1 - e * torch.cos(ecc))
    b = torch.sqrt(1 - e**2)
    dist = a * (1 - e * torch.cos(ecc))
    r = torch.stack([a * (torch.cos(ecc) - e), turn * a * b * torch.sin(ecc)], -1)
    v = (torch.sqrt(total * a) / dist)[:, None] * torch.stack([-torch.sin(ecc), turn * b * torch.cos(ecc)], -1)
    c, s = torch.cos(omega), torch.sin(omega)
    rot = torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)  # (n, 2, 2)
    r, v = (rot @ r[..., None])[..., 0], (rot @ v[..., None])[..., 0]
    com = com_position * torch.randn(n, 2, generator=generator, dtype=torch.float64)
    vel = com_velocity * torch.randn(n, 2, generator=generator, dtype=torch.float64)
    q1, q2 = com + (m2 / total) * r, com - (m1 / total) * r
    p1, p2 = m1 * vel + mu * v, m2 * vel - mu * v
    return torch.cat([q1, q2, p1, p2], dim=-1)


def kepler_regression(
    n: int = 1000, *, dt: float = 0.1, masses: tuple[float, float] = (1.0, 0.5), seed: int = 0
) -> Regression:
    """Two-body states and the states ``dt`` later (module docstring), float64."""
    if not dt > 0:
        raise ValueError(f"kepler_regression: dt must be positive, got {dt}")
    gen = torch.Generator().manual_seed(seed)
    x = two_body_states(n, masses=masses, generator=gen)

    def f(z: Tensor) -> Tensor:
        return two_body_step(z, dt, masses=masses)

    with torch.no_grad():
        y = f(x)
    truth = kron_space("so2", 4, dtype=torch.float64)
    desc = f"{n} two-body states (masses {masses[0]:g}, {masses[1]:g}; bound orbits), map: the state after dt = {dt:g}"
    return Regression(x, y, truth, f, desc, dict(task="kepler", n=n, dt=dt, masses=list(masses), seed=seed))


def kepler_symmetries(masses: tuple[float, float] = (1.0, 0.5)) -> Tensor:
    """All linear symmetries of the two-body map, ``(9, 8, 8)`` float64, in the layout ``(q1, q2, p1, p2)``.

    In centre-of-mass coordinates ``Q = (m1 q1 + m2 q2) / M``, ``P = p1 + p2`` and relative ones
    ``r = q1 - q2``, ``pi = (m2 p1 - m1 p2) / M`` the map splits: the centre of mass moves
    freely, ``(Q, P) -> (Q + dt P / M, P)``, and commutes with every
    ``delta Q = A Q + B P, delta P = A P`` (``A``, ``B`` any 2x2: eight generators, among
    them rescaling and turning the centre-of-mass motion alone, and moving it by an amount
    proportional to ``P``); the relative motion is a Kepler orbit, whose only linear
    symmetry is turning ``r`` and ``pi`` together (one generator). The simultaneous rotation
    of both bodies is the sum of the two turns.
    """
    m1, m2 = float(masses[0]), float(masses[1])
    total = m1 + m2
    eye, zero = torch.eye(2, dtype=torch.float64), torch.zeros(2, 2, dtype=torch.float64)
    # w = T z with w = (Q, r, P, pi), z = (q1, q2, p1, p2)
    t = torch.cat([
        torch.cat([m1 / total * eye, m2 / total * eye, zero, zero], 1),
        torch.cat([eye, -eye, zero, zero], 1),
        torch.cat([zero, zero, eye, eye], 1),
        torch.cat([zero, zero, m2 / total * eye, -m1 / total * eye], 1),
    ])  # fmt: skip
    t_inv = torch.linalg.inv(t)
    units = list(torch.eye(4, dtype=torch.float64).reshape(4, 2, 2))  # E_11, E_12, E_21, E_22
    gens = []
    for a in units:  # delta Q = A Q, delta P = A P
        g = torch.zeros(8, 8, dtype=torch.float64)
        g[0:2, 0:2], g[4:6, 4:6] = a, a
        gens.append(g)
    for b in units:  # delta Q = B P
        g = torch.zeros(8, 8, dtype=torch.float64)
        g[0:2, 4:6] = b
        gens.append(g)
    rot = torch.tensor([[0.0, -1.0], [1.0, 0.0]], dtype=torch.float64)
    g = torch.zeros(8, 8, dtype=torch.float64)
    g[2:4, 2:4], g[6:8, 6:8] = rot, rot  # turn r and pi
    gens.append(g)
    return torch.stack([t_inv @ g @ t for g in gens])


# ------------------------------------------------------------------------------ invariant functions
def _o5(z: Tensor) -> Tensor:
    x1, x2 = z[..., :5], z[..., 5:]
    n1, n2 = x1.norm(dim=-1), x2.norm(dim=-1)
    return torch.sin(n1) - n2.pow(3) / 2 + (x1 * x2).sum(-1) / (n1 * n2)


def o5_regression(n: int = 1000, *, seed: int = 0) -> Regression:
    """Two Gaussian 5-vectors and the O(5)-invariant ``f`` of the module docstring, float64."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 10, generator=gen, dtype=torch.float64)
    with torch.no_grad():
        y = _o5(x)
    truth = kron_space(antisymmetric_space(5, dtype=torch.float64), 2)
    desc = f"{n} pairs of Gaussian 5-vectors, f = sin|x1| - |x2|^3/2 + x1.x2/(|x1||x2|)"
    return Regression(x, y, truth, _o5, desc, dict(task="o5", n=n, seed=seed))


_ETA = torch.tensor([-1.0, 1.0, 1.0, 1.0], dtype=torch.float64)


def _minkowski(a: Tensor, b: Tensor) -> Tensor:
    return (a * b * _ETA.to(a)).sum(-1)


def _lorentz_polynomial(z: Tensor) -> Tensor:
    x1, x2 = z[..., :4], z[..., 4:]
    return _minkowski(x1, x2) + _minkowski(x1, x1).pow(2) / 4 - _minkowski(x2, x2).pow(2) / 8


def _lorentz_sine(z: Tensor) -> Tensor:
    x1, x2 = z[..., :4], z[..., 4:]
    return torch.sin(_minkowski(x1, x2)) + torch.tanh(_minkowski(x1, x1)) / 2 - torch.tanh(_minkowski(x2, x2)) / 4


_LORENTZ = {
    "polynomial": (_lorentz_polynomial, "<x1,x2> + <x1,x1>^2/4 - <x2,x2>^2/8"),
    "sine": (_lorentz_sine, "sin<x1,x2> + tanh<x1,x1>/2 - tanh<x2,x2>/4"),
}


def lorentz_regression(n: int = 600, *, function: str = "polynomial", scale: float = 0.7, seed: int = 0) -> Regression:
    """Two Gaussian 4-vectors (std ``scale`` per component) and a Lorentz-invariant ``f`` (module docstring), float64."""
    if function not in _LORENTZ:
        raise ValueError(f"lorentz_regression: unknown function {function!r}; choose one of {', '.join(_LORENTZ)}")
    f, formula = _LORENTZ[function]
    gen = torch.Generator().manual_seed(seed)
    x = scale * torch.randn(n, 8, generator=gen, dtype=torch.float64)
    with torch.no_grad():
        y = f(x)
    truth = kron_space("so13", 2, dtype=torch.float64)
    desc = f"{n} pairs of Gaussian 4-vectors (std {scale:g}), f = {formula}"
    return Regression(x, y, truth, f, desc, dict(task="lorentz", n=n, function=function, scale=scale, seed=seed))


REGRESSION_TASKS: dict[str, Callable[..., Regression]] = {
    "kepler": kepler_regression,
    "o5": o5_regression,
    "lorentz": lorentz_regression,
}


def regression_task(name: str, **kwargs) -> Regression:
    """A task of :data:`REGRESSION_TASKS` by name; keyword arguments go to its function."""
    if name not in REGRESSION_TASKS:
        raise ValueError(f"regression_task: unknown task {name!r}; choose one of {', '.join(REGRESSION_TASKS)}")
    return REGRESSION_TASKS[name](**kwargs)
