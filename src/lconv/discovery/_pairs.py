r"""Symmetry discovery from transformed pairs ``(x, y = g x)``.

Model: ``y_n = exp(sum_i t_ni L_i) x_n`` for unknown generators ``L_i`` (``k x d x d``) and
known or unknown coefficients ``t_n`` (``k`` per pair). Methods:

``lstsq``
    First-order least squares, ``y - x = sum_i t_i L_i x`` solved exactly; with one
    fixed ``t`` this is the baseline ``(R - I)/t`` of SI C.2 (``R = Y X^+``).
``lconv``
    The paper's SI C.2: one L-conv layer ``y = x + t L x`` fitted by Adam.
``exp`` (default)
    The finite transformation itself: minimise ``|exp(sum_i t_ni L_i) x_n - y_n|^2`` over
    ``L`` (and over ``t_n`` when they are unknown), starting from the first-order
    solution, or for ``d <= SMALL_D`` from whichever start fits best among it, the span of
    the pairs' group elements' logarithms and the algebra that keeps the pairs' quadratic
    invariants (:mod:`lconv.discovery._starts`; these hold for transformations of any
    size). With hidden ``t`` the first-order start comes from the quarter of the pairs that change
    least, by variable projection of the first-order model (each pair's ``t`` eliminated
    in closed form, so the signs of ``t`` need not be known). Unknown ``t_n`` are eliminated per pair by Newton steps on their own
    (separable) least-squares problem before every update of ``L`` (variable projection),
    so ``t`` never lags behind ``L``. Because ``t L = (st)(L/s)``, with unknown ``t``
    each ``L_i`` is normalised to unit Frobenius norm. Several generators are kept a basis
    of an algebra by an orthogonality penalty (Gram matrix of the normalised ``L_i``
    against the identity) and an optional closure penalty (squared least-squares
    residual of ``[L_i, L_j]`` in the span).

The search space (``space=``, a :class:`~lconv.algebra.SearchSpace` or its name) is all
``d x d`` matrices (``"full"``, the default), the antisymmetric ones (``"antisymmetric"``:
the group preserves the Euclidean norm, as a compact group acting orthogonally does), the
span of given matrices ``(m, d, d)``, independent blocks, ``I (x) A``, or the generators of
flows on an image grid (``SearchSpace.vector_field(grid)``:
``L = sum_alpha diag(v^alpha) D_alpha``, one vector per pixel), which holds every
symmetry that moves pixels and nothing else.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.autograd.forward_ad as fwAD
from torch import Tensor

from ..algebra._lie import closure_loss, exp_apply
from ..algebra._spaces import SearchSpace, VectorFieldSpace
from ._result import DiscoveryResult, check_count, legacy_keywords, legacy_positional, legacy_space
from ._starts import Start, _orthonormal, _quotient, count_drop, data_span, from_group_elements, from_invariants

METHODS = ("exp", "lstsq", "lconv")
#: What ``result.spectrum`` holds with ``n_generators="auto"``, by the start that counted.
COUNT_RULES = {
    "group elements": "share of the pairs' change left unexplained by the first j directions of the logarithms; "
    "the count is the largest drop",
    "invariants": "residual of each direction of the space against the pairs' quadratic invariants, ascending; "
    "the count is the values below a gap of 10x",
    "first order": "share of the pairs' change left unexplained by j first-order generators; the count is the "
    "largest drop",
}
#: Up to this ``d`` the ``exp`` fit forms ``exp(t . L)`` per pair (batched ``matrix_exp``) and
#: tries the starts of :mod:`lconv.discovery._starts`; above it, it applies ``exp`` to vectors.
SMALL_D = 32


# ------------------------------------------------------------------------------ checks
def _as_tensor(v, name: str) -> Tensor:
    """Tensors pass through; numpy arrays and nested lists become tensors (float64 stays float64)."""
    if isinstance(v, Tensor):
        return v
    if isinstance(v, (np.ndarray, list, tuple)):
        arr = np.asarray(v)
        if arr.dtype.kind not in "fiu":
            raise TypeError(f"fit_pairs: {name} must hold numbers, got an array of {arr.dtype}")
        return torch.as_tensor(arr if arr.dtype.kind == "f" else arr.astype(np.float32))
    raise TypeError(f"fit_pairs: {name} must be a torch.Tensor or a numpy array, got {type(v).__name__}")


def _check_pairs(x, y, k, t, space: SearchSpace, method) -> tuple[Tensor, Tensor, Tensor | None]:
    for name, v in (("x", x), ("y", y)):
        if not v.is_floating_point():
            raise TypeError(f"fit_pairs: {name} must be floating point, got {v.dtype}; cast with .float()")
    if x.shape != y.shape:
        raise ValueError(f"fit_pairs: x and y must have the same shape, got {tuple(x.shape)} and {tuple(y.shape)}")
    if x.dim() not in (2, 3):
        raise ValueError(f"fit_pairs: pairs must be (N, d) or (N, C, d), got {tuple(x.shape)}")
    if not (torch.isfinite(x).all() and torch.isfinite(y).all()):
        raise ValueError("fit_pairs: x or y contains NaN or inf; drop or repair those samples first")
    if method not in METHODS:
        raise ValueError(f"fit_pairs: unknown method {method!r}; choose one of {METHODS}")
    x3 = x[:, None] if x.dim() == 2 else x
    y3 = y[:, None] if y.dim() == 2 else y
    n = len(x3)
    room = space.dim
    check_count(k, "fit_pairs")
    if k == "auto":
        if method != "exp" or t is not None:
            raise ValueError("fit_pairs: n_generators='auto' needs method='exp' and unknown t; give a number")
    elif not 1 <= k <= room:
        raise ValueError(
            f"fit_pairs: n_generators={k!r} but the search space has dimension {room}; "
            f"choose 1 <= n_generators <= {room} or 'auto'"
        )
    if t is not None:
        t = _as_tensor(t, "t").to(x.dtype)
        t = t.reshape(n, 1) if t.dim() <= 1 and t.numel() == n else t
        if t.shape != (n, k):
            raise ValueError(f"fit_pairs: t must be (N,) or (N, n_generators) = ({n}, {k}), got {tuple(t.shape)}")
        if not torch.isfinite(t).all():
            raise ValueError("fit_pairs: t contains NaN or inf")
    elif method == "lconv" and k > 1:
        raise ValueError("fit_pairs: method='lconv' with unknown t fits one generator; pass n_generators=1 or t")
    return x3, y3, t


def _unit(L: Tensor) -> Tensor:
    """Each generator scaled to unit Frobenius norm."""
    return L / L.flatten(1).norm(dim=1).clamp_min(1e-12)[:, None, None]


def _first_order_fit(x: Tensor, y: Tensor, t: Tensor) -> Tensor:
    """``y - x = sum_i t_i L_i x`` by least squares; x, y (N, C, d), t (N, k) -> L (k, d, d)."""
    n, c, d = x.shape
    k = t.shape[1]
    z = (t[:, None, :, None] * x[:, :, None, :]).reshape(n * c, k * d)  # [t_1 x, ..., t_k x]
    delta = (y - x).reshape(n * c, d)
    # truncated pseudo-inverse: minimum-norm solution, blind to directions the data does not visit
    w = (torch.linalg.pinv(z.double(), rtol=1e-6) @ delta.double()).T  # (d, k d)
    return w.reshape(d, k, d).transpose(0, 1).to(x.dtype)


def _init_unknown(x: Tensor, y: Tensor, k: int) -> Tensor:
    """Span of ``{(y_n - x_n) x_n^T Sigma^-1}`` (unbiased estimates of ``sum_i t_ni L_i``) by PCA via the Gram trick."""
    n, c, d = x.shape
    xs = x.reshape(n * c, d).double()
    sigma = xs.T @ xs / len(xs)
    evals, evecs = torch.linalg.eigh(sigma)  # pseudo-inverse: directions the data never visits stay zero
    inv = torch.where(evals > 1e-6 * evals.max(), 1.0 / evals, torch.zeros_like(evals))
    white = (evecs * inv) @ evecs.T @ x.double().transpose(1, 2)  # (n, d, c): Sigma^+ x
    delta = (y - x).double()  # (n, c, d)
    gram = torch.einsum("ncd,mcd->nm", delta, delta) * torch.einsum("ndc,mdc->nm", white, white)
    _, vecs = torch.linalg.eigh(gram)
    u = vecs[:, -k:].flip(-1)  # (n, k) top components
    return torch.einsum("nk,ncd,nec->kde", u, delta, white).to(x.dtype)


def _varpro_first_order(L: Tensor, x: Tensor, y: Tensor, space: SearchSpace, iters: int = 100) -> Tensor:
    """Improve a start by variable projection on the first-order model.

    Minimises ``sum_n |(y_n - x_n) - Pi_n (y_n - x_n)|^2`` over the generators, ``Pi_n``
    the projector onto ``span{L_i x_n}``: the best ``t_n`` of every pair is eliminated in
    closed form, so the objective does not care about the sign or scale of ``t``.
    """
    params = space.project(L).detach().contiguous().clone().requires_grad_(True)
    delta = (y - x).flatten(1).double()
    total = delta.pow(2).sum()
    if total == 0:
        return L
    opt = torch.optim.LBFGS([params], lr=1.0, max_iter=iters, history_size=20, line_search_fn="strong_wolfe")
    eye = torch.eye(L.shape[0], dtype=torch.float64, device=x.device)

    def closure():
        opt.zero_grad()
        lx = torch.einsum("kij,ncj->nkci", space.generators(params), x).flatten(2).double()
        a = lx @ lx.transpose(1, 2)
        a = a + 1e-10 * a.diagonal(dim1=1, dim2=2).mean(-1).clamp_min(1e-30)[:, None, None] * eye
        b = lx @ delta[:, :, None]
        loss = 1.0 - (b.transpose(1, 2) @ torch.linalg.solve(a, b)).sum() / total
        loss.backward()
        return loss

    opt.step(closure)
    out = space.generators(params).detach()
    return out if torch.isfinite(out).all() else L


def _fit_t(L: Tensor, x: Tensor, y: Tensor) -> Tensor:
    """First-order coefficients per pair: ``y - x = sum_i t_i (L_i x)`` by least squares, (N, k)."""
    lx = torch.einsum("kij,ncj->nkci", L, x).flatten(2)  # (n, k, c d)
    delta = (y - x).flatten(1)  # (n, c d)
    a = lx @ lx.transpose(1, 2)  # (n, k, k)
    b = (lx @ delta[:, :, None])[..., 0]
    # pseudo-inverse: where a pair cannot tell generators apart (e.g. a rotation about the
    # vector itself), take the smallest coefficients that fit
    return (torch.linalg.pinv(a, rtol=1e-6, hermitian=True) @ b[:, :, None])[..., 0]


def _apply(L: Tensor, t: Tensor, x: Tensor) -> Tensor:
    """``exp(sum_i t_ni L_i) x_n`` for ``x`` ``(N, C, d)`` or ``(N, d)``: batched ``matrix_exp`` for
    ``d <= SMALL_D`` (one ``d x d`` element per pair), :func:`~lconv.algebra.exp_apply` above."""
    if L.shape[-1] > SMALL_D:
        return exp_apply(L, t, x)
    g = torch.linalg.matrix_exp(torch.einsum("nk,kij->nij", t, L))
    return x @ g.transpose(1, 2) if x.dim() == 3 else (g @ x[:, :, None])[..., 0]


def _pair_errors(L: Tensor, t: Tensor, x: Tensor, y: Tensor) -> Tensor:
    with torch.no_grad():
        return (_apply(L, t, x) - y).flatten(1).pow(2).sum(1)


def _values_and_jacobian(L: Tensor, t: Tensor, x: Tensor) -> tuple[Tensor, Tensor]:
    """``exp(t . L) x`` ``(n, c d)`` and its exact Jacobian in ``t`` ``(n, k, c d)``.

    Small ``d``: ``matrix_exp`` of the ``2d x 2d`` block matrices ``[[M, L_i], [0, M]]`` with
    ``M = t . L``, whose diagonal block is ``exp(M)`` and upper right block the Frechet
    derivative ``Dexp_M(L_i)``, all ``N k`` of them in one batch. Large ``d``: forward-mode
    differentiation of :func:`~lconv.algebra.exp_apply`, one pass per generator.
    """
    k, d, _ = L.shape
    if d <= SMALL_D:
        n = len(t)
        m = torch.einsum("nk,kij->nij", t, L)[:, None].expand(n, k, d, d)
        big = m.new_zeros(n, k, 2 * d, 2 * d)
        big[:, :, :d, :d] = m
        big[:, :, d:, d:] = m
        big[:, :, :d, d:] = L
        top = torch.linalg.matrix_exp(big)[:, :, :d]  # (n, k, d, 2d): [exp(M), Dexp_M(L_i)]
        value = torch.einsum("nij,ncj->nci", top[:, 0, :, :d], x).flatten(1)
        jac = torch.einsum("nkij,ncj->nkci", top[..., d:], x).flatten(2)
        return value, jac
    cols = []
    with fwAD.dual_level():
        for i in range(k):
            tangent = torch.zeros_like(t)
            tangent[:, i] = 1.0
            out = fwAD.unpack_dual(exp_apply(L, fwAD.make_dual(t, tangent), x))
            cols.append(out.tangent.flatten(1))
    return out.primal.flatten(1), torch.stack(cols, 1)


def _newton_t(L: Tensor, t: Tensor, x: Tensor, y: Tensor, iters: int) -> Tensor:
    """Refine per-pair coefficients on ``|exp(t . L) x - y|^2`` by Gauss-Newton steps (no gradient to L).

    The Jacobian ``d exp(t . L) x / d t_i`` is exact (:func:`_values_and_jacobian`), so the
    steps are right also for generators that do not commute.
    """
    L = L.detach()
    t = t.detach().clone()
    for _ in range(iters):
        with torch.no_grad():
            values, jac = _values_and_jacobian(L, t, x)
            r = values - y.flatten(1)  # (n, c d)
        h = jac @ jac.transpose(1, 2)
        g = (jac @ r[:, :, None])[..., 0]
        bad = ~(torch.isfinite(h).flatten(1).all(1) & torch.isfinite(g).all(1))  # exp overflowed: stay put
        if bool(bad.any()):
            h = torch.where(bad[:, None, None], torch.eye(len(L), dtype=h.dtype, device=h.device), h)
            g = torch.where(bad[:, None], torch.zeros_like(g), g)
        step = (torch.linalg.pinv(h, rtol=1e-6, hermitian=True) @ g[:, :, None])[..., 0]
        limit = 0.5 * (t.abs() + 1.0)  # trust region: at most half of |t| + 1 per step
        t = t - torch.maximum(torch.minimum(step, limit), -limit)
        if float(step.abs().max()) <= 1e-12 * max(1.0, float(t.abs().max())):
            break
    return t


def _fit_t_starts(
    L: Tensor, x: Tensor, y: Tensor, t0: Tensor | None, *, starts: int = 8, iters: int = 8, seed: int = 0
) -> Tensor:
    """Each pair's coefficients for fixed generators, from several starts (small ``d``).

    Gauss-Newton from ``t0`` (if given) and from the first-order fit; the pairs still left
    with a relative error above ``max(1e-6, 4 q)`` (``q`` the error the best tenth of the
    pairs reach, their noise) then also try ``starts`` random points whose group
    elements reach an angle of ``pi``, and each pair keeps its best. For large
    transformations one start is not enough: ``exp`` is periodic along compact directions,
    so the error in ``t`` has many local minima.
    """
    L = L.detach()
    best, best_err = None, None

    def keep(tc, rows):
        nonlocal best, best_err
        err = _pair_errors(L, tc, x[rows], y[rows])
        if best is None:
            best, best_err = tc.clone(), err
            return
        better = err < best_err[rows]
        best[rows] = torch.where(better[:, None], tc, best[rows])
        best_err[rows] = torch.where(better, err, best_err[rows])

    every = torch.arange(len(x), device=x.device)
    for c in [_fit_t(L, x, y)] + ([t0.to(x)] if t0 is not None else []):
        keep(_newton_t(L, c, x, y, iters), every)
    size = y.flatten(1).pow(2).sum(1).clamp_min(1e-300)
    # a pair is lost when its error is well above what the best tenth reach (noise) and above rounding
    floor = max(1e-6, 4 * float(torch.quantile((best_err / size).float(), 0.1)))
    gen = torch.Generator().manual_seed(seed)
    norm = float(torch.linalg.matrix_norm(L.double(), ord=2).max().clamp_min(1e-12))
    for _ in range(starts):
        lost = every[best_err > floor * size]
        if len(lost) == 0:
            break
        r = torch.randn(len(lost), len(L), generator=gen, dtype=torch.float64)
        r = (
            r
            / r.norm(dim=1, keepdim=True).clamp_min(1e-12)
            * torch.rand(len(lost), 1, generator=gen, dtype=torch.float64)
        )
        keep(_newton_t(L, (math.pi / norm * r).to(x), x[lost], y[lost], iters), lost)
    return best


def _penalties(L: Tensor, orthogonality: float, closure: float) -> Tensor:
    out = L.new_zeros(())
    k = len(L)
    if k < 2:
        return out
    flat = L.reshape(k, -1)
    unit = flat / flat.norm(dim=1, keepdim=True).clamp_min(1e-12)
    if orthogonality > 0:
        gram = unit @ unit.T
        out = out + orthogonality * (gram - torch.eye(k, dtype=L.dtype, device=L.device)).pow(2).sum()
    if closure > 0:
        out = out + closure * closure_loss(_unit(L))
    return out


def fit_coefficients(generators: Tensor, x: Tensor, y: Tensor, *, newton_steps: int = 5) -> Tensor:
    """Best coefficients per pair for given generators: ``argmin_t |exp(t . L) x - y|``, ``(N, k)``.

    First-order least squares, then Gauss-Newton steps on the exact model; for
    ``d <= SMALL_D`` also from random starts where a pair is left far from its best
    (large transformations, :func:`_fit_t_starts`).
    """
    x3 = x[:, None] if x.dim() == 2 else x
    y3 = y[:, None] if y.dim() == 2 else y
    L = generators.to(x3)
    if newton_steps > 0 and L.shape[-1] <= SMALL_D:
        return _fit_t_starts(L, x3, y3, None, iters=max(newton_steps, 8))
    t = _fit_t(L, x3, y3)
    return _newton_t(L, t, x3, y3, newton_steps) if newton_steps > 0 else t


@dataclass
class PairsOptions:
    """Options of :func:`fit_pairs` (``options=``); each says which ``method`` reads it.

    Attributes:
        epochs: ``exp``: rounds of (refit ``t``, then ``inner_steps`` L-BFGS iterations on
            the generators), stopping early once neither the loss nor the span of the
            generators changes; ``lconv``: passes of Adam over the pairs.
        inner_steps: L-BFGS iterations per round (``exp``).
        batch_size, lr: Adam minibatch and learning rate (``lconv``; the paper used 64).
        orthogonality, closure: weights of the penalties for ``k >= 2`` (``exp``).
        newton_steps: Gauss-Newton steps on the unknown ``t`` per round (``exp``).
        chunk: pairs per chunk when accumulating full-batch gradients (memory; ``exp``).
        init_fraction: with unknown ``t``, the first-order start uses this share of the
            pairs, those whose relative change ``|y - x| / |x|`` is smallest (the first
            order holds for small transformations).
        threads: torch threads during the fit; ``"auto"`` uses one thread for problems
            whose products are small (``N C d^2 <= 5e7``), where more threads only wait on
            each other (and on a busy machine wait for the CPU), and torch's setting above.
    """

    epochs: int = 30
    inner_steps: int = 25
    batch_size: int = 64
    lr: float = 1e-3
    orthogonality: float = 1.0
    closure: float = 0.0
    newton_steps: int = 3
    chunk: int = 1024
    init_fraction: float = 0.25
    threads: int | str = "auto"


def fit_pairs(
    x: Tensor,
    y: Tensor,
    *legacy,
    t: Tensor | None = None,
    space: SearchSpace | str | Tensor | None = None,
    n_generators: int | str | None = None,
    method: str = "exp",
    seed: int = 0,
    device: str | torch.device | None = None,
    options: PairsOptions | dict | None = None,
    progress: Callable[[int, int, float], None] | None = None,
    **old,
) -> DiscoveryResult:
    """Learn ``n_generators`` generators from pairs ``y = exp(sum_i t_i L_i) x``.

    **Starts.** With ``t`` unknown the ``exp`` fit needs a start. For ``d <= SMALL_D`` (32)
    it tries three and keeps the one whose generators, with each pair's best ``t``
    (Gauss-Newton from several starts), fit the pairs best: the first-order start (pairs
    that change least), the span of each pair's group element's logarithm (pairs of
    ``C >= d`` points spanning ``R^d``), and the algebra that keeps the pairs' quadratic
    invariants (:mod:`lconv.discovery._starts`). The last two hold for transformations of
    any size, e.g. Haar-random rotations; no continuation from small to large changes is
    needed. Above ``SMALL_D`` (images) only the first-order start is used, and ``exp`` is
    applied to vectors without forming it.

    Args:
        x, y: samples ``(N, d)`` or ``(N, C, d)`` (channels of one sample share ``t``),
            related by unknown elements of an unknown connected group; tensors or
            numpy arrays.
        t: known coefficients ``(N,)`` or ``(N, k)``, or None (unknown, fitted per pair).
        space: the search space: a :class:`~lconv.algebra.SearchSpace`, its name
            (``"full"``, ``"antisymmetric"``, ``"blocks:B"``, ``"kron:B"``,
            ``"vector-field:HxW"``), or ``(m, d, d)`` matrices whose span it is. Default:
            all ``d x d`` matrices. For images, ``SearchSpace.vector_field(grid)``.
        n_generators: ``k``, the number of generators to learn (default 1), or ``"auto"``:
            the number the start's spectrum singles out (the largest gap; rules in
            :mod:`lconv.discovery._starts`, and for the first-order start the largest
            drop of the first-order residual as generators are added); the evidence is
            ``result.spectrum``, ``result.residuals`` and ``result.count_reason``. With
            ``t`` given and no ``n_generators``: as many as ``t`` has columns.
        method: ``"exp"`` (default), ``"lstsq"`` or ``"lconv"`` (module docstring).
        seed: seeds the initialisation of ``lconv`` and the random starts of ``t``.
        device: where to compute (default: where ``x`` is); the result comes back to ``x``'s device.
        options: :class:`PairsOptions` (or a dict of its fields): epochs, L-BFGS and Adam
            settings, penalties, threads.
        progress: called as ``progress(epoch, epochs, loss)`` after each epoch.

    Returns:
        :class:`DiscoveryResult`: ``generators`` ``(k, d, d)`` and ``t`` ``(N, k)``, on ``x``'s
        device in its dtype.

    Warns:
        ``RuntimeWarning`` when the refinement diverged or failed (the start is kept), and
        when the generators explain less than a tenth of the pairs' change.
        ``DeprecationWarning`` for the calls before ``space=`` and ``options=``:
        ``n_generators`` or ``t`` by position, ``structure=``, ``basis=``, ``grid=``, or an
        option passed flat (``epochs=5``). The old names ``n``, ``num_generators`` and ``k``
        raise ``TypeError``.
    """
    opts, spaces = legacy_keywords("fit_pairs", old, options, PairsOptions, space_keys=("structure", "basis", "grid"))
    pos = legacy_positional("fit_pairs", legacy, ("n_generators", "t"), dict(n_generators=n_generators, t=t))
    n_generators, t = pos.get("n_generators", n_generators), pos.get("t", t)
    space = legacy_space("fit_pairs", spaces, space)
    x, y = _as_tensor(x, "x"), _as_tensor(y, "y")
    if n_generators is None:
        tt = None if t is None else torch.as_tensor(t)
        n_generators = 1 if tt is None or tt.dim() <= 1 else tt.shape[1]
    if x.dim() in (2, 3):
        space = SearchSpace.resolve(space, x.shape[-1], where="fit_pairs")
    x3, y3, t_known = _check_pairs(x, y, n_generators, t, space, method)
    n, c, d = x3.shape
    if d > SMALL_D and space.kind == "full" and method == "exp":
        warnings.warn(
            f"fit_pairs: searching all {d * d} matrices of gl({d}) is slow and rarely what images need; "
            "for images pass space=SearchSpace.vector_field((height, width)) to search the flows on the pixel grid",
            RuntimeWarning, stacklevel=2,
        )  # fmt: skip
    with _fit_threads(opts.threads, n * c * d * d):
        result = _fit_pairs(x3, y3, n_generators, t_known, method, space, opts, seed,
                            torch.device(device) if device is not None else x.device, progress)  # fmt: skip
    return result.to(x.device, x.dtype)


@contextlib.contextmanager
def _fit_threads(threads, work: float):
    """Run with one torch thread for small products (``threads="auto"``), or with ``threads``."""
    if threads == "auto":
        threads = 1 if work <= 5e7 else None
    elif not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
        raise ValueError(f"fit_pairs: threads must be a positive int or 'auto', got {threads!r}")
    before = torch.get_num_threads()
    if threads is not None and threads != before:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


def _first_order_start(x3, y3, k, space, init_fraction) -> Tensor:
    """Generators from the pairs that change least, by the first-order model (unit norm)."""
    n, c, d = x3.shape
    change = (y3 - x3).flatten(1).norm(dim=1) / x3.flatten(1).norm(dim=1).clamp_min(1e-12)
    m = min(n, max(int(init_fraction * n), 2 * k * d // max(1, c), 8), 4000)  # Gram is m x m
    small = torch.argsort(change)[:m]
    xs, ys = x3[small], y3[small]
    L = _init_unknown(xs, ys, k)
    L = _varpro_first_order(space.generators(space.project(L)), xs, ys, space)
    return _unit(L)


def _first_order_count(x3, y3, space, init_fraction) -> Start:
    """``n_generators="auto"`` for the first-order start: ``r_k`` is the share of the change that
    ``k`` first-order generators leave unexplained, counted by :func:`count_drop`. With one
    vector per pair, ``k`` stays below the rank of the samples, at which the first-order
    model fits any change exactly."""
    residual = []
    delta = (y3 - x3).flatten(1)
    n, c, d = x3.shape
    # with one vector per pair, k >= rank(data) first-order generators fit any change exactly
    top = min(6, space.dim)
    if c == 1:
        top = min(top, max(1, int(torch.linalg.matrix_rank(x3.reshape(-1, d))) - 1))
    for k in range(1, top + 1):
        L = space.generators(space.project(_first_order_start(x3, y3, k, space, init_fraction)))
        t = _fit_t(L, x3, y3)
        fit = torch.einsum("kij,ncj,nk->nci", L, x3, t).flatten(1)
        residual.append(float((delta - fit).pow(2).sum() / delta.pow(2).sum().clamp_min(1e-300)))
    r = torch.tensor(residual, dtype=torch.float64)
    return Start("first order", torch.empty(0), r, count_drop(r))


def _fit_pairs(x3, y3, k, t_known, method, space: SearchSpace, opts: PairsOptions, seed, dev,
               progress) -> DiscoveryResult:  # fmt: skip
    n, c, d = x3.shape
    epochs, newton_steps, init_fraction = opts.epochs, opts.newton_steps, opts.init_fraction
    flows = space if isinstance(space, VectorFieldSpace) else None
    small = d <= SMALL_D and flows is None
    dtype = torch.float64 if small else x3.dtype  # small problems: float64 costs nothing and never breaks
    x3, y3 = x3.to(dev, dtype), y3.to(dev, dtype)
    searched = space
    space = space.to(dev, dtype)
    trivial = None
    if small:
        # samples on a subspace (projector P): generators with L P = 0 fit every pair trivially;
        # search the quotient, the generators' action on the span, and report those apart
        span = data_span(torch.cat([x3, y3]))
        if span.shape[1] < d:
            proj = span @ span.T
            trivial, _, on_data, _ = _quotient(_orthonormal(space.basis(dtype, dev)), proj)
            if len(on_data) == 0:
                raise ValueError(
                    f"fit_pairs: every generator of the search space vanishes on the data's span (rank "
                    f"{span.shape[1]} of {d}); pass a larger space or samples that span more"
                )
            if isinstance(k, int) and k > len(on_data):
                raise ValueError(
                    f"fit_pairs: n_generators={k} but only {len(on_data)} generators of the space act on the "
                    f"data's span (rank {span.shape[1]} of {d}); choose at most {len(on_data)} or 'auto'"
                )
            space = SearchSpace.span(on_data)
    config = dict(fit="pairs", n_generators=k, t_known=t_known is not None, method=method, space=searched.name,
                  space_dim=searched.dim, **{**dataclasses.asdict(opts), "threads": torch.get_num_threads()},
                  seed=seed, device=str(dev),
                  smoothness=flows.smoothness if flows is not None else None,
                  n_trivial=0 if trivial is None else len(trivial))  # fmt: skip
    history: dict[str, list[float]] = {"loss": [], "seconds": []}
    start = time.perf_counter()
    spectrum = residuals = None
    chunk = n if small else opts.chunk

    # ---- first-order solution: the lstsq method, and the start of the others
    if t_known is not None:
        t_fit = t_known.to(dev, dtype)
        L = space.generators(space.project(_first_order_fit(x3, y3, t_fit)))
    elif method != "exp":
        L = space.generators(space.project(_first_order_start(x3, y3, k, space, init_fraction)))
        t_fit = _fit_t(L, x3, y3)
    else:
        L, t_fit, k, spectrum, residuals, chosen = _choose_start(x3, y3, k, space, small, init_fraction,
                                                                  seed, history, chunk)  # fmt: skip
        config.update(n_generators=k, start=chosen, count_rule=history.pop("count_rule", None))
    counted = dict(n_symmetries=k, count_reason=config["count_rule"]) if spectrum is not None else {}

    if method == "lstsq":
        if flows is not None and flows.smoothness > 0:
            L = flows.smooth(L, x3)
            t_fit = t_fit if t_known is not None else _fit_t(L, x3, y3)
        with torch.no_grad():
            history["loss"].append(float((x3 + torch.einsum("kij,ncj,nk->nci", L, x3, t_fit) - y3).pow(2).mean()))
        history["seconds"].append(time.perf_counter() - start)
        return DiscoveryResult(L.detach(), t_fit.detach(), history, method, config, **_trivial(trivial))

    # ---- iterative methods
    normalise = t_known is None
    params = space.project(L).detach().contiguous().clone().requires_grad_(True)

    def current() -> Tensor:
        Lc = space.generators(params)
        return _unit(Lc) if normalise else Lc

    if method == "exp":
        # Keep the refinement only if it fits the pairs better than its start (judged by the
        # objective itself; the start is kept if the refinement diverges or fails).
        start_L, start_t = current().detach().clone(), t_fit.clone()
        start_loss = _exp_loss(start_L, start_t, x3, y3, chunk)
        problem = None
        end_loss = start_loss  # a start that fits within rounding is not refined
        if not _exact(start_loss, x3, y3):
            try:
                _fit_exp(params, current, x3, y3, t_fit, t_known is None, epochs, opts.inner_steps, newton_steps,
                         opts.orthogonality, opts.closure, chunk, history, start, progress)  # fmt: skip
                end_loss = history["loss"][-1]  # the loss of the current state, recorded by the last round
            except (FloatingPointError, RuntimeError, torch.linalg.LinAlgError) as exc:
                end_loss, problem = math.inf, str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        history["start_loss"] = [start_loss]
        if not end_loss <= start_loss:
            with torch.no_grad():
                params.copy_(space.project(start_L))
                t_fit.copy_(start_t)
            history["kept_start"] = [1.0]
            if problem is not None:
                warnings.warn(
                    f"fit_pairs: the refinement failed ({problem}); kept its start (loss {start_loss:.3g}). "
                    "Try space='antisymmetric' for a compact group, fewer generators, or pairs that change less",
                    RuntimeWarning, stacklevel=3,
                )  # fmt: skip
    else:
        _fit_lconv(params, current, x3, y3, t_fit, epochs, opts.batch_size, opts.lr, seed, history, start, progress)
    with torch.no_grad():
        final = current()
        if flows is not None and flows.smoothness > 0:
            # continue the flows where the pairs do not determine them, then refit each pair's t
            final = flows.smooth(final, x3)
            final = _unit(final) if normalise else final
            if t_known is None:
                for sl in _chunks(n, chunk):
                    t_fit[sl] = _newton_t(final, t_fit[sl], x3[sl], y3[sl], max(newton_steps, 1))
        if method == "exp":
            loss = _exp_loss(final, t_fit, x3, y3, chunk)
            identity = float((y3 - x3).pow(2).mean())
            history["identity_loss"] = [identity]
            if identity > 0 and not loss <= 0.9 * identity:
                warnings.warn(
                    f"fit_pairs: the {k} generator(s) explain {max(0.0, 1 - loss / identity):.0%} of the pairs' "
                    f"change (loss {loss:.3g} against {identity:.3g} for doing nothing). Try n_generators='auto', "
                    "another space, or check that y is x transformed",
                    RuntimeWarning, stacklevel=3,
                )  # fmt: skip
    return DiscoveryResult(final.detach(), t_fit.detach(), history, method, config, spectrum, residuals,
                           **_trivial(trivial), **counted)  # fmt: skip


def _trivial(trivial: Tensor | None) -> dict:
    return {} if trivial is None else dict(trivial=trivial, n_trivial=len(trivial))


def _exact(loss: float, x: Tensor, y: Tensor) -> bool:
    """A fit within rounding of the data: mean squared error below ``1e-10`` of the change's."""
    return loss <= 1e-10 * float((y - x).pow(2).mean())


def _choose_start(x3, y3, k, space, small, init_fraction, seed, history, chunk):
    """The ``exp`` fit's start with unknown ``t``: ``(L, t, k, spectrum, residuals, route)``.

    With ``k="auto"`` the count is the first one proposed by the group-element start, the
    invariant start (:mod:`lconv.discovery._starts`), or else the first-order start
    (:func:`_first_order_count`); the evidence is that start's spectrum.
    """
    explicit = space.basis(x3.dtype, x3.device) if small else None
    routes = (from_group_elements, from_invariants) if small else ()
    history["starts"] = []

    def best_start(kk: int, proposals: dict):
        candidates = []
        for route in routes:
            found = proposals.get(route.__name__)
            found = found if found is not None and len(found.generators) == kk else route(x3, y3, explicit, kk)
            if found is not None:
                candidates.append((found.route, lambda f=found: f.generators.to(x3), found.t))
        candidates.append(("first order", lambda: _first_order_start(x3, y3, kk, space, init_fraction), None))
        best = None
        for route, make, t0 in candidates:
            L = _unit(space.generators(space.project(make())))
            t = _fit_t_starts(L, x3, y3, t0, seed=seed) if small else _fit_t(L, x3, y3)
            loss = _exp_loss(L, t, x3, y3, chunk)
            history["starts"].append(loss)
            if best is None or loss < best[2]:
                best = (L, t, loss, route)
            if _exact(loss, x3, y3):
                break  # nothing can fit better: the later starts are not tried
        return best

    if k != "auto":
        best = best_start(k, {})
        return best[0], best[1], k, None, None, best[3]

    proposals = {route.__name__: route(x3, y3, explicit, None) for route in routes}
    counted = [p for p in proposals.values() if p is not None and p.count >= 1]
    if counted:
        evidence = counted[0]
    else:
        evidence = _first_order_count(x3, y3, space, init_fraction)
        if evidence.count < 1:
            raise ValueError(
                "fit_pairs: n_generators='auto' found no clear number of generators in the pairs (first-order "
                f"residuals {[round(float(v), 3) for v in evidence.spectrum]}); give a number"
            )
    best = best_start(evidence.count, proposals)
    spectrum = evidence.spectrum.float()
    history["count_rule"] = COUNT_RULES[evidence.route]
    return best[0], best[1], evidence.count, spectrum, spectrum[: evidence.count], best[3]


def _exp_loss(L: Tensor, t: Tensor, x: Tensor, y: Tensor, chunk: int) -> float:
    with torch.no_grad():
        return sum(float((_apply(L, t[sl], x[sl]) - y[sl]).pow(2).sum()) for sl in _chunks(len(x), chunk)) / y.numel()


def _chunks(n: int, size: int):
    for s in range(0, n, size):
        yield slice(s, min(n, s + size))


def _fit_exp(
    params, current, x, y, t, t_unknown, epochs, inner, newton, orthogonality, closure, chunk, history, start, progress
):
    """Alternate: Gauss-Newton on each pair's ``t`` (when unknown), then L-BFGS on the generators with ``t`` fixed."""
    n = len(x)
    opt = torch.optim.LBFGS([params], lr=1.0, max_iter=inner, history_size=20, line_search_fn="strong_wolfe")

    def closure_fn():
        opt.zero_grad()
        total = 0.0
        for sl in _chunks(n, chunk):  # accumulate the full-batch gradient chunk by chunk
            err = (_apply(current(), t[sl], x[sl]) - y[sl]).pow(2).sum() / y.numel()
            err.backward()
            total += float(err.detach())
        pen = _penalties(current(), orthogonality, closure)
        if pen.requires_grad:
            pen.backward()
        return torch.tensor(total + float(pen.detach()))

    scale = float(y.pow(2).mean())
    span = _span(current().detach())
    for epoch in range(epochs):
        if t_unknown and newton > 0:
            with torch.no_grad():
                lc = current()
            for sl in _chunks(n, chunk):
                t[sl] = _newton_t(lc, t[sl], x[sl], y[sl], newton)
        opt.step(closure_fn)
        loss = _exp_loss(current().detach(), t, x, y, chunk)
        _record(history, loss, start, epoch, epochs, progress)
        before, span = span, _span(current().detach())
        moved = math.sqrt(max(0.0, span.shape[1] - float((before.T @ span).pow(2).sum())))  # sqrt(sum sin^2)
        history.setdefault("span_change", []).append(moved)
        if loss <= 1e-20 * scale:
            break  # exact
        if epoch >= 1 and moved <= 1e-6:
            break  # the generators' span no longer moves
        if epoch >= 2 and abs(history["loss"][-3] - loss) <= 1e-7 * max(loss, 1e-30):
            break  # converged: two rounds without change


def _span(L: Tensor) -> Tensor:
    """An orthonormal basis ``(d^2, k)`` of the span of the flattened generators."""
    return torch.linalg.qr(L.reshape(len(L), -1).double().T).Q


def _fit_lconv(params, current, x, y, t, epochs, batch_size, lr, seed, history, start, progress):
    """The paper's SI C.2: one L-conv layer ``y = x + t L x`` trained by Adam on minibatches."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        params.copy_(1e-3 * torch.randn(params.shape, generator=gen, dtype=params.dtype))
    opt = torch.optim.Adam([params], lr=lr)
    n = len(x)
    for epoch in range(epochs):
        total = 0.0
        order = torch.randperm(n, generator=gen).to(x.device)
        for sl in _chunks(n, batch_size):
            idx = order[sl]
            xb, yb, tb = x[idx], y[idx], t[idx]
            loss = (xb + torch.einsum("kij,ncj,nk->nci", current(), xb, tb) - yb).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(xb)
        _record(history, total / n, start, epoch, epochs, progress)


def _record(history, loss, start, epoch, epochs, progress):
    history["loss"].append(loss)
    history["seconds"].append(time.perf_counter() - start)
    if not math.isfinite(loss):
        raise RuntimeError("fit_pairs: the loss diverged; narrow the parameter range or lower lr")
    if progress is not None:
        progress(epoch + 1, epochs, loss)
