"""Functional form of the L-conv layer."""

from __future__ import annotations

from torch import Tensor

from ._generators import Generators, as_generators
from ._kernels import mix_channels

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
    if isinstance(generators, Generators):  # each parametrisation's cheapest order of products
        return generators.weighted_sum(f, weight0, weight, bias)
    return mix_channels(f, generators(f), weight0, weight, bias)
