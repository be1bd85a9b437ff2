import math

import pytest
import torch

from lconv import Grid
from lconv import generators as G
from lconv.analysis import (
    align,
    cosine,
    data_projector,
    grassmann_distance,
    plot_generators,
    plot_history,
    plot_vector_fields,
    principal_angles,
    restrict,
    transform_error,
    vector_field,
)
from lconv.data import image_pairs


def test_cosine_ignores_sign_and_scale():
    a, b = torch.randn(2, 5, 5, generator=torch.Generator().manual_seed(0))
    assert cosine(a, -3 * a) == pytest.approx(1.0)
    assert cosine(a, b) == pytest.approx(cosine(-a, 2 * b))
    assert cosine(a, b) < 0.9
    with pytest.raises(ValueError, match="different sizes"):
        cosine(a, torch.zeros(4, 4))
    with pytest.raises(ValueError, match="NaN"):
        cosine(a, torch.full((5, 5), math.nan))


def test_principal_angles_and_grassmann_distance():
    basis = torch.randn(3, 4, 4, generator=torch.Generator().manual_seed(1))
    mixed = torch.einsum("ij,jab->iab", torch.tensor([[1.0, 2, 0], [0, 1, -1], [3, 0, 1]]), basis)
    assert grassmann_distance(basis, mixed) < 1e-6  # same span, other basis
    e = torch.eye(16).reshape(16, 4, 4)
    assert torch.allclose(principal_angles(e[:2], e[2:4]), torch.full((2,), math.pi / 2, dtype=torch.float64))
    assert grassmann_distance(e[:2], e[2:4]) == pytest.approx(math.pi / 2 * math.sqrt(2))
    assert grassmann_distance(e[:1], e[:3]) < 1e-9  # one span inside the other


def test_align_recovers_each_true_generator_from_a_mixed_basis():
    truth = G.family("se2", Grid((5, 5)))
    mix = torch.tensor([[0.5, 1.0, 0.0], [1.0, -1.0, 2.0], [0.0, 0.3, 1.0]])
    aligned, cos = align(torch.einsum("ij,jab->iab", mix, truth), truth)
    assert aligned.shape == truth.shape
    assert torch.allclose(cos, torch.ones(3, dtype=cos.dtype), atol=1e-5)


def test_transform_error_is_zero_for_the_truth_on_exact_pairs():
    p = image_pairs("rotation", n=20, size=6, images="band-limited", transform="exact", t_range=(0.1, 0.4))
    assert transform_error(p.truth, p.x, p.y, p.t) < 1e-4
    assert transform_error(p.truth, p.x, p.y) < 1e-3  # t fitted per pair
    assert transform_error(torch.zeros_like(p.truth), p.x, p.y, p.t) == pytest.approx(1.0)


def test_vector_field_of_rotation_turns_about_the_centre():
    grid = Grid((9, 9))
    v = vector_field(G.rotation(grid, dtype=torch.float64)[0], grid)
    xy = grid.coordinates()
    inner = xy.abs().max(-1).values <= 2
    radial = (v[inner] * xy[inner]).sum(-1)
    tangential = (v[inner] * torch.stack([-xy[inner, 1], xy[inner, 0]], -1)).sum(-1)
    assert radial.abs().max() < 0.05 * tangential.abs().max()
    assert bool((tangential[xy[inner].norm(dim=-1) > 0] > 0).all())  # turns from +x towards +y


def test_figures_are_written_as_png(tmp_path):
    grid = Grid((5, 5))
    gens = G.family("se2", grid)
    for path in (
        plot_generators(gens, tmp_path / "g.png", truth=gens),
        plot_vector_fields(gens, grid, tmp_path / "f.png", truth=gens),
        plot_history({"loss": [1.0, 0.5, 0.25]}, tmp_path / "sub" / "l.png"),
    ):
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 2000
    assert not list(tmp_path.glob("**/*.tmp"))


def test_data_projector_and_restrict():
    basis = torch.randn(3, 8, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    x = torch.randn(50, 3, dtype=torch.float64) @ basis  # data on a 3-D subspace of R^8
    P = data_projector(x)
    assert round(float(P.trace())) == 3
    assert torch.allclose(P @ P, P, atol=1e-10) and torch.allclose(P @ x.T, x.T, atol=1e-10)
    L = torch.randn(2, 8, 8, dtype=torch.float64)
    assert torch.allclose(restrict(L, P) @ x.T, L @ x.T, atol=1e-9)  # same action on the data
