r"""Search spaces for symmetry discovery: bases of subspaces of ``gl(d)``, each ``(m, d, d)``.

A discovery fit that takes ``basis=`` looks for generators ``L = sum_m c_m B_m`` only. The
spaces here:

* :func:`full_space`: all ``d x d`` matrices (``m = d^2``), the elementary matrices ``E_ij``;
* :func:`antisymmetric_space`: ``so(d)`` (``m = d(d-1)/2``), ``(E_ij - E_ji)/sqrt(2)``
  for ``i < j``: a compact group acting orthogonally has antisymmetric generators;
* :func:`kron_space`: ``I_copies (x) A`` for ``A`` in a given basis of ``(k, k)``
  matrices, the same action on each of ``copies`` vectors stored one after another
  (``x = (v_1, ..., v_copies)``, each ``v`` of length ``k``);
* :func:`factorised_space`: ``kron_space`` over all of ``gl(k)``, e.g. LieGAN's "2x2
  factorisation" ``I_4 (x) A`` of ``8 x 8`` generators for four 2-vectors (``m = 4``).

:func:`full_space` and :func:`antisymmetric_space` are orthonormal in the Frobenius inner
product; :func:`kron_space` keeps the scale of its block matrices (its Gram matrix is
``copies`` times theirs), so that it can serve as a ground truth with the block's structure
constants. The fits orthonormalise any basis they are given.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ._families import matrix_algebra


def _dim(d, where: str) -> int:
    if not isinstance(d, int) or isinstance(d, bool) or d < 1:
        raise ValueError(f"{where}: the dimension must be a positive int, got {d!r}")
    return d


def full_space(d: int, *, dtype: torch.dtype | None = None) -> Tensor:
    """All ``d x d`` matrices: the ``d^2`` elementary matrices ``E_ij`` (row-major), ``(d^2, d, d)``."""
    d = _dim(d, "full_space")
    return torch.eye(d * d, dtype=dtype or torch.get_default_dtype()).reshape(d * d, d, d)


def antisymmetric_space(d: int, *, dtype: torch.dtype | None = None) -> Tensor:
    """``so(d)``: ``(E_ij - E_ji) / sqrt(2)`` for ``i < j``, ``(d(d-1)/2, d, d)``, orthonormal."""
    d = _dim(d, "antisymmetric_space")
    if d < 2:
        raise ValueError("antisymmetric_space: needs d >= 2 (so(1) is zero)")
    pairs = [(i, j) for i in range(d) for j in range(i + 1, d)]
    out = torch.zeros(len(pairs), d, d, dtype=torch.float64)
    for m, (i, j) in enumerate(pairs):
        out[m, i, j], out[m, j, i] = -1.0, 1.0  # E_ji - E_ij: for d = 2 the rotation [[0, -1], [1, 0]]
    return (out / math.sqrt(2.0)).to(dtype or torch.get_default_dtype())


def kron_space(block: Tensor | str, copies: int, *, dtype: torch.dtype | None = None) -> Tensor:
    """``I_copies (x) A_i`` for each matrix ``A_i`` of ``block`` (``(m, k, k)`` or a name of
    :func:`~lconv.algebra.matrix_algebra`), shape ``(m, copies k, copies k)``.

    The generator acts on ``copies`` vectors of length ``k`` stored one after another,
    the same ``A`` on each: e.g. ``kron_space("so13", 2)`` is the Lorentz algebra acting on
    two 4-vectors at once.
    """
    copies = _dim(copies, "kron_space")
    a = matrix_algebra(block, dtype=torch.float64) if isinstance(block, str) else torch.as_tensor(block).double()
    if a.dim() == 2:
        a = a[None]
    if a.dim() != 3 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"kron_space: block must be (m, k, k) square matrices, got {tuple(a.shape)}")
    eye = torch.eye(copies, dtype=torch.float64)
    return torch.stack([torch.kron(eye, ai) for ai in a]).to(dtype or torch.get_default_dtype())


def factorised_space(copies: int = 4, block: int = 2, *, dtype: torch.dtype | None = None) -> Tensor:
    """``I_copies (x) A`` with ``A`` any ``block x block`` matrix: ``(block^2, copies block, copies block)``.

    The default is LieGAN's "2x2 factorisation" of ``8 x 8`` generators, ``L = I_4 (x) A``:
    one 2x2 action applied to each of four 2-vectors, e.g. the positions and momenta of two
    bodies in the plane.
    """
    return kron_space(full_space(_dim(block, "factorised_space"), dtype=torch.float64), copies, dtype=dtype)
