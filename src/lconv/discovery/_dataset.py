r"""Symmetry discovery from one dataset ``(x_n, y_n = F(x_n))``: no pairs, no group elements.

A linear action ``x -> exp(s L) x`` is a symmetry of the map when, to first order in ``s``
(the Lie derivative, or Noether condition, of ``F`` along the flow ``L x``),

* invariance, ``y`` a scalar: ``grad F(x) . (L x) = 0``;
* equivariance, ``y`` a vector moved by the same action:
  ``J_F(x) L x - L F(x) = 0`` (``J_F`` the ``d x d`` Jacobian).

Both are linear in ``L``. With ``L = sum_m c_m B_m`` over an orthonormal basis ``B`` of the
search space (``m`` unknowns), sample ``n`` contributes one row (invariance) or ``d`` rows
(equivariance) of a matrix ``M_n`` with ``M_n c`` the violation, and the symmetries are the
right singular vectors of the stacked ``[w_n M_n]`` with the smallest singular values: no
exponential map and no iterative fit of ``L``.

**Normalisation.** Each sample's block is divided by its own size,
``w_n = 1 / sqrt(|M_n|_F^2 / m + (floor * median_n |M_n|_F / sqrt(m))^2)``, so every sample
weighs the same whatever the scale of ``x``, of ``F`` or of its derivative there (a map
close to the identity, ``y = x + dt v(x)``, has ``M_n = O(dt)`` for every ``L``: the weights
compare generators by ``dt``-free violations). ``|M_n|_F^2 / m`` is the mean squared violation
of a random unit generator of the space, so the residual of a unit generator,
``sqrt(mean_n w_n^2 |M_n c|^2)``, is 0 for an exact symmetry and about 1 for a random
generator. The ``floor`` keeps samples where the map is flat (tiny gradient, whose
direction a fitted model gets wrong) from weighing too much.

**Derivatives.** Only samples are given, so ``F`` and its derivatives come from a model
fitted to them (:func:`fit_model`): ``"kernel"`` (default) is kernel ridge regression with
a Gaussian or polynomial kernel on top of a linear least-squares fit, the kernel and the
ridge chosen by the exact leave-one-out error; ``"mlp"`` is a small multilayer perceptron
trained by Adam. For vector outputs the
model fits the change ``y - x`` (the skip term ``x`` is added back, ``J = I + J_model``),
which keeps maps close to the identity accurate. A callable ``model`` is the map itself
(``(B, d) -> (B,)`` or ``(B, d)``, differentiated by autograd), and ``jacobian=`` takes
derivatives that come with the data.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from ..algebra import antisymmetric_space
from ._pairs import STRUCTURES, DiscoveryResult

MODELS = ("kernel", "mlp")


@dataclass
class DatasetResult(DiscoveryResult):
    """What :func:`fit_dataset` found. Inherits ``generators``, ``history``, ``method``, ``config``.

    Attributes:
        generators: ``(k, d, d)``, unit Frobenius norm, the ``k`` least-violated
            generators of the search space, best first.
        t: empty ``(N, 0)``: one dataset has no pair coefficients.
        residuals: ``(k,)`` normalised violation of each generator (module docstring):
            0 for an exact symmetry, about 1 for a random generator.
        singular_values: ``(m,)`` the whole spectrum, ascending, on the same scale
            (``residuals == singular_values[:k]``).
        n_symmetries: how many generators the spectrum singles out as symmetries
            (rule in :func:`fit_dataset`).
        coefficients: ``(k, m)`` of the generators over the orthonormalised basis.
        model_error: relative held-out error of the fitted model (leave-one-out for
            ``"kernel"``, a 10% split for ``"mlp"``), or None when no model was fitted.
    """

    residuals: Tensor | None = None
    singular_values: Tensor | None = None
    n_symmetries: int = 0
    coefficients: Tensor | None = None
    model_error: float | None = None


# ------------------------------------------------------------------------------ checks
def _check(x, y, k, basis, structure, model, jacobian, where="fit_dataset"):
    if not isinstance(x, Tensor) or not x.is_floating_point():
        raise TypeError(f"{where}: x must be a floating-point torch.Tensor (N, d), got {type(x).__name__}")
    if x.dim() != 2:
        raise ValueError(f"{where}: x must be (N, d), got {tuple(x.shape)}; flatten each sample to one vector")
    n, d = x.shape
    if y is None:
        if not callable(model):
            raise ValueError(f"{where}: y is missing; pass the outputs y, or the map itself as model=callable")
        with torch.no_grad():
            y = model(x)
        if not isinstance(y, Tensor):
            raise TypeError(f"{where}: model(x) must return a torch.Tensor, got {type(y).__name__}")
    if not isinstance(y, Tensor) or not y.is_floating_point():
        raise TypeError(f"{where}: y must be a floating-point torch.Tensor, got {type(y).__name__}")
    if y.dim() == 2 and y.shape[1] == 1 and d != 1:
        y = y[:, 0]
    if y.shape == (n,):
        kind = "invariant"
    elif y.shape == (n, d):
        kind = "equivariant"
    else:
        raise ValueError(
            f"{where}: y must be (N,) = ({n},) for an invariant scalar or (N, d) = ({n}, {d}) for a vector "
            f"moved like x, got {tuple(y.shape)}"
        )
    if not (torch.isfinite(x).all() and torch.isfinite(y).all()):
        raise ValueError(f"{where}: x or y contains NaN or inf; drop or repair those samples first")
    if structure not in STRUCTURES:
        raise ValueError(f"{where}: unknown structure {structure!r}; choose one of {STRUCTURES}")
    if not callable(model) and model not in MODELS:
        raise ValueError(f"{where}: unknown model {model!r}; choose one of {MODELS} or pass a callable")
    if basis is not None:
        basis = torch.as_tensor(basis)
        if basis.dim() != 3 or basis.shape[1:] != (d, d):
            raise ValueError(f"{where}: basis must be (m, {d}, {d}), got {tuple(basis.shape)}")
        if not torch.isfinite(basis).all():
            raise ValueError(f"{where}: basis contains NaN or inf")
    if jacobian is not None:
        jacobian = torch.as_tensor(jacobian)
        want = (n, d) if kind == "invariant" else (n, d, d)
        if tuple(jacobian.shape) != want:
            raise ValueError(f"{where}: jacobian must be {want} for this y, got {tuple(jacobian.shape)}")
        if not torch.isfinite(jacobian).all():
            raise ValueError(f"{where}: jacobian contains NaN or inf")
    if k is not None and (not isinstance(k, int) or isinstance(k, bool) or k < 1):
        raise ValueError(f"{where}: n_generators must be a positive int or None, got {k!r}")
    return y, kind, basis, jacobian


def _orthonormal(basis: Tensor, where: str) -> Tensor:
    """An orthonormal basis (Frobenius) of the span of ``basis``, ``(m', d, d)``."""
    flat = basis.reshape(len(basis), -1).double()
    u, s, _ = torch.linalg.svd(flat.T, full_matrices=False)
    keep = s > 1e-10 * max(float(s.max()), 1e-300)
    if not bool(keep.any()):
        raise ValueError(f"{where}: the basis spans nothing (all matrices are zero)")
    return u[:, keep].T.reshape(-1, *basis.shape[1:])


# ------------------------------------------------------------------------------ models
class _Kernel:
    r"""Linear least squares plus kernel ridge regression on its residual.

    ``G(x) = a + W z + sum_m alpha_m k(z, z_m)``, ``z = (x - mu) / s`` with one scale ``s``
    for all coordinates, and ``k`` either Gaussian, ``exp(-|z - z'|^2 / (2 l^2))``, or
    polynomial, ``(1 + z . z' / d)^p``. Both depend on ``z`` only through distances and dot
    products, so the model treats every direction of the input alike and adds no
    orientation of its own. The kernel (width or degree) and the ridge are picked by the
    closed-form leave-one-out error, summed over outputs scaled by their variance.
    """

    widths = (0.5, 0.7, 1.0, 1.4, 2.0, 2.8)  # Gaussian, times sqrt(d)
    degrees = (3, 4, 5)  # polynomial; not 2: a quadratic model is invariant under the group of its form
    ridges = (1e-10, 1e-8, 1e-6, 1e-4, 1e-2)  # times the largest eigenvalue of the kernel matrix

    def __init__(self, x: Tensor, t: Tensor):
        n, d = x.shape
        self.d = d
        self.mu = x.mean(0)
        self.s = float((x - self.mu).pow(2).mean().sqrt().clamp_min(1e-300))
        z = (x - self.mu) / self.s
        design = torch.cat([torch.ones(n, 1, dtype=x.dtype, device=x.device), z], 1)
        self.lin = torch.linalg.lstsq(design, t).solution  # (d + 1, out)
        r = t - design @ self.lin
        scale = t.var(0).clamp_min(1e-300)
        sq, dot = torch.cdist(z, z).pow(2), z @ z.T
        candidates = [("gauss", w * math.sqrt(d)) for w in self.widths] + [("poly", p) for p in self.degrees]
        best = (math.inf, None)
        for kind, par in candidates:
            gram = torch.exp(-sq / (2 * par**2)) if kind == "gauss" else (1 + dot / d) ** par
            evals, evecs = torch.linalg.eigh(gram)
            evals = evals.clamp_min(0)
            proj = evecs.T @ r  # (n, out)
            for ridge in self.ridges:
                lam = ridge * float(evals.max())
                shrink = evals / (evals + lam)
                hat_diag = (evecs.pow(2) * shrink).sum(1)
                fitted = evecs @ (shrink[:, None] * proj)
                loo = (r - fitted) / (1 - hat_diag).clamp_min(1e-12)[:, None]
                err = float((loo.pow(2).mean(0) / scale).mean())
                if err < best[0]:
                    best = (err, (kind, par, evecs, evals, lam, proj))
        err, (self.kind, self.par, evecs, evals, lam, proj) = best
        self.alpha = evecs @ (proj / (evals + lam)[:, None])
        self.z, self.error = z, math.sqrt(err)
        self.description = (
            f"kernel ridge regression ({'Gaussian, width' if self.kind == 'gauss' else 'polynomial, degree'} "
            f"{self.par:.3g}) on a linear fit"
        )

    def __call__(self, x: Tensor) -> Tensor:
        z = (x - self.mu) / self.s
        if self.kind == "gauss":
            k = torch.exp(-(z[:, None, :] - self.z[None]).pow(2).sum(-1) / (2 * self.par**2))
        else:
            k = (1 + z @ self.z.T / self.d) ** self.par
        return self.lin[0] + z @ self.lin[1:] + k @ self.alpha


class _MLP:
    """A small perceptron (two hidden layers, SiLU) fitted by full-batch Adam on standardised data."""

    def __init__(self, x: Tensor, t: Tensor, *, width: int = 64, steps: int = 2000, lr: float = 3e-3, seed: int = 0):
        gen = torch.Generator().manual_seed(seed)
        n, d = x.shape
        self.mu, self.s = x.mean(0), float((x - x.mean(0)).pow(2).mean().sqrt().clamp_min(1e-300))
        self.tmu, self.ts = t.mean(0), t.std(0).clamp_min(1e-300)
        z, u = (x - self.mu) / self.s, (t - self.tmu) / self.ts
        order = torch.randperm(n, generator=gen)
        hold = order[: n // 10]
        train = order[len(hold) :]
        layers = [torch.nn.Linear(d, width), torch.nn.SiLU(), torch.nn.Linear(width, width), torch.nn.SiLU(),
                  torch.nn.Linear(width, t.shape[1])]  # fmt: skip
        for layer in layers[::2]:  # seeded initialisation, independent of the global RNG
            torch.nn.init.normal_(layer.weight, std=1 / math.sqrt(layer.in_features), generator=gen)
            torch.nn.init.zeros_(layer.bias)
        self.net = torch.nn.Sequential(*layers).to(x.device, x.dtype)
        opt = torch.optim.Adam(self.net.parameters(), lr=lr)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
        for _ in range(steps):
            opt.zero_grad()
            loss = (self.net(z[train]) - u[train]).pow(2).mean()
            loss.backward()
            opt.step()
            sched.step()
        self.net.requires_grad_(False)
        with torch.no_grad():
            self.error = float((self.net(z[hold]) - u[hold]).pow(2).mean().sqrt()) if len(hold) else math.nan
        self.description = f"perceptron ({d}-{width}-{width}-{t.shape[1]}, SiLU, {steps} Adam steps)"

    def __call__(self, x: Tensor) -> Tensor:
        return self.net((x - self.mu) / self.s) * self.ts + self.tmu


class FittedModel:
    """A regression model of the map ``x -> y``, differentiable, as :func:`fit_model` returns it.

    ``model(x)`` is ``(B,)`` for scalar outputs and ``(B, d)`` for vector ones. For vectors
    the regression fits the change ``y - x`` and adds ``x`` back (a skip term), which keeps
    maps close to the identity accurate.

    Attributes:
        kind: ``"kernel"`` or ``"mlp"``.
        error: relative held-out RMS error (leave-one-out for ``"kernel"``, a 10% split for
            ``"mlp"``), averaged over outputs scaled by their variance.
        description: what was fitted, in words.
    """

    def __init__(self, kind: str, inner, skip: bool, scalar: bool):
        self.kind, self._inner, self._skip, self._scalar = kind, inner, skip, scalar
        self.error, self.description = inner.error, inner.description

    def __call__(self, x: Tensor) -> Tensor:
        out = self._inner(x.double())
        if self._skip:
            out = out + x.double()
        return out[:, 0] if self._scalar else out


def fit_model(
    x: Tensor, y: Tensor, model: str = "kernel", *, max_samples: int = 3000, mlp_steps: int = 2000, seed: int = 0
) -> FittedModel:
    """Fit a differentiable model of ``x -> y`` (float64), for :func:`fit_dataset`.

    Args:
        x: ``(N, d)``; y: ``(N,)`` or ``(N, d)``.
        model: ``"kernel"`` (a linear fit plus kernel ridge regression on its residual,
            Gaussian kernels of several widths and polynomial kernels of degree 3 to 5,
            kernel and ridge by leave-one-out) or ``"mlp"`` (two hidden layers of 64, SiLU).
        max_samples: at most this many samples are used (a seeded random subset): the
            kernel model costs ``O(N^3)`` time and ``O(N^2)`` memory.
        mlp_steps: Adam steps of the ``"mlp"`` model.
        seed: seeds the subset and the ``"mlp"`` model.
    """
    if model not in MODELS:
        raise ValueError(f"fit_model: unknown model {model!r}; choose one of {MODELS}")
    y, kind, _, _ = _check(x, y, None, None, "free", model, None, where="fit_model")
    n, d = x.shape
    if n < d + 2:
        raise ValueError(f"fit_model: fitting a model needs at least d + 2 = {d + 2} samples, got {n}")
    xd, target = x.detach().double(), y.detach().double().reshape(n, -1)
    skip = kind == "equivariant"
    if skip:
        target = target - xd
    gen = torch.Generator().manual_seed(seed)
    sub = torch.randperm(n, generator=gen)[:max_samples] if n > max_samples else torch.arange(n)
    inner = (
        _Kernel(xd[sub], target[sub]) if model == "kernel" else _MLP(xd[sub], target[sub], steps=mlp_steps, seed=seed)
    )
    return FittedModel(model, inner, skip, kind == "invariant")


def map_derivatives(f: Callable[[Tensor], Tensor], x: Tensor) -> tuple[Tensor, Tensor]:
    """Values ``(N, out)`` and Jacobians ``(N, out, d)`` of a batched map at ``x`` ``(N, d)``, by autograd, float64.

    ``out`` is 1 for a scalar map. Samples must not interact (no batch statistics). With
    ``values[:, 0]`` (scalar) or ``values`` as ``y`` and the Jacobians (``[:, 0]`` for a
    scalar) as ``jacobian=``, :func:`fit_dataset` skips differentiating again, e.g. when one
    map is searched in several spaces.
    """
    xg = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        out = f(xg)
        if not isinstance(out, Tensor):
            raise TypeError(f"fit_dataset: model(x) must return a torch.Tensor, got {type(out).__name__}")
        flat = out[:, None] if out.dim() == 1 else out
        cols = []
        for o in range(flat.shape[1]):
            (g,) = torch.autograd.grad(flat[:, o].sum(), xg, retain_graph=True, allow_unused=True)
            cols.append(torch.zeros_like(xg) if g is None else g)
    return flat.detach().double(), torch.stack(cols, 1).detach().double()


# ------------------------------------------------------------------------------ constraint system
def _blocks(kind: str, x: Tensor, val: Tensor, jac: Tensor, q: Tensor) -> Tensor:
    """Constraint blocks over the basis ``q`` ``(m, d, d)``: ``(N, rows, m)``, rows 1 or d."""
    qf = q.reshape(len(q), -1)  # (m, d^2)
    if kind == "invariant":
        outer = (jac[:, 0, :, None] * x[:, None, :]).reshape(len(x), 1, -1)  # grad f x^T
    else:
        d = x.shape[1]
        eye = torch.eye(d, dtype=x.dtype, device=x.device)
        # row a of J L x - L F: sum_ij (J_ai x_j - delta_ai F_j) L_ij
        outer = (jac[:, :, :, None] * x[:, None, None, :] - eye[None, :, :, None] * val[:, None, None, :]).reshape(
            len(x), d, d * d
        )
    return outer @ qf.T


def _spectrum(blocks_of: Callable[[slice], Tensor], n: int, m: int, floor: float, chunk: int):
    """Per-sample weights, then the R factor of the stacked weighted rows (chunked QR)."""
    norms = torch.cat([blocks_of(sl).flatten(1).norm(dim=1) for sl in _chunks(n, chunk)]) / math.sqrt(m)
    ref = float(norms.median())
    if ref == 0:
        raise ValueError(
            "fit_dataset: the map leaves every sample unchanged to first order (all constraints vanish); "
            "every generator is a symmetry, there is nothing to rank"
        )
    weights = 1.0 / (norms.pow(2) + (floor * ref) ** 2).sqrt() / math.sqrt(n)
    r = None
    for sl in _chunks(n, chunk):
        rows = (blocks_of(sl) * weights[sl, None, None]).reshape(-1, m)
        stacked = rows if r is None else torch.cat([r, rows])
        r = torch.linalg.qr(stacked, mode="r")[1]
    return r, weights


def _chunks(n: int, size: int):
    for s in range(0, n, size):
        yield slice(s, min(n, s + size))


def count_symmetries(singular_values: Tensor, *, gap_ratio: float = 3.0, max_residual: float = 0.3) -> int:
    """How many of the ascending ``singular_values`` (residuals) are symmetries.

    The largest ratio between neighbours, ``s_{i+1} / s_i`` (values floored at ``1e-9``),
    splits the spectrum; the ``i`` smallest are symmetries when that ratio is at least
    ``gap_ratio`` and ``s_i`` is at most ``max_residual``. With no such gap: all of them if
    even the largest is at most ``max_residual``, else none.
    """
    s = singular_values.double().clamp_min(1e-9)
    if len(s) == 0:
        return 0
    if float(s[-1]) <= max_residual:
        return len(s)
    if len(s) == 1:
        return 0
    ratios = s[1:] / s[:-1]
    i = int(torch.argmax(ratios))
    return i + 1 if float(ratios[i]) >= gap_ratio and float(s[i]) <= max_residual else 0


# ------------------------------------------------------------------------------ entry point
def fit_dataset(
    x: Tensor,
    y: Tensor | None = None,
    n_generators: int | None = None,
    *,
    basis: Tensor | None = None,
    structure: str = "free",
    model: str | Callable[[Tensor], Tensor] = "kernel",
    jacobian: Tensor | None = None,
    floor: float = 0.1,
    gap_ratio: float = 3.0,
    max_residual: float = 0.3,
    max_model_samples: int = 3000,
    mlp_steps: int = 2000,
    chunk: int = 1024,
    seed: int = 0,
) -> DatasetResult:
    r"""The generators under which the map ``x -> y`` is invariant or equivariant, from samples alone.

    Condition (module docstring), linear in ``L``:
    ``grad f(x) . L x = 0`` for scalar ``y``; ``J_F(x) L x - L F(x) = 0`` for vector ``y``.
    The returned generators are the right singular vectors, in the search space, of the
    normalised constraints stacked over the samples, with the smallest singular values.

    Args:
        x: ``(N, d)`` inputs.
        y: ``(N,)`` invariant scalars, or ``(N, d)`` vectors moved by the same action as
            ``x``; may be None when ``model`` is the map itself.
        n_generators: ``k``, how many generators to return (best first); None returns
            ``max(1, n_symmetries)``.
        basis: ``(m, d, d)`` search space (e.g. :func:`lconv.algebra.factorised_space`);
            orthonormalised internally. Default: by ``structure``.
        structure: ``"free"`` (all of ``gl(d)``, ``m = d^2``) or ``"antisymmetric"``
            (``so(d)``), used when ``basis`` is None.
        model: where ``F`` and its derivatives come from: ``"kernel"`` (default) or
            ``"mlp"``, fitted to ``(x, y)`` by :func:`fit_model`; or a callable
            ``(B, d) -> (B,)`` or ``(B, d)`` (samples independent), differentiated by
            autograd: the map itself, or a model fitted once by :func:`fit_model` and
            reused for several search spaces.
        jacobian: derivatives that come with the data, ``(N, d)`` (gradients of scalar
            ``y``) or ``(N, d, d)``; then ``y`` itself is used as ``F(x)`` and no model is fitted.
        floor: the weight of sample ``n`` is ``1 / sqrt(|M_n|^2 / m + (floor * median)^2)``.
        gap_ratio, max_residual: the rule that counts symmetries
            (:func:`count_symmetries`): the largest ratio between neighbouring singular
            values splits them, if it is at least ``gap_ratio`` and the values below it are
            at most ``max_residual``.
        max_model_samples, mlp_steps: passed to :func:`fit_model` (the constraints use
            all samples).
        chunk: samples per chunk when stacking the constraints (memory).
        seed: seeds the subset and the ``"mlp"`` model.

    Returns:
        :class:`DatasetResult`: ``generators (k, d, d)``, ``residuals (k,)``,
        ``singular_values (m,)``, ``n_symmetries``.

    Shapes:
        ``x (N, d)``, ``y (N,)`` or ``(N, d)``; constraints ``N`` (invariant) or ``N d``
        (equivariant) rows by ``m`` unknowns, which must be at least ``m``.
    """
    y, kind, basis, jacobian = _check(x, y, n_generators, basis, structure, model, jacobian)
    if not (floor >= 0 and gap_ratio >= 1 and max_residual > 0):
        raise ValueError(
            f"fit_dataset: need floor >= 0, gap_ratio >= 1 and max_residual > 0, "
            f"got {floor}, {gap_ratio}, {max_residual}"
        )
    start = time.perf_counter()
    n, d = x.shape
    xd = x.detach().double()
    if basis is not None:
        q = _orthonormal(basis, "fit_dataset")
    elif structure == "antisymmetric":
        q = antisymmetric_space(d, dtype=torch.float64)
    else:
        q = None  # all of gl(d): the elementary matrices
    m = d * d if q is None else len(q)
    rows = n if kind == "invariant" else n * d
    if rows < m:
        need = m if kind == "invariant" else math.ceil(m / d)
        raise ValueError(
            f"fit_dataset: {n} samples give {rows} constraints for {m} unknowns; "
            f"pass at least {need} samples or a smaller search space (basis=)"
        )
    if n_generators is not None and n_generators > m:
        raise ValueError(
            f"fit_dataset: n_generators={n_generators} but the search space has dimension {m}; "
            f"choose 1 <= n_generators <= {m}"
        )

    # ---- F(x) and its derivatives at the samples
    if jacobian is not None:
        method, fitted = "given", None
        val = y.detach().double().reshape(n, -1)
        jac = jacobian.detach().double().reshape(n, -1, d)
    else:
        if callable(model):
            fitted = model
            method = model.kind if isinstance(model, FittedModel) else "callable"
        else:
            fitted = fit_model(x, y, model, max_samples=max_model_samples, mlp_steps=mlp_steps, seed=seed)
            method = model
        val, jac = map_derivatives(fitted, xd)
        if val.shape != (n, 1 if kind == "invariant" else d):
            raise ValueError(f"fit_dataset: model(x) returned {tuple(val.shape)} values, unlike y {tuple(y.shape)}")
    model_error = getattr(fitted, "error", None)
    if not (torch.isfinite(val).all() and torch.isfinite(jac).all()):
        raise ValueError("fit_dataset: the map's values or derivatives are not finite at some samples; drop them")

    basis_q = (q if q is not None else torch.eye(d * d, dtype=torch.float64).reshape(d * d, d, d)).to(xd.device)
    r, _ = _spectrum(lambda sl: _blocks(kind, xd[sl], val[sl], jac[sl], basis_q), n, m, floor, chunk)
    _, s, vh = torch.linalg.svd(r)
    s, vh = s.flip(0), vh.flip(0)  # ascending
    n_sym = count_symmetries(s, gap_ratio=gap_ratio, max_residual=max_residual)
    k = n_generators if n_generators is not None else max(1, n_sym)
    coef = vh[:k].clone()
    # deterministic signs: the largest coefficient of each generator positive
    big = coef.gather(1, coef.abs().argmax(1, keepdim=True))
    coef = coef * torch.where(big < 0, -1.0, 1.0).to(coef)
    gens = torch.einsum("km,mij->kij", coef, basis_q)
    config = dict(n_generators=n_generators, kind=kind, model=method, structure=structure,
                  basis=None if basis is None else len(basis), floor=floor, gap_ratio=gap_ratio,
                  max_residual=max_residual, max_model_samples=max_model_samples, seed=seed)  # fmt: skip
    history = {"seconds": [time.perf_counter() - start]}
    return DatasetResult(
        generators=gens.to(x.dtype),
        t=x.new_zeros(n, 0),
        history=history,
        method=method,
        config=config,
        residuals=s[:k].clone(),
        singular_values=s,
        n_symmetries=n_sym,
        coefficients=coef,
        model_error=model_error,
    )
