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
    solution. With hidden ``t`` that start comes from the quarter of the pairs that change
    least, by variable projection of the first-order model (each pair's ``t`` eliminated
    in closed form, so the signs of ``t`` need not be known). Unknown ``t_n`` are eliminated per pair by Newton steps on their own
    (separable) least-squares problem before every update of ``L`` (variable projection),
    so ``t`` never lags behind ``L``. Because ``t L = (st)(L/s)``, with unknown ``t``
    each ``L_i`` is normalised to unit Frobenius norm. Several generators are kept a basis
    of an algebra by an orthogonality penalty (Gram matrix of the normalised ``L_i``
    against the identity) and an optional closure penalty (squared least-squares
    residual of ``[L_i, L_j]`` in the span).

The search space is all ``d x d`` matrices (``structure="free"``), the antisymmetric ones
(``"antisymmetric"``: the group preserves the Euclidean norm, as a compact group acting
orthogonally does), the span of a given ``basis`` ``(m, d, d)``, or the generators of
flows on an image grid (``basis=lconv.algebra.vector_field_space(grid)``:
``L = sum_alpha diag(v^alpha) D_alpha``, one vector per pixel), which holds every
symmetry that moves pixels and nothing else.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.autograd.forward_ad as fwAD
from torch import Tensor

from ..algebra._lie import closure_loss, exp_apply
from ..algebra._spaces import VectorFieldSpace

METHODS = ("exp", "lstsq", "lconv")
STRUCTURES = ("free", "antisymmetric")


@dataclass
class DiscoveryResult:
    """What a discovery run found.

    Attributes:
        generators: ``(k, d, d)`` learned generators (unit Frobenius norm when ``t`` was
            unknown, since only ``t L`` is identifiable then).
        t: ``(N, k)`` coefficients per pair: the given ones, or the fitted ones.
        history: per-epoch ``loss`` (mean squared error of the model on the pairs) and
            ``seconds``.
        method: the method used.
        config: the resolved options.
    """

    generators: Tensor
    t: Tensor
    history: dict[str, list[float]] = field(default_factory=dict)
    method: str = "exp"
    config: dict = field(default_factory=dict)


# ------------------------------------------------------------------------------ checks
def _check_pairs(x, y, k, t, basis, method, structure) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
    for name, v in (("x", x), ("y", y)):
        if not isinstance(v, Tensor):
            raise TypeError(f"fit_pairs: {name} must be a torch.Tensor, got {type(v).__name__}")
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
    if structure not in STRUCTURES:
        raise ValueError(f"fit_pairs: unknown structure {structure!r}; choose one of {STRUCTURES}")
    x3 = x[:, None] if x.dim() == 2 else x
    y3 = y[:, None] if y.dim() == 2 else y
    n, _, d = x3.shape
    room = d * (d - 1) // 2 if structure == "antisymmetric" else d * d
    if isinstance(basis, VectorFieldSpace):
        if basis.d != d:
            raise ValueError(
                f"fit_pairs: the vector fields live on {basis.grid!r} (d = {basis.d}), the pairs have d = {d}"
            )
        room = basis.dim
    elif basis is not None:
        basis = torch.as_tensor(basis)
        if basis.dim() != 3 or basis.shape[1:] != (d, d):
            raise ValueError(f"fit_pairs: basis must be (m, {d}, {d}), got {tuple(basis.shape)}")
        room = len(basis)
    if not isinstance(k, int) or not 1 <= k <= room:
        raise ValueError(
            f"fit_pairs: n_generators={k!r} but the search space has dimension {room}; "
            f"choose 1 <= n_generators <= {room}"
        )
    if t is not None:
        t = torch.as_tensor(t, dtype=x.dtype)
        t = t.reshape(n, 1) if t.dim() <= 1 and t.numel() == n else t
        if t.shape != (n, k):
            raise ValueError(f"fit_pairs: t must be (N,) or (N, n_generators) = ({n}, {k}), got {tuple(t.shape)}")
        if not torch.isfinite(t).all():
            raise ValueError("fit_pairs: t contains NaN or inf")
    elif method == "lconv" and k > 1:
        raise ValueError("fit_pairs: method='lconv' with unknown t fits one generator; pass n_generators=1 or t")
    return x3, y3, t, basis


# ------------------------------------------------------------------------------ parametrisation
class _Space:
    """Maps free parameters to generators within the search space."""

    def __init__(self, structure: str, basis: Tensor | VectorFieldSpace | None, d: int):
        self.structure, self.basis, self.d = structure, basis, d

    def generators(self, p: Tensor) -> Tensor:
        if isinstance(self.basis, VectorFieldSpace):  # a structured space maps its parameters itself
            return self.basis.generators(p)
        if self.basis is not None:
            return torch.einsum("km,mij->kij", p, self.basis)
        if self.structure == "antisymmetric":
            return p - p.transpose(1, 2)
        return p

    def project(self, L: Tensor) -> Tensor:
        """Least-squares parameters whose generators are closest to ``L``."""
        if isinstance(self.basis, VectorFieldSpace):
            return self.basis.project(L)
        if self.basis is not None:
            b = self.basis.reshape(len(self.basis), -1)
            return torch.linalg.lstsq(b.T, L.reshape(len(L), -1).T).solution.T
        if self.structure == "antisymmetric":
            return (L - L.transpose(1, 2)) / 4  # p - p^T = (L - L^T)/2
        return L.clone()


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


def _varpro_first_order(L: Tensor, x: Tensor, y: Tensor, space: _Space, iters: int = 100) -> Tensor:
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


def _newton_t(L: Tensor, t: Tensor, x: Tensor, y: Tensor, iters: int) -> Tensor:
    """Refine per-pair coefficients on ``|exp(t . L) x - y|^2`` by Gauss-Newton steps (no gradient to L).

    The Jacobian ``d exp(t . L) x / d t_i`` is exact (forward-mode differentiation, one pass
    per generator), so the steps are right also for generators that do not commute.
    """
    L = L.detach()
    k = L.shape[0]
    t = t.detach().clone()
    for _ in range(iters):
        cols = []
        with torch.no_grad(), fwAD.dual_level():
            for i in range(k):
                tangent = torch.zeros_like(t)
                tangent[:, i] = 1.0
                out = fwAD.unpack_dual(exp_apply(L, fwAD.make_dual(t, tangent), x))
                cols.append(out.tangent.flatten(1))
            r = (out.primal - y).flatten(1)  # (n, c d)
        jac = torch.stack(cols, 1)  # (n, k, c d)
        h = jac @ jac.transpose(1, 2)
        g = (jac @ r[:, :, None])[..., 0]
        step = (torch.linalg.pinv(h, rtol=1e-6, hermitian=True) @ g[:, :, None])[..., 0]
        limit = 0.5 * (t.abs() + 1.0)  # trust region: at most half of |t| + 1 per step
        t = t - torch.maximum(torch.minimum(step, limit), -limit)
    return t


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

    First-order least squares, then Gauss-Newton steps on the exact model.
    """
    x3 = x[:, None] if x.dim() == 2 else x
    y3 = y[:, None] if y.dim() == 2 else y
    L = generators.to(x3)
    t = _fit_t(L, x3, y3)
    return _newton_t(L, t, x3, y3, newton_steps) if newton_steps > 0 else t


# ------------------------------------------------------------------------------ entry point
def fit_pairs(
    x: Tensor,
    y: Tensor,
    n_generators: int = 1,
    t: Tensor | None = None,
    *,
    method: str = "exp",
    structure: str = "free",
    basis: Tensor | None = None,
    epochs: int = 30,
    inner_steps: int = 25,
    batch_size: int = 64,
    lr: float = 1e-3,
    orthogonality: float = 1.0,
    closure: float = 0.0,
    newton_steps: int = 3,
    chunk: int = 1024,
    init_fraction: float = 0.25,
    seed: int = 0,
    device: str | torch.device | None = None,
    progress: Callable[[int, int, float], None] | None = None,
) -> DiscoveryResult:
    """Learn ``n_generators`` generators from pairs ``y = exp(sum_i t_i L_i) x``.

    Args:
        x, y: samples ``(N, d)`` or ``(N, C, d)`` (channels of one sample share ``t``),
            related by unknown elements of an unknown connected group.
        n_generators: ``k``, the number of generators to learn.
        t: known coefficients ``(N,)`` or ``(N, k)``, or None (unknown, fitted per pair).
        method: ``"exp"`` (default), ``"lstsq"`` or ``"lconv"`` (module docstring).
        structure: ``"free"`` or ``"antisymmetric"`` search space.
        basis: optional search space: ``(m, d, d)`` matrices whose combinations the
            generators are, or a :class:`~lconv.algebra.VectorFieldSpace` (the generators
            of flows on an image grid, ``ndim d`` parameters each).
        epochs: ``exp``: rounds of (refit ``t``, then ``inner_steps`` L-BFGS iterations on
            the generators), stopping early once the loss no longer changes; ``lconv``:
            passes of Adam over the pairs.
        inner_steps: L-BFGS iterations per round (``exp``).
        batch_size, lr: Adam minibatch and learning rate (``lconv``; the paper used 64).
        orthogonality, closure: weights of the penalties for ``k >= 2`` (``exp``).
        newton_steps: Gauss-Newton steps on the unknown ``t`` per round (``exp``).
        chunk: pairs per chunk when accumulating full-batch gradients (memory).
        init_fraction: with unknown ``t``, the first-order start uses this share of the
            pairs, those whose relative change ``|y - x| / |x|`` is smallest (the first
            order holds for small transformations).
        seed: seeds the initialisation of ``lconv``.
        device: where to compute (default: where ``x`` is).
        progress: called as ``progress(epoch, epochs, loss)`` after each epoch.

    Returns:
        :class:`DiscoveryResult`; ``.generators`` is ``(k, d, d)`` on the CPU.
    """
    x3, y3, t_known, basis = _check_pairs(x, y, n_generators, t, basis, method, structure)
    dev = torch.device(device) if device is not None else x.device
    x3, y3 = x3.to(dev), y3.to(dev)
    dtype = x3.dtype
    n, _, d = x3.shape
    k = n_generators
    space = _Space(structure, None if basis is None else basis.to(dev, dtype), d)
    config = dict(n_generators=k, t_known=t_known is not None, method=method, structure=structure,
                  basis=None if basis is None else len(basis), epochs=epochs, inner_steps=inner_steps,
                  batch_size=batch_size, lr=lr, orthogonality=orthogonality, closure=closure,
                  newton_steps=newton_steps, init_fraction=init_fraction, seed=seed,
                  smoothness=basis.smoothness if isinstance(basis, VectorFieldSpace) else None)  # fmt: skip
    history: dict[str, list[float]] = {"loss": [], "seconds": []}
    start = time.perf_counter()

    # ---- first-order solution: the lstsq method, and the start of the others
    if t_known is not None:
        t_fit = t_known.to(dev)
        L = _first_order_fit(x3, y3, t_fit)
    else:
        # First order holds for small transformations: start from the pairs that change least.
        change = (y3 - x3).flatten(1).norm(dim=1) / x3.flatten(1).norm(dim=1).clamp_min(1e-12)
        m = min(n, max(int(init_fraction * n), 2 * k * d // max(1, x3.shape[1]), 8), 4000)  # Gram is m x m
        small = torch.argsort(change)[:m]
        xs, ys = x3[small], y3[small]
        L = _init_unknown(xs, ys, k)
        L = _varpro_first_order(space.generators(space.project(L)), xs, ys, space)
        L = _unit(L)
        t_fit = _fit_t(L, x3, y3)
    L = space.generators(space.project(L))

    if method == "lstsq":
        if isinstance(basis, VectorFieldSpace) and basis.smoothness > 0:
            L = basis.smooth(L, x3)
            t_fit = t_fit if t_known is not None else _fit_t(L, x3, y3)
        with torch.no_grad():
            history["loss"].append(float((x3 + torch.einsum("kij,ncj,nk->nci", L, x3, t_fit) - y3).pow(2).mean()))
        history["seconds"].append(time.perf_counter() - start)
        return DiscoveryResult(L.detach().cpu(), t_fit.detach().cpu(), history, method, config)

    # ---- iterative methods
    normalise = t_known is None
    params = space.project(L).detach().contiguous().clone().requires_grad_(True)

    def current() -> Tensor:
        Lc = space.generators(params)
        return _unit(Lc) if normalise else Lc

    if method == "exp":
        # Keep the refinement only if it fits the pairs better than its first-order start
        # (judged by the objective itself; the start is kept if the refinement diverges).
        start_L, start_t = current().detach().clone(), t_fit.clone()
        start_loss = _exp_loss(start_L, start_t, x3, y3, chunk)
        try:
            _fit_exp(params, current, x3, y3, t_fit, t_known is None, epochs, inner_steps, newton_steps,
                     orthogonality, closure, chunk, history, start, progress)  # fmt: skip
            end_loss = history["loss"][-1]  # the loss of the current state, recorded by the last round
        except FloatingPointError:
            end_loss = math.inf
        history["start_loss"] = [start_loss]
        if not end_loss <= start_loss:
            with torch.no_grad():
                params.copy_(space.project(start_L))
                t_fit.copy_(start_t)
            history["kept_start"] = [1.0]
    else:
        _fit_lconv(params, current, x3, y3, t_fit, epochs, batch_size, lr, seed, history, start, progress)
    with torch.no_grad():
        final = current()
        if isinstance(basis, VectorFieldSpace) and basis.smoothness > 0:
            # continue the flows where the pairs do not determine them, then refit each pair's t
            final = basis.smooth(final, x3)
            final = _unit(final) if normalise else final
            if t_known is None:
                for sl in _chunks(n, chunk):
                    t_fit[sl] = _newton_t(final, t_fit[sl], x3[sl], y3[sl], max(newton_steps, 1))
    return DiscoveryResult(final.detach().cpu(), t_fit.detach().cpu(), history, method, config)


def _exp_loss(L: Tensor, t: Tensor, x: Tensor, y: Tensor, chunk: int) -> float:
    with torch.no_grad():
        return (
            sum(float((exp_apply(L, t[sl], x[sl]) - y[sl]).pow(2).sum()) for sl in _chunks(len(x), chunk)) / y.numel()
        )


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
            err = (exp_apply(current(), t[sl], x[sl]) - y[sl]).pow(2).sum() / y.numel()
            err.backward()
            total += float(err.detach())
        pen = _penalties(current(), orthogonality, closure)
        if pen.requires_grad:
            pen.backward()
        return torch.tensor(total + float(pen.detach()))

    for epoch in range(epochs):
        if t_unknown and newton > 0:
            with torch.no_grad():
                lc = current()
            for sl in _chunks(n, chunk):
                t[sl] = _newton_t(lc, t[sl], x[sl], y[sl], newton)
        opt.step(closure_fn)
        loss = _exp_loss(current().detach(), t, x, y, chunk)
        _record(history, loss, start, epoch, epochs, progress)
        if epoch >= 2 and abs(history["loss"][-3] - loss) <= 1e-7 * max(loss, 1e-30):
            break  # converged: two rounds without change


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
