import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F
from helpers import band_limited, bump

from lconv import Grid, LConv, LConvStack
from lconv import generators as G
from lconv.physics import (
    adjoint,
    current_field,
    epsilon,
    euler_lagrange,
    field_theory,
    noether_current,
    plot_noether_current,
    robustness_score,
    solve_euler_lagrange,
    spatial_metric,
    transform_metric,
)

D64 = torch.float64


def _rng(seed):
    return torch.Generator().manual_seed(seed)


def _randn(*shape, seed=0):
    return torch.randn(*shape, generator=_rng(seed), dtype=D64)


def _layer(c_in, c_out, gens, *, bias=True, seed=0):
    torch.manual_seed(seed)
    return LConv(c_in, c_out, gens, bias=bias).double()


def _band2d(n, max_freq, count, channels, *, seed, rows_only=False):
    """Random real images on an n x n periodic grid with frequencies |p|, |q| <= max_freq, flattened."""
    g = _rng(seed)
    r = torch.arange(n, dtype=D64)
    out = torch.zeros(count, channels, n, n, dtype=D64)
    for p in range(-max_freq, max_freq + 1):  # along x (columns)
        if rows_only and p != 0:
            continue
        for q in range(0, max_freq + 1):  # along y (rows)
            a, b = torch.randn(2, count, channels, 1, 1, generator=g, dtype=D64)
            phase = 2 * math.pi * (p * r[None, :] + q * r[:, None]) / n
            out += a * torch.cos(phase) + b * torch.sin(phase)
    return out.reshape(count, channels, n * n)


def _rel(a, b):
    a, b = a.detach(), b.detach()
    return float((a - b).norm() / max(a.norm(), b.norm()))


def _scale(nc):
    """The largest flow between two nodes: the scale of a current."""
    return float(nc.current.detach().abs().max())


# ----------------------------------------------------------------------------- field theory


GENS = {
    "se2-swi": lambda: G.family("se2", Grid((5, 4)), dtype=D64),
    "translation-central-open": lambda: G.translation(Grid((5, 4), periodic=False), method="central", dtype=D64),
    "random-dense": lambda: _randn(2, 20, 20, seed=9) / 4,
}


@pytest.mark.parametrize("gens", list(GENS))
@pytest.mark.parametrize(("c_in", "c_out", "bias"), [(1, 1, False), (3, 2, True), (2, 4, True)])
def test_loss_rebuilt_from_the_field_theory_equals_the_mse(gens, c_in, c_out, bias):
    L = GENS[gens]()
    layer = _layer(c_in, c_out, L, bias=bias, seed=c_in + 10 * c_out)
    x, y = _randn(4, c_in, 20, seed=1), _randn(4, c_out, 20, seed=2)
    theory = field_theory(layer, x, y)
    direct = (layer(x) - y).pow(2)
    assert theory.loss().item() == pytest.approx(direct.sum().item(), rel=1e-12)
    assert theory.loss("mean").item() == pytest.approx(F.mse_loss(layer(x), y).item(), rel=1e-12)
    assert torch.allclose(theory.loss("none"), direct.sum((1, 2)), rtol=1e-12, atol=0)
    dens = theory.densities()
    assert set(dens) == {"mass", "kinetic", "boundary", "gauge", "source", "constant"}
    assert all(t.shape == (4, 20) for t in dens.values())
    assert sum(dens.values()).sum().item() == pytest.approx(direct.sum().item(), rel=1e-12)
    # the pieces are not trivially the whole: each of mass, kinetic and source carries weight
    terms = theory.terms()
    for k in ("mass", "kinetic", "source", "constant"):
        assert terms[k].abs().sum() > 1e-3 * direct.sum()
    if c_in == 1:
        assert terms["gauge"].abs().max() < 1e-12 * direct.sum()  # one channel: no so(c_in) potential


def test_coefficients_are_the_paper_metric_mass_and_coupling():
    L = G.family("se2", Grid((5, 4)), dtype=D64)
    W0 = _randn(3, 3, seed=3) + 2 * torch.eye(3, dtype=D64)  # invertible
    eps = _randn(3, 3, 3, seed=4)
    W = W0 @ eps  # W_i = W0 eps_i
    theory = field_theory((W0, W), _randn(2, 3, 20, seed=5), _randn(2, 3, 20, seed=6), generators=L)
    assert theory.m2.shape == (3, 3) and theory.h.shape == (3, 3, 3, 3) and theory.v.shape == (3, 3, 3)
    assert torch.allclose(theory.m2, W0.T @ W0)
    assert torch.allclose(theory.h, torch.einsum("iba,bc,jcd->ijad", eps, W0.T @ W0, eps))  # eps_i^T m2 eps_j
    assert torch.allclose(theory.v, W0.T @ W0 @ eps)  # m2 eps_i
    assert torch.allclose(theory.h, theory.h.permute(1, 0, 3, 2))  # h^{ij}_{ac} = h^{ji}_{ca}
    assert torch.allclose(epsilon((W0, W), generators=L), eps, atol=1e-10)
    # with the free weights of a wider layer, W_i = W0 eps_i has no solution
    with pytest.raises(ValueError, match="column space of W0"):
        epsilon(_layer(2, 5, L))


def test_boundary_term_vanishes_for_antisymmetric_generators_and_lives_on_the_edge_otherwise():
    x, y = _randn(3, 2, 20, seed=1), _randn(3, 3, 20, seed=2)
    periodic = field_theory(_layer(2, 3, G.family("se2", Grid((5, 4)), dtype=D64)), x, y)
    total = periodic.loss()
    assert periodic.terms()["boundary"].abs().max() < 1e-13 * total  # SWI translations and rotation
    assert periodic.terms()["gauge"].abs().max() > 1e-3 * total  # two channels: the so(2) part is there
    # central differences on an open axis: S_i is non-zero only on the first and last two nodes
    grid = Grid(12, periodic=False)
    open_ = field_theory(_layer(2, 3, G.translation(grid, method="central", dtype=D64)), x[..., :12], y[..., :12])
    density = open_.densities()["boundary"]
    assert density.abs().max() > 1e-3 * open_.loss()
    assert density[:, 2:-2].abs().max() == 0
    # scaling is compressible (div xi != 0): a bulk term
    scaled = field_theory(_layer(2, 3, G.scaling(Grid((5, 4)), dtype=D64)), x, y)
    assert scaled.densities()["boundary"][:, 5:15].abs().max() > 1e-2 * scaled.loss() / 20


def test_kinetic_term_with_the_spatial_metric_of_the_vector_fields():
    grid = Grid((5, 6))
    algebra = G.matrix_algebra("se2", dtype=D64)
    L = G.pushforward(grid, algebra, dtype=D64)
    layer = _layer(2, 3, L)
    x = _randn(3, 2, grid.size, seed=1)
    theory = field_theory(layer, x, _randn(3, 3, grid.size, seed=2))
    xy1 = torch.cat([grid.coordinates(), torch.ones(grid.size, 1, dtype=D64)], -1)
    xi = -torch.einsum("iab,rb->ira", algebra, xy1)[..., :2]  # L_A = sum_a diag(xi^a) D_a with xi = -A x
    H = spatial_metric(theory.h, xi)
    assert H.shape == (grid.size, 2, 2, 2, 2)
    D = torch.stack([G.derivative(grid, a, dtype=D64) for a in range(2)])
    Df = torch.einsum("arv,bcv->barc", D, x)  # (batch, alpha, node, channel)
    kinetic = torch.einsum("barc,rafce,bfre->b", Df, H, Df)  # sum_r (D_a f)^T H^{ab} (D_b f)
    assert torch.allclose(kinetic, theory.terms()["kinetic"], rtol=1e-12)


# ----------------------------------------------------------------------------- metric transformation


def test_metric_transforms_by_the_adjoint_under_a_quarter_turn_on_the_grid():
    grid = Grid((6, 6))
    L = G.family("se2", grid, dtype=D64)  # T_x, T_y, rotation
    g = grid.action_matrix(grid.rot90)  # exact, orthogonal
    ad = adjoint(L, g)
    # g T_x g^-1 = T_y, g T_y g^-1 = -T_x, the rotation is kept
    assert torch.allclose(ad, torch.tensor([[0.0, 1, 0], [-1, 0, 0], [0, 0, 1]], dtype=D64), atol=1e-10)
    layer = _layer(2, 3, L)
    x, y = _randn(3, 2, 36, seed=1), _randn(3, 3, 36, seed=2)
    theory = field_theory(layer, x, y)
    turned = field_theory(layer, grid.rot90(x), grid.rot90(y))
    h2 = transform_metric(theory.h, L, g)
    k_turned = turned.terms()["kinetic"]
    k_law = dataclasses.replace(theory, h=h2).terms()["kinetic"]
    assert _rel(k_turned, k_law) < 1e-12
    # the check can fail: h itself is not invariant, and the transposed law is wrong
    assert _rel(k_turned, theory.terms()["kinetic"]) > 1e-2
    wrong = torch.einsum("ik,ijab,jl->klab", ad.T.inverse(), theory.h, ad.T.inverse())
    assert _rel(k_turned, dataclasses.replace(theory, h=wrong).terms()["kinetic"]) > 1e-2
    assert torch.allclose(turned.terms()["mass"], theory.terms()["mass"], rtol=1e-12)


def test_metric_transforms_by_the_adjoint_under_a_continuous_so3_rotation():
    A = G.matrix_algebra("so3", dtype=D64)  # rotations of R^3, [A_x, A_y] = A_z
    eye = torch.eye(3, dtype=D64)
    # nodes: the 9 components of a 3x3 tensor; so(3) acts on both indices
    L = torch.stack([torch.kron(a, eye) + torch.kron(eye, a) for a in A])
    axis = torch.tensor([0.3, -0.5, 0.8], dtype=D64)
    R = G.exp(torch.einsum("i,iab->ab", axis / axis.norm(), A), 0.9)
    g = torch.kron(R, R)
    assert torch.allclose(adjoint(L, g), R.T, atol=1e-10)  # the vector representation
    layer = _layer(2, 2, L, seed=3)
    x, y = _randn(4, 2, 9, seed=1), _randn(4, 2, 9, seed=2)
    theory = field_theory(layer, x, y)
    moved = field_theory(layer, x @ g.T, y @ g.T)
    h2 = transform_metric(theory.h, L, g)
    assert _rel(moved.terms()["kinetic"], dataclasses.replace(theory, h=h2).terms()["kinetic"]) < 1e-12
    assert _rel(moved.terms()["kinetic"], theory.terms()["kinetic"]) > 1e-2
    assert not torch.allclose(h2, theory.h, atol=1e-3)
    with pytest.raises(ValueError, match="leaves the span"):
        adjoint(L[:2], g)  # two of three generators do not close


# ----------------------------------------------------------------------------- Euler-Lagrange


def test_euler_lagrange_is_the_input_gradient_of_the_loss():
    L = G.family("sim2", Grid((5, 4)), dtype=D64)
    layer = _layer(3, 2, L)
    x, y = _randn(4, 3, 20, seed=1), _randn(4, 2, 20, seed=2)
    xr = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad((layer(xr) - y).pow(2).sum(), xr)
    E = euler_lagrange(layer, x, y)
    assert E.shape == x.shape
    assert _rel(E, grad) < 1e-13
    assert _rel(field_theory(layer, x, y).euler_lagrange(), grad) < 1e-13  # from m2, h, v, J
    assert torch.allclose(robustness_score(layer, x, y), grad.flatten(1).norm(dim=1), rtol=1e-12)
    # the robust inputs for these targets solve E = 0, and are where the loss is smallest
    f = solve_euler_lagrange(layer, y)
    assert robustness_score(layer, f, y).max() < 1e-10 * robustness_score(layer, x, y).max()
    bumped = f + 1e-3 * _randn(*f.shape, seed=7)
    assert ((layer(bumped) - y).pow(2).sum((1, 2)) > (layer(f) - y).pow(2).sum((1, 2))).all()


def test_euler_lagrange_residual_grows_off_the_data_manifold():
    # data on a 3-dimensional subspace (band-limited, frequencies <= 1 on 16 points),
    # the equivariant task y = exp(0.25 T) f (a sub-pixel shift)
    n = 16
    T = G.translation(Grid(n), dtype=D64)
    f = band_limited(n, 64, 1, generator=_rng(0))[:, None]
    y = f @ G.exp(T[0], 0.25).T
    layer = _layer(1, 1, T)
    with torch.no_grad():  # train to the exact least-squares optimum of the MSE
        design = torch.stack([f[:, 0], f[:, 0] @ T[0].T, torch.ones_like(f[:, 0])], -1).reshape(-1, 3)
        w = torch.linalg.lstsq(design, y.reshape(-1, 1)).solution[:, 0]
        layer.weight0.fill_(w[0]), layer.weight.fill_(w[1]), layer.bias.fill_(w[2])
    assert (layer(f) - y).pow(2).sum() < 1e-2 * y.pow(2).sum()
    # push each point off the data by 5% of its norm along frequencies 3..7 (orthogonal to the data)
    r = torch.arange(n, dtype=D64)
    g = _rng(1)
    noise = sum(
        a * torch.cos(2 * math.pi * p * r / n) + b * torch.sin(2 * math.pi * p * r / n)
        for p in range(3, 8)
        for a, b in [torch.randn(2, 64, 1, generator=g, dtype=D64)]
    )[:, None]
    assert (noise.flatten(1) @ f.flatten(1).T).abs().max() < 1e-10
    noise = noise / noise.flatten(1).norm(dim=1)[:, None, None] * 0.05 * f.flatten(1).norm(dim=1)[:, None, None]
    on, off = robustness_score(layer, f, y), robustness_score(layer, f + noise, y)
    assert off.median() > 10 * on.median()  # about 25x
    assert off.min() > on.max()  # every pushed point is less robust than every data point


# ----------------------------------------------------------------------------- Noether current


def test_noether_identity_holds_exactly_for_any_data_layer_and_candidate():
    grid = Grid((5, 4))
    layer = _layer(2, 3, G.family("se2", grid, dtype=D64))
    x, y = _randn(3, 2, 20, seed=1), _randn(3, 3, 20, seed=2)
    C = _randn(2, 20, 20, seed=3)
    nc = noether_current(layer, x, y, C)
    assert nc.current.shape == (3, 2, 20, 20) and nc.divergence.shape == (3, 2, 20)
    assert torch.equal(nc.current, -nc.current.transpose(-1, -2))
    assert nc.divergence.sum(-1).abs().max() < 1e-10  # a divergence sums to zero (Stokes)
    # defect = delta density - C density + (C^T 1) density, computed here from the layer itself
    R = layer(x) - y
    for k in range(2):
        cx, cy = x @ C[k].T, y @ C[k].T
        delta = 2 * (R * (layer(cx) - layer(torch.zeros_like(cx)) - cy)).sum(1)
        dens = R.pow(2).sum(1)
        defect = delta - dens @ C[k].T + C[k].sum(0) * dens
        assert _rel(nc.defect[:, k], defect) < 1e-12
    one = noether_current(layer, x, y, C[1])
    assert torch.allclose(one.divergence, nc.divergence[:, 1]) and one.current.shape == (3, 20, 20)


def test_noether_current_is_conserved_for_translations_at_robust_points():
    grid = Grid((10, 10))
    T = G.translation(grid, dtype=D64)
    layer = _layer(2, 3, T)
    y = _band2d(10, 2, 3, 3, seed=1, rows_only=True)  # targets invariant along x
    f = solve_euler_lagrange(layer, y)  # robust inputs (E = 0)
    nc = noether_current(layer, f, y, T[0])
    assert _scale(nc) > 1.0  # a real flow ...
    assert nc.divergence.abs().max() < 1e-12 * _scale(nc)  # ... without sources
    # the layer needs only to commute with the candidate: central differences do
    central = _layer(2, 3, G.translation(grid, method="central", dtype=D64))
    nd = noether_current(central, solve_euler_lagrange(central, y), y, T[0])
    assert nd.divergence.abs().max() < 1e-12 * _scale(nd)
    # the same targets with generators that break translations (se(2): its rotation has a centre)
    broken = _layer(2, 3, G.family("se2", grid, dtype=D64))
    nb = noether_current(broken, solve_euler_lagrange(broken, y), y, T[0])
    assert nb.divergence.abs().max() > 0.1 * _scale(nb)  # about 0.3
    assert nb.defect.abs().max() > 0.1 * _scale(nb)  # the loss itself is not invariant
    # targets that vary along x act as a source: div J = 2 R . T_x y, and the loss is still invariant
    y2 = _band2d(10, 2, 3, 3, seed=2)
    f2 = solve_euler_lagrange(layer, y2)
    n2 = noether_current(layer, f2, y2, T[0])
    assert n2.divergence.abs().max() > 0.1 * _scale(n2)
    assert _rel(n2.divergence, -n2.target_term) < 1e-10
    assert n2.defect.abs().max() < 1e-12 * _scale(n2)


def test_noether_current_is_conserved_for_rotations_to_the_discretisation_error():
    grid = Grid((12, 12))
    rot, T = G.rotation(grid, dtype=D64), G.translation(grid, dtype=D64)
    y = torch.stack([bump(grid, sigma=1.5), -bump(grid, sigma=1.95)])[None]  # rotation-invariant targets
    candidates = torch.stack([rot[0], T[0]])

    def ratios(gens):
        layer = _layer(1, 2, gens, seed=1)
        nc = noether_current(layer, solve_euler_lagrange(layer, y), y, candidates)
        assert nc.el_term.abs().max() < 1e-10 * nc.current.abs().max()  # robust points
        return (nc.divergence.abs().amax((0, 2)) / nc.current.abs().amax((0, 2, 3))).tolist()

    conserved, shifted = ratios(rot)
    assert conserved < 0.02  # about 0.009: the Leibniz error of the SWI rotation on a 12x12 grid
    assert shifted > 0.15  # about 0.29: translation is no symmetry of this layer and these targets
    # a layer whose generator is an elliptic flow (x -> -y, y -> 2x) breaks the rotation
    broken, _ = ratios(G.pushforward(grid, torch.tensor([[0.0, -1.0], [2.0, 0.0]]), dtype=D64))
    assert broken > 0.15  # about 0.34


def test_minimising_the_divergence_over_candidates_discovers_the_symmetry():
    grid = Grid((10, 10))
    T = G.translation(grid, dtype=D64)
    cands = torch.cat([T, G.rotation(grid, dtype=D64), G.scaling(grid, dtype=D64), _randn(1, 100, 100, seed=5)])
    cands = cands / cands.flatten(1).norm(dim=1)[:, None, None]  # x, y, rotation, scaling, random
    layer = _layer(2, 3, T)
    # robust points with targets invariant along x: only T_x conserves the current
    y = _band2d(10, 2, 3, 3, seed=1, rows_only=True)
    f = solve_euler_lagrange(layer, y)
    div = noether_current(layer, f, y, cands).divergence  # linear in the candidate
    gram = torch.einsum("bkr,blr->kl", div, div)
    vals, vecs = torch.linalg.eigh(gram)
    assert vals[0] < 1e-13 * vals[-1] and vals[1] > 1e-4 * vals[-1]
    assert vecs[0, 0].abs() > 1 - 1e-9  # the minimiser is T_x
    # at any points the symmetry defect finds both translations, the symmetries of the loss
    x, y2 = _band2d(10, 2, 3, 2, seed=3), _band2d(10, 2, 3, 3, seed=4)
    defect = noether_current(layer, x, y2, cands).defect
    vals, vecs = torch.linalg.eigh(torch.einsum("bkr,blr->kl", defect, defect))
    assert vals[1] < 1e-13 * vals[-1] and vals[2] > 1e-4 * vals[-1]
    assert vecs[2:, :2].abs().max() < 1e-8  # the null space is span(T_x, T_y)


def test_divergence_is_differentiable_in_the_candidate():
    grid = Grid((6, 6))
    T = G.translation(grid, dtype=D64)
    basis = torch.cat([T, G.rotation(grid, dtype=D64)])
    layer = _layer(1, 2, T)
    x, y = _band2d(6, 1, 2, 1, seed=1), _band2d(6, 1, 2, 2, seed=2)
    coef = torch.tensor([0.3, -0.2, 0.9], dtype=D64, requires_grad=True)
    objective = noether_current(layer, x, y, torch.einsum("k,kab->ab", coef, basis)).divergence.pow(2).sum()
    (grad,) = torch.autograd.grad(objective, coef)
    div = noether_current(layer, x, y, basis).divergence
    gram = torch.einsum("bkr,blr->kl", div, div)
    assert torch.allclose(grad, 2 * gram @ coef.detach(), rtol=1e-10)  # quadratic in C
    assert objective.item() == pytest.approx((coef.detach() @ gram @ coef.detach()).item(), rel=1e-12)
    assert grad.abs().max() > 1e-3


# ----------------------------------------------------------------------------- figure


def test_plot_noether_current_writes_a_png(tmp_path):
    grid = Grid((10, 10))
    T = G.translation(grid, dtype=D64)
    layer = _layer(2, 3, T)
    y = _band2d(10, 2, 2, 3, seed=1, rows_only=True)
    nc = noether_current(layer, solve_euler_lagrange(layer, y), y, T)
    field = current_field(nc.current, grid)
    assert field.shape == (2, 2, 100, 2) and field.abs().max() > 0
    path = plot_noether_current(nc, grid, tmp_path / "fig" / "noether.png", sample=1, candidate=0, title="T_x")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    import matplotlib.image

    img = matplotlib.image.imread(path)
    assert img.ndim == 3 and min(img.shape[:2]) > 200 and float(img[..., :3].std()) > 0.05
    assert not list(tmp_path.glob("**/*.tmp"))


# ----------------------------------------------------------------------------- bad input


def _bad_calls():
    grid = Grid((4, 4))
    T = G.translation(grid, dtype=D64)
    layer = _layer(2, 3, T)
    x, y = _randn(2, 2, 16, seed=1), _randn(2, 3, 16, seed=2)
    nan = x.clone()
    nan[0, 0, 0] = math.nan
    stack = LConvStack([2, 3, 3], T).double()
    return {
        "x without channel axis": (lambda: field_theory(layer, x[:, 0], y), "unsqueeze"),
        "x with the wrong d": (lambda: field_theory(layer, x[..., :9], y), r"\(batch, 2, 16\)"),
        "y with the wrong channels": (lambda: euler_lagrange(layer, x, y[:, :2]), r"y must have shape \(2, 3, 16\)"),
        "y with another batch": (lambda: noether_current(layer, x, y[:1], T[0]), "y must have shape"),
        "NaN input": (lambda: robustness_score(layer, nan, y), "NaN"),
        "stack of two layers": (lambda: field_theory(stack, x, y), "LConvStack of 2 layers"),
        "sequential": (lambda: field_theory(torch.nn.Sequential(layer, _layer(3, 3, T)), x, y), "Sequential holding 2"),
        "weights without generators": (lambda: field_theory((layer.weight0, layer.weight), x, y), "generators="),
        "weights of another n": (
            lambda: field_theory((layer.weight0, layer.weight[:1]), x, y, generators=T),
            r"W must be \(n, c_out, c_in\)",
        ),
        "candidate of another d": (lambda: noether_current(layer, x, y, torch.eye(9, dtype=D64)), "d = 16"),
        "NaN candidate": (lambda: noether_current(layer, x, y, T[0] * math.nan), "NaN"),
        "plot on a 1-D grid": (
            lambda: plot_noether_current(noether_current(layer, x, y, T[0]), Grid(16), "x.png"),
            "2-D",
        ),
        "current on another grid": (lambda: current_field(torch.zeros(9, 9, dtype=D64), grid), "16"),
        "spatial metric of other n": (lambda: spatial_metric(torch.zeros(2, 2, 1, 1), torch.zeros(3, 4, 2)), "n = 2"),
    }


@pytest.mark.parametrize("case", list(_bad_calls()))
def test_bad_input_raises_one_line_naming_the_fix(case):
    call, match = _bad_calls()[case]
    with pytest.raises(ValueError, match=match) as info:
        call()
    assert "\n" not in str(info.value)


def test_accepts_one_layer_stacks_and_raw_weights_alike():
    grid = Grid((4, 4))
    T = G.translation(grid, dtype=D64)
    stack = LConvStack([2, 3], T).double()
    layer = stack.layers[0]
    x, y = _randn(2, 2, 16, seed=1), _randn(2, 3, 16, seed=2)
    a = field_theory(stack, x, y).loss()
    b = field_theory((layer.weight0, layer.weight, layer.bias), x, y, generators=T).loss()
    assert a.item() == pytest.approx(b.item(), rel=1e-14)
    j_layer = noether_current(layer, x, y, T[0])
    j_raw = noether_current((layer.weight0, layer.weight, layer.bias), x, y, T[0], generators=T)
    assert float(j_layer.current.abs().max()) > 1e-3  # a current to compare, not zeros
    for name in ("current", "divergence", "density", "el_term", "target_term"):
        assert torch.allclose(getattr(j_layer, name), getattr(j_raw, name), rtol=1e-12, atol=1e-12), name
