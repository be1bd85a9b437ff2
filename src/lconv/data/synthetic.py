r"""Synthetic data with a planted symmetry: random images or vectors and their transformed copies.

Images (SI C): ``x`` is a random image, uniform pixels in ``[0, 1)`` as in the paper, or
a band-limited one; ``y`` is ``x`` moved by a group element ``g = exp(sum_i t_i A_i)`` of
an affine algebra acting on the pixel coordinates, applied either

* with ``torch.nn.functional.grid_sample`` (bilinear, zero padding, ``align_corners=False``:
  the paper's protocol), so ``y(p) = x(g^{-1} p)`` up to interpolation, or
* exactly in the discrete space, ``y = exp(sum_i t_i L_i) x`` with ``L_i`` the pushforward of
  ``A_i`` (:func:`lconv.generators.pushforward`).

The ground truth is ``L_i`` in both cases; coordinates, centre and signs follow
:mod:`lconv.grid` and :func:`lconv.generators.pushforward`, so ``exp(t L_rot)`` and the
``grid_sample`` rotation by ``t`` turn the content the same way.

Vectors: ``x ~ N(0, I)`` in ``R^m`` and ``y = exp(sum_i t_i A_i) x`` for any given matrix
algebra ``A`` (``(k, m, m)``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor

from ..algebra import matrix_algebra, pushforward
from ..algebra._lie import exp
from ..grid import Grid


def _affine(name: str) -> Tensor:
    se2 = matrix_algebra("se2", dtype=torch.float64)  # tx, ty, rotation (3x3 homogeneous)
    scale = torch.diag(torch.tensor([1.0, 1.0, 0.0], dtype=torch.float64))[None]
    return {
        "rotation": se2[2:],
        "translation": se2[:2],
        "scaling": scale,
        "se2": se2,
        "sim2": torch.cat([se2, scale]),
    }[name]


#: Planted algebras for images, as affine 3x3 bases on (x, y, 1).
IMAGE_ALGEBRAS = ("rotation", "translation", "scaling", "se2", "sim2")


@dataclass
class Pairs:
    """Samples ``x``, their transforms ``y``, the parameters and the ground truth.

    Attributes:
        x, y: ``(N, d)``.
        t: ``(N, k)`` group coordinates of each pair (``y = exp(t . L) x``).
        truth: ``(k, d, d)`` ground-truth generators, or None.
        grid: the image grid, or None for vectors.
        description: one line saying what was planted and how.
    """

    x: Tensor
    y: Tensor
    t: Tensor
    truth: Tensor | None
    grid: Grid | None = None
    description: str = ""
    config: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.x)


def uniform_images(n: int, grid: Grid, *, generator: torch.Generator | None = None) -> Tensor:
    """``n`` images with i.i.d. uniform pixels in ``[0, 1)`` (SI C), ``(n, d)`` float32."""
    return torch.rand(n, grid.size, generator=generator)


def band_limited_images(
    n: int, grid: Grid, *, cutoff: float = 0.35, generator: torch.Generator | None = None
) -> Tensor:
    """``n`` smooth random images, ``(n, d)`` float32, unit variance on average.

    White noise is low-passed to spatial frequencies below ``cutoff`` (in cycles per
    pixel; Nyquist is 0.5) and multiplied by a smooth window that vanishes at the border,
    so that rotated and scaled copies stay inside the grid.
    """
    if not 0 < cutoff <= 0.5:
        raise ValueError(f"band_limited_images: cutoff must be in (0, 0.5] cycles per pixel, got {cutoff}")
    noise = torch.randn(n, *grid.shape, generator=generator, dtype=torch.float64)
    dims = tuple(range(1, grid.ndim + 1))
    spec = torch.fft.fftn(noise, dim=dims)
    freqs = torch.meshgrid(*[torch.fft.fftfreq(s, dtype=torch.float64) for s in grid.shape], indexing="ij")
    radius = torch.sqrt(sum(f**2 for f in freqs))
    smooth = torch.fft.ifftn(spec * (radius < cutoff), dim=dims).real
    r = grid.coordinates().norm(dim=-1) / (min(grid.shape) / 2)  # 1 at the inscribed circle
    window = torch.cos(0.5 * math.pi * r.clamp(max=1)) ** 2
    out = grid.flatten(smooth) * window
    out = out / out.pow(2).mean().sqrt().clamp_min(1e-12)
    return out.float()


def grid_sample_transform(x: Tensor, grid: Grid, g: Tensor) -> Tensor:
    """Move the content of 2-D images by affine maps with ``grid_sample``.

    ``y(p) = x(g^{-1} p)`` with bilinear interpolation and zero padding, ``p`` the
    centred pixel coordinates ``(x, y)`` of :meth:`Grid.coordinates`.

    Args:
        x: ``(N, d)`` images on ``grid``.
        grid: a 2-D grid.
        g: ``(N, 3, 3)`` affine group elements in homogeneous coordinates.
    """
    if grid.ndim != 2:
        raise ValueError(f"grid_sample_transform: needs a 2-D grid, got {grid!r}")
    h, w = grid.shape
    inv = torch.linalg.inv(g.double())
    scale = torch.tensor([2.0 / w, 2.0 / h], dtype=torch.float64)  # pixels -> normalised (align_corners=False)
    lin = scale[:, None] * inv[:, :2, :2] / scale[None, :]
    shift = scale * inv[:, :2, 2]
    theta = torch.cat([lin, shift[:, :, None]], dim=2).to(x.dtype)
    sampling = F.affine_grid(theta, [len(x), 1, h, w], align_corners=False)
    out = F.grid_sample(x.reshape(-1, 1, h, w), sampling, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out.reshape(len(x), grid.size)


def _parameters(n: int, k: int, t_range: tuple[float, float], param: str, generator) -> Tensor:
    lo, hi = t_range
    if not hi > lo:
        raise ValueError(f"parameter range must have low < high, got {t_range}")
    if param == "fixed":
        return torch.full((n, k), hi, dtype=torch.float64)
    if param == "random":
        return lo + (hi - lo) * torch.rand(n, k, generator=generator, dtype=torch.float64)
    raise ValueError(f"unknown parameter mode {param!r}; choose 'random' or 'fixed'")


def image_pairs(
    algebra: str = "rotation",
    *,
    n: int = 2000,
    size: int = 7,
    t_range: tuple[float, float] = (0.0, math.pi / 8),
    param: str = "random",
    images: str = "uniform",
    transform: str = "grid_sample",
    seed: int = 0,
) -> Pairs:
    """Pairs of random images and their copies moved by a planted affine algebra.

    Args:
        algebra: one of :data:`IMAGE_ALGEBRAS`.
        n: number of pairs.
        size: images are ``size x size``.
        t_range: each coordinate ``t_i`` is uniform in ``[low, high)``; with
            ``param="fixed"`` every pair uses ``high`` (e.g. one angle ``pi/10``).
        param: ``"random"`` or ``"fixed"``.
        images: ``"uniform"`` (SI C) or ``"band-limited"``.
        transform: ``"grid_sample"`` (the paper's protocol) or ``"exact"``
            (``y = exp(t . L) x``).
        seed: seeds the images and the parameters.

    Returns:
        :class:`Pairs` with ``truth`` the pushforward generators on the
        ``size x size`` periodic grid (SWI derivative).
    """
    if algebra not in IMAGE_ALGEBRAS:
        raise ValueError(f"image_pairs: unknown algebra {algebra!r}; choose one of {IMAGE_ALGEBRAS}")
    if not isinstance(size, int) or size < 3:
        raise ValueError(f"image_pairs: size must be an int >= 3, got {size!r}")
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"image_pairs: n must be a positive int, got {n!r}")
    gen = torch.Generator().manual_seed(seed)
    grid = Grid((size, size))
    basis = _affine(algebra)
    if images == "uniform":
        x = uniform_images(n, grid, generator=gen)
    elif images == "band-limited":
        x = band_limited_images(n, grid, generator=gen)
    else:
        raise ValueError(f"image_pairs: unknown images {images!r}; choose 'uniform' or 'band-limited'")
    t = _parameters(n, len(basis), t_range, param, gen)
    truth = pushforward(grid, basis, dtype=torch.float64)
    if transform == "grid_sample":
        g = exp(torch.einsum("nk,kab->nab", t, basis))
        y = grid_sample_transform(x, grid, g)
    elif transform == "exact":
        m = exp(torch.einsum("nk,kab->nab", t, truth))
        y = torch.einsum("nab,nb->na", m, x.double()).float()
    else:
        raise ValueError(f"image_pairs: unknown transform {transform!r}; choose 'grid_sample' or 'exact'")
    desc = f"{n} {images} {size}x{size} images, {algebra} by {transform}, t {param} in [{t_range[0]:.4g}, {t_range[1]:.4g})"
    config = dict(algebra=algebra, n=n, size=size, t_range=list(t_range), param=param, images=images,
                  transform=transform, seed=seed)  # fmt: skip
    return Pairs(x, y, t.float(), truth.float(), grid, desc, config)


def vector_pairs(
    algebra: Tensor | str,
    *,
    n: int = 2000,
    points: int = 4,
    t_range: tuple[float, float] = (-1.0, 1.0),
    param: str = "random",
    seed: int = 0,
) -> Pairs:
    """Gaussian vectors ``x ~ N(0, I_m)`` and ``y = exp(sum_i t_i A_i) x``.

    Each pair holds ``points`` vectors moved by the same group element (``x, y`` of shape
    ``(n, points, m)``): one vector alone cannot reveal a rotation about itself.

    Args:
        algebra: ``(k, m, m)`` basis, or a name of :func:`lconv.generators.matrix_algebra`.
        points: vectors per pair.
    """
    a = matrix_algebra(algebra, dtype=torch.float64) if isinstance(algebra, str) else torch.as_tensor(algebra).double()
    if a.dim() == 2:
        a = a[None]
    if a.dim() != 3 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"vector_pairs: algebra must be (k, m, m), got {tuple(a.shape)}")
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, points, a.shape[-1], generator=gen, dtype=torch.float64)
    t = _parameters(n, len(a), t_range, param, gen)
    y = torch.einsum("nab,ncb->nca", exp(torch.einsum("nk,kab->nab", t, a)), x)
    name = algebra if isinstance(algebra, str) else f"{len(a)} given generators"
    desc = f"{n} Gaussian vectors in R^{a.shape[-1]}, {name}, t {param} in [{t_range[0]:.4g}, {t_range[1]:.4g})"
    return Pairs(x.float(), y.float(), t.float(), a.float(), None, desc, dict(algebra=name, n=n, seed=seed))
