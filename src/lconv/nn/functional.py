"""Functional form of the L-conv layer."""

from __future__ import annotations

import torch
from torch import Tensor

from ._generators import as_generators

__all__ = ["lconv"]


def lconv(f: Tensor, generators, weight0: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    r"""Functional L-conv: ``Q[f] = W0 f + sum_i W_i (L_i f) + b`` (Eq. 22).

    Args:
        f: features ``(batch, c_in, d)``.
        generators: ``(n, d, d)`` tensor, or a :class:`Generators` module (any callable
            mapping ``(..., d)`` to ``(..., n, d)``).
        weight0: ``W0``, ``(c_out, c_in)``.
        weight: ``W_i = W0 eps_i``, ``(n, c_out, c_in)``.
        bias: ``(c_out,)`` or None.

    Returns:
        ``(batch, c_out, d)``.
    """
    if isinstance(generators, Tensor):
        generators = as_generators(generators)
    lf = generators(f)  # (B, c_in, n, d)
    b, c, n, d = lf.shape
    w = weight.permute(1, 2, 0).reshape(weight.shape[1], c * n)  # w[o, c*n + i] = W_i[o, c]
    out = torch.matmul(weight0, f) + torch.matmul(w, lf.reshape(b, c * n, d))
    if bias is not None:
        out = out + bias[:, None]
    return out
