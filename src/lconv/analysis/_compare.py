r"""Comparing learned generators with a ground truth.

Generators are compared as vectors in ``R^{d x d}`` with the Frobenius inner product.
The sign and scale of a generator are arbitrary (``t L = (-t)(-L)``), and so is the basis
of a learned algebra, hence:

* :func:`cosine`: ``|tr(A^T B)| / (|A|_F |B|_F)``, one generator against one;
* :func:`principal_angles` and :func:`grassmann_distance`: between the spans of two
  sets of generators (root sum of squared principal angles, in radians);
* :func:`align`: the combination of the learned generators closest to each true one.
"""

from __future__ import annotations

import torch
from torch import Tensor


def _flat(gens: Tensor, where: str) -> Tensor:
    if not isinstance(gens, Tensor):
        raise TypeError(f"{where}: expected a torch.Tensor of generators, got {type(gens).__name__}")
    if gens.dim() == 2:
        gens = gens[None]
    if gens.dim() != 3 or gens.shape[-1] != gens.shape[-2]:
        raise ValueError(f"{where}: generators must be (k, d, d) or (d, d), got {tuple(gens.shape)}")
    if not torch.isfinite(gens).all():
        raise ValueError(f"{where}: generators contain NaN or inf")
    return gens.reshape(len(gens), -1).double()


def cosine(a: Tensor, b: Tensor) -> float:
    """Sign- and scale-invariant cosine ``|tr(A^T B)| / (|A|_F |B|_F)`` of two ``(d, d)`` generators."""
    va, vb = _flat(a, "cosine")[0], _flat(b, "cosine")[0]
    if va.shape != vb.shape:
        raise ValueError(f"cosine: generators of different sizes, {tuple(a.shape)} and {tuple(b.shape)}")
    den = va.norm() * vb.norm()
    return float((va @ vb).abs() / den) if den > 0 else 0.0


def _basis(gens: Tensor, where: str) -> Tensor:
    v = _flat(gens, where)
    q, r = torch.linalg.qr(v.T)  # (d^2, k)
    keep = r.diagonal().abs() > 1e-10 * max(float(r.diagonal().abs().max()), 1e-300)
    return q[:, keep]


def principal_angles(a: Tensor, b: Tensor) -> Tensor:
    """Principal angles (radians, ascending) between ``span(a)`` and ``span(b)``, ``min(k_a, k_b)`` of them."""
    qa, qb = _basis(a, "principal_angles"), _basis(b, "principal_angles")
    if qa.shape[0] != qb.shape[0]:
        raise ValueError("principal_angles: generators act on spaces of different sizes")
    s = torch.linalg.svdvals(qa.T @ qb).clamp(-1.0, 1.0)
    return torch.arccos(s).sort().values


def grassmann_distance(a: Tensor, b: Tensor) -> float:
    """Grassmann distance ``sqrt(sum theta_i^2)`` between the spans (0 when one span contains the other)."""
    return float(principal_angles(a, b).pow(2).sum().sqrt())


def align(learned: Tensor, truth: Tensor) -> tuple[Tensor, Tensor]:
    """Best-aligned basis: for each true generator, the closest combination of the learned ones.

    ``aligned_j = sum_i c_ji learned_i`` minimises ``|truth_j - aligned_j|_F``.

    Returns:
        ``(aligned (k_true, d, d), cosines (k_true,))``: the aligned generators and their
        cosine with the matching true generator.
    """
    vl, vt = _flat(learned, "align"), _flat(truth, "align")
    if vl.shape[1] != vt.shape[1]:
        raise ValueError("align: learned and true generators act on spaces of different sizes")
    coef = torch.linalg.lstsq(vl.T, vt.T).solution  # (k_l, k_t)
    aligned = (coef.T @ vl).reshape(len(vt), *truth.shape[-2:])
    cos = torch.tensor([cosine(aligned[j], truth[j] if truth.dim() == 3 else truth) for j in range(len(vt))])
    return aligned.to(learned.dtype), cos


def data_projector(x: Tensor, *, rtol: float = 1e-6) -> Tensor:
    """Orthogonal projector ``(d, d)`` onto the span of samples ``x`` (``(N, d)`` or ``(N, C, d)``).

    Generators are identifiable from data only on this span: ``L P`` is what pairs
    ``(x, exp(t L) x)`` determine. Directions with variance below ``rtol`` times the
    largest are left out.
    """
    flat = x.reshape(-1, x.shape[-1]).double()
    evals, evecs = torch.linalg.eigh(flat.T @ flat)
    keep = evecs[:, evals > rtol * evals.max()]
    return keep @ keep.T


def restrict(generators: Tensor, projector: Tensor) -> Tensor:
    """Generators as operators on a subspace: ``L_i P`` (same shape as ``generators``)."""
    return (generators.double() @ projector).to(generators.dtype)
