import math

import pytest
import torch

from lconv.analysis import align, cosine, grassmann_distance
from lconv.data import image_pairs, vector_pairs
from lconv.discovery import PairsOptions, fit_coefficients, fit_pairs


def test_lstsq_with_a_fixed_known_angle_is_the_paper_baseline():
    # SI C.2: with one known angle, first-order least squares is (R - I)/t, R = Y X^+.
    p = image_pairs("rotation", n=200, size=5, t_range=(0.0, math.pi / 10), param="fixed")
    r = fit_pairs(p.x, p.y, n_generators=1, t=p.t, method="lstsq")
    R = torch.linalg.lstsq(p.x.double(), p.y.double()).solution.T
    expected = (R - torch.eye(25, dtype=torch.float64)) / (math.pi / 10)
    assert torch.allclose(r.generators[0].double(), expected, atol=1e-4)


def test_exp_beats_first_order_on_the_default_task():
    p = image_pairs("rotation", n=400, size=5, t_range=(0.0, math.pi / 8), seed=0)
    first = fit_pairs(p.x, p.y, n_generators=1, method="lstsq", space="antisymmetric")
    ours = fit_pairs(p.x, p.y, n_generators=1, method="exp", space="antisymmetric", options=PairsOptions(epochs=8))
    assert ours.generators.shape == (1, 25, 25)
    assert torch.allclose(ours.generators[0], -ours.generators[0].T)  # antisymmetric search space
    assert ours.generators[0].norm() == pytest.approx(1.0, rel=1e-4)  # unknown t: unit norm
    assert cosine(ours.generators[0], p.truth[0]) > cosine(first.generators[0], p.truth[0]) + 0.1
    assert ours.history["loss"][-1] < ours.history["start_loss"][0]
    corr = torch.corrcoef(torch.stack([ours.t[:, 0], p.t[:, 0]]))[0, 1].abs()
    assert corr > 0.95  # the hidden angles are recovered up to scale


def test_exact_so3_pairs_with_unknown_coefficients():
    p = vector_pairs("so3", n=200, points=3, t_range=(-0.5, 0.5))
    r = fit_pairs(p.x, p.y, n_generators=3, method="exp", options=PairsOptions(epochs=10))
    _, cos = align(r.generators, p.truth)
    assert bool((cos > 0.999).all())
    assert grassmann_distance(r.generators, p.truth) < 0.05
    gram = r.generators.flatten(1) @ r.generators.flatten(1).T
    assert torch.allclose(gram, torch.eye(3), atol=0.05)  # an orthonormal basis


def test_known_t_recovers_scale_and_fit_coefficients_inverts_it():
    p = vector_pairs("so3", n=100, points=2, t_range=(-0.5, 0.5))
    r = fit_pairs(p.x, p.y, n_generators=3, t=p.t, method="exp", options=PairsOptions(epochs=5))
    assert torch.allclose(r.generators, p.truth, atol=1e-3)  # known t: the generators themselves
    t = fit_coefficients(p.truth, p.x, p.y)
    assert torch.allclose(t, p.t, atol=1e-3)


def test_lconv_method_trains_a_layer_like_the_paper():
    p = image_pairs("rotation", n=256, size=5, t_range=(0.0, math.pi / 10), param="fixed")
    r = fit_pairs(p.x, p.y, n_generators=1, t=p.t, method="lconv", options=PairsOptions(epochs=15, lr=3e-2))
    assert r.history["loss"][-1] < 0.2 * r.history["loss"][0]


def test_basis_restricts_the_search_space():
    p = vector_pairs("so3", n=100, points=2, t_range=(-0.5, 0.5))
    basis = p.truth[2:]  # only rotations about z allowed
    r = fit_pairs(p.x, p.y, n_generators=1, method="lstsq", space=basis)
    assert cosine(r.generators[0], basis[0]) > 0.999


def test_bad_input_is_named():
    x = torch.randn(10, 4)
    with pytest.raises(ValueError, match="same shape"):
        fit_pairs(x, torch.randn(10, 5))
    with pytest.raises(ValueError, match="NaN or inf"):
        fit_pairs(x, x.clone().fill_(math.inf))
    with pytest.raises(ValueError, match=r"n_generators=17 but the search space has dimension 16"):
        fit_pairs(x, x, n_generators=17)
    with pytest.raises(ValueError, match=r"dimension 6"):
        fit_pairs(x, x, n_generators=7, space="antisymmetric")
    with pytest.raises(ValueError, match="unknown method 'magic'"):
        fit_pairs(x, x, method="magic")
    with pytest.raises(ValueError, match=r"t must be \(N,\) or \(N, n_generators\)"):
        fit_pairs(x, x, n_generators=2, t=torch.zeros(10))
    with pytest.raises(TypeError, match="floating point"):
        fit_pairs(x.long(), x.long())
    with pytest.raises(ValueError, match=r"\(N, d\) or \(N, C, d\)"):
        fit_pairs(torch.randn(4), torch.randn(4))


def test_recursive_model_of_si_c3_regresses_the_angle():
    from lconv.discovery import RecursiveAngleModel, RecursiveOptions, fit_recursive

    p = image_pairs("rotation", n=600, size=5, t_range=(0.0, math.pi / 8))
    r = fit_recursive(p.x, p.y, t=p.t[:, 0], options=RecursiveOptions(epochs=6, batch_size=16, lr=3e-3))
    assert r.generators.shape == (1, 25, 25)
    assert r.history["loss"][-1] < 0.4 * float(p.t.var())  # far better than predicting the mean angle
    model = RecursiveAngleModel(25, channels=3, steps=2)
    assert model(p.x[:4], p.y[:4]).shape == (4,)
    with pytest.raises(ValueError, match=r"must both be \(N, d\)"):
        fit_recursive(p.x[:, None], p.y[:, None], t=p.t)


def test_sign_free_start_on_band_limited_data_with_hidden_symmetric_t():
    # t in (-0.1, 0.1): signs unknown, so averaging y - x says nothing; variable projection
    # of the first-order model finds the generator on the data's span anyway.
    from lconv.analysis import data_projector, restrict

    p = image_pairs("rotation", n=400, size=10, images="band-limited", transform="exact", t_range=(-0.1, 0.1))
    P = data_projector(p.x)
    r = fit_pairs(p.x, p.y, n_generators=1, method="lstsq")
    assert cosine(restrict(r.generators, P)[0], restrict(p.truth, P)[0]) > 0.75


@pytest.mark.parametrize("algebra", ["sl2", "so13"])
def test_non_compact_algebras_and_their_structure_constants(algebra):
    from lconv.algebra import structure_constants

    p = vector_pairs(algebra, n=300, points=4, t_range=(-0.5, 0.5))
    r = fit_pairs(p.x, p.y, n_generators=len(p.truth), method="exp", options=PairsOptions(epochs=8))
    assert grassmann_distance(r.generators, p.truth) < 0.05
    aligned, _ = align(r.generators, p.truth)
    c_true = structure_constants(p.truth.double()).constants
    c_found = structure_constants(aligned.double()).constants
    assert float((c_found - c_true).norm() / c_true.norm()) < 0.02


@pytest.mark.parametrize("shape", [(6, 6), (5, 7), (4, 4, 4)])
def test_vector_field_space_holds_every_pushforward_and_only_flows(shape):
    from lconv.algebra import pushforward, rotation, scaling, translation, vector_field_space
    from lconv.grid import Grid

    grid = Grid(shape)
    space = vector_field_space(grid, dtype=torch.float64)
    assert space.dim == len(shape) * grid.size == len(space)
    shear = torch.zeros(len(shape), len(shape), dtype=torch.float64)
    shear[0, 1] = 1.0
    members = [translation(grid, dtype=torch.float64), scaling(grid, dtype=torch.float64),
               pushforward(grid, shear[None])]  # fmt: skip
    if len(shape) in (2, 3):
        members.append(rotation(grid, dtype=torch.float64))
    for L in members:
        back = space.generators(space.project(L))
        assert torch.allclose(back, L, atol=1e-10)
    # the rotation generator is the flow v = (y, -x): the content turns about the centre
    if len(shape) == 2:
        v = space.fields(rotation(grid, dtype=torch.float64))[0]
        xy = grid.coordinates(dtype=torch.float64)
        assert torch.allclose(v[0].flatten(), xy[:, 1]) and torch.allclose(v[1].flatten(), -xy[:, 0])
    # a generic matrix is not a flow; its projection is the closest flow (orthogonal residual)
    torch.manual_seed(0)
    M = torch.randn(1, grid.size, grid.size, dtype=torch.float64)
    P = space.generators(space.project(M))
    assert (M - P).norm() > 0.5 * M.norm()
    assert abs(float(((M - P) * P).sum())) < 1e-8 * float(M.norm() ** 2)
    # the dense basis spans the same space
    basis = space.basis()
    assert basis.shape == (space.dim, grid.size, grid.size)
    coef = torch.linalg.lstsq(basis.flatten(1).T, P.flatten()).solution
    assert torch.allclose(basis.flatten(1).T @ coef, P.flatten(), atol=1e-8)


def test_vector_fields_find_the_rotation_from_hidden_angles():
    from lconv.algebra import vector_field_space

    p = image_pairs("rotation", n=300, size=5, t_range=(0.0, math.pi / 8), seed=0)
    anti = fit_pairs(p.x, p.y, n_generators=1, space="antisymmetric", options=PairsOptions(epochs=8))
    ours = fit_pairs(p.x, p.y, n_generators=1, space=vector_field_space(p.grid), options=PairsOptions(epochs=8))
    assert ours.config["space"] == "vector-field:5x5" and ours.config["space_dim"] == 2 * 25
    assert cosine(ours.generators[0], p.truth[0]) > 0.95
    assert cosine(ours.generators[0], p.truth[0]) > cosine(anti.generators[0], p.truth[0])
    with pytest.raises(ValueError, match="holds 36 x 36 generators, the data d = 25"):
        fit_pairs(p.x, p.y, n_generators=1, space=vector_field_space(image_pairs("rotation", n=2, size=6).grid))


def test_smoothing_continues_flows_where_the_data_are_flat():
    """Images whose gradients vanish on two columns: v there is undetermined; smoothing restores the affine flow."""
    from lconv.algebra import rotation, vector_field_space
    from lconv.grid import Grid

    grid = Grid((8, 8))
    space = vector_field_space(grid, dtype=torch.float64)
    truth = rotation(grid, dtype=torch.float64)
    assert torch.allclose(space.smooth(truth, torch.randn(20, 64, dtype=torch.float64)), truth, atol=1e-8)
    torch.manual_seed(0)
    unseen = torch.zeros(8, 8, dtype=torch.bool)
    unseen[:, :2] = True  # the first two columns
    rows = space.derivatives[:, unseen.flatten()].reshape(-1, 64)  # the gradients there
    x = torch.randn(200, 64, dtype=torch.float64)
    x = x - x @ torch.linalg.pinv(rows) @ rows  # images with no gradient on those pixels
    v = space.project(truth).reshape(2, 8, 8)
    spoiled = v.clone()
    spoiled[:, unseen] = torch.randn(2, 16, dtype=torch.float64)
    L = space.generators(spoiled.reshape(1, -1))
    assert cosine(L[0], truth[0]) < 0.9
    # the pairs cannot tell L from the truth
    assert (torch.einsum("ij,nj->ni", L[0] - truth[0], x)).abs().max() < 1e-10
    smoothed = space.smooth(L, x)
    assert cosine(smoothed[0], truth[0]) > 0.999
    assert vector_field_space(grid, smoothness=0).smooth(L, x) is L
    with pytest.raises(ValueError, match="smoothness must be a number >= 0"):
        vector_field_space(grid, smoothness=-1.0)


def test_smoothing_makes_two_translations_from_band_limited_images_exact():
    from lconv.algebra import vector_field_space

    p = image_pairs("translation", n=120, size=6, images="band-limited", transform="exact", seed=0)
    raw = fit_pairs(
        p.x, p.y, n_generators=2, space=vector_field_space(p.grid, smoothness=0), options=PairsOptions(epochs=4)
    )
    smooth = fit_pairs(p.x, p.y, n_generators=2, space=vector_field_space(p.grid), options=PairsOptions(epochs=4))
    assert smooth.config["smoothness"] == 0.1 and raw.config["smoothness"] == 0.0
    assert grassmann_distance(raw.generators, p.truth) > 0.2  # the images' flat corners leave v free
    assert grassmann_distance(smooth.generators, p.truth) < 0.05
    assert bool((align(smooth.generators, p.truth)[1] > 0.999).all())
