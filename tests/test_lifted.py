"""Lifted grids and left-invariant generators: equivariance for non-abelian groups (SE(2), SE(3)).

Exact actions (quarter turns with the orientation shift, the 24 cube rotations, integer
shifts) are permutations of the lifted nodes: every test of them uses random weights and
the dtype tolerance of lconv.testing (1e-11 relative in float64, 2e-5 in float32).
Continuous rotations are interpolations: their tolerance is stated where they are tested.
"""

import json
import math
import re
from pathlib import Path

import pytest
import torch
from helpers import SHARED, LargestTensor, needs_shared, reference_lconv
from torch import nn

from lconv import Grid, LConv, LConvStack, testing
from lconv import generators as G
from lconv.nn import (
    LeftInvariantGenerators,
    Lifting,
    OrientationPool,
    SE2Grid,
    SE2LConvClassifier,
    SE3Grid,
    build_model,
    left_invariant,
    lifted_max_pool2,
    param_count,
)
from lconv.nn._lifted import periodic_central, periodic_second
from lconv.nn.theorem1 import _sample, _TrigField, theorem1_curve


def _net(space, dtype, *, method="central", relu=True, learned=False, seed=0):
    """Lifting -> [ReLU] -> LConv -> [ReLU] -> LConv with random weights."""
    torch.manual_seed(seed)
    gens = left_invariant(space, method=method, learned=learned, n=4 if learned else None)
    parts = [Lifting(2, 3, space, order=2, method=method), LConv(3, 4, gens), LConv(4, 2, gens)]
    if relu:
        parts = [parts[0], nn.ReLU(), parts[1], nn.ReLU(), parts[2]]
    return nn.Sequential(*parts).to(dtype)


# ----------------------------------------------------------------------------- exact actions, SE(2)
@pytest.mark.parametrize("orientations", [4, 8])
@pytest.mark.parametrize("method", ["central", "swi"])
def test_lifted_layers_commute_with_quarter_turns_and_shifts(orientations, method, dtype):
    space = SE2Grid(Grid((8, 8)), orientations)
    grid = space.grid
    torch.manual_seed(1)
    x = torch.randn(3, 2, grid.size, dtype=dtype)
    lift = _net(space, dtype, method=method)[0]
    f = lift(x).detach()
    layer = LConv(3, 4, left_invariant(space, method=method)).to(dtype)
    for k in (1, 2, 3):
        testing.assert_equivariant(lift, x, lambda v, k=k: grid.rot90(v, k), lambda v, k=k: space.rot90(v, k))
        testing.assert_equivariant(layer, f, lambda v, k=k: space.rot90(v, k))
    for s in [(1, 0), (2, -3), (-4, 5)]:
        testing.assert_equivariant(lift, x, lambda v, s=s: grid.shift(v, s), lambda v, s=s: space.shift(v, s))
        testing.assert_equivariant(layer, f, lambda v, s=s: space.shift(v, s))
    # the condition behind it: every generator commutes with the exact actions
    testing.assert_commutes(left_invariant(space, method=method), space.rot90)
    testing.assert_commutes(left_invariant(space, method=method), lambda v: space.shift(v, (3, 1)))


@pytest.mark.parametrize("learned", [False, True])
def test_stacks_with_pointwise_nonlinearities_stay_exactly_equivariant(learned, dtype):
    # Corollary 1: ReLU commutes with permutations of the nodes
    space = SE2Grid(Grid((8, 8)), 8)
    grid = space.grid
    net = _net(space, dtype, learned=learned)
    x = torch.randn(4, 2, grid.size, dtype=dtype)
    for k in (1, 2, 3):
        testing.assert_equivariant(net, x, lambda v, k=k: grid.rot90(v, k), lambda v, k=k: space.rot90(v, k))
    testing.assert_equivariant(net, x, lambda v: grid.shift(v, (3, -2)), lambda v: space.shift(v, (3, -2)))
    # projected features: orientation pooling gives an image that turns with the input; pixel pooling is invariant
    pooled = nn.Sequential(net, OrientationPool(space, "max"))
    testing.assert_equivariant(pooled, x, grid.rot90)
    testing.assert_invariant(lambda v: pooled(v).mean(-1), x, grid.rot90)
    testing.assert_invariant(lambda v: space.pool(net(v), "mean").amax(-1), x, lambda v: grid.shift(v, (1, 4)))


def test_the_old_constructions_fail_where_the_lifted_ones_pass():
    dtype = torch.float64
    grid = Grid((8, 8))
    torch.manual_seed(0)
    x = torch.randn(3, 1, grid.size, dtype=dtype)
    se2 = G.family("se2", grid, dtype=dtype)
    old = LConv(1, 4, se2).to(dtype)
    for act in (grid.rot90, lambda v: grid.shift(v, (1, 0))):
        assert testing.equivariance_error(old, x, act) > 0.1
        with pytest.raises(AssertionError, match="not equivariant"):
            testing.assert_equivariant(old, x, act)
        with pytest.raises(AssertionError, match="does not commute with the generators"):
            testing.assert_commutes(se2, act)
    space = SE2Grid(grid, 4)
    new = nn.Sequential(Lifting(1, 4, space), LConv(4, 4, left_invariant(space))).to(dtype)
    testing.assert_equivariant(new, x, grid.rot90, space.rot90)
    testing.assert_equivariant(new, x, lambda v: grid.shift(v, (1, 0)), lambda v: space.shift(v, (1, 0)))


# ----------------------------------------------------------------------------- exact actions, SE(3)
def test_se3_lifted_layers_commute_with_all_24_cube_rotations_and_shifts(dtype):
    space = SE3Grid(Grid((4, 4, 4)))
    grid = space.grid
    torch.manual_seed(2)
    gens = left_invariant(space)
    assert gens.n == 6
    lift = Lifting(1, 2, space, order=2).to(dtype)
    layer = LConv(2, 3, gens).to(dtype)
    net = nn.Sequential(lift, nn.ReLU(), layer)
    x = torch.randn(2, 1, grid.size, dtype=dtype)
    for e in range(24):
        img = lambda v, e=e: v[..., space._pixels(space.frames[e])]  # noqa: E731
        testing.assert_equivariant(net, x, img, lambda v, e=e: space.rotate(v, e))
        testing.assert_commutes(gens, lambda v, e=e: space.rotate(v, e))
    testing.assert_equivariant(net, x, lambda v: grid.shift(v, (1, -1, 2)), lambda v: space.shift(v, (1, -1, 2)))
    testing.assert_invariant(lambda v: space.pool(net(v)).sum(-1), x, lambda v: v[..., space._pixels(space.frames[7])])
    # the old construction: so(3) pushed forward onto the grid does not commute with the cube's rotations
    so3 = G.rotation(grid, dtype=torch.float64)
    quarter = space.quarter_turns[0].item()
    with pytest.raises(AssertionError, match="does not commute"):
        testing.assert_commutes(so3, lambda v: v[..., space._pixels(space.frames[quarter])])


def test_se3_group_structure():
    space = SE3Grid(Grid((3, 3, 3)))
    f = torch.randn(2, space.size, dtype=torch.float64)
    assert space.orientations == 24 and torch.equal(space.frames[0], torch.eye(3, dtype=torch.float64))
    for a in range(0, 24, 5):
        for b in range(0, 24, 3):
            ab = space.rotate(space.rotate(f, b), a)  # acting by b then by a is acting by a b
            assert torch.equal(ab, space.rotate(f, space.multiply(a, b)))
    for axis in range(3):
        r = space.frames[space.quarter_turns[axis]]
        assert torch.equal(torch.linalg.matrix_power(r, 4), torch.eye(3, dtype=torch.float64))
        assert r[axis, axis] == 1


# ----------------------------------------------------------------------------- continuous rotations
def _bumps(grid, count=3, seed=0):
    gen = torch.Generator().manual_seed(seed)
    xy = grid.coordinates()
    centres = torch.randn(count, 2, generator=gen, dtype=torch.float64) * 1.5
    return torch.exp(-((xy[None] - centres[:, None]) ** 2).sum(-1) / (2 * 2.0**2))[:, None]


@pytest.mark.parametrize("phi", [0.3, math.pi / 2])
def test_continuous_rotations_on_band_limited_images(phi):
    # Interpolated rotations exp(phi L) of Lifting -> LConv -> LConv (SWI derivatives, 16x16,
    # N = 8, three Gaussian bumps of width 2 pixels): measured 5.5e-3 (phi = 0.3) and 9.5e-3
    # (phi = pi/2) in a central disk of radius 6; stated tolerance 2e-2.
    grid = Grid((16, 16))
    space = SE2Grid(grid, 8)
    img_rot = G.exp(G.rotation(grid, dtype=torch.float64)[0], phi)
    disk = (grid.coordinates().norm(dim=-1) < 6).repeat(8)
    x = _bumps(grid)
    net = _net(space, torch.float64, method="swi", relu=False)
    net[0] = Lifting(1, 3, space, order=1, method="swi").double()
    err = testing.assert_equivariant(net, x, img_rot, lambda v: space.rotate(v, phi), rtol=2e-2, region=disk)
    assert err > 1e-8  # an interpolation, not a permutation
    if phi == math.pi / 2:  # the continuous quarter turn agrees with the exact one on such images
        f = net(x).detach()
        assert testing.relative_error(space.rotate(f, phi)[..., disk], space.rot90(f)[..., disk]) < 2e-2


def test_left_invariant_fields_satisfy_the_brackets_of_se2():
    # [A_3, A_1] = A_2, [A_3, A_2] = -A_1, [A_1, A_2] = 0, on functions band-limited in space and in theta
    space = SE2Grid(Grid((16, 16)), 16)
    gens = left_invariant(space, method="swi")
    f = torch.stack([_sample(_TrigField(16, 2, seed), space) for seed in range(3)])

    def apply(i, v):
        return gens(v)[:, i]

    def bracket(i, j, v):
        return apply(i, apply(j, v)) - apply(j, apply(i, v))

    assert testing.relative_error(bracket(2, 0, f), apply(1, f)) < 1e-10
    assert testing.relative_error(bracket(2, 1, f), -apply(0, f)) < 1e-10
    assert bracket(0, 1, f).abs().max() < 1e-12


# ----------------------------------------------------------------------------- the layer itself
@pytest.mark.parametrize(
    "space", [SE2Grid(Grid((6, 6)), 4), SE2Grid(Grid((6, 5), periodic=False), 8), SE3Grid(Grid((3, 3, 3)))]
)
@pytest.mark.parametrize("method", ["central", "swi"])
@pytest.mark.parametrize("learned", [None, 2])
def test_matrix_free_sum_matches_the_dense_reference(space, method, learned):
    if method == "swi" and not all(space.grid.periodic):
        with pytest.raises(ValueError, match="SWI derivative needs a periodic grid"):
            left_invariant(space, method=method)
        return
    torch.manual_seed(3)
    gens = left_invariant(space, method=method, n=learned, learned=learned is not None)
    layer = LConv(3, 2, gens).double()
    x = torch.randn(2, 3, space.size, dtype=torch.float64, requires_grad=True)
    L = gens.matrices()
    assert L.shape == (gens.n, space.size, space.size)
    y = layer(x)
    ref = reference_lconv(x, L, layer.weight0, layer.weight, layer.bias)
    assert torch.allclose(y, ref, rtol=1e-12, atol=1e-12)
    assert torch.allclose(gens(x), torch.einsum("nij,bcj->bcni", L, x), atol=1e-12)
    inputs = [x, *layer.parameters()]
    for a, b in zip(torch.autograd.grad(y.square().sum(), inputs), torch.autograd.grad(ref.square().sum(), inputs)):
        assert torch.allclose(a, b, rtol=1e-10, atol=1e-10)


def test_se2_fields_are_the_directional_derivatives():
    space = SE2Grid(Grid((8, 8)), 8)
    gens = left_invariant(space, method="swi")
    L = gens.matrices()
    Dx, Dy = G.derivative(space.grid, 0, dtype=torch.float64), G.derivative(space.grid, 1, dtype=torch.float64)
    theta = space.angles()
    for m in range(8):
        block = slice(m * 64, (m + 1) * 64)
        c, s = math.cos(theta[m]), math.sin(theta[m])
        assert torch.allclose(L[0, block, block], c * Dx + s * Dy, atol=1e-12)
        assert torch.allclose(L[1, block, block], -s * Dx + c * Dy, atol=1e-12)
    # d/dtheta per radian: exact on cos(theta)
    f = torch.cos(theta)[:, None].expand(8, 64).reshape(1, -1)
    assert torch.allclose(gens(f)[0, 2], -torch.sin(theta)[:, None].expand(8, 64).reshape(-1), atol=1e-12)


def test_periodic_central_difference_and_its_gradient():
    x = torch.randn(2, 3, 5, dtype=torch.float64, requires_grad=True)
    for dim in (1, 2, -1):
        assert torch.allclose(periodic_central(x, dim), (x.roll(-1, dim) - x.roll(1, dim)) / 2)
        assert torch.autograd.gradcheck(lambda v, dim=dim: periodic_central(v, dim), (x,))


def test_periodic_second_difference_and_its_gradient():
    x = torch.randn(2, 3, 5, dtype=torch.float64, requires_grad=True)
    for dim in (1, 2, -1):
        assert torch.allclose(periodic_second(x, dim), x.roll(-1, dim) + x.roll(1, dim) - 2 * x)
        assert torch.autograd.gradcheck(lambda v, dim=dim: periodic_second(v, dim), (x,))


def test_learned_variant_trains_its_coefficients_and_stays_equivariant():
    space = SE2Grid(Grid((8, 8)), 4)
    gens = left_invariant(space, n=5, learned=True)
    assert gens.coefficients.shape == (5, 3)
    assert torch.equal(gens.coefficients[:3], torch.eye(3))
    layer = LConv(2, 2, gens)
    x = torch.randn(3, 2, space.size)
    layer(x).square().sum().backward()
    assert gens.coefficients.grad is not None and gens.coefficients.grad.abs().sum() > 0
    with torch.no_grad():
        gens.coefficients.add_(torch.randn(5, 3))
    testing.assert_equivariant(layer, x, space.rot90)
    testing.assert_commutes(gens, space.rot90)


@pytest.mark.parametrize("method", ["central", "swi"])
def test_no_dense_lifted_matrix_is_formed(method):
    space = SE2Grid(Grid((32, 32)), 8)  # 8192 lifted nodes: a dense generator would hold 67M entries
    torch.manual_seed(0)
    layer = LConv(2, 2, left_invariant(space, method=method))
    lift = Lifting(1, 2, space)
    x = torch.randn(2, 1, space.grid.size)
    with LargestTensor() as probe:
        y = layer(lift(x))
        y.square().sum().backward()
    assert probe.largest <= 16 * space.size, probe.largest


def test_lifted_pooling_commutes_with_quarter_turns():
    space = SE2Grid(Grid((8, 8)), 8)
    f = torch.randn(2, 3, space.size, dtype=torch.float64)
    pooled, coarse = lifted_max_pool2(f, space)
    assert coarse.grid.shape == (4, 4) and pooled.shape == (2, 3, coarse.size)
    assert torch.equal(lifted_max_pool2(space.rot90(f), space)[0], coarse.rot90(pooled))
    lift = Lifting(1, 2, space, average=2).double()
    x = torch.randn(2, 1, 64, dtype=torch.float64)
    assert lift(x).shape == (2, 2, lift.out_space.size)
    testing.assert_equivariant(lift, x, space.grid.rot90, lift.out_space.rot90)


def test_lifted_grid_layout_and_actions():
    space = SE2Grid(Grid((4, 4)), 8)
    f = torch.arange(space.size, dtype=torch.float64)[None]
    assert space.unflatten(f).shape == (1, 8, 4, 4) and torch.equal(space.flatten(space.unflatten(f)), f)
    assert space.unflatten(f)[0, 3, 1, 2] == 3 * 16 + 1 * 4 + 2  # orientation-major, row-major pixels
    turned = space.unflatten(space.rot90(f))[0]
    assert torch.equal(turned[2], space.grid.unflatten(space.grid.rot90(space.unflatten(f)[0, 0].reshape(-1))))
    assert torch.equal(space.rot90(space.rot90(f), -1), f) and torch.equal(space.rot90(f, 4), f)
    frames = space.frames
    assert torch.allclose(frames[2], torch.tensor([[0.0, -1.0], [1.0, 0.0]], dtype=torch.float64))
    assert frames[2, 0, 0] == 0.0  # exact zeros: quarter turns exact in every dtype


def test_user_errors_name_the_fix():
    with pytest.raises(ValueError, match="multiple of 4"):
        SE2Grid(Grid((8, 8)), 6)
    with pytest.raises(ValueError, match="needs a 2-D grid"):
        SE2Grid(Grid(8), 4)
    with pytest.raises(ValueError, match="cubic grid"):
        SE3Grid(Grid((3, 4, 3)))
    with pytest.raises(TypeError, match="SE2Grid or SE3Grid"):
        left_invariant(Grid((4, 4)))
    with pytest.raises(ValueError, match="pass learned=True"):
        left_invariant(SE2Grid(Grid((4, 4)), 4), n=2)
    space = SE2Grid(Grid((4, 4)), 4)
    with pytest.raises(ValueError, match="lift images with Lifting first"):
        space.rot90(torch.randn(2, 16))
    with pytest.raises(ValueError, match=r"Lifting: expected images of shape \(batch, 1, 16\)"):
        Lifting(1, 2, space)(torch.randn(2, 2, 16))
    with pytest.raises(ValueError, match="method must be one of"):
        Lifting(1, 2, space, method="fft")
    with pytest.raises(ValueError, match="mode must be 'max' or 'mean'"):
        OrientationPool(space, "sum")
    assert isinstance(G.left_invariant(space), LeftInvariantGenerators)


# ----------------------------------------------------------------------------- Theorem 1 in 2-D
def test_theorem1_stack_reproduces_an_se2_group_convolution():
    # LConvStack.from_kernel with the left-invariant generators against the exact G-conv
    # sum_s a_s f(g u_s) on a band-limited lifted function: first-order convergence in the depth.
    rows = theorem1_curve((2, 8, 32))  # 32x32, N = 16
    err = {r["depth"]: r["error"] for r in rows}
    assert err[2] < 0.05 and err[32] < 0.005
    assert 3.5 < err[8] / err[32] < 4.5
    stack = LConvStack.from_kernel(torch.tensor([1.0, 0.5]), torch.tensor([[0.0, 0, 0], [1, 0, 0.5]]),
                                   left_invariant(SE2Grid(Grid((8, 8)), 4)), 3)  # fmt: skip
    x = torch.randn(2, 1, stack.generators.d)
    testing.assert_equivariant(stack, x, stack.generators.space.rot90)


# ----------------------------------------------------------------------------- the classifier
def test_lconv_se2_model_is_invariant_to_quarter_turns_before_and_after_training():
    torch.manual_seed(0)
    net = build_model("lconv-se2", (1, 28, 28), 10)
    assert isinstance(net, SE2LConvClassifier)
    assert param_count(net) <= 185_162  # the CNN baseline on MNIST
    x = torch.randn(6, 1, 28, 28)
    turn = lambda v: torch.rot90(v, 1, (-2, -1))  # noqa: E731
    testing.assert_invariant(net, x, turn, rtol=1e-5)
    y = torch.randint(0, 10, (6,))
    opt = torch.optim.AdamW(net.parameters(), lr=1e-2)
    before = [p.detach().clone() for p in net.parameters()]
    for _ in range(3):
        opt.zero_grad()
        nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
    assert any(not torch.equal(a, b) for a, b in zip(before, net.parameters()))
    for k in (1, 2, 3):
        testing.assert_invariant(net, x, lambda v, k=k: torch.rot90(v, k, (-2, -1)), rtol=1e-5)
    net.eval()  # the running statistics of the normalisation
    testing.assert_invariant(net, x, turn, rtol=1e-5)
    net = net.double()
    testing.assert_invariant(net, x.double(), turn)  # float64: 1e-11
    net.train()
    testing.assert_invariant(net, x.double(), turn)


@pytest.mark.parametrize("method", ["central", "swi"])
@pytest.mark.parametrize("learned", [False, True])
def test_fibre_major_layer_is_the_lconv_layer(method, learned):
    # the fast path (orientation axis first, one bmm per layer) computes the same layer as LConv
    torch.manual_seed(0)
    space = SE2Grid(Grid((6, 6), periodic=True), 8)
    layer = LConv(3, 4, left_invariant(space, method=method, n=4 if learned else None, learned=learned)).double()
    f = torch.randn(2, 3, space.size, dtype=torch.float64)
    fibre_major = f.reshape(2, 3, 8, 6, 6).permute(2, 1, 0, 3, 4)  # (N, C, B, H, W)
    fast = layer.generators.weighted_sum_fibre_major(fibre_major, layer.weight0, layer.weight, layer.bias)
    torch.testing.assert_close(fast.permute(2, 1, 0, 3, 4).reshape(2, 4, -1), layer(f), rtol=1e-12, atol=1e-12)
    lift = Lifting(2, 3, space).double()
    x = torch.randn(2, 2, 36, dtype=torch.float64)
    fast = lift.fibre_major(x).permute(2, 1, 0, 3, 4).reshape(2, 3, -1)
    torch.testing.assert_close(fast, lift(x), rtol=1e-12, atol=1e-12)
    fast = lift.fibre_major(x, max_pool=True).permute(2, 1, 0, 3, 4).reshape(2, 3, -1)
    torch.testing.assert_close(fast, lifted_max_pool2(lift(x), space)[0], rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="expected features"):
        layer.generators.weighted_sum_fibre_major(f, layer.weight0, layer.weight)


@pytest.mark.parametrize(
    "options",
    [{}, dict(channels=3, layers=3, orientations=8, lift_average=1, lift_pool=False, pool=True, learned=True)],
)
def test_lconv_se2_fast_features_match_the_lconv_layers(options):
    torch.manual_seed(0)
    net = build_model("lconv-se2", (1, 16, 16), 4, **options).double()
    x = torch.randn(3, 1, 16, 16, dtype=torch.float64)
    for mode in (net.train, net.eval):
        mode()
        torch.testing.assert_close(net.features(x), net.features_reference(x), rtol=1e-10, atol=1e-12)


def test_lconv_se2_options():
    net = build_model("lconv-se2", (3, 16, 16), 5, channels=4, layers=2, pool=False)
    x = torch.randn(2, 3, 16, 16, dtype=torch.float64)
    net = net.double()
    testing.assert_invariant(net, x, lambda v: torch.rot90(v, 1, (-2, -1)))
    testing.assert_invariant(net, x, lambda v: torch.roll(v, (3, -5), (-2, -1)))  # no pooling: shifts too
    learned = build_model("lconv-se2", (1, 8, 8), 3, channels=2, layers=1, orientations=4, learned=True)
    assert learned.layers[0].generators.coefficients is not None
    with pytest.raises(ValueError, match="3 left-invariant generators"):
        build_model("lconv-se2", (1, 8, 8), 3, n_generators=8)


# ----------------------------------------------------------------------------- second-order terms
def test_second_order_fields_approximate_the_products_of_the_fields():
    # on a smooth periodic function S_k f is (A_1^2, A_2^2, sym A_1 A_2, A_3^2) f up to O(h^2)
    n, N = 64, 8
    space = SE2Grid(Grid((n, n)), N)
    gens = left_invariant(space)
    r = torch.arange(n, dtype=torch.float64)
    y, x = torch.meshgrid(r, r, indexing="ij")  # x: the last axis
    w = 2 * math.pi / n
    theta = torch.arange(N, dtype=torch.float64) * 2 * math.pi / N
    c, s = theta.cos()[:, None, None], theta.sin()[:, None, None]
    g = (torch.sin(w * x) * torch.cos(w * y))[None] * (1 + 0.5 * theta.cos())[:, None, None]  # (N, n, n)
    fxx = -(w**2) * g
    fyy = -(w**2) * g
    fxy = (w**2) * (torch.cos(w * x) * -torch.sin(w * y))[None] * (1 + 0.5 * theta.cos())[:, None, None]
    want = torch.stack(
        [
            c * c * fxx + 2 * c * s * fxy + s * s * fyy,  # A_1 = c D_x + s D_y
            s * s * fxx - 2 * c * s * fxy + c * c * fyy,  # A_2 = -s D_x + c D_y
            -c * s * fxx + (c * c - s * s) * fxy + c * s * fyy,
            (torch.sin(w * x) * torch.cos(w * y))[None] * (-0.5 * theta.cos())[:, None, None],  # d^2/dtheta^2
        ]
    )
    got = gens.second_order_fields(g.reshape(1, -1)).reshape(4, N, n, n)
    frames = space.frames  # the fields' own axes: check the convention before comparing
    assert torch.allclose(frames[:, :, 0], torch.stack([theta.cos(), theta.sin()], 1))
    for k in range(3):
        assert (got[k] - want[k]).abs().max() < 0.01 * want[k].abs().max() + 1e-12, k
    assert (got[3] - want[3]).abs().max() < 0.06 * want[3].abs().max()  # step 2 pi / 8 on the orientation axis


def test_second_order_layers_keep_the_invariance_and_the_fast_path(dtype):
    torch.manual_seed(0)
    net = build_model("lconv-se2-order2", (1, 16, 16), 4, channels=3, layers=2).to(dtype)
    assert net.layer_order == 2 and len(net.second) == 2
    with torch.no_grad():  # zero at initialisation; random here so that the terms count
        for p in net.second:
            p.normal_()
    x = torch.randn(3, 1, 16, 16, dtype=dtype)
    for mode in (net.train, net.eval):
        mode()
        for k in (1, 2, 3):
            testing.assert_invariant(net, x, lambda v, k=k: torch.rot90(v, k, (-2, -1)))
        if dtype == torch.float64:
            torch.testing.assert_close(net.features(x), net.features_reference(x), rtol=1e-10, atol=1e-12)
    flat = build_model("lconv-se2", (1, 16, 16), 4, channels=3, layers=2, pool=False).double()
    second = build_model("lconv-se2", (1, 16, 16), 4, channels=3, layers=2, pool=False, layer_order=2).double()
    second.load_state_dict(flat.state_dict(), strict=False)
    x = x.double()
    torch.testing.assert_close(second(x), flat(x))  # zero second-order weights: the first-order network
    with torch.no_grad():
        second.second[0].normal_()
    testing.assert_invariant(second, x, lambda v: torch.roll(v, (3, -5), (-2, -1)))  # no pooling: shifts too
    assert not torch.allclose(second(x), flat(x))


def test_second_order_bad_input():
    space = SE2Grid(Grid((6, 6)), 4)
    gens = left_invariant(space)
    f = torch.randn(4, 3, 2, 6, 6)
    with pytest.raises(ValueError, match=r"weight2 must have shape \(4, 5, 3\)"):
        gens.weighted_sum_fibre_major(f, torch.zeros(5, 3), torch.zeros(3, 5, 3), None, torch.zeros(3, 5, 3))
    with pytest.raises(ValueError, match="periodic grid with method='central'"):
        left_invariant(space, method="swi").second_order_fields(torch.randn(2, space.size))
    with pytest.raises(ValueError, match="layer_order must be 1 or 2"):
        SE2LConvClassifier((1, 8, 8), 3, layer_order=3)


# ----------------------------------------------------------------------------- the documented example runs
def test_docs_equivariance_example_runs():
    text = (Path(__file__).resolve().parents[1] / "docs" / "equivariance.md").read_text()
    block = re.findall(r"```python\n(.*?)```", text, flags=re.S)[0]
    scope: dict = {}
    exec(block, scope)
    assert scope["logits"].shape == (4, 10)
    grid = scope["space"].grid
    logits = lambda v: scope["head"](scope["net"](v).mean(-1))  # noqa: E731
    testing.assert_invariant(logits, scope["x"], grid.rot90, rtol=1e-5)
    testing.assert_invariant(logits, scope["x"], lambda v: grid.shift(v, (3, -2)), rtol=1e-5)


@needs_shared
def test_lconv_train_runs_the_se2_model(tmp_path):
    from lconv.cli import main

    out = tmp_path / "se2"
    argv = ["train", "--model", "lconv-se2", "--channels", "2", "--layers", "2", "--train-size", "256",
            "--batch-size", "64", "--epochs", "1", "--data-dir", str(SHARED), "--out", str(out)]  # fmt: skip
    with pytest.raises(SystemExit) as done:
        main(argv)
    assert done.value.code in (0, None)
    config = json.loads((out / "config.json").read_text())
    assert config["model"] == "lconv-se2" and config["layers"] == 2 and config["generators"] == 3
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["param_count"] == param_count(build_model("lconv-se2", (1, 28, 28), 10, channels=2, layers=2))


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("space", [SE2Grid(Grid((8, 8)), 8), SE3Grid(Grid((3, 3, 3)))])
def test_lifted_layers_run_on_any_device(space, device):
    torch.manual_seed(0)
    net = nn.Sequential(Lifting(1, 3, space), nn.ReLU(), LConv(3, 2, left_invariant(space, n=4, learned=True)))
    x = torch.randn(2, 1, space.grid.size)
    expected = net(x).detach()
    moved = net.to(device)
    y = moved(x.to(device))
    y.square().sum().backward()
    assert y.device.type == device and torch.allclose(y.cpu(), expected, atol=1e-5)
    assert all(p.grad is not None and p.grad.device.type == device for p in moved.parameters())
