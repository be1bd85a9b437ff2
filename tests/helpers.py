"""Shared test helpers: the slow dense reference layer, smooth test signals, the shared data files."""

import math
import os
from pathlib import Path

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from lconv import Grid

#: the MNIST and Fashion-MNIST files: the folder in ``LCONV_DATA`` where it is set, as for ``lconv train``,
#: else the verified copies beside the repository (``../shared/data``)
SHARED = Path(os.environ.get("LCONV_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")
needs_shared = pytest.mark.skipif(
    not (SHARED / "mnist").is_dir(),
    reason=f"the MNIST/Fashion-MNIST files are not at {SHARED} (set LCONV_DATA to the folder that holds mnist/)",
)


def reference_lconv(x, L, W0, W, b=None):
    """``Q[f] = W0 f + sum_i W_i L_i f + b`` written as in the paper, with one einsum.

    x: (batch, c_in, d); L: (n, d, d); W0: (c_out, c_in); W: (n, c_out, c_in); b: (c_out,).
    """
    y = torch.einsum("oc,bcd->bod", W0, x) + torch.einsum("kdf,bcf,koc->bod", L, x, W)
    if b is not None:
        y = y + b[:, None]
    return y


def bump(grid: Grid, centre=(0.0, 0.0), sigma=None, dtype=torch.float64):
    """A smooth Gaussian bump on ``grid`` (practically band-limited and zero at the edges)."""
    xy = grid.coordinates(dtype=torch.float64)
    sigma = sigma or min(grid.shape) / 10
    c = torch.tensor(centre[: grid.ndim], dtype=torch.float64)
    return torch.exp(-((xy - c) ** 2).sum(-1) / (2 * sigma**2)).to(dtype)


def band_limited(n: int, count: int, max_freq: int, generator=None, dtype=torch.float64):
    """``count`` random periodic 1-D signals on ``n`` points with frequencies <= ``max_freq``."""
    r = torch.arange(n, dtype=torch.float64)
    out = torch.zeros(count, n, dtype=torch.float64)
    for p in range(max_freq + 1):
        a, b = torch.randn(2, count, 1, generator=generator, dtype=torch.float64)
        out += a * torch.cos(2 * math.pi * p * r / n) + b * torch.sin(2 * math.pi * p * r / n)
    return out.to(dtype)


class LargestTensor(TorchDispatchMode):
    """Records the largest tensor any operation produces (forward and backward)."""

    def __init__(self):
        super().__init__()
        self.largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(t, torch.Tensor):
                self.largest = max(self.largest, t.numel())
        return out
