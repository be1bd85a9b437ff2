r"""Starting points for :func:`~lconv.discovery.fit_pairs` that hold for transformations of any size.

The first-order start of ``fit_pairs`` (``y - x = t L x``) needs pairs that change little.
For small ``d`` two routes need no small changes at all; each returns generators, a
spectrum that says how many there are, and (where it can) each pair's coefficients.

**Group elements** (each pair holds ``C >= d`` points that span ``R^d``, e.g. a point
cloud moved as a whole). Each pair determines its own element, ``Y_n = X_n g_n^T`` by
least squares, and ``log g_n`` (:func:`lconv.algebra.log`, principal branch) lies in the
algebra (for a compact group, every element with an angle below ``pi``). The algebra is
the span of the logarithms: the right singular vectors of the stacked ``log g_n``
(projected onto the search space) with the largest singular values; each pair's
coefficients are its logarithm's coordinates.

**Invariants** (any ``C``, e.g. one vector per pair). A polynomial ``p`` of degree <= 2 in
the pair's ``C d`` coordinates is an invariant when ``p(y_n) = p(x_n)`` for every pair:
the invariants are the near-null directions of ``Phi(y) - Phi(x)`` (``Phi`` the monomials),
measured against how much ``p`` varies across samples. Both spectra (invariants, then
generators) are counted by :func:`count_symmetries` with a strict rule (a gap of 10x below
residuals of at most 0.1): exact data give gaps of many decades, and a quantity that is
only nearly kept (a family of orbits) must not pass for an invariant. A generator keeps every invariant
when ``grad p(z) . (I_C (x) L) z = 0`` at every sample ``z``: linear in ``L``, so the
algebra is the near-null space of the stacked constraints (as in
:func:`~lconv.discovery.fit_dataset`). This finds the largest group that keeps the
quadratic invariants of the data: exact for the orthogonal and pseudo-orthogonal groups
(``|x|^2`` or the Minkowski form), and for a group with no polynomial invariant of degree
<= 2 it returns nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..algebra._lie import log


@dataclass
class Start:
    """A route's generators ``(k, d, d)`` (unit Frobenius norm), its spectrum and count.

    ``spectrum``: for invariants, the ascending residuals of the search space's directions
    (0 for an exact symmetry, about 1 for a random generator; counted by :func:`count_symmetries`);
    for group elements, the share ``r_j`` of the pairs' change left unexplained by the
    first ``j`` directions of the logarithms (counted by :func:`count_drop`). ``t`` is the
    pairs' coefficients or None.
    """

    route: str
    generators: Tensor
    spectrum: Tensor
    count: int
    t: Tensor | None = None


def _count(singular_values: Tensor, gap_ratio: float, max_residual: float, floor: float = 1e-9) -> tuple[int, str]:
    """:func:`count_symmetries` and the reason, in words."""
    raw = singular_values.double()
    s = raw.clamp_min(floor)
    m = len(s)
    rule = f"rule: a gap of at least {gap_ratio:g}x below which every residual is at most {max_residual:g}"
    if m == 0:
        return 0, "none: the search space is empty"
    if float(s[-1]) <= max_residual:
        return m, f"all {m}: every residual is at most {max_residual:g} (largest {float(raw[-1]):.3g})"
    if float(s[0]) > max_residual:
        return 0, f"none: the smallest residual, {float(raw[0]):.3g}, is above {max_residual:g} ({rule})"
    below = int((s <= max_residual).sum())  # candidate splits after 1 .. below values
    ratios = s[1 : below + 1] / s[:below]
    i = int(torch.argmax(ratios))
    gap = float(ratios[i])
    if gap < gap_ratio:
        return 0, (f"none: the largest gap among residuals up to {max_residual:g} is {gap:.3g}x "
                   f"(after {i + 1}: {float(raw[i]):.3g} -> {float(raw[i + 1]):.3g}), below {gap_ratio:g}x")  # fmt: skip
    lo = f"{float(raw[0]):.3g}" if i == 0 else f"{float(raw[0]):.3g} to {float(raw[i]):.3g}"
    return i + 1, (f"{i + 1}: residuals {lo} lie below the largest gap among residuals up to {max_residual:g} "
                   f"({float(raw[i]):.3g} -> {float(raw[i + 1]):.3g}, {gap:.3g}x; {rule})")  # fmt: skip


def count_symmetries(
    singular_values: Tensor, *, gap_ratio: float = 3.0, max_residual: float = 0.3, floor: float = 1e-9
) -> int:
    """How many of the ascending ``singular_values`` (residuals) are symmetries.

    Values are floored at ``floor`` (residuals that small are alike: an exact symmetry
    beside one within noise is no gap; ``fit_pairs`` uses ``1e-3``). All of them when even the largest is at most
    ``max_residual``. Otherwise the split is the largest ratio between neighbours,
    ``s_{i+1} / s_i``, among the ``i`` whose ``s_i`` is at most ``max_residual``; the ``i``
    smallest are symmetries when that ratio is at least ``gap_ratio``, else none are.
    (Looking for the gap only among small residuals keeps a larger gap between two large,
    violated values from hiding the one that ends the symmetries.)
    """
    return _count(singular_values, gap_ratio, max_residual, floor)[0]


def data_span(x: Tensor, *, rtol: float = 1e-10) -> Tensor:
    """Orthonormal basis ``(d, r)`` of the linear span of the rows of ``x`` ``(N, d)``.

    Directions whose second moment is below ``rtol`` times the largest are left out. The
    same construction as :func:`lconv.analysis.data_projector` (which uses ``rtol = 1e-6``).
    """
    flat = x.reshape(-1, x.shape[-1]).double()
    evals, evecs = torch.linalg.eigh(flat.T @ flat)
    return evecs[:, evals > rtol * evals.max().clamp_min(1e-300)]


def _quotient(q: Tensor, proj: Tensor, tol: float = 1e-6):
    """Split the space ``q`` (orthonormal, ``(m, d, d)``) by the map ``L -> L P``.

    Returns ``(trivial, rep, on_data, scale)``: an orthonormal basis ``(t, d, d)`` of the
    generators with ``L P = 0``; representatives ``rep (m - t, d, d)`` orthogonal to them whose
    restrictions ``on_data = rep P`` are orthonormal; ``scale`` the map's singular values.
    """
    m = len(q)
    qp = (q @ proj).reshape(m, -1)
    evals, w = torch.linalg.eigh(qp @ qp.T)  # Gram of the restrictions
    sv = evals.clamp_min(0).sqrt()
    null = sv <= tol * float(sv.max().clamp_min(1e-300))
    trivial = torch.einsum("mt,mij->tij", w[:, null], q)
    coef = w[:, ~null] / sv[~null]  # (m, r): rep_j = sum_m coef[m, j] q_m
    rep = torch.einsum("mr,mij->rij", coef, q)
    return trivial, rep, rep @ proj, coef


def _orthonormal(basis: Tensor) -> Tensor:
    """An orthonormal (Frobenius) basis of ``span(basis)``, ``(m', d, d)``."""
    flat = basis.reshape(len(basis), -1).double()
    u, s, vh = torch.linalg.svd(flat, full_matrices=False)
    keep = s > 1e-10 * s.max()
    return vh[keep].reshape(-1, *basis.shape[1:])


def group_elements(x: Tensor, y: Tensor, *, rcond: float = 1e-6) -> tuple[Tensor, Tensor]:
    """Each pair's element ``g_n`` with ``y_nc = g_n x_nc``, by least squares: ``(N, d, d)`` and a mask.

    ``x, y`` are ``(N, C, d)``; a pair whose points do not span ``R^d`` (singular values
    below ``rcond`` times the largest) does not determine its element and is masked out.
    """
    xs, ys = x.double(), y.double()
    sv = torch.linalg.svdvals(xs)  # (N, min(C, d))
    ok = (sv.shape[-1] == x.shape[-1]) & (sv[:, -1] > rcond * sv[:, 0].clamp_min(1e-300))
    gt = torch.linalg.lstsq(xs, ys).solution  # (N, d, d): X g^T = Y
    return gt.transpose(1, 2), ok


def from_group_elements(x: Tensor, y: Tensor, basis: Tensor, k: int | None) -> Start | None:
    """The group-element route (module docstring), or None when too few pairs determine their element."""
    n, c, d = x.shape
    if c < d:
        return None
    g, ok = group_elements(x, y)
    logs, ok_log = log(g)
    good = ok & ok_log
    if int(good.sum()) < max(4, 2 * len(basis) // max(d, 1)):
        return None
    b = _orthonormal(basis)  # (m, d, d)
    coords = torch.einsum("nij,mij->nm", logs[good].double(), b)  # projection onto the space
    _, s, vh = torch.linalg.svd(coords, full_matrices=False)
    if float(s[0]) <= 0:
        return None
    # residual of the pairs with the top j directions of the logarithms, j = 1, 2, ...
    xs, ys = x[good].double(), y[good].double()
    change = (ys - xs).pow(2).sum().clamp_min(1e-300)
    spectrum = []
    for j in range(1, min(len(vh), 16) + 1):
        m = torch.einsum("nj,jk,kab->nab", coords @ vh[:j].T, vh[:j], b)
        pred = xs @ torch.linalg.matrix_exp(m).transpose(1, 2)
        spectrum.append(float((pred - ys).pow(2).sum() / change))
    spectrum = torch.tensor(spectrum, dtype=torch.float64)
    count = count_drop(spectrum)
    kk = count if k is None else k
    if kk < 1:
        return None
    gens = torch.einsum("km,mij->kij", vh[:kk], b)  # orthonormal rows: unit Frobenius norm
    t = torch.zeros(n, kk, dtype=torch.float64)
    all_coords = torch.einsum("nij,mij->nm", torch.nan_to_num(logs.double()), b)
    t[good] = all_coords[good] @ vh[:kk].T
    return Start("group elements", gens.to(x.dtype), spectrum, count, t.to(x.dtype))


def count_drop(residuals: Tensor, *, min_drop: float = 1.5, floor: float = 1e-12) -> int:
    """How many generators a residual curve asks for: ``r_j`` is the share of the pairs' change left
    unexplained by ``j`` generators; the count is the ``j`` with the largest drop ``r_{j-1} / r_j``
    (``r_0 = 1``, values floored at ``floor``), or 0 when no drop reaches ``min_drop``."""
    r = torch.cat([torch.ones(1, dtype=torch.float64), residuals.double()]).clamp_min(floor)
    drops = r[:-1] / r[1:]
    j = int(torch.argmax(drops))
    return j + 1 if float(drops[j]) >= min_drop else 0


def _quadratic_features(z: Tensor) -> Tensor:
    """Monomials of degree 1 and 2 of ``z`` ``(N, D)``: ``(N, D + D (D + 1) / 2)``."""
    i, j = torch.triu_indices(z.shape[1], z.shape[1])
    return torch.cat([z, z[:, i] * z[:, j]], dim=1)


def _quadratic_gradients(z: Tensor, w: Tensor) -> Tensor:
    """Gradients of the polynomials ``p_j = Phi(z) . w_j`` at ``z`` ``(N, D)``: ``(N, J, D)``."""
    dim = z.shape[1]
    i, j = torch.triu_indices(dim, dim)
    lin, quad = w[:, :dim], w[:, dim:]  # (J, D), (J, D(D+1)/2)
    q = torch.zeros(len(w), dim, dim, dtype=w.dtype)
    q[:, i, j] = quad
    sym = q + q.transpose(1, 2)  # grad of z^T q z is (q + q^T) z
    return lin[None] + torch.einsum("jab,nb->nja", sym, z)


def invariants(x: Tensor, y: Tensor, *, max_features: int = 600) -> tuple[Tensor, Tensor, Tensor] | None:
    r"""Polynomial invariants of degree <= 2 of the pairs: ``(weights (J, M), residuals (J,), spectrum (M',))``.

    With ``Phi`` the monomials of the pair's ``C d`` coordinates, minimises
    ``|(Phi(y) - Phi(x)) w|^2 / |Phi_c(x) w|^2`` (``Phi_c`` centred over the samples): how much
    ``p = Phi . w`` changes within a pair against how much it varies across pairs. The
    square roots of the generalised eigenvalues, ascending, are the spectrum; the first
    :func:`count_symmetries` of them are invariants. None when there are too many monomials.
    """
    n = len(x)
    zx, zy = x.reshape(n, -1).double(), y.reshape(n, -1).double()
    dim = zx.shape[1]
    if dim + dim * (dim + 1) // 2 > max_features:
        return None
    scale = torch.cat([zx, zy]).pow(2).mean().sqrt().clamp_min(1e-300)
    fx, fy = _quadratic_features(zx / scale), _quadratic_features(zy / scale)
    fc = torch.cat([fx, fy])
    fc = fc - fc.mean(0)
    a = fc.T @ fc / len(fc)
    evals, evecs = torch.linalg.eigh(a)
    keep = evals > 1e-10 * evals.max()
    white = evecs[:, keep] / evals[keep].sqrt()  # (M, M'): unit variance across samples
    diff = (fy - fx) @ white
    lam, vec = torch.linalg.eigh(diff.T @ diff / n)
    spectrum = lam.clamp_min(0).sqrt()
    count = count_symmetries(spectrum, gap_ratio=10.0, max_residual=0.1, floor=1e-3)
    if count == 0:
        return None
    weights = (white @ vec[:, :count]).T / scale ** torch.cat(
        [torch.ones(dim, dtype=torch.float64), 2 * torch.ones(dim * (dim + 1) // 2, dtype=torch.float64)]
    )
    return weights, spectrum[:count], spectrum


def from_invariants(x: Tensor, y: Tensor, basis: Tensor, k: int | None) -> Start | None:
    """The invariant route (module docstring), or None when the pairs keep no quadratic invariant."""
    found = invariants(x, y)
    if found is None:
        return None
    w, _, _ = found
    n, c, d = x.shape
    b = _orthonormal(basis)  # (m, d, d)
    m = len(b)
    pts = torch.cat([x, y]).double()  # (2N, C, d): both ends of every pair are samples
    grads = _quadratic_gradients(pts.reshape(len(pts), -1), w).reshape(len(pts), len(w), c, d)
    rows = torch.einsum("njci,mik,nck->njm", grads, b, pts).reshape(-1, m)  # (2N J, m)
    size = rows.pow(2).sum(1, keepdim=True) / m
    rows = rows / (size + (1e-3 * size.median()) ** 2 + 1e-300).sqrt()  # each constraint weighs the same
    lam, vec = torch.linalg.eigh(rows.T @ rows / len(rows))  # ascending: the m x m normal matrix
    spectrum = lam.clamp_min(0).sqrt()
    count = count_symmetries(spectrum, gap_ratio=10.0, max_residual=0.1, floor=1e-3)
    kk = count if k is None else k
    if kk < 1:
        return None
    gens = torch.einsum("mk,mij->kij", vec[:, :kk], b)
    return Start("invariants", gens.to(x.dtype), spectrum, count, None)
