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
``liegan-2body``
    LieGAN's two-body protocol (Yang et al., ICML 2023, after the Hamiltonian-NN data of
    Greydanus et al. 2019): two equal masses (1, ``G = 1``) on circular orbits about their
    centre of mass at the origin, body 2 always at minus body 1, the radius of body 1's orbit
    uniform in ``[1.5, 3]``, phase uniform, turning counter-clockwise; trajectories of 50
    states ``dt = 20/49`` apart (``t`` from 0 to 20). The coordinates are LieGAN's,
    ``x = (q1, p1, q2, p2)`` each a 2-vector (its data loader reorders the
    Hamiltonian-NN coordinates to this), so the states fill the 4-D subspace
    ``q2 = -q1, p2 = -p1`` of ``R^8``. One sample is one state and the next one: LieGAN's
    default (``--input_timesteps 1 --output_timesteps 1``), whose loader takes the pairs
    ``t -> t + 1`` for ``t = 0 .. 47`` of each trajectory. Truth: ``I_4 (x) J``. The radius
    range [1.5, 3] is the protocol as the project's targets state it; the Hamiltonian-NN generator whose
    file LieGAN loads draws each coordinate of body 1's position uniform in ``[0.5, 1.5]``
    and scales the circular speed by ``1 + 0.05 N(0, 1)`` (``orbit_noise=0.05`` here gives
    such slightly elliptical orbits).
``c7``
    A map with a discrete symmetry: ``y = R x``, ``R`` the rotation by ``2 pi / 7`` about the
    ``x_3`` axis, Gaussian ``x`` in ``R^3``. Its continuous symmetries, as an equivariant
    map (``J_F L x = L F(x)``, here ``R L = L R``), are exactly the generators commuting with
    ``R``: turning the ``(x_1, x_2)`` plane, scaling it, and scaling ``x_3`` (three); C7
    itself adds none. Truth: those three.
``c7-invariant``
    LieGAN's discrete-rotation regression: Gaussian ``x`` in ``R^3`` and
    ``y = x_3 / (1 + (atan2(x_2, x_1) mod 2 pi / 7))``, invariant under turns of the
    ``(x_1, x_2)`` plane by multiples of ``2 pi / 7`` but under no continuous turn. Its one
    continuous symmetry is scaling ``(x_1, x_2)`` (which keeps the angle and ``x_3``).
    Truth: ``diag(1, 1, 0)``.
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


#: LieGAN's coordinate order ``(q1, p1, q2, p2)`` from :func:`two_body_step`'s ``(q1, q2, p1, p2)``.
LIEGAN_ORDER = (0, 1, 4, 5, 2, 3, 6, 7)
LIEGAN_DT = 20 / 49


def _liegan_step(z: Tensor) -> Tensor:
    order = list(LIEGAN_ORDER)  # its own inverse: it swaps q2 and p1
    return two_body_step(z[..., order], LIEGAN_DT, masses=(1.0, 1.0))[..., order]


def liegan_two_body_regression(
    n: int = 2000,
    *,
    radius: tuple[float, float] = (1.5, 3.0),
    orbit_noise: float = 0.0,
    steps: int = 50,
    seed: int = 0,
) -> Regression:
    """LieGAN's two-body data (module docstring): pairs of consecutive states of circular orbits, float64.

    ``ceil(n / (steps - 2))`` trajectories of ``steps`` states ``dt = 20/49`` apart (the
    exact circular motion, or integrated by :func:`two_body_step`, masses 1 and 1, when
    ``orbit_noise`` makes them elliptical); each gives its ``steps - 2`` pairs
    ``(state_t, state_{t+1})`` as LieGAN's loader does, and the first ``n`` pairs are kept.
    ``orbit_noise`` scales each trajectory's initial speed by ``1 + orbit_noise N(0, 1)``
    (the Hamiltonian-NN generator uses 0.05, making the orbits slightly elliptical; 0 keeps
    them circular). Body 2 stays at minus body 1 exactly (also under the integrator, which
    is symmetric under swapping two equal masses), so the states span a 4-D subspace of
    ``R^8``. The map ``f`` is :func:`two_body_step` (RK4), which agrees with the exact
    circular motion to about ``1e-12``.
    """
    if not (0 < radius[0] <= radius[1]):
        raise ValueError(f"liegan_two_body_regression: radius must be (low, high) with 0 < low <= high, got {radius}")
    if steps < 3:
        raise ValueError(f"liegan_two_body_regression: a trajectory needs at least 3 states, got steps={steps}")
    gen = torch.Generator().manual_seed(seed)
    per = steps - 2
    trajectories = math.ceil(n / per)
    u = torch.rand(trajectories, 2, generator=gen, dtype=torch.float64)
    r = radius[0] + (radius[1] - radius[0]) * u[:, 0]
    phase = 2 * math.pi * u[:, 1]
    speed = 1 / (2 * r.sqrt())  # circular: v^2 / r = m / (2 r)^2 with m = 1
    speed = speed * (1 + orbit_noise * torch.randn(trajectories, generator=gen, dtype=torch.float64))
    if orbit_noise == 0:  # circular: the exact solution, each body turning at omega = v / r
        angle = phase[:, None] + (speed / r)[:, None] * LIEGAN_DT * torch.arange(steps, dtype=torch.float64)
        e = torch.stack([angle.cos(), angle.sin()], -1)  # (trajectories, steps, 2)
        q1, p1 = r[:, None, None] * e, speed[:, None, None] * torch.stack([-e[..., 1], e[..., 0]], -1)
        traj = torch.cat([q1, p1, -q1, -p1], -1)  # (trajectories, steps, 8)
    else:
        e = torch.stack([phase.cos(), phase.sin()], -1)
        q1, p1 = r[:, None] * e, speed[:, None] * torch.stack([-e[:, 1], e[:, 0]], -1)  # counter-clockwise
        state = torch.cat([q1, p1, -q1, -p1], -1)
        states = [state]
        with torch.no_grad():
            for _ in range(steps - 1):
                state = _liegan_step(state)
                states.append(state)
        traj = torch.stack(states, 1)  # (trajectories, steps, 8)
    x = traj[:, :per].reshape(-1, 8)[:n]
    y = traj[:, 1 : per + 1].reshape(-1, 8)[:n]
    truth = kron_space("so2", 4, dtype=torch.float64)
    desc = (f"{n} pairs of consecutive states of {trajectories} two-body circular orbits (LieGAN's protocol: "
            f"equal masses, radius in [{radius[0]:g}, {radius[1]:g}], body 2 = -body 1, coordinates (q1, p1, q2, p2)), "
            f"map: the state after dt = 20/49")  # fmt: skip
    config = dict(task="liegan-2body", n=n, radius=list(radius), orbit_noise=orbit_noise, steps=steps, seed=seed)
    return Regression(x, y, truth, _liegan_step, desc, config)


def _c7_rotation() -> Tensor:
    c, s = math.cos(2 * math.pi / 7), math.sin(2 * math.pi / 7)
    return torch.tensor([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]], dtype=torch.float64)


def _c7(z: Tensor) -> Tensor:
    return z @ _c7_rotation().to(z).T


def c7_regression(n: int = 1000, *, seed: int = 0) -> Regression:
    """Gaussian 3-vectors and their turns by ``2 pi / 7`` about ``x_3`` (module docstring), float64.

    Truth: the three generators commuting with the turn, ``J`` on ``(x_1, x_2)``,
    ``diag(1, 1, 0)`` and ``diag(0, 0, 1)``.
    """
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, generator=gen, dtype=torch.float64)
    with torch.no_grad():
        y = _c7(x)
    truth = torch.zeros(3, 3, 3, dtype=torch.float64)
    truth[0, 0, 1], truth[0, 1, 0] = -1.0, 1.0
    truth[1, 0, 0] = truth[1, 1, 1] = 1.0
    truth[2, 2, 2] = 1.0
    desc = f"{n} Gaussian 3-vectors, map: the turn by 2 pi/7 about x3 (C7)"
    return Regression(x, y, truth, _c7, desc, dict(task="c7", n=n, seed=seed))


def _c7_invariant(z: Tensor) -> Tensor:
    angle = torch.atan2(z[..., 1], z[..., 0])
    return z[..., 2] / (1 + torch.remainder(angle, 2 * math.pi / 7))


def c7_invariant_regression(n: int = 2000, *, seed: int = 0) -> Regression:
    """LieGAN's discrete-rotation regression (module docstring), float64. Truth: ``diag(1, 1, 0)``."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, generator=gen, dtype=torch.float64)
    with torch.no_grad():
        y = _c7_invariant(x)
    truth = torch.diag(torch.tensor([1.0, 1.0, 0.0], dtype=torch.float64))[None]
    desc = f"{n} Gaussian 3-vectors, f = x3 / (1 + (angle of (x1, x2) mod 2 pi/7)) (C7-invariant)"
    return Regression(x, y, truth, _c7_invariant, desc, dict(task="c7-invariant", n=n, seed=seed))


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
    "liegan-2body": liegan_two_body_regression,
    "c7": c7_regression,
    "c7-invariant": c7_invariant_regression,
    "o5": o5_regression,
    "lorentz": lorentz_regression,
}


def regression_task(name: str, **kwargs) -> Regression:
    """A task of :data:`REGRESSION_TASKS` by name; keyword arguments go to its function."""
    if name not in REGRESSION_TASKS:
        raise ValueError(f"regression_task: unknown task {name!r}; choose one of {', '.join(REGRESSION_TASKS)}")
    return REGRESSION_TASKS[name](**kwargs)
