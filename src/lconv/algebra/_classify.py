r"""Name the real Lie algebra that a set of (learned) generators spans.

Given generators ``L`` of shape ``(k, d, d)`` (noisy, in any basis, at any scale),
:func:`identify_algebra` finds the real Lie algebra of dimension ``<= 6`` in a catalogue
(:func:`known_algebras`) that they span, and reports its invariants.

Notation. ``E_a`` (``a = 1..k``) is a Frobenius-orthonormal basis of the span of ``L``
(``tr(E_a^T E_b) = delta_ab``), so everything below is independent of the scale of ``L`` and
of any invertible mixing of its rows. The brackets split into a part inside the span and a
remainder orthogonal to it,

.. math::
    [E_a, E_b] = \sum_c c_{ab}^{\;c} E_c + R_{ab}, \qquad R_{ab} \perp \mathrm{span}(E),

with ``c`` the least-squares structure constants (:func:`~lconv.algebra.structure_constants`)
and ``closure = sqrt(sum |R_ab|^2 / sum |[E_a, E_b]|^2)``.

Invariants of ``c`` (numerical ranks count singular values above ``tol * |c|``, and Killing
eigenvalues above ``(tol / 2) * |c|^2``, as non-zero):

* ``(ad E_i)_{kj} = c_{ij}^{\;k}`` and the Killing form ``B_ij = tr(ad E_i ad E_j)``;
  its signature ``(n_+, n_-, n_0)``; semisimple iff ``n_0 = 0`` (Cartan's criterion);
* the derived series ``g ⊇ [g, g] ⊇ [[g, g], [g, g]] ⊇ ...`` (solvable iff it reaches 0),
  the lower central series ``g ⊇ [g, g] ⊇ [g, [g, g]] ⊇ ...`` (nilpotent iff it reaches 0),
  the centre ``{x : [x, g] = 0}``, and the derivations ``{D : D[x, y] = [Dx, y] + [x, Dy]}``.

Error of a candidate with constants ``ĉ`` in its standard basis. For an invertible ``P``
(``k x k``) take the basis ``B_a = sum_b P_ab E_b``; ``c^P`` are the learned constants in that
basis, ``c^P_{ab}^{\;e} = P_ai P_bj c_ij^k (P^{-1})_ke``, and ``ĉ^{P^{-1}}`` are the candidate's
constants carried back to the ``E`` basis (what ``c`` would be if ``B`` obeyed ``ĉ`` exactly):

.. math::
    \rho_f(P) = \frac{|c^P - ĉ|}{|ĉ|}, \qquad
    \rho_b(P) = \sqrt{\frac{|ĉ^{P^{-1}} - c|^2 + |R|^2}{|c|^2 + |R|^2}}, \qquad
    \mathrm{error} = \min_P \sqrt{\tfrac12\big(\rho_f(P)^2 + \rho_b(P)^2\big)},

with Frobenius norms over all indices and ``|R|^2 = sum_ab |R_ab|^2``. Both ratios are
scale-free: shrinking ``P`` sends ``rho_f`` to 1, not 0. ``rho_f`` alone would also vanish on
a *contraction* of the learned algebra (so(3) -> se(2) -> heisenberg, by ever more degenerate
``P``), ``rho_b`` alone on an algebra that contracts to the learned one; their mean can only
approach 0 for an isomorphism of closed generators, and ``rho_b`` charges a basis that does
not close (``R``), so for noisy generators the error is about ``closure / sqrt(2)``. For the
abelian algebra (``ĉ = 0``) the error is how far the generators are from commuting,
relative to their scale: ``error = sqrt(sum_{a != b} |[E_a, E_b]|^2 / (k (k - 1)))``
(0 for ``k = 1``).

``P`` is found by Levenberg-Marquardt in float64 (analytic Jacobian) from a few starts,
random but seeded: frames adapted to the characteristic ideals above (each block whitened
by the Killing form, each vector oriented by the sign of ``tr ad v`` or ``tr (ad v)^3``),
with the reflections of each Killing sign class that fit best; then refined from the top
of the flag of ideals down, by fitting each quotient and solving for the map on the next
ideal that intertwines the action on it (:func:`_starts`, :func:`_refine`).

Catalogue, standard bases (``[x, y] = z`` lists the non-zero brackets; ``A ⋉ R^n`` takes the
basis of ``A`` first, then ``t_1..t_n``, with ``[a, t_j] = sum_i rho(a)_ij t_i``):

* dim 1: ``R``.
* dim 2: ``abelian R^2``; ``aff(1)``: ``[e0, e1] = e1``.
* dim 3 (Bianchi): I ``abelian R^3``; II ``heisenberg`` ``[x, y] = z``;
  III ``aff(1)+R``; IV ``Bianchi IV`` = ``R ⋉ R^2`` with ``rho(e0) = [[1, 1], [0, 1]]``;
  V ``Bianchi V`` (``rho = 1``); VI_0 ``Bianchi VI_0 (e(1,1))`` (``rho = diag(1, -1)``, the
  Poincaré algebra of 1+1 dimensions); VII_0 ``se(2)`` (``rho = [[0, -1], [1, 0]]``);
  VIII ``sl(2,R)`` ``(h, e, f)``: ``[h, e] = 2e, [h, f] = -2f, [e, f] = h`` (≅ so(2,1));
  IX ``so(3)``: ``[e0, e1] = e2`` and cyclic.
  The one-parameter families are fitted, not listed: ``Bianchi VI_h (h=...)`` is
  ``rho = diag(1, h)``, ``-1 < h < 1``, ``h != 0`` (``h`` is the ratio of the eigenvalues of
  ``ad e0`` on the derived algebra, the smaller over the larger); ``Bianchi VII_h (h=...)``
  is ``rho = [[h, -1], [1, h]]``, ``h > 0`` (``h = |Re λ| / |Im λ|``). A family member is
  tried only when no listed algebra with the learned invariants matches within ``tol``, and
  loses ties to listed algebras (so a noisy Bianchi V stays V rather than VI_h, h = 0.98).
* dim 4: ``abelian R^4``, ``aff(1)+R^2``, ``heisenberg+R``, ``Bianchi VI_0 (e(1,1))+R``,
  ``se(2)+R``, ``so(3)+R``, ``gl(2,R)`` (``sl(2,R)+R``: ``h, e, f, 1``), ``aff(1)+aff(1)``,
  ``sim(2)`` (``R^2 ⋉ R^2``, ``rho = rotation [[0, -1], [1, 0]], scaling 1``),
  ``oscillator`` (``[n, x] = y, [n, y] = -x, [x, y] = z``), ``filiform n4``
  (``[e0, e1] = e2, [e0, e2] = e3``).
* dim 5: ``abelian R^5``, ``heisenberg(5)`` (``x1, x2, y1, y2, z``: ``[x1, y1] = [x2, y2] = z``), ``so(3)+R^2``,
  ``sl(2,R)+R^2``, ``sa(2)`` (``sl(2,R) ⋉ R^2``, the special affine algebra).
* dim 6: ``abelian R^6``, ``so(4)`` (``so(3)+so(3)``), ``so(1,3)`` (rotations ``J``, boosts
  ``K``: ``[J_i, J_j] = J_k, [J_i, K_j] = K_k, [K_i, K_j] = -J_k``, cyclic; ≅ sl(2,C) as a
  real algebra), ``so(2,2)`` (``sl(2,R)+sl(2,R)``), ``so(3)+sl(2,R)``, ``so(3)+R^3``,
  ``se(3)`` (``so(3) ⋉ R^3``), ``iso(2,1)`` (``sl(2,R) ⋉ R^3`` by the adjoint action: the
  Poincaré algebra of 2+1 dimensions), ``aff(2,R)`` (``gl(2,R) ⋉ R^2``).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from ._lie import structure_constants

MAX_DIMENSION = 6  # names are given up to this dimension

# ---------------------------------------------------------------------------------
# Building structure constants


def _rules(k: int, brackets: dict[tuple[int, int], dict[int, float]]) -> np.ndarray:
    """``c[i, j, m]`` from ``{(i, j): {m: coefficient}}`` (antisymmetrised)."""
    c = np.zeros((k, k, k))
    for (i, j), out in brackets.items():
        for m, v in out.items():
            c[i, j, m] += v
            c[j, i, m] -= v
    return c


def _abelian(k: int) -> np.ndarray:
    return np.zeros((k, k, k))


def _direct_sum(*parts: np.ndarray) -> np.ndarray:
    k = sum(p.shape[0] for p in parts)
    c = np.zeros((k, k, k))
    o = 0
    for p in parts:
        n = p.shape[0]
        c[o : o + n, o : o + n, o : o + n] = p
        o += n
    return c


def _semidirect(h: np.ndarray, rho: list[np.ndarray]) -> np.ndarray:
    """``h ⋉ R^n``: basis of ``h``, then ``t_1..t_n`` with ``[a, t_j] = sum_i rho(a)_ij t_i``."""
    m, n = h.shape[0], rho[0].shape[0]
    c = np.zeros((m + n, m + n, m + n))
    c[:m, :m, :m] = h
    for a, r in enumerate(rho):
        c[a, m:, m:] = np.asarray(r, dtype=float).T  # c[a, m+j, m+i] = rho_ij
        c[m:, a, m:] = -c[a, m:, m:]
    return c


_SO3 = _rules(3, {(0, 1): {2: 1.0}, (1, 2): {0: 1.0}, (2, 0): {1: 1.0}})
_SL2 = _rules(3, {(0, 1): {1: 2.0}, (0, 2): {2: -2.0}, (1, 2): {0: 1.0}})
_SL2_DEFINING = [
    np.array([[1.0, 0.0], [0.0, -1.0]]),
    np.array([[0.0, 1.0], [0.0, 0.0]]),
    np.array([[0.0, 0.0], [1.0, 0.0]]),
]
_ROT = np.array([[0.0, -1.0], [1.0, 0.0]])
_AFF1 = _rules(2, {(0, 1): {1: 1.0}})
_HEIS = _rules(3, {(0, 1): {2: 1.0}})


def _bianchi(rho) -> np.ndarray:
    return _semidirect(_abelian(1), [np.asarray(rho, dtype=float)])


def _so13() -> np.ndarray:
    br: dict[tuple[int, int], dict[int, float]] = {}
    for i in range(3):
        j, k = (i + 1) % 3, (i + 2) % 3
        br[(i, j)] = {k: 1.0}  # [J_i, J_j] = J_k
        br[(i, 3 + j)] = {3 + k: 1.0}  # [J_i, K_j] = K_k
        br[(j, 3 + i)] = {3 + k: -1.0}  # [J_j, K_i] = -K_k
        br[(3 + i, 3 + j)] = {k: -1.0}  # [K_i, K_j] = -J_k
    return _rules(6, br)


def _build_catalogue() -> dict[str, np.ndarray]:
    R = _abelian
    so3_on_r3 = [_SO3[a].T for a in range(3)]  # rho(a)_ij = c[a, j, i]: the adjoint action
    sl2_adjoint = [_SL2[a].T for a in range(3)]
    gl2 = _direct_sum(_SL2, R(1))
    return {
        "R": R(1),
        "abelian R^2": R(2),
        "aff(1)": _AFF1,
        "abelian R^3": R(3),
        "heisenberg": _HEIS,
        "aff(1)+R": _direct_sum(_AFF1, R(1)),
        "Bianchi IV": _bianchi([[1.0, 1.0], [0.0, 1.0]]),
        "Bianchi V": _bianchi(np.eye(2)),
        "Bianchi VI_0 (e(1,1))": _bianchi([[1.0, 0.0], [0.0, -1.0]]),
        "se(2)": _bianchi(_ROT),
        "sl(2,R)": _SL2,
        "so(3)": _SO3,
        "abelian R^4": R(4),
        "aff(1)+R^2": _direct_sum(_AFF1, R(2)),
        "heisenberg+R": _direct_sum(_HEIS, R(1)),
        "Bianchi VI_0 (e(1,1))+R": _direct_sum(_bianchi([[1.0, 0.0], [0.0, -1.0]]), R(1)),
        "se(2)+R": _direct_sum(_bianchi(_ROT), R(1)),
        "so(3)+R": _direct_sum(_SO3, R(1)),
        "gl(2,R)": gl2,
        "aff(1)+aff(1)": _direct_sum(_AFF1, _AFF1),
        "sim(2)": _semidirect(R(2), [_ROT, np.eye(2)]),
        "oscillator": _rules(4, {(0, 1): {2: 1.0}, (0, 2): {1: -1.0}, (1, 2): {3: 1.0}}),
        "filiform n4": _semidirect(R(1), [np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])]),
        "abelian R^5": R(5),
        "heisenberg(5)": _rules(5, {(0, 2): {4: 1.0}, (1, 3): {4: 1.0}}),
        "so(3)+R^2": _direct_sum(_SO3, R(2)),
        "sl(2,R)+R^2": _direct_sum(_SL2, R(2)),
        "sa(2)": _semidirect(_SL2, _SL2_DEFINING),
        "abelian R^6": R(6),
        "so(4)": _direct_sum(_SO3, _SO3),
        "so(1,3)": _so13(),
        "so(2,2)": _direct_sum(_SL2, _SL2),
        "so(3)+sl(2,R)": _direct_sum(_SO3, _SL2),
        "so(3)+R^3": _direct_sum(_SO3, R(3)),
        "se(3)": _semidirect(_SO3, so3_on_r3),
        "iso(2,1)": _semidirect(_SL2, sl2_adjoint),
        "aff(2,R)": _semidirect(gl2, [*_SL2_DEFINING, np.eye(2)]),
    }


# ---------------------------------------------------------------------------------
# Invariants


class _Invariants(NamedTuple):
    derived: tuple[int, ...]
    lower_central: tuple[int, ...]
    centre: int
    killing: tuple[int, int, int]
    derivations: int | None
    subspaces: tuple[np.ndarray, ...]  # characteristic subspaces (orthonormal columns), for the starts
    killing_form: np.ndarray

    def key(self) -> tuple:
        return (self.derived, self.lower_central, self.centre, self.killing, self.derivations)


def _span(vectors: np.ndarray, threshold: float) -> np.ndarray:
    """Orthonormal columns spanning the rows of ``vectors`` (singular values above ``threshold``)."""
    if vectors.shape[0] == 0:
        return np.zeros((vectors.shape[1], 0))
    _, s, vt = np.linalg.svd(vectors, full_matrices=False)
    return vt[: int((s > threshold).sum())].T


def _brackets_of(c: np.ndarray, U: np.ndarray, V: np.ndarray) -> np.ndarray:
    """All ``[u, v]`` for columns ``u`` of ``U`` and ``v`` of ``V``, as rows ``(|U| |V|, k)``."""
    return np.einsum("ia,jb,ijk->abk", U, V, c).reshape(-1, c.shape[0])


def _killing_form(c: np.ndarray) -> np.ndarray:
    """``B_ij = tr(ad_i ad_j)`` with ``(ad_i)_{kj} = c_ij^k``."""
    return np.einsum("ilk,jkl->ij", c, c)


def _derivation_map(c: np.ndarray) -> np.ndarray:
    """Matrix of ``D -> D[e_a, e_b] - [D e_a, e_b] - [e_a, D e_b]``, shape ``(k^3, k^2)``."""
    k = c.shape[0]
    eye = np.eye(k)
    # D e_a = sum_m D_ma e_m; entry (a, b, n) of the image, derivative in D_pq
    t1 = np.einsum("abq,np->abnpq", c, eye)  # sum_m c_abm D_nm
    t2 = np.einsum("aq,pbn->abnpq", eye, c)  # sum_m D_ma c_mbn
    t3 = np.einsum("bq,apn->abnpq", eye, c)  # sum_m D_mb c_amn
    return (t1 - t2 - t3).reshape(k**3, k * k)


def _invariants(c: np.ndarray, rtol: float) -> _Invariants:
    """Series, centre, Killing signature and derivations of ``c`` (ranks relative to ``rtol * |c|``).

    Also collects the characteristic ideals met on the way (members of the two series, the
    centre, the kernel of the Killing form) for the starts of the basis search.
    """
    k = c.shape[0]
    scale = float(np.linalg.norm(c))
    B = _killing_form(c)
    if scale < 1e-300:
        return _Invariants((k, 0), (k, 0), k, (0, 0, k), k * k if k <= MAX_DIMENSION else None, (), B)
    thr = rtol * scale
    eye = np.eye(k)
    subspaces = []
    first = _span(_brackets_of(c, eye, eye), thr)  # [g, g], where both series start

    def series(step) -> list[int]:
        """Dimensions ``k, dim X_1, ...`` of ``X_{j+1} = step(X_j)`` until it stops shrinking."""
        dims, X = [k], first
        while X.shape[1] < dims[-1]:
            dims.append(X.shape[1])
            if 0 < X.shape[1] < k:
                subspaces.append(X)
            if X.shape[1] == 0:
                break
            X = _span(step(X), thr)
        return dims

    derived = series(lambda X: _brackets_of(c, X, X))  # [g', g'], ...
    lower = series(lambda X: _brackets_of(c, eye, X))  # [g, g^j], ...
    u, s, _ = np.linalg.svd(c.reshape(k, k * k))
    rank = int((s > thr).sum())
    if 0 < k - rank < k:
        subspaces.append(u[:, rank:])
    w, V = np.linalg.eigh(B)
    bthr = 0.5 * rtol * scale * scale
    zero = np.abs(w) <= bthr
    if 0 < zero.sum() < k:
        subspaces.append(V[:, zero])
    killing = (int((w > bthr).sum()), int((w < -bthr).sum()), int(zero.sum()))
    derivations = None
    if k <= MAX_DIMENSION:
        sd = np.linalg.svd(_derivation_map(c), compute_uv=False)
        derivations = k * k - int((sd > thr).sum())
    return _Invariants(tuple(derived), tuple(lower), k - rank, killing, derivations, tuple(subspaces), B)


@functools.cache
def _catalogue() -> dict[str, tuple[np.ndarray, _Invariants]]:
    return {name: (c, _invariants(c, 1e-9)) for name, c in _build_catalogue().items()}


def known_algebras(dimension: int | None = None) -> dict[str, Tensor]:
    """The catalogue that :func:`identify_algebra` names: ``{name: constants}``.

    Each value is a float64 tensor ``(k, k, k)``, ``[e_i, e_j] = sum_m c[i, j, m] e_m`` in the
    algebra's standard basis (listed in the module docstring). ``dimension`` keeps the
    algebras of that dimension. The Bianchi families VI_h and VII_h are fitted, not listed.
    """
    return {
        name: torch.from_numpy(c.copy())
        for name, (c, _) in _catalogue().items()
        if dimension is None or c.shape[0] == dimension
    }


# ---------------------------------------------------------------------------------
# Matching a candidate: Levenberg-Marquardt over the change of basis P


def _transform(c: np.ndarray, P: np.ndarray, Q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``T_abe = P_ai P_bj c_ijk Q_ke`` (constants in the basis ``P E``, ``Q = P^-1``) and ``P_ai c_ijk``."""
    k = c.shape[0]
    A = (P @ c.reshape(k, k * k)).reshape(k, k, k)  # A[a, j, k] = P_ai c_ijk
    return np.matmul(P, A) @ Q, A


def _jacobian(c: np.ndarray, P: np.ndarray, Q: np.ndarray, T: np.ndarray, A: np.ndarray) -> np.ndarray:
    """``dT_abe / dP_mn`` as ``(k^3, k^2)`` (with ``dQ = -Q dP Q``)."""
    k = c.shape[0]
    idx = np.arange(k)
    M1 = np.matmul(np.matmul(P, c), Q)  # [n, b, e] = P_bj c_njk Q_ke
    M2 = A @ Q  # [a, n, e] = P_ai c_ink Q_ke
    J = -(T[:, :, None, :, None] * Q.T[None, None, :, None, :])
    J[idx, :, :, idx, :] += M1.transpose(1, 2, 0)[None]
    J[:, idx, :, idx, :] += M2.transpose(0, 2, 1)[None]
    return J.reshape(k**3, k * k)


class _Fit(NamedTuple):
    error: float
    P: np.ndarray


def _fit(c: np.ndarray, chat: np.ndarray, closure: float, P0: np.ndarray, iters: int = 60) -> _Fit:
    """Minimise ``rho_f^2 + rho_b^2`` (module docstring) over ``P`` from ``P0``.

    Levenberg-Marquardt with the analytic Jacobian; stops when a step lowers the objective
    by less than a relative ``1e-6`` (or it is below ``1e-24``), after ``iters`` steps, or
    when no damping gives a lower value.
    """
    k = c.shape[0]
    wf = 1.0 / np.linalg.norm(chat)
    wb = math.sqrt(max(1.0 - closure**2, 0.0)) / np.linalg.norm(c)  # |c|^2 + |R|^2 = |c|^2 / (1 - closure^2)

    def residual(P: np.ndarray):
        """``(r, parts)``, or ``(None, None)`` for a singular or non-finite ``P``."""
        if not np.isfinite(P).all():
            return None, None
        try:
            Q = np.linalg.inv(P)
        except np.linalg.LinAlgError:
            return None, None
        if np.linalg.norm(P) * np.linalg.norm(Q) > 1e12:
            return None, None
        Tf, Af = _transform(c, P, Q)
        Tb, Ab = _transform(chat, Q, P)
        r = np.concatenate([wf * (Tf - chat).ravel(), wb * (Tb - c).ravel()])
        return (r, (P, Q, Tf, Af, Tb, Ab)) if np.isfinite(r).all() else (None, None)

    def jacobian(parts) -> np.ndarray:
        P, Q, Tf, Af, Tb, Ab = parts
        Jf = _jacobian(c, P, Q, Tf, Af)
        Jq = _jacobian(chat, Q, P, Tb, Ab).reshape(-1, k, k)  # in dQ
        Jb = np.matmul(np.matmul(Q.T, Jq), Q.T).reshape(-1, k * k)  # dQ_pq = -Q_pm dP_mn Q_nq
        return np.concatenate([wf * Jf, -wb * Jb])

    P = P0.copy()
    r, parts = residual(P)
    if r is None:
        return _Fit(math.inf, P)
    f = float(r @ r)
    mu = 1e-3
    for _ in range(iters):
        if f < 1e-24:
            break
        J = jacobian(parts)
        g, H = J.T @ r, J.T @ J
        diag = np.maximum(np.diag(H), 1e-3 * np.diag(H).mean() + 1e-300)
        idx = np.diag_indices_from(H)
        while mu < 1e10:
            damped = H.copy()
            damped[idx] += mu * diag
            try:
                step = np.linalg.solve(damped, -g)
            except np.linalg.LinAlgError:
                mu *= 10
                continue
            rn, parts_n = residual(P + step.reshape(k, k))
            if rn is not None and float(rn @ rn) < f:
                break
            mu *= 5
        else:
            break
        fn = float(rn @ rn)
        P, r, parts, mu = parts_n[0], rn, parts_n, max(mu / 3, 1e-12)
        done = f - fn <= 1e-6 * f
        f = fn
        if done:
            break
    return _Fit(math.sqrt(0.5 * (f + closure**2)), P)


def _frame(inv: _Invariants, c: np.ndarray, rtol: float) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """A basis adapted to the characteristic subspaces, each block diagonalising the Killing form.

    Blocks follow the characteristic subspaces by dimension (each adds the directions the
    previous ones lack). Each basis vector ``v`` is oriented so that the first of
    ``tr(ad v)``, ``tr((ad v)^3)`` that is non-zero is positive (both flip with ``v``).
    Returns the basis (columns) and per block ``(killing eigenvalues, oriented)``.
    """
    k = c.shape[0]
    scale = float(np.linalg.norm(c))
    ad = c.transpose(0, 2, 1)  # ad[i] = ad e_i
    F = np.zeros((k, 0))
    blocks = []
    for S in sorted(inv.subspaces, key=lambda S: S.shape[1]) + [np.eye(k)]:
        rest = S - F @ (F.T @ S)
        u, s, _ = np.linalg.svd(rest, full_matrices=False)
        new = u[:, : int((s > 1e-6).sum())][:, : k - F.shape[1]]
        if new.shape[1] == 0:
            continue
        w, V = np.linalg.eigh(new.T @ inv.killing_form @ new)
        w = np.where(np.abs(w) > 0.5 * rtol * scale**2, w, 0.0)
        new = new @ V
        oriented = np.zeros(len(w), dtype=bool)
        for j in range(new.shape[1]):
            adv = np.tensordot(new[:, j], ad, 1)
            for value, size in ((np.trace(adv), scale), (np.trace(adv @ adv @ adv), scale**3)):
                if abs(value) > rtol * size:
                    new[:, j] *= np.sign(value)
                    oriented[j] = True
                    break
        F = np.concatenate([F, new], 1)
        blocks.append((w, oriented))
    return F, blocks


def _haar(m: int, rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(m, m)))
    return q * np.sign(np.diag(r))


def _objective(c: np.ndarray, chat: np.ndarray, P: np.ndarray) -> float:
    """``rho_f^2 + rho_b^2`` without the closure term, ``inf`` for a singular ``P``."""
    try:
        Q = np.linalg.inv(P)
    except np.linalg.LinAlgError:
        return math.inf
    rf = np.linalg.norm(_transform(c, P, Q)[0] - chat) / np.linalg.norm(chat)
    rb = np.linalg.norm(_transform(chat, Q, P)[0] - c) / np.linalg.norm(c)
    return float(rf**2 + rb**2)


def _starts(c, inv, chat, inv_hat, rtol, rng, count) -> list[np.ndarray]:
    """Starting ``P`` (rows: the candidate's basis in the ``E`` coordinates).

    Works in the adapted frames (:func:`_frame`), where ``S`` maps the candidate's frame
    coordinates to the learned ones and ``P = (F S F̂^T)^T``. A guess for ``S``:
    block-diagonal, Killing-whitened on both sides, the identity (first start) or a random
    rotation within each Killing sign class (a lone oriented vector is kept). Rotations
    cannot change orientation, reflections can: of the sign patterns (one reflection per
    class), even starts take the one with the smallest objective, odd starts go through
    them in turn. The guess is then refined from the top of the flag of ideals down
    (:func:`_refine`).
    """
    k = c.shape[0]
    lam = np.linalg.norm(chat) / np.linalg.norm(c)
    F, blocks = _frame(inv, c, rtol)
    Fh, blocks_h = _frame(inv_hat, chat, 1e-9)
    cf, cfh = _in_frame(c, F), _in_frame(chat, Fh)
    aligned = [len(w) for w, _ in blocks] == [len(w) for w, _ in blocks_h] and all(
        np.array_equal(np.sign(w), np.sign(wh)) for (w, _), (wh, _) in zip(blocks, blocks_h)
    )
    out = []
    for n in range(count):
        if not aligned:
            out.append(lam * (F @ (_haar(k, rng) if n else np.eye(k)) @ Fh.T).T)
            continue
        S = np.zeros((k, k))
        o = 0
        reflect = []  # one column of S per sign class: negating it reflects the class
        for (w, ori), (wh, ori_h) in zip(blocks, blocks_h):
            m = len(w)
            left = np.where(w != 0, 1.0 / np.sqrt(np.abs(w) + (w == 0)), 1.0)
            right = np.where(w != 0, np.sqrt(np.abs(wh) + (wh == 0)), lam)
            O = np.zeros((m, m))
            for sign in (-1.0, 0.0, 1.0):
                sel = np.flatnonzero(np.sign(w) == sign)
                if len(sel) == 1 and ori[sel[0]] and ori_h[sel[0]]:
                    O[sel[0], sel[0]] = 1.0
                elif len(sel):
                    R = _haar(len(sel), rng) if n else np.eye(len(sel))
                    if np.linalg.det(R) < 0:
                        R[:, 0] *= -1
                    O[np.ix_(sel, sel)] = R
                    reflect.append(o + sel[0])
            S[o : o + m, o : o + m] = left[:, None] * O * right[None, :]
            o += m
        patterns = 1 << len(reflect)
        if n % 2 == 0 and patterns <= 64:
            scores = [_objective(cf, cfh, (S * _signs(k, reflect, p)).T) for p in range(patterns)]
            pattern = int(np.argmin(scores))
        else:
            pattern = (n // 2) % patterns
        S = S * _signs(k, reflect, pattern)
        S = _refine(S, cf, cfh, [len(w) for w, _ in blocks], [w for w, _ in blocks], rng)
        out.append((F @ S @ Fh.T).T)
    return out


def _signs(k: int, columns: list[int], pattern: int) -> np.ndarray:
    """``(k,)`` column signs: ``-1`` at ``columns[i]`` where bit ``i`` of ``pattern`` is set."""
    out = np.ones(k)
    for i, col in enumerate(columns):
        if (pattern >> i) & 1:
            out[col] = -1.0
    return out


def _in_frame(c: np.ndarray, F: np.ndarray) -> np.ndarray:
    """Constants in the orthonormal frame ``F`` (columns)."""
    return np.einsum("ia,jb,ijk,ke->abe", F, F, c, F)


def _refine(S: np.ndarray, cf: np.ndarray, cfh: np.ndarray, sizes: list[int], killing, rng) -> np.ndarray:
    """Improve a start level by level, from the last quotient of the flag of ideals down.

    Every block but the last completes an ideal ``I_b``; on the quotient ``g / I_(b-1)``
    (the frame coordinates from block ``b`` on) the map is fitted by :func:`_fit`, after
    the guess on a Killing-null block ``b`` is replaced by a map ``psi`` that intertwines the
    action of the later blocks on ``I_b / I_(b-1)``: ``psi A_x = B_x psi`` (least squares,
    a random combination of the near-null solutions).
    """
    S = S.copy()
    edges = np.cumsum([0, *sizes])
    for b in range(len(sizes) - 1, -1, -1):
        lo, hi = edges[b], edges[b + 1]
        if b < len(sizes) - 1 and not np.any(killing[b]):
            psi = _intertwiner(S, cf, cfh, lo, hi, rng)
            if psi is not None:
                S[lo:hi, lo:hi] = psi
        q, qh = cf[lo:, lo:, lo:], cfh[lo:, lo:, lo:]
        if lo > 0 and np.any(qh) and np.any(q):  # (the whole algebra is fitted by the caller)
            fit = _fit(q, qh, 0.0, S[lo:, lo:].T, iters=30)
            if math.isfinite(fit.error):
                S[lo:, lo:] = fit.P.T
    return S


def _intertwiner(S, cf, cfh, lo, hi, rng) -> np.ndarray | None:
    """Least-squares block map ``psi`` on ``I_b / I_(b-1)`` (frame coordinates ``lo:hi``).

    With ``x, y`` the later frame vectors and their current images ``S x, S y``:
    ``psi A_x = B_x psi`` (the actions agree) and ``psi [x, y]_b = [S x, S y]_b`` (the
    brackets landing in the block agree; these fix scale and sign). Without the latter, a
    random combination of the near-null solutions of the former.
    """
    m = hi - lo
    later = range(hi, len(S))
    rows, rhs = [], []
    for x in later:
        A = cfh[x, lo:hi, lo:hi].T  # A[i, j] = [x, f_j]_i on the block
        B = np.tensordot(S[:, x], cf, 1)[lo:hi, lo:hi].T
        rows.append(np.kron(np.eye(m), A.T) - np.kron(B, np.eye(m)))  # row-major vec(psi A - B psi)
        rhs.append(np.zeros(m * m))
    for x in later:
        for y in later:
            if y <= x:
                continue
            u = cfh[x, y, lo:hi]
            if np.abs(u).max() == 0:
                continue
            v = np.einsum("a,b,abe->e", S[:, x], S[:, y], cf)[lo:hi]
            rows.append(np.kron(np.eye(m), u[None, :]))  # (psi u)_i = sum_j psi_ij u_j
            rhs.append(v)
    if not rows:
        return None
    M, r = np.concatenate(rows), np.concatenate(rhs)
    scale = max(np.abs(cf).max(), np.abs(cfh).max()) * max(np.abs(S).max(), 1.0)
    if np.abs(M).max() <= 1e-2 * scale:  # the later blocks neither act on the block nor land in it
        return None
    if np.any(r):
        psi = np.linalg.lstsq(M, r, rcond=None)[0].reshape(m, m)
    else:
        _, sv, vt = np.linalg.svd(M, full_matrices=True)
        sv = np.concatenate([sv, np.zeros(m * m - len(sv))])
        null = vt[sv <= 1e-3 * sv[0]]
        if len(null) == 0:
            return None
        psi = (rng.normal(size=len(null)) @ null).reshape(m, m)
    return psi if np.linalg.cond(psi) < 1e6 else None


def _match(c, inv, closure, chat, inv_hat, rtol, rng, tol, count=12, iters=60) -> _Fit:
    """The best of up to ``count`` fits from :func:`_starts`.

    Stops early once the best error is below ``tol / 4``, or is within ``tol`` and a second
    start has reached it again (to 1%). (A wrong local minimum can be reached by many
    starts, so a repeated error above ``tol`` is no reason to stop.)
    """
    best = _Fit(math.inf, np.eye(c.shape[0]))
    hits = 0
    for P0 in _starts(c, inv, chat, inv_hat, rtol, rng, count):
        fit = _fit(c, chat, closure, P0, iters)
        if fit.error < 0.99 * best.error:
            best, hits = fit, 1
        elif fit.error <= 1.01 * best.error:
            hits += 1
            best = min(best, fit, key=lambda f: f.error)
        if best.error < tol / 4 or (best.error <= tol and hits >= 2):
            break
    return best


def _family_candidates(c: np.ndarray, rtol: float) -> dict[str, np.ndarray]:
    """Bianchi VI_h / VII_h with ``h`` read off ``ad x`` on the derived algebra (``k = 3``)."""
    u, s, _ = np.linalg.svd(_brackets_of(c, np.eye(3), np.eye(3)).T)  # columns of u span [g, g]
    if s[0] <= 0 or s[1] <= rtol * s[0]:
        return {}
    V, x = u[:, :2], u[:, 2]
    M = V.T @ np.einsum("i,ijk->kj", x, c) @ V  # ad x restricted to [g, g]
    lam = np.linalg.eigvals(M)
    out = {}
    if abs(lam[0].imag) > 1e-9 * abs(lam).max():
        h = abs(lam[0].real) / abs(lam[0].imag)
        if h > 1e-3:
            out[f"Bianchi VII_h (h={h:.3g})"] = _bianchi([[h, -1.0], [1.0, h]])
    else:
        big, small = sorted(lam.real, key=abs, reverse=True)
        if abs(big) > 0:
            h = small / big
            if 1e-3 < abs(h) < 1 - 1e-3:
                out[f"Bianchi VI_h (h={h:.3g})"] = _bianchi(np.diag([1.0, h]))
    return out


# ---------------------------------------------------------------------------------
# Public API


@dataclass(frozen=True)
class AlgebraInfo:
    """What :func:`identify_algebra` found (see the module docstring for the formulas).

    Attributes:
        name: catalogue name of the matched algebra, or ``None`` when none is within
            ``tol`` (always ``None`` for ``dimension > 6``).
        dimension: ``k``, the dimension of the span (dependent generators dropped).
        error: the best candidate's error (0 = exact), ``nan`` when there is no candidate.
        closure: relative closure residual of the span, ``sqrt(sum |R|^2 / sum |[E, E]|^2)``
            (:func:`~lconv.algebra.structure_constants`; 0 when the brackets vanish to
            round-off, near 1 for generators that nearly commute: their brackets are noise).
        constants: ``(k, k, k)`` structure constants in :attr:`basis`:
            ``[basis_i, basis_j] ~= sum_m constants[i, j, m] basis_m``.
        basis: ``(k, d, d)`` combinations of the input generators: the matched algebra's
            standard basis when a non-abelian algebra matched, else the orthonormal ``E``.
        killing_signature: ``(n_+, n_-, n_0)`` of ``B_ij = tr(ad_i ad_j)``.
        abelian, solvable, nilpotent, semisimple: from the series and the Killing form.
        derived_series, lower_central_series: dimensions of ``g ⊋ g^(1) ⊋ ...`` until the
            series becomes stationary (ends in 0 iff solvable, resp. nilpotent).
        centre_dimension: ``dim {x : [x, g] = 0}``.
        derivations: ``dim Der(g)`` (``None`` for ``dimension > 6``).
        candidates: ``[(name, error), ...]`` for the catalogue algebras of this dimension
            (and any fitted Bianchi family member), smallest error first; ``inf`` for those
            ruled out by the invariants and not evaluated.

    When a name is matched the invariants are the named algebra's (exact); otherwise they
    are computed from the learned constants with the rank tolerance ``tol * |c|``.
    """

    name: str | None
    dimension: int
    error: float
    closure: float
    constants: Tensor
    basis: Tensor
    killing_signature: tuple[int, int, int]
    abelian: bool
    solvable: bool
    nilpotent: bool
    semisimple: bool
    derived_series: tuple[int, ...]
    lower_central_series: tuple[int, ...]
    centre_dimension: int
    derivations: int | None
    candidates: list[tuple[str, float]]

    def to_dict(self) -> dict:
        """JSON-friendly summary (non-finite errors become ``None``; no tensors)."""

        def num(x: float) -> float | None:
            return float(x) if math.isfinite(x) else None

        return {
            "name": self.name,
            "dimension": self.dimension,
            "error": num(self.error),
            "closure": num(self.closure),
            "killing_signature": list(self.killing_signature),
            "abelian": self.abelian,
            "solvable": self.solvable,
            "nilpotent": self.nilpotent,
            "semisimple": self.semisimple,
            "derived_series": list(self.derived_series),
            "lower_central_series": list(self.lower_central_series),
            "centre_dimension": self.centre_dimension,
            "derivations": self.derivations,
            "candidates": [[n, num(e)] for n, e in self.candidates],
        }


def _check(generators, tol: float, rank_tol: float) -> Tensor:
    where = "identify_algebra"
    if not isinstance(generators, Tensor):
        raise TypeError(
            f"{where}: expected a torch.Tensor of generators (k, d, d), got {type(generators).__name__}; "
            "convert it with torch.as_tensor(generators)"
        )
    if generators.dim() != 3 or generators.shape[-1] != generators.shape[-2] or generators.shape[0] == 0:
        raise ValueError(
            f"{where}: generators must have shape (k, d, d) with k >= 1, got {tuple(generators.shape)}; "
            "stack the generators along the first axis"
        )
    if generators.is_complex():
        raise ValueError(f"{where}: generators must be real, got dtype {generators.dtype}; pass the real part")
    L = generators.detach().to(torch.float64)
    if not bool(torch.isfinite(L).all()):
        raise ValueError(f"{where}: the generators contain NaN or inf; pass finite matrices")
    if not (isinstance(tol, (int, float)) and 0 < tol < 1):
        raise ValueError(f"{where}: tol must be a number in (0, 1), got {tol!r}")
    if not (isinstance(rank_tol, (int, float)) and 0 < rank_tol < 1):
        raise ValueError(f"{where}: rank_tol must be a number in (0, 1), got {rank_tol!r}")
    return L


def identify_algebra(generators: Tensor, *, tol: float = 0.05, rank_tol: float = 1e-6, seed: int = 0) -> AlgebraInfo:
    """Name the real Lie algebra spanned by ``generators`` and report its invariants.

    Steps (formulas in the module docstring): an orthonormal basis ``E`` of the span
    (singular values below ``rank_tol`` times the largest are dropped, so ``dimension`` can
    be less than ``k``); the least-squares constants ``c`` of ``E`` and the closure residual;
    the invariants of ``c`` (derived and lower central series, centre, Killing signature,
    derivations) with the rank tolerance ``tol * |c|``; then the error
    ``min_P sqrt((rho_f^2 + rho_b^2) / 2)`` of the abelian algebra and of the catalogue
    algebras of the same dimension whose invariants agree. Only if none of them is within
    ``tol``: also of the fitted Bianchi VI_h / VII_h (``k = 3``; ``h`` is read off ``c``, not
    optimised) and, unless one of those matches with the learned invariants, of the
    remaining catalogue algebras (fewer starts). Among the candidates within ``tol`` the
    name goes to the one whose invariants agree with the learned ones in the most places
    (derived series, lower central series, centre, Killing signature, derivations), then to
    a listed algebra over a family member, then to the smallest error. Noise cannot tell an
    algebra from the algebras that contract to it (a noisy heisenberg is also within the
    noise of se(2), e(1,1), ...); the invariants, with their rank tolerance, decide in
    favour of the more degenerate one.

    Noise of relative size ``delta`` on the generators gives an error of order ``delta``
    times the ratio of the brackets the noise adds to those of the algebra (about 1e-2 for
    ``delta = 1e-2`` on the standard representations, more for algebras with few non-zero
    brackets). The error is relative to the learned frame, so an invertible mixing of the
    generators does not change it, but noise added after a badly conditioned mixing is
    amplified in the directions the mixing shrinks.

    The result does not depend on the scale of the generators or on an invertible mixing
    of them (up to the optimiser's precision). Names are given for dimension ``<= 6`` only;
    above that the invariants are still computed and ``name`` is ``None``. The abelian
    error is measured against the generators' own scale, so generators whose brackets are
    small compared with them (large representations) can also come close to abelian.

    Args:
        generators: ``(k, d, d)`` real tensor, any dtype and device.
        tol: largest error that still names an algebra; also the relative rank tolerance
            of the invariants (``tol / 2`` for the Killing eigenvalues).
        rank_tol: relative singular value below which a generator counts as dependent.
        seed: seeds the random starts of the basis search (same seed, same result).

    Returns:
        :class:`AlgebraInfo`; ``constants`` and ``basis`` have the input's dtype and device.

    Raises:
        TypeError: ``generators`` is not a tensor.
        ValueError: wrong shape, complex, NaN/inf, all zero, or a bad ``tol``/``rank_tol``.
    """
    L = _check(generators, tol, rank_tol)
    k0, d = L.shape[0], L.shape[-1]
    # orthonormal basis of the span
    _, s, vh = torch.linalg.svd(L.reshape(k0, d * d), full_matrices=False)
    if float(s[0]) == 0.0:
        raise ValueError("identify_algebra: the generators are all zero; pass at least one non-zero matrix")
    k = int((s > rank_tol * s[0]).sum())
    E = vh[:k].reshape(k, d, d)
    sc = structure_constants(E)
    c = sc.constants.cpu().numpy().astype(np.float64)
    closure = float(sc.residual)
    if k > 1:
        iu, ju = torch.triu_indices(k, k, 1, device=E.device)
        comm = float(torch.linalg.matrix_norm(E[iu] @ E[ju] - E[ju] @ E[iu]).pow(2).sum())
        abelian_error = math.sqrt(2.0 * comm / (k * (k - 1)))
    else:
        abelian_error = 0.0
    if abelian_error < 1e-12:  # the brackets vanish to round-off: nothing to close
        closure = 0.0
    rtol = tol  # rank tolerance of the invariants
    inv = _invariants(c, rtol)
    rng = np.random.default_rng(seed)
    norm_c = float(np.linalg.norm(c))
    fixed = {n: v for n, v in _catalogue().items() if v[0].shape[0] == k} if k <= MAX_DIMENSION else {}
    families: dict[str, tuple[np.ndarray, _Invariants]] = {}
    results: dict[str, tuple[float, np.ndarray | None]] = {}

    def evaluate(name: str, chat: np.ndarray, inv_hat: _Invariants, starts: int, iters: int = 60) -> None:
        if not np.any(chat):
            results[name] = (abelian_error, None)
        elif norm_c < 1e-13:  # the brackets vanish: c^P = 0, rho_f = 1
            results[name] = (1.0, None)
        else:
            fit = _match(c, inv, closure, chat, inv_hat, rtol, rng, tol, count=starts, iters=iters)
            results[name] = (fit.error, fit.P)

    # 1. the abelian algebra and the listed algebras with the learned invariants
    for name, (chat, inv_hat) in fixed.items():
        if not np.any(chat) or inv_hat.key() == inv.key():
            evaluate(name, chat, inv_hat, 12)
    if fixed and min((e for e, _ in results.values()), default=math.inf) > tol:
        # 2. the Bianchi families VI_h, VII_h with the fitted parameter, and the other
        # listed algebras of this dimension (fewer starts)
        if k == 3 and norm_c >= 1e-13:
            for name, chat in _family_candidates(c, rtol).items():
                families[name] = (chat, _invariants(chat, 1e-9))
                evaluate(name, *families[name], 12)
        if not any(results[n][0] <= tol and families[n][1].key() == inv.key() for n in families):
            for name, (chat, inv_hat) in fixed.items():
                if name not in results:
                    evaluate(name, chat, inv_hat, 3, iters=30)

    def agreement(name: str) -> int:
        key = (fixed[name] if name in fixed else families[name])[1].key()
        return sum(a == b for a, b in zip(key, inv.key()))

    within = [n for n in results if results[n][0] <= tol]
    if within:
        best = min(within, key=lambda n: (-agreement(n), n in families, results[n][0]))
    else:
        best = min(results, key=lambda n: results[n][0]) if results else None

    candidates = sorted(
        [(n, results[n][0] if n in results else math.inf) for n in [*fixed, *families]],
        key=lambda t: t[1],
    )
    matched = best is not None and results[best][0] <= tol
    P = results[best][1] if matched else None
    if P is not None:
        constants = _transform(c, P, np.linalg.inv(P))[0]
    else:
        P, constants = np.eye(k), c
    basis = torch.einsum("ab,bij->aij", torch.from_numpy(P).to(E), E)
    if matched:
        report = fixed[best][1] if best in fixed else families[best][1]
    else:
        report = inv
    return AlgebraInfo(
        name=best if matched else None,
        dimension=k,
        error=results[best][0] if best is not None else math.nan,
        closure=closure,
        constants=torch.from_numpy(np.ascontiguousarray(constants)).to(
            device=generators.device, dtype=_out_dtype(generators)
        ),
        basis=basis.to(_out_dtype(generators)),
        killing_signature=report.killing,
        abelian=report.derived[1:2] == (0,),
        solvable=report.derived[-1] == 0,
        nilpotent=report.lower_central[-1] == 0,
        semisimple=report.killing[2] == 0,
        derived_series=report.derived,
        lower_central_series=report.lower_central,
        centre_dimension=report.centre,
        derivations=report.derivations,
        candidates=candidates,
    )


def _out_dtype(generators: Tensor) -> torch.dtype:
    return generators.dtype if generators.is_floating_point() else torch.get_default_dtype()
