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
ridge chosen by a winsorised leave-one-out error and grossly outlying samples left out
(robust to a few bad samples), on at most as many samples as ``memory_gb`` allows;
``"mlp"`` is a small multilayer perceptron trained by Adam until its held-out error stops
improving. For vector outputs the model fits the change ``y - x`` (the skip term ``x`` is
added back, ``J = I + J_model``), which keeps maps close to the identity accurate. A
callable ``model`` is the map itself (``(B, d) -> (B,)`` or ``(B, d)``, differentiated by
autograd), and ``jacobian=`` takes derivatives that come with the data.

**Data on a subspace** and **counting**: see :func:`fit_dataset` (generators that vanish
on the data's span are reported apart; a model no better than an affine fit counts none).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from ..algebra._spaces import SearchSpace
from ._result import DiscoveryResult, check_count, legacy_keywords, legacy_positional, legacy_space
from ._starts import _count, _quotient, data_span

MODELS = ("kernel", "mlp")


# ------------------------------------------------------------------------------ checks
def _check(x, y, k, model, jacobian, where="fit_dataset"):
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
    if not callable(model) and model not in MODELS:
        raise ValueError(f"{where}: unknown model {model!r}; choose one of {MODELS} or pass a callable")
    if jacobian is not None:
        jacobian = torch.as_tensor(jacobian)
        want = (n, d) if kind == "invariant" else (n, d, d)
        if tuple(jacobian.shape) != want:
            raise ValueError(f"{where}: jacobian must be {want} for this y, got {tuple(jacobian.shape)}")
        if not torch.isfinite(jacobian).all():
            raise ValueError(f"{where}: jacobian contains NaN or inf")
    check_count(k, where, extra=("all", None))
    return y, kind, jacobian


def _orthonormal(basis: Tensor, where: str) -> Tensor:
    """An orthonormal basis (Frobenius) of the span of ``basis``, ``(m', d, d)``."""
    flat = basis.reshape(len(basis), -1).double()
    u, s, _ = torch.linalg.svd(flat.T, full_matrices=False)
    keep = s > 1e-10 * max(float(s.max()), 1e-300)
    if not bool(keep.any()):
        raise ValueError(f"{where}: the basis spans nothing (all matrices are zero)")
    return u[:, keep].T.reshape(-1, *basis.shape[1:])


# ------------------------------------------------------------------------------ models
#: Bytes of memory the kernel model needs per pair of samples while it is fitted: at most
#: about six ``N x N`` float64 matrices at once (kernel matrix, its eigenvectors, eigh's
#: workspace, squared eigenvectors for the leave-one-out diagonal), with a margin; measured
#: peaks are 35 to 51 bytes per pair for N = 3000 and 2000.
KERNEL_BYTES_PER_PAIR = 56


def kernel_sample_cap(memory_gb: float) -> int:
    """The most samples the kernel model may be fitted on within ``memory_gb`` gigabytes."""
    return max(16, int(math.sqrt(memory_gb * 1e9 / KERNEL_BYTES_PER_PAIR)))


class _Kernel:
    r"""Linear least squares plus kernel ridge regression on its residual, robust to a few bad samples.

    ``G(x) = a + W z + sum_m alpha_m k(z, z_m)``, ``z = (x - mu) / s`` with one scale ``s``
    for all coordinates, and ``k`` either Gaussian, ``exp(-|z - z'|^2 / (2 l^2))``, or
    polynomial, ``(1 + z . z' / d)^p``. Both depend on ``z`` only through distances and dot
    products, so the model treats every direction of the input alike and adds no
    orientation of its own.

    **Selection.** The kernel (width or degree) and the ridge are picked by the closed-form
    leave-one-out (LOO) error: per sample, the squared LOO residual averaged over outputs
    scaled by their variance; the criterion is their mean with each capped at ``cap^2``
    (``cap = 10``) times their median (a winsorised mean), so that a few bad samples (a
    trajectory that jumps, a mislabelled output), whose LOO errors are huge whatever the
    kernel, do not decide it. On clean data the cap rarely binds and the criterion is the
    plain mean.

    **Outliers.** A sample whose root LOO error exceeds ``outlier`` (25) times the median
    one, and a tenth of the output's spread (``noticeable``: an error the fit would notice),
    is left out and the model fitted again (at most ``max_outliers``, 5%, of the samples,
    the worst first, in up to two rounds): a few grossly corrupted outputs then neither
    bend the fit nor its derivatives. Clean data have heavy-tailed LOO errors too (up to
    about 30 times the median at a kink or where the kernel is exact to rounding), so the
    threshold is high and the count capped; ``outliers`` holds the indices left out.
    """

    widths = (0.5, 0.7, 1.0, 1.4, 2.0, 2.8)  # Gaussian, times sqrt(d)
    degrees = (3, 4, 5)  # polynomial; not 2: a quadratic model is invariant under the group of its form
    ridges = (1e-10, 1e-8, 1e-6, 1e-4, 1e-2)  # times the largest eigenvalue of the kernel matrix
    cap = 10.0
    outlier = 25.0
    noticeable = 0.1
    max_outliers = 0.05

    def __init__(self, x: Tensor, t: Tensor):
        n, self.d = x.shape
        keep = torch.arange(n, device=x.device)
        for rounds in range(3):
            per = self._fit(x[keep], t[keep])
            if rounds == 2:
                break
            rms = per.sqrt()
            bad = (rms > self.outlier * rms.median().clamp_min(1e-300)) & (rms > self.noticeable)
            room = int(self.max_outliers * n) - (n - len(keep))
            if not bool(bad.any()) or room <= 0:
                break
            worst = torch.argsort(rms, descending=True)[: min(int(bad.sum()), room)]
            mask = torch.ones(len(keep), dtype=torch.bool, device=x.device)
            mask[worst] = False
            keep = keep[mask]
        drop = torch.ones(n, dtype=torch.bool, device=x.device)
        drop[keep] = False
        self.outliers = torch.nonzero(drop)[:, 0]
        self.converged = True
        left = f", {len(self.outliers)} outlying samples left out" if len(self.outliers) else ""
        self.description = (
            f"kernel ridge regression ({'Gaussian, width' if self.kind == 'gauss' else 'polynomial, degree'} "
            f"{self.par:.3g}) on a linear fit{left}"
        )

    def _gram(self, kind: str, par: float, a: Tensor, b: Tensor) -> Tensor:
        if kind == "gauss":
            sq = (a.pow(2).sum(1)[:, None] + b.pow(2).sum(1)[None, :] - 2 * a @ b.T).clamp_min(0)
            return torch.exp(-sq / (2 * par**2))
        return (1 + a @ b.T / self.d) ** par

    def _fit(self, x: Tensor, t: Tensor) -> Tensor:
        """Fit on ``(x, t)``; returns each sample's leave-one-out error (scaled, summed over outputs)."""
        n, d = x.shape
        self.mu = x.mean(0)
        self.s = float((x - self.mu).pow(2).mean().sqrt().clamp_min(1e-300))
        z = (x - self.mu) / self.s
        design = torch.cat([torch.ones(n, 1, dtype=x.dtype, device=x.device), z], 1)
        self.lin = torch.linalg.lstsq(design, t).solution  # (d + 1, out)
        r = t - design @ self.lin
        scale = t.var(0).clamp_min(1e-300)
        candidates = [("gauss", w * math.sqrt(d)) for w in self.widths] + [("poly", p) for p in self.degrees]
        best = (math.inf, None)
        for kind, par in candidates:
            evals, evecs = torch.linalg.eigh(self._gram(kind, par, z, z))
            evals = evals.clamp_min(0)
            proj = evecs.T @ r  # (n, out)
            sq_vecs = evecs.pow(2)
            for ridge in self.ridges:
                lam = ridge * float(evals.max())
                shrink = evals / (evals + lam)
                hat_diag = sq_vecs @ shrink
                loo = (r - evecs @ (shrink[:, None] * proj)) / (1 - hat_diag).clamp_min(1e-12)[:, None]
                per = (loo.pow(2) / scale).mean(1)
                err = float(per.clamp_max(self.cap**2 * per.median()).mean())
                if err < best[0]:
                    best = (err, (kind, par, lam, per))
            del evecs, sq_vecs, proj
        _, (self.kind, self.par, lam, per) = best
        evals, evecs = torch.linalg.eigh(self._gram(self.kind, self.par, z, z))
        self.alpha = evecs @ ((evecs.T @ r) / (evals.clamp_min(0) + lam)[:, None])
        self.z = z
        self.error = math.sqrt(float(per.mean()))
        return per

    def __call__(self, x: Tensor) -> Tensor:
        z = (x - self.mu) / self.s
        return self.lin[0] + z @ self.lin[1:] + self._gram(self.kind, self.par, z, self.z) @ self.alpha


class _MLP:
    """A small perceptron (two hidden layers, SiLU) fitted by full-batch Adam on standardised data.

    A tenth of the samples is held out (checked every ``every`` steps). Training stops once
    the best held-out error (gains under 0.1% do not count) is ``max(patience, s)`` steps
    old, ``s`` the step it was reached at, so a long plateau early in training (a model
    that has fitted only the affine part of the map, then learns more) is waited out; or at
    ``steps``. The weights with the best held-out error are kept. ``converged`` says whether
    it stopped on its own rather than at ``steps``.
    """

    def __init__(self, x: Tensor, t: Tensor, *, width: int = 64, steps: int = 20000, lr: float = 3e-3, seed: int = 0,
                 every: int = 50, patience: int = 2000):  # fmt: skip
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

        def held_out() -> float:
            with torch.no_grad():
                return float((self.net(z[hold]) - u[hold]).pow(2).mean()) if len(hold) else math.nan

        best, best_step, best_state, stopped, done = math.inf, 0, None, False, 0
        for step in range(steps):
            opt.zero_grad()
            loss = (self.net(z[train]) - u[train]).pow(2).mean()
            loss.backward()
            opt.step()
            done = step + 1
            if not len(hold) or (done % every and done != steps):
                continue
            err = held_out()
            if err < best * (1 - 1e-3):
                best, best_step = err, done
                best_state = [p.detach().clone() for p in self.net.parameters()]
            elif done - best_step >= max(patience, best_step):
                stopped = True
                break
        if best_state is not None:
            with torch.no_grad():
                for p, v in zip(self.net.parameters(), best_state):
                    p.copy_(v)
        self.net.requires_grad_(False)
        self.converged = bool(stopped)
        self.steps = done
        held = held_out()
        self.error = math.sqrt(held) if not math.isnan(held) else math.nan
        self.outliers = torch.zeros(0, dtype=torch.long)
        state = "held-out error no longer improving" if self.converged else "still improving at the step cap"
        self.description = f"perceptron ({d}-{width}-{width}-{t.shape[1]}, SiLU, {done} Adam steps, {state})"

    def __call__(self, x: Tensor) -> Tensor:
        return self.net((x - self.mu) / self.s) * self.ts + self.tmu


#: The counting gate of :func:`fit_dataset`: a fitted model whose held-out error is above
#: ``AFFINE_GAIN`` times that of an affine least-squares fit, when the affine fit misses at
#: least ``AFFINE_FLOOR`` of the output (relative RMS), has learned little beyond the affine
#: part of a nonlinear map, and has that affine map's symmetries, not the data's.
AFFINE_GAIN = 0.8
AFFINE_FLOOR = 0.05


def affine_error(x: Tensor, t: Tensor) -> float:
    """Relative leave-one-out RMS error of the affine least-squares fit ``t ~ a + W x`` (closed form).

    Same scale as :attr:`FittedModel.error`: squared LOO residuals over the variance of each
    output, averaged over outputs and samples, square-rooted.
    """
    n = len(x)
    design = torch.cat([torch.ones(n, 1, dtype=x.dtype, device=x.device), x - x.mean(0)], 1)
    u, sv, _ = torch.linalg.svd(design, full_matrices=False)
    u = u[:, sv > 1e-10 * sv.max()]
    hat = u.pow(2).sum(1)
    res = t - u @ (u.T @ t)
    loo = res / (1 - hat).clamp_min(1e-12)[:, None]
    return math.sqrt(float((loo.pow(2) / t.var(0).clamp_min(1e-300)).mean()))


class FittedModel:
    """A regression model of the map ``x -> y``, differentiable, as :func:`fit_model` returns it.

    ``model(x)`` is ``(B,)`` for scalar outputs and ``(B, d)`` for vector ones. For vectors
    the regression fits the change ``y - x`` and adds ``x`` back (a skip term), which keeps
    maps close to the identity accurate.

    Attributes:
        kind: ``"kernel"`` or ``"mlp"``.
        error: relative held-out RMS error (leave-one-out for ``"kernel"``, over the samples
            it kept; a 10% split for ``"mlp"``), averaged over outputs scaled by their variance.
        description: what was fitted, in words.
        converged: False for a perceptron stopped at its step cap rather than by its
            held-out error (always True for the kernel model).
        affine_error: the same error for an affine least-squares fit on the same samples;
            :func:`fit_dataset` counts no symmetry when ``error`` is not clearly below it
            (:data:`AFFINE_GAIN`, :data:`AFFINE_FLOOR`).
        n_fit: samples the model was fitted on; n_total: samples given.
        outliers: indices (into ``x``) of the samples the kernel model left out as outliers.
        memory_gb: the memory cap it was fitted under.
    """

    def __init__(self, kind: str, inner, skip: bool, scalar: bool, *, n_total: int | None = None,
                 subset: Tensor | None = None, memory_gb: float | None = None, affine: float | None = None):  # fmt: skip
        self.kind, self._inner, self._skip, self._scalar = kind, inner, skip, scalar
        self.affine_error = affine
        self.error, self.description = inner.error, inner.description
        self.converged = bool(getattr(inner, "converged", True))
        self.n_total = n_total
        self.n_fit = n_total if subset is None else len(subset)
        bad = getattr(inner, "outliers", torch.zeros(0, dtype=torch.long))
        self.outliers = bad if subset is None else subset[bad.cpu()]
        self.memory_gb = memory_gb

    def __call__(self, x: Tensor) -> Tensor:
        out = self._inner(x.double())
        if self._skip:
            out = out + x.double()
        return out[:, 0] if self._scalar else out

    def rows_per_chunk(self, memory_gb: float) -> int:
        """Samples per batch when differentiating the model within ``memory_gb`` (the kernel holds ``B x n_fit`` matrices)."""
        if self.kind != "kernel":
            return 4096
        return max(1, min(4096, int(0.25 * memory_gb * 1e9 / (64 * max(1, self.n_fit or 1)))))


def fit_model(
    x: Tensor,
    y: Tensor,
    model: str = "kernel",
    *,
    max_samples: int = 3000,
    mlp_steps: int = 20000,
    memory_gb: float = 4.0,
    seed: int = 0,
) -> FittedModel:
    """Fit a differentiable model of ``x -> y`` (float64), for :func:`fit_dataset`.

    Args:
        x: ``(N, d)``; y: ``(N,)`` or ``(N, d)``.
        model: ``"kernel"`` (a linear fit plus kernel ridge regression on its residual,
            Gaussian kernels of several widths and polynomial kernels of degree 3 to 5,
            kernel and ridge by a trimmed leave-one-out error, outlying samples left out;
            :class:`_Kernel`) or ``"mlp"`` (two hidden layers of 64, SiLU, trained until
            its held-out error stops improving).
        max_samples: at most this many samples are used (a seeded random subset): the
            kernel model costs ``O(N^3)`` time and ``O(N^2)`` memory.
        mlp_steps: the most Adam steps of the ``"mlp"`` model.
        memory_gb: memory cap in gigabytes. The kernel model needs about
            ``56 N^2`` bytes, so it is fitted on at most :func:`kernel_sample_cap` samples
            (about 8450 for 4 GB; a seeded subset, said in ``description``); its
            derivatives are then taken in batches that fit too.
        seed: seeds the subset and the ``"mlp"`` model.
    """
    if model not in MODELS:
        raise ValueError(f"fit_model: unknown model {model!r}; choose one of {MODELS}")
    if not (isinstance(memory_gb, (int, float)) and memory_gb > 0):
        raise ValueError(f"fit_model: memory_gb must be a positive number of gigabytes, got {memory_gb!r}")
    y, kind, _ = _check(x, y, None, model, None, where="fit_model")
    n, d = x.shape
    if n < d + 2:
        raise ValueError(f"fit_model: fitting a model needs at least d + 2 = {d + 2} samples, got {n}")
    xd, target = x.detach().double(), y.detach().double().reshape(n, -1)
    skip = kind == "equivariant"
    if skip:
        target = target - xd
    cap = min(max_samples, kernel_sample_cap(memory_gb)) if model == "kernel" else max_samples
    gen = torch.Generator().manual_seed(seed)
    sub = torch.randperm(n, generator=gen)[:cap].to(xd.device) if n > cap else None
    xs, ts = (xd, target) if sub is None else (xd[sub], target[sub])
    inner = _Kernel(xs, ts) if model == "kernel" else _MLP(xs, ts, steps=mlp_steps, seed=seed)
    if sub is not None:
        why = "max_samples" if cap == max_samples else f"the memory cap of {memory_gb:g} GB"
        inner.description += f"; fitted on a seeded subset of {len(sub)} of the {n} samples ({why})"
    kept = torch.ones(len(xs), dtype=torch.bool, device=xs.device)
    kept[inner.outliers.to(xs.device)] = False
    affine = affine_error(xs[kept], ts[kept])
    return FittedModel(model, inner, skip, kind == "invariant", n_total=n, subset=sub, memory_gb=memory_gb,
                       affine=affine)  # fmt: skip


def map_derivatives(f: Callable[[Tensor], Tensor], x: Tensor, *, chunk: int | None = None) -> tuple[Tensor, Tensor]:
    """Values ``(N, out)`` and Jacobians ``(N, out, d)`` of a batched map at ``x`` ``(N, d)``, by autograd, float64.

    ``out`` is 1 for a scalar map. Samples must not interact (no batch statistics). With
    ``values[:, 0]`` (scalar) or ``values`` as ``y`` and the Jacobians (``[:, 0]`` for a
    scalar) as ``jacobian=``, :func:`fit_dataset` skips differentiating again, e.g. when one
    map is searched in several spaces. ``chunk``: samples per batch (memory), all at once
    when None.
    """
    if chunk is not None and len(x) > chunk:
        parts = [map_derivatives(f, x[sl]) for sl in _chunks(len(x), chunk)]
        return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])
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


# ------------------------------------------------------------------------------ entry point
@dataclass
class DatasetOptions:
    """Options of :func:`fit_dataset` (``options=``).

    Attributes:
        floor: the weight of sample ``n`` is ``1 / sqrt(|M_n|^2 / m + (floor * median)^2)``.
        gap_ratio, max_residual: the rule that counts symmetries (:func:`count_symmetries`).
        max_model_samples, mlp_steps: passed to :func:`fit_model` (the constraints use
            all samples).
        memory_gb: memory cap in gigabytes for the whole call: the kernel model's subset
            (:func:`fit_model`), the batches in which the model is differentiated and the
            constraints stacked. ``config`` records it and the samples the model used.
        span_rtol: directions of the data whose second moment is below this fraction of
            the largest are outside their span (:func:`data_span`); None treats the data as
            spanning ``R^d``.
        chunk: at most this many samples per batch when stacking the constraints.
    """

    floor: float = 0.1
    gap_ratio: float = 3.0
    max_residual: float = 0.3
    max_model_samples: int = 3000
    mlp_steps: int = 20000
    memory_gb: float = 4.0
    span_rtol: float | None = 1e-10
    chunk: int = 1024


def fit_dataset(
    x: Tensor,
    y: Tensor | None = None,
    *legacy,
    space: SearchSpace | str | Tensor | None = None,
    n_generators: int | str | None = None,
    model: str | Callable[[Tensor], Tensor] = "kernel",
    jacobian: Tensor | None = None,
    seed: int = 0,
    device: str | torch.device | None = None,
    options: DatasetOptions | dict | None = None,
    **old,
) -> DiscoveryResult:
    r"""The generators under which the map ``x -> y`` is invariant or equivariant, from samples alone.

    Condition (module docstring), linear in ``L``:
    ``grad f(x) . L x = 0`` for scalar ``y``; ``J_F(x) L x - L F(x) = 0`` for vector ``y``.
    The returned generators are the right singular vectors, in the search space, of the
    normalised constraints stacked over the samples, with the smallest singular values.

    **Data on a subspace.** When the samples (``x``, and ``y`` for vector maps) span only
    a subspace of ``R^d`` (projector ``P``; e.g. two bodies with body 2 always at minus
    body 1), the constraints see ``L`` only through ``L P``: every generator with
    ``L P = 0`` meets them trivially. Those are returned apart, as ``trivial`` (an
    orthonormal basis, ``n_trivial`` of them), are not counted as symmetries and are left
    out of the search, which runs in the quotient: over representatives orthogonal to them,
    scaled so that their restrictions ``L P`` are orthonormal. Residuals are per unit
    ``|L P|_F`` (the part the data see); ``on_data`` holds each generator's ``L P``.
    A generator that moves samples off the span (``L P != P L P``) is tested through the
    map's derivatives off the span: exact for ``model=callable`` or ``jacobian=``, an
    extrapolation for a fitted model (the kernel model's change ``F(x) - x`` does not vary
    off the span).

    **Counting** (``n_symmetries``, reason in ``count_reason``): :func:`count_symmetries`
    on the spectrum (a clear gap below which every residual is small); and none at all when
    the fitted model predicts no better than an affine least-squares fit of a map the
    affine fit does not explain (held-out error above ``AFFINE_GAIN = 0.8`` times the affine
    fit's, which misses at least ``AFFINE_FLOOR = 0.05`` of the output). Such a model has
    the symmetries of an affine map, far more than the data: e.g. a perceptron that has
    fitted only ``y = c x_3`` of LieGAN's ``y = x_3 / (1 + (angle of (x_1, x_2) mod 2 pi/7))``
    is invariant under the six generators of ``gl(3)`` that fix ``x_3``, while the data
    have one (scaling ``(x_1, x_2)``). Models given as plain callables are not gated.

    Args:
        x: ``(N, d)`` inputs.
        y: ``(N,)`` invariant scalars, or ``(N, d)`` vectors moved by the same action as
            ``x``; may be None when ``model`` is the map itself.
        space: the search space: a :class:`~lconv.algebra.SearchSpace` (e.g.
            ``SearchSpace.blocks(8, 2)``, ``SearchSpace.kron(2, 4)``, or on a small image
            grid ``SearchSpace.vector_field(grid)``), its name (``"full"``,
            ``"antisymmetric"``, ``"blocks:B"``, ``"kron:B"``, ``"vector-field:HxW"``), or
            ``(m, d, d)`` matrices whose span it is; orthonormalised internally. Default: all
            of ``gl(d)``.
        n_generators: ``k``, how many generators to return (best first); ``"auto"``
            returns exactly ``n_symmetries`` (possibly none), the number the spectrum
            singles out (rule under **Counting**, evidence in ``singular_values`` and
            ``count_reason``); ``"all"`` every non-trivial generator of the space, ranked;
            None returns ``max(1, n_symmetries)``.
        model: where ``F`` and its derivatives come from: ``"kernel"`` (default) or
            ``"mlp"``, fitted to ``(x, y)`` by :func:`fit_model`; or a callable
            ``(B, d) -> (B,)`` or ``(B, d)`` (samples independent), differentiated by
            autograd: the map itself, or a model fitted once by :func:`fit_model` and
            reused for several search spaces.
        jacobian: derivatives that come with the data, ``(N, d)`` (gradients of scalar
            ``y``) or ``(N, d, d)``; then ``y`` itself is used as ``F(x)`` and no model is fitted.
        seed: seeds the subset and the ``"mlp"`` model.
        device: where to compute (default: where ``x`` is); the result comes back to ``x``'s device.
        options: :class:`DatasetOptions` (or a dict of its fields): sample weights,
            counting rule, model size, memory cap, span tolerance.

    Returns:
        :class:`DiscoveryResult` on ``x``'s device in its dtype: ``generators (k, d, d)``,
        ``residuals (k,)``, ``singular_values (m - n_trivial,)`` (also ``spectrum``),
        ``n_symmetries`` and ``count_reason``, ``coefficients``, ``model_error``,
        ``trivial``, ``on_data``, ``data_rank``; ``t`` is None.

    Shapes:
        ``x (N, d)``, ``y (N,)`` or ``(N, d)``; constraints ``N`` (invariant) or ``N d``
        (equivariant) rows by ``m`` unknowns, which must be at least ``m``.

    Warns:
        ``DeprecationWarning`` for the calls before ``space=`` and ``options=``:
        ``n_generators`` by position, ``structure=``, ``basis=``, or an option passed flat
        (``memory_gb=1``). The old names ``n``, ``num_generators`` and ``k`` raise ``TypeError``.
    """
    opts, spaces = legacy_keywords("fit_dataset", old, options, DatasetOptions, space_keys=("structure", "basis"))
    pos = legacy_positional("fit_dataset", legacy, ("n_generators",), dict(n_generators=n_generators))
    n_generators = pos.get("n_generators", n_generators)
    space = legacy_space("fit_dataset", spaces, space)
    out_device = x.device if isinstance(x, Tensor) else torch.device("cpu")
    if device is not None and isinstance(x, Tensor):
        dev = torch.device(device)
        x = x.to(dev)
        y = y.to(dev) if isinstance(y, Tensor) else y
        jacobian = jacobian.to(dev) if isinstance(jacobian, Tensor) else jacobian
    y, kind, jacobian = _check(x, y, n_generators, model, jacobian)
    space = SearchSpace.resolve(space, x.shape[1], where="fit_dataset")
    floor, gap_ratio, max_residual, memory_gb = opts.floor, opts.gap_ratio, opts.max_residual, opts.memory_gb
    span_rtol, chunk = opts.span_rtol, opts.chunk
    if not (floor >= 0 and gap_ratio >= 1 and max_residual > 0):
        raise ValueError(
            f"fit_dataset: need floor >= 0, gap_ratio >= 1 and max_residual > 0, "
            f"got {floor}, {gap_ratio}, {max_residual}"
        )
    if not (isinstance(memory_gb, (int, float)) and memory_gb > 0):
        raise ValueError(f"fit_dataset: memory_gb must be a positive number of gigabytes, got {memory_gb!r}")
    start = time.perf_counter()
    n, d = x.shape
    xd = x.detach().double()
    m_space = space.dim
    if 2 * m_space * d * d * 8 > memory_gb * 1e9:
        raise ValueError(
            f"fit_dataset: the search space {space.name} (dimension {m_space}) needs "
            f"{2 * m_space * d * d * 8 / 1e9:.1f} GB for its basis, more than memory_gb={memory_gb:g}; "
            "pass a smaller search space (space=) or raise options.memory_gb"
        )
    basis = space.basis(torch.float64, xd.device)
    q = basis if space.orthonormal else _orthonormal(basis, "fit_dataset")
    m_full = len(q)

    # ---- the data's span: generators that vanish on it are trivial, the search runs in the quotient
    span_of = xd if kind == "invariant" else torch.cat([xd, y.detach().double()])
    span = data_span(span_of, rtol=span_rtol) if span_rtol is not None else None
    rank = d if span is None else span.shape[1]
    if rank < d:
        proj = span @ span.T
        trivial, _, work, to_q = _quotient(q, proj)
    else:
        proj, trivial, work, to_q = None, q.new_zeros(0, d, d), q, None
    m = len(work)
    if m == 0:
        raise ValueError(
            f"fit_dataset: every generator of the search space vanishes on the data's span (rank {rank} of {d}); "
            "the data say nothing about this space: pass a larger one or data that span more"
        )
    rows = n if kind == "invariant" else n * d
    if rows < m:
        need = m if kind == "invariant" else math.ceil(m / d)
        raise ValueError(
            f"fit_dataset: {n} samples give {rows} constraints for {m} unknowns; "
            f"pass at least {need} samples or a smaller search space (space=)"
        )
    if isinstance(n_generators, int) and n_generators > m:
        extra = f" (of its {m_full}, {len(trivial)} vanish on the data's span)" if len(trivial) else ""
        raise ValueError(
            f"fit_dataset: n_generators={n_generators} but the search space has dimension {m}{extra}; "
            f"choose 1 <= n_generators <= {m}"
        )

    # ---- F(x) and its derivatives at the samples
    fitted = None
    if jacobian is not None:
        method = "given"
        val = y.detach().double().reshape(n, -1)
        jac = jacobian.detach().double().reshape(n, -1, d)
    else:
        if callable(model):
            fitted = model
            method = model.kind if isinstance(model, FittedModel) else "callable"
        else:
            fitted = fit_model(x, y, model, max_samples=opts.max_model_samples, mlp_steps=opts.mlp_steps,
                               memory_gb=memory_gb, seed=seed)  # fmt: skip
            method = model
        per_chunk = fitted.rows_per_chunk(memory_gb) if isinstance(fitted, FittedModel) else chunk
        val, jac = map_derivatives(fitted, xd, chunk=per_chunk)
        if val.shape != (n, 1 if kind == "invariant" else d):
            raise ValueError(f"fit_dataset: model(x) returned {tuple(val.shape)} values, unlike y {tuple(y.shape)}")
    model_error = getattr(fitted, "error", None)
    if not (torch.isfinite(val).all() and torch.isfinite(jac).all()):
        raise ValueError("fit_dataset: the map's values or derivatives are not finite at some samples; drop them")

    # ---- constraints, stacked in batches that fit the memory cap
    per_row = (d * d * d if kind == "equivariant" else d * d) * 8 * 3 + (d if kind == "equivariant" else 1) * m * 8
    step = max(1, min(chunk, int(0.25 * memory_gb * 1e9 / per_row)))
    r, _ = _spectrum(lambda sl: _blocks(kind, xd[sl], val[sl], jac[sl], work), n, m, floor, step)
    _, s, vh = torch.linalg.svd(r)
    s, vh = s.flip(0), vh.flip(0)  # ascending
    n_sym, reason = _count(s, gap_ratio, max_residual)
    gate = getattr(fitted, "affine_error", None)
    if gate is not None and gate >= AFFINE_FLOOR and not fitted.error <= AFFINE_GAIN * gate:
        would, n_sym = reason, 0
        reason = (
            f"none counted: the {fitted.kind} model's held-out error {fitted.error:.3g} is not clearly below the "
            f"affine fit's {gate:.3g} (needs <= {AFFINE_GAIN:g}x): it has learned little beyond the affine part of "
            f"the map, so its near-symmetries are largely those of that affine map, not evidence about the data. "
            f"A better model (more samples, options.mlp_steps, model='kernel') may tell. The spectrum alone would give {would}"
        )
    k = {"auto": n_sym, "all": m, None: max(1, n_sym)}.get(n_generators, n_generators)
    coef = vh[:k].clone()
    # deterministic signs: the largest coefficient of each generator positive
    if k:
        big = coef.gather(1, coef.abs().argmax(1, keepdim=True))
        coef = coef * torch.where(big < 0, -1.0, 1.0).to(coef)
    on_data = torch.einsum("km,mij->kij", coef, work)
    if to_q is None:
        gens, coef_q = on_data, coef
    else:
        coef_q = coef @ to_q.T  # over the orthonormal basis q
        coef_q = coef_q / coef_q.norm(dim=1, keepdim=True).clamp_min(1e-300)
        gens = torch.einsum("km,mij->kij", coef_q, q)
    config = dict(fit="dataset", n_generators=n_generators, kind=kind, model=method, space=space.name,
                  **dataclasses.asdict(opts), model_samples=getattr(fitted, "n_fit", None),
                  model_outliers=len(getattr(fitted, "outliers", ())), model_converged=getattr(fitted, "converged", None),
                  data_rank=rank, space_dim=m_full, n_trivial=len(trivial), seed=seed, device=str(xd.device))  # fmt: skip
    history = {"seconds": [time.perf_counter() - start]}
    result = DiscoveryResult(
        generators=gens,
        t=None,
        history=history,
        method=method,
        config=config,
        spectrum=s,
        residuals=s[:k].clone(),
        singular_values=s,
        n_symmetries=n_sym,
        count_reason=reason,
        coefficients=coef_q,
        model_error=model_error,
        trivial=trivial,
        n_trivial=len(trivial),
        on_data=on_data,
        data_rank=rank,
    )
    return result.to(out_device, x.dtype)
