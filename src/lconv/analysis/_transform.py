"""How well generators reproduce finite transformations, and how well they close."""

from __future__ import annotations

import torch
from torch import Tensor

from ..algebra._lie import exp_apply
from ..discovery import fit_coefficients


def transform_error(generators: Tensor, x: Tensor, y: Tensor, t: Tensor | None = None) -> float:
    """Relative error of ``exp(t . L) x`` against ``y``, measured against the change itself.

    ``|exp(t . L) x - y| / |y - x|`` over all pairs: 0 is perfect, 1 is no better than
    doing nothing. With ``t=None`` the best ``t`` of each pair is fitted first (one
    coefficient per generator and pair), as when the transformations' parameters are
    unknown; otherwise the given ``t`` (``(N,)`` or ``(N, k)``) is used.
    """
    x3 = (x[:, None] if x.dim() == 2 else x).double()
    y3 = (y[:, None] if y.dim() == 2 else y).double()
    L = generators.double()
    if L.dim() == 2:
        L = L[None]
    if t is None:
        t = fit_coefficients(L, x3, y3)
    else:
        t = torch.as_tensor(t).double().reshape(len(x3), -1)
    with torch.no_grad():
        pred = exp_apply(L, t, x3)
    change = (y3 - x3).norm()
    return float((pred - y3).norm() / change) if change > 0 else float((pred - y3).norm())
