"""fit_pairs on small vectors: transformations of any size, the number of generators, arrays, threads."""

import math

import numpy as np
import pytest
import torch

from lconv import analysis
from lconv.algebra import exp, log, matrix_algebra
from lconv.data import vector_pairs
from lconv.discovery import PairsOptions, count_symmetries, fit_pairs
from lconv.discovery._starts import count_drop

SO3 = matrix_algebra("so3", dtype=torch.float64)


def haar_rotations(n: int, seed: int = 0) -> torch.Tensor:
    """Haar-random elements of SO(3): QR of Gaussian matrices with the signs fixed, then det = +1."""
    gen = torch.Generator().manual_seed(seed)
    q, r = torch.linalg.qr(torch.randn(n, 3, 3, generator=gen, dtype=torch.float64))
    q = q * torch.sign(torch.diagonal(r, dim1=1, dim2=2))[:, None, :]
    q[torch.linalg.det(q) < 0, :, 0] *= -1
    return q


def test_log_inverts_exp_for_rotations_up_to_nearly_pi_and_flags_what_has_no_real_log():
    gen = torch.Generator().manual_seed(1)
    axis = torch.randn(50, 3, generator=gen, dtype=torch.float64)
    t = axis / axis.norm(dim=1, keepdim=True) * torch.linspace(0.1, 3.1, 50, dtype=torch.float64)[:, None]
    m = torch.einsum("nk,kij->nij", t, SO3)
    out, ok = log(exp(m))
    assert bool(ok.all())
    assert float((out - m).abs().max()) < 1e-10
    _, ok = log(-torch.eye(2, dtype=torch.float64)[None])  # -I in SL(2, R): no real logarithm
    assert not bool(ok.any())


@pytest.mark.parametrize("points", [1, 5])
def test_haar_random_rotations_give_so3_with_the_count_found(points):
    rot = haar_rotations(300)
    x = torch.randn(300, points, 3, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    y = torch.einsum("nij,ncj->nci", rot, x)
    if points == 1:
        x, y = x[:, 0], y[:, 0]
    r = fit_pairs(x.float(), y.float(), n_generators="auto")
    assert len(r.generators) == 3
    assert analysis.grassmann_distance(r.generators, SO3) < 0.01
    assert r.config["start"] == ("invariants" if points == 1 else "group elements")
    assert r.spectrum is not None and len(r.residuals) == 3
    assert analysis.transform_error(r.generators, x, y) < 0.01  # every pair, also rotations near pi


def test_two_vectors_rotated_together_are_one_so3_in_r6():
    rot = haar_rotations(200, seed=3)
    x = torch.randn(200, 2, 3, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    y = torch.einsum("nij,ncj->nci", rot, x)
    r = fit_pairs(x.reshape(200, 6), y.reshape(200, 6), n_generators="auto")
    truth = torch.stack([torch.block_diag(a, a) for a in SO3])
    assert len(r.generators) == 3
    assert analysis.grassmann_distance(r.generators, truth) < 0.01


def test_noise_keeps_the_count_and_the_span():
    rot = haar_rotations(300, seed=5)
    gen = torch.Generator().manual_seed(6)
    x = torch.randn(300, 5, 3, generator=gen, dtype=torch.float64)
    y = torch.einsum("nij,ncj->nci", rot, x) + 0.01 * torch.randn(300, 5, 3, generator=gen, dtype=torch.float64)
    r = fit_pairs(x, y, n_generators="auto")
    assert len(r.generators) == 3
    assert analysis.grassmann_distance(r.generators, SO3) < 0.01


def test_exact_pairs_stop_at_their_start():
    p = vector_pairs("sl2", n=300, t_range=(0.0, math.pi / 8))
    r = fit_pairs(p.x, p.y, n_generators=3)
    assert analysis.grassmann_distance(r.generators, p.truth) < 1e-4
    assert len(r.history["loss"]) <= 1  # no rounds spent once the start is exact


def test_arrays_threads_and_the_result_as_augmentation():
    p = vector_pairs("so3", n=200, t_range=(0.0, 0.5))
    seen = []
    before = torch.get_num_threads()
    torch.set_num_threads(2)  # the suite runs on one thread (conftest.py): a count fit_pairs has to change and restore
    try:
        r = fit_pairs(
            p.x.numpy(), p.y.numpy(), n_generators=3, space="antisymmetric", progress=lambda *a: seen.append(1)
        )
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    assert r.config["threads"] == 1  # a small problem runs on one thread
    assert r.generators.dtype == torch.float32
    x = torch.randn(64, 4, 3)
    moved = r.sample(x, 1.0, generator=torch.Generator().manual_seed(0))
    assert moved.shape == x.shape
    assert torch.allclose(moved.norm(dim=-1), x.norm(dim=-1), atol=1e-4)  # rotations keep lengths
    assert float((moved - x).abs().max()) > 0.1
    with pytest.raises(ValueError, match=r"\(B, 3\)"):
        r.sample(torch.randn(5, 4), 1.0)


def test_space_names_are_those_of_the_command_line():
    x = torch.randn(20, 16)
    with pytest.raises(ValueError, match="vector-field:HxW"):
        fit_pairs(x, x, space="vector-field")
    with pytest.raises(ValueError, match="choose one of"):
        fit_pairs(x, x, space="vectorfield")
    with pytest.raises(ValueError, match="has 16 pixels, d = 9"):
        fit_pairs(torch.randn(20, 9), torch.randn(20, 9), space="vector-field:4x4")
    with pytest.raises(TypeError, match="numbers"):
        fit_pairs(np.array([["a"] * 3] * 4), np.zeros((4, 3)))


def test_a_space_that_cannot_hold_the_change_warns_instead_of_pretending():
    x = torch.randn(100, 3, generator=torch.Generator().manual_seed(0))
    with pytest.warns(RuntimeWarning, match="explain"):  # rotations cannot scale
        fit_pairs(x, 3 * x, space="antisymmetric", options=PairsOptions(epochs=3))


def test_count_rules():
    spectrum = torch.tensor([3e-8, 9e-4, 9e-4, 1.0, 1.1])  # one exact symmetry beside two within noise
    assert count_symmetries(spectrum, floor=1e-3) == 3
    assert count_symmetries(spectrum) == 1  # without the floor the exact one stands alone
    assert count_symmetries(torch.tensor([0.5, 0.6, 0.9])) == 0
    assert count_drop(torch.tensor([0.6, 0.3, 1e-9, 9e-10])) == 3
    assert count_drop(torch.tensor([0.9, 0.85, 0.8])) == 0


def test_samples_on_a_subspace_report_the_generators_that_vanish_there_apart():
    gen = torch.Generator().manual_seed(7)
    x = torch.zeros(200, 3, dtype=torch.float64)
    x[:, :2] = torch.randn(200, 2, generator=gen, dtype=torch.float64)  # the plane x3 = 0
    angle = 2 * torch.rand(200, generator=gen, dtype=torch.float64)
    y = x.clone()
    y[:, 0] = angle.cos() * x[:, 0] - angle.sin() * x[:, 1]
    y[:, 1] = angle.sin() * x[:, 0] + angle.cos() * x[:, 1]
    r = fit_pairs(x, y)
    assert r.n_trivial == 3 and r.trivial.shape == (3, 3, 3)  # L P = 0: any last column
    proj = torch.diag(torch.tensor([1.0, 1.0, 0.0], dtype=torch.float64))
    assert float((r.trivial @ proj).abs().max()) < 1e-12
    assert analysis.cosine(r.generators[0] @ proj, SO3[2]) > 0.9999  # the turn of the plane, on the plane


def test_auto_on_images_counts_with_the_first_order_rule():
    from lconv.data import image_pairs

    p = image_pairs("translation", n=150, size=6, images="band-limited", transform="exact", t_range=(-0.5, 0.5))
    r = fit_pairs(
        p.x, p.y, n_generators="auto", space="vector-field:6x6", options=PairsOptions(epochs=2)
    )  # d = 36: above SMALL_D, first-order start only
    assert len(r.generators) == 2 and r.config["start"] == "first order"
    assert analysis.grassmann_distance(r.generators, p.truth) < 0.1
