import math

import pytest
import torch

from lconv import Grid
from lconv import generators as G
from lconv.data import band_limited_images, grid_sample_transform, image_pairs, vector_pairs


def test_image_pairs_shapes_and_truth():
    p = image_pairs("se2", n=12, size=6, t_range=(-0.2, 0.3), seed=1)
    assert p.x.shape == p.y.shape == (12, 36)
    assert p.t.shape == (12, 3) and bool(((p.t >= -0.2) & (p.t < 0.3)).all())
    assert torch.allclose(p.truth, G.family("se2", Grid((6, 6))), atol=1e-6)
    again = image_pairs("se2", n=12, size=6, t_range=(-0.2, 0.3), seed=1)
    assert torch.equal(p.y, again.y)  # same seed, same data
    fixed = image_pairs("rotation", n=5, size=5, t_range=(0.0, math.pi / 10), param="fixed")
    assert torch.allclose(fixed.t, torch.full((5, 1), math.pi / 10))


@pytest.mark.parametrize(
    "algebra, t_range", [("rotation", (0.1, 0.3)), ("translation", (1.0, 2.0)), ("scaling", (0.1, 0.3))]
)
def test_grid_sample_and_exact_transforms_agree_on_smooth_images(algebra, t_range):
    # Both protocols move the content the same way (sign and centre conventions agree);
    # they differ only by interpolation error on smooth images.
    kw = dict(n=8, size=24, images="band-limited", t_range=t_range, seed=2)
    gs = image_pairs(algebra, transform="grid_sample", **kw)
    ex = image_pairs(algebra, transform="exact", **kw)
    assert torch.equal(gs.x, ex.x)
    err = float((gs.y - ex.y).norm() / (ex.y - ex.x).norm())
    assert err < 0.35, err  # opposite signs would give an error near 2


def test_grid_sample_quarter_turn_is_the_exact_permutation():
    grid = Grid((6, 6))
    x = torch.rand(3, 36)
    g = G.exp(torch.tensor([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]), math.pi / 2).expand(3, 3, 3)
    assert torch.allclose(grid_sample_transform(x, grid, g), grid.rot90(x), atol=1e-5)


def test_band_limited_images_are_smooth_and_vanish_at_the_border():
    grid = Grid((16, 16))
    x = band_limited_images(50, grid, cutoff=0.2, generator=torch.Generator().manual_seed(0))
    spec = torch.fft.fft2(grid.unflatten(x.double())).abs().pow(2).mean(0)
    f = torch.fft.fftfreq(16)
    high = (f.abs()[:, None] > 0.35) | (f.abs()[None, :] > 0.35)
    assert spec[high].sum() < 1e-2 * spec.sum()  # the window leaks a little, nothing more
    border = grid.coordinates().abs().max(-1).values > 7
    assert x[:, border].abs().max() < 1e-2 * x.abs().max()
    with pytest.raises(ValueError, match="cutoff"):
        band_limited_images(2, grid, cutoff=0.7)


def test_vector_pairs_are_exact_group_actions():
    p = vector_pairs("so3", n=20, points=3, t_range=(-1, 1))
    assert p.x.shape == (20, 3, 3)
    m = G.exp(torch.einsum("nk,kab->nab", p.t.double(), p.truth.double()))
    assert torch.allclose(torch.einsum("nab,ncb->nca", m, p.x.double()).float(), p.y, atol=1e-5)
    assert torch.allclose(p.x.norm(dim=-1), p.y.norm(dim=-1), atol=1e-4)  # rotations keep lengths


def test_bad_options_name_the_choices():
    with pytest.raises(ValueError, match="unknown algebra 'spin'"):
        image_pairs("spin")
    with pytest.raises(ValueError, match="size must be an int >= 3"):
        image_pairs("rotation", size=2)
    with pytest.raises(ValueError, match="unknown transform"):
        image_pairs("rotation", transform="nearest")
    with pytest.raises(ValueError, match="low < high"):
        image_pairs("rotation", t_range=(1.0, 0.5))
    with pytest.raises(ValueError, match="choose 'random' or 'fixed'"):
        image_pairs("rotation", param="sometimes")
