import math

import pytest
import scipy.linalg
import torch
from helpers import band_limited, bump

from lconv import Grid
from lconv import generators as G


def cosine(a, b):
    return float((a * b).sum() / (a.norm() * b.norm()))


# ----------------------------------------------------------------------------- SWI derivative
@pytest.mark.parametrize("n", [7, 8, 20, 21])
def test_swi_derivative_is_exact_on_trigonometric_polynomials(n):
    r = torch.arange(n, dtype=torch.float64)
    D = G.swi_derivative(n, dtype=torch.float64)
    for p in range(1, (n + 1) // 2):
        if 2 * p == n:
            continue
        w = 2 * math.pi * p / n
        assert torch.allclose(D @ torch.sin(w * r), w * torch.cos(w * r), atol=1e-10)
    assert torch.allclose(D, -D.T)  # antisymmetric
    assert torch.allclose(D @ torch.ones(n, dtype=torch.float64), torch.zeros(n, dtype=torch.float64), atol=1e-12)


def test_swi_derivative_drops_the_nyquist_mode_for_even_n():
    n = 10
    nyquist = torch.cos(math.pi * torch.arange(n, dtype=torch.float64))
    assert G.swi_derivative(n, dtype=torch.float64).matmul(nyquist).abs().max() < 1e-12


def test_paper_matrix_is_minus_d_dx():
    # The paper's formula, written out: sum_p (2 pi p / N^2) sin(2 pi p (r - v) / N).
    n = 9
    u = torch.arange(n, dtype=torch.float64)
    u = u[:, None] - u[None, :]
    paper = sum(2 * (2 * math.pi * p / n**2) * torch.sin(2 * math.pi * p * u / n) for p in range(1, 5))
    assert torch.allclose(G.translation(Grid(n), dtype=torch.float64)[0], paper)


@pytest.mark.parametrize("n", [8, 9])
def test_exp_of_translation_is_the_integer_shift(n):
    grid = Grid(n)
    T = G.translation(grid, dtype=torch.float64)[0]
    f = band_limited(n, 4, (n - 1) // 2 - (n % 2 == 0), generator=torch.Generator().manual_seed(0))
    for z in (1, 2, -3):
        assert torch.allclose(f @ G.exp(T, z).T, grid.shift(f, z), atol=1e-10)
    # for even n, exp(2T) is the shift matrix itself, Nyquist mode included
    shift2 = grid.action_matrix(lambda g: grid.shift(g, 2))
    assert torch.allclose(G.exp(T, 2.0), shift2, atol=1e-12)


def test_fig6_cosines_of_the_k_step_approximation(dtype):
    # Fig. 6: (I + (2/k) T)^k against the exact shift by 2 pixels at d = 20.
    grid = Grid(20)
    T = G.translation(grid, dtype=dtype)[0]
    shift = grid.action_matrix(lambda g: grid.shift(g, 2), dtype=dtype)
    c8 = cosine(G.exp_approx(T, 2.0, k=8), shift)
    c16 = cosine(G.exp_approx(T, 2.0, k=16), shift)
    assert abs(c8 - 0.77) < 0.005  # paper: 0.77
    assert 0.93 <= c16 <= 0.945  # paper: 0.93; 0.940 with the Nyquist mode dropped
    assert cosine(G.exp(T, 2.0), shift) > 1 - (1e-6 if dtype == torch.float32 else 1e-12)
    assert c8 < c16 < cosine(G.exp_approx(T, 2.0, k=64), shift)


def test_exp_agrees_with_scipy(dtype):
    gen = torch.Generator().manual_seed(1)
    L = torch.randn(3, 6, 6, generator=gen, dtype=dtype) / 3
    t = torch.tensor([0.5, -1.0, 2.0], dtype=dtype)
    ours = G.exp(L, t)
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    for i in range(3):
        ref = scipy.linalg.expm((t[i] * L[i]).double().numpy())
        assert torch.allclose(ours[i].double(), torch.from_numpy(ref), rtol=tol, atol=tol)
    assert ours.dtype == dtype


def test_exp_approx_converges_to_exp():
    L = torch.randn(5, 5, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    errs = [float((G.exp_approx(L, 0.7, k) - G.exp(L, 0.7)).norm()) for k in (4, 16, 64)]
    assert errs[0] > errs[1] > errs[2]
    assert errs[2] < errs[1] / 3  # first-order convergence in 1/k


# ----------------------------------------------------------------------------- families
def test_rotation_exp_matches_the_analytic_rotation():
    grid = Grid((32, 32))
    R = G.rotation(grid, dtype=torch.float64)[0]
    c = (3.0, -2.0)
    f = bump(grid, c)
    theta = 0.4
    xy = grid.coordinates()
    rot = torch.tensor(
        [[math.cos(-theta), -math.sin(-theta)], [math.sin(-theta), math.cos(-theta)]], dtype=torch.float64
    )
    p = xy @ rot.T  # R(-theta) p
    expected = torch.exp(-((p - torch.tensor(c, dtype=torch.float64)) ** 2).sum(-1) / (2 * 3.2**2))
    err = float((G.exp(R, theta) @ f - expected).norm() / expected.norm())
    assert err < 1e-3  # band-limited content well inside the grid: interpolation error only
    quarter = G.exp(R, math.pi / 2) @ f
    assert float((quarter - grid.rot90(f)).norm() / f.norm()) < 1e-3


def test_scaling_exp_magnifies_about_the_centre():
    grid = Grid((32, 32))
    S = G.scaling(grid, dtype=torch.float64)[0]
    s = 0.2
    f = bump(grid, (1.0, -1.0), sigma=2.5)
    xy = grid.coordinates()
    expected = torch.exp(
        -((math.exp(-s) * xy - torch.tensor([1.0, -1.0], dtype=torch.float64)) ** 2).sum(-1) / (2 * 2.5**2)
    )
    assert float((G.exp(S, s) @ f - expected).norm() / expected.norm()) < 0.01


def test_rotation_commutators_with_derivatives(dtype):
    # L_rot = y d/dx - x d/dy (the paper's x d_y - y d_x with its SWI matrix):
    # [L_rot, d/dx] = d/dy and [L_rot, d/dy] = -d/dx, checked on a smooth bump.
    grid = Grid((32, 32))
    R = G.rotation(grid, dtype=dtype)[0]
    Dx, Dy = (G.derivative(grid, a, dtype=dtype) for a in (0, 1))
    f = bump(grid, (3.0, -2.0), sigma=2.5, dtype=dtype)  # narrow enough to vanish at the periodic edge
    rel = lambda a, b: float((a - b).norm() / b.norm())  # noqa: E731
    assert rel(G.bracket(R, Dx) @ f, Dy @ f) < 1e-4
    assert rel(G.bracket(R, Dy) @ f, -Dx @ f) < 1e-4
    S = G.scaling(grid, dtype=dtype)[0]
    g = bump(grid, (0.0, 0.0), sigma=2.5, dtype=dtype)
    assert rel(G.bracket(S, Dx) @ g, Dx @ g) < 1e-4  # [-(x d_x + y d_y), d_x] = d_x


@pytest.mark.parametrize(
    "name, grid, probe_centres, sigma, tol",
    [
        ("se2", Grid((32, 32)), [(-3, -2), (0, 1), (2, 2)], 2.5, 1e-4),
        # a 12^3 grid leaves little room between aliasing and the periodic edge: 3%
        ("so3", Grid((12, 12, 12)), [(0, 0, 0), (1, -1, 0.5), (-1, 0.5, 1)], 1.5, 0.03),
    ],
)
def test_pushforward_is_a_homomorphism_on_smooth_data(name, grid, probe_centres, sigma, tol):
    algebra = G.matrix_algebra(name, dtype=torch.float64)
    gens = G.pushforward(grid, algebra, dtype=torch.float64)
    probe = torch.stack([bump(grid, c, sigma=sigma) for c in probe_centres], 1)
    fitted = G.structure_constants(gens, probe)
    exact = G.structure_constants(algebra)
    assert exact.residual < 1e-12
    assert fitted.residual < tol
    assert torch.allclose(fitted.constants, exact.constants, atol=1e-3)


def test_rotation_3d_is_so3():
    gens = G.rotation(Grid((6, 6, 6)), dtype=torch.float64)
    assert gens.shape == (3, 216, 216)
    eps = G.structure_constants(G.matrix_algebra("so3", dtype=torch.float64)).constants
    expected = torch.zeros(3, 3, 3, dtype=torch.float64)
    for i, j, k in [(0, 1, 2), (1, 2, 0), (2, 0, 1)]:
        expected[i, j, k], expected[j, i, k] = 1, -1
    assert torch.allclose(eps, expected, atol=1e-12)  # [L_x, L_y] = L_z and cyclic


def test_structure_constants_of_named_algebras():
    sl2 = G.structure_constants(G.matrix_algebra("sl2", dtype=torch.float64)).constants
    assert torch.allclose(sl2[0, 1], torch.tensor([0, 2, 0.0], dtype=torch.float64))  # [h, e] = 2e
    assert torch.allclose(sl2[0, 2], torch.tensor([0, 0, -2.0], dtype=torch.float64))  # [h, f] = -2f
    assert torch.allclose(sl2[1, 2], torch.tensor([1, 0, 0.0], dtype=torch.float64))  # [e, f] = h
    so13 = G.structure_constants(G.matrix_algebra("so13", dtype=torch.float64))
    assert so13.residual < 1e-12
    assert torch.allclose(
        so13.constants[3, 4, :3], torch.tensor([0, 0, -1.0], dtype=torch.float64)
    )  # [K_x, K_y] = -J_z


def test_closure_residual_detects_a_non_algebra():
    # The raising operator e and its transpose f close only together with h = [e, f].
    e = torch.diag(torch.ones(1, dtype=torch.float64), 1)
    h = G.bracket(e, e.T)
    assert G.closure_residual(torch.stack([e, e.T])) > 0.5
    assert G.closure_residual(torch.stack([e, e.T, h])) < 1e-12
    random_pair = torch.randn(2, 6, 6, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    assert G.closure_residual(random_pair) > 0.5


def test_translation_generators_commute_and_are_exact_on_2d():
    grid = Grid((6, 8))
    T = G.translation(grid, dtype=torch.float64)
    assert T.shape == (2, 48, 48)
    assert G.bracket(T[0], T[1]).abs().max() < 1e-12
    shift = grid.action_matrix(lambda f: grid.shift(f, (2, -2)))
    assert torch.allclose(G.exp(2 * T[0] - 2 * T[1]), shift, atol=1e-10)


def test_central_difference_on_nonperiodic_grid():
    grid = Grid((5,), periodic=False)
    with pytest.raises(ValueError, match="method='central'"):
        G.translation(grid)
    D = G.derivative(grid, 0, method="central", dtype=torch.float64)
    line = torch.arange(5.0, dtype=torch.float64)
    assert torch.allclose(D @ line, torch.ones(5, dtype=torch.float64))


def test_family_registry_and_unknown_names():
    grid = Grid((5, 5))
    assert G.family("se2", grid).shape == (3, 25, 25)
    assert G.family("sim2", grid).shape == (4, 25, 25)
    with pytest.raises(ValueError, match="unknown generator family 'rotations'; choose one of"):
        G.family("rotations", grid)
    with pytest.raises(ValueError, match="unknown algebra"):
        G.matrix_algebra("so4")
    with pytest.raises(ValueError, match="derivative: unknown method"):
        G.derivative(grid, 0, method="fft")
    with pytest.raises(ValueError, match=r"pushforward: algebra must be \(m, 2, 2\)"):
        G.pushforward(grid, torch.zeros(4, 4))
    with pytest.raises(ValueError, match="rotation: needs a 2-D or 3-D grid"):
        G.rotation(Grid(5))


def test_errors_for_non_square_generators():
    with pytest.raises(ValueError, match="must be square"):
        G.exp(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="must be square"):
        G.structure_constants(torch.zeros(2, 3, 4))
    with pytest.raises(TypeError, match="torch.Tensor"):
        G.exp([[0.0]])


# ----------------------------------------------------------------------------- graphs
def test_incidence_generators_annihilate_constants():
    edges = Grid(6).edges(1)
    B = G.incidence(edges, 6, dtype=torch.float64)
    assert B.shape == (12, 6)
    assert torch.equal(B.sum(1), torch.zeros(12, dtype=torch.float64))
    w = torch.randn(2, edges.shape[1], dtype=torch.float64)
    L = G.from_incidence(edges, w, 6)
    assert torch.allclose(L @ torch.ones(6, dtype=torch.float64), torch.zeros(2, 6, dtype=torch.float64))
    # row mu only involves mu and its out-neighbours
    assert L[0, 0, 3] == 0 and L[0, 0, 1] != 0


def test_gcn_operator_matches_the_formula():
    A = torch.tensor([[0, 1, 1, 0], [1, 0, 0, 0], [1, 0, 0, 1], [0, 0, 1, 0]], dtype=torch.float64)
    op = G.gcn(A, dtype=torch.float64)[0]
    ahat = A + torch.eye(4, dtype=torch.float64)
    dinv = torch.diag(ahat.sum(1) ** -0.5)
    assert torch.allclose(op, dinv @ ahat @ dinv)
    assert G.edges_from_adjacency(A).shape == (2, 6)
    with pytest.raises(ValueError, match="zero degree"):
        G.gcn(torch.zeros(3, 3), self_loops=False)


def test_exp_apply_matches_the_matrix_exponential(dtype):
    gen = torch.Generator().manual_seed(5)
    L = torch.randn(2, 7, 7, generator=gen, dtype=dtype)
    t = 3 * torch.randn(4, 2, generator=gen, dtype=dtype)  # |t L| well above 1: several squarings
    v = torch.randn(4, 3, 7, generator=gen, dtype=dtype)
    ref = torch.einsum("bij,bcj->bci", G.exp(torch.einsum("bk,kij->bij", t, L)), v)
    tol = 1e-4 if dtype == torch.float32 else 1e-8  # Taylor order 8 per step: truncation < 1/9!
    assert float((G.exp_apply(L, t, v) - ref).norm() / ref.norm()) < tol
    assert torch.allclose(G.exp_apply(L, t, v[:, 0]), ref[:, 0], rtol=10 * tol, atol=10 * tol)
    with pytest.raises(FloatingPointError, match="not finite"):
        G.exp_apply(L, torch.full_like(t, math.nan), v)


def test_closure_loss_is_differentiable_and_zero_for_an_algebra():
    from lconv.algebra import closure_loss

    so3 = G.matrix_algebra("so3", dtype=torch.float64)
    assert float(closure_loss(so3)) < 1e-20
    pair = torch.randn(2, 4, 4, dtype=torch.float64, requires_grad=True)
    loss = closure_loss(pair)
    loss.backward()
    assert float(loss.detach()) > 0.1 and pair.grad is not None and torch.isfinite(pair.grad).all()


def test_exp_apply_one_generator_by_whole_steps_matches_matrix_exp():
    # one generator, many samples, large |t L|: the precomputed-step path (exp(hL) applied |m| times)
    from lconv.algebra._lie import _taylor_steps

    torch.manual_seed(0)
    grid = Grid((6, 6))
    L = G.rotation(grid, dtype=torch.float64)
    L = L / L.norm()
    t = (torch.rand(200, 1, dtype=torch.float64) - 0.4) * 40  # both signs, many whole steps
    x = torch.randn(200, 2, grid.size, dtype=torch.float64)
    out = G.exp_apply(L, t, x)
    ref = torch.einsum("bij,bcj->bci", torch.linalg.matrix_exp(t[:, 0, None, None] * L[0]), x)
    torch.testing.assert_close(out, ref, rtol=1e-8, atol=1e-8)
    # gradients in L and t agree with the plain scaling-and-Taylor path
    Lp, tp = L.clone().requires_grad_(True), t.clone().requires_grad_(True)
    w = torch.randn_like(x)
    grads = torch.autograd.grad((G.exp_apply(Lp, tp, x) * w).sum(), (Lp, tp))
    plain = torch.autograd.grad((_taylor_steps(Lp, tp, x, 40, 12) * w).sum(), (Lp, tp))
    for a, b in zip(grads, plain):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-8)
