import math

import pytest
import torch

from lconv import Grid, LConv, testing
from lconv import generators as G


def _layer(gens, dtype, c_in=2, c_out=3):
    torch.manual_seed(0)
    return LConv(c_in, c_out, generators=gens).to(dtype)


@pytest.mark.parametrize("shift", [(1, 0), (2, -3), (-4, 5)])
def test_translation_lconv_commutes_with_integer_shifts(dtype, shift):
    grid = Grid((8, 10))
    layer = _layer(G.translation(grid, dtype=dtype), dtype)
    x = torch.randn(4, 2, grid.size, dtype=dtype)
    err = testing.assert_equivariant(layer, x, lambda f: grid.shift(f, shift))
    assert err <= testing.DEFAULT_RTOL[dtype]


def test_shared_stencil_is_translation_equivariant_but_free_local_weights_are_not(dtype):
    grid = Grid((9, 9))
    x = torch.randn(3, 2, grid.size, dtype=dtype)
    act = lambda f: grid.shift(f, (3, 1))  # noqa: E731
    testing.assert_equivariant(_layer(G.learned(grid, n=2, stencil=1), dtype), x, act)
    err = testing.equivariance_error(_layer(G.learned(grid, n=2, local=1), dtype), x, act)
    assert err > 0.1
    with pytest.raises(AssertionError, match="not equivariant: relative error"):
        testing.assert_equivariant(_layer(G.learned(grid, n=2, local=1), dtype), x, act)


def test_lconv_is_equivariant_to_the_group_of_its_generators(dtype):
    # The rotation generator commutes with exp(theta L_rot), so the layer is exactly
    # equivariant to that matrix (whatever its accuracy as an image rotation).
    grid = Grid((7, 7))
    R = G.rotation(grid, dtype=torch.float64)
    g = G.exp(R[0], 0.3)
    layer = _layer(R.to(dtype), dtype)
    x = torch.randn(3, 2, grid.size, dtype=dtype)
    rtol = 1e-4 if dtype == torch.float32 else 1e-11  # exp has norm ~ |L| ~ 10 here
    testing.assert_equivariant(layer, x, g, rtol=rtol)
    # a generator that does not commute with g breaks it
    other = _layer(G.translation(grid, dtype=dtype), dtype)
    assert testing.equivariance_error(other, x, g) > 0.01


def test_rotation_lconv_commutes_with_quarter_turns(dtype):
    # On a square grid centred between pixels, a quarter turn permutes the SWI derivatives
    # (D_x -> D_y, D_y -> -D_x), so it commutes exactly with the rotation generator.
    grid = Grid((12, 12))
    layer = _layer(G.rotation(grid, dtype=dtype), dtype)
    x = torch.randn(3, 2, grid.size, dtype=dtype)
    testing.assert_equivariant(layer, x, grid.rot90)
    testing.assert_equivariant(layer, x, lambda f: grid.rot90(f, 3))
    # with a central disk as region the comparison ignores the corners
    disk = grid.coordinates().norm(dim=-1) < 5
    assert testing.equivariance_error(_layer(G.translation(grid, dtype=dtype), dtype), x, grid.rot90, region=disk) > 0.1


def test_checker_rejects_bad_input():
    grid = Grid(6)
    layer = _layer(G.translation(grid), torch.float32)
    good = torch.randn(2, 2, 6)
    act = lambda f: grid.shift(f, 1)  # noqa: E731
    with pytest.raises(TypeError, match=r"equivariance_error: x must be floating point.*x.float\(\)"):
        testing.assert_equivariant(layer, torch.ones(2, 2, 6, dtype=torch.long), act)
    with pytest.raises(ValueError, match="equivariance_error: x contains NaN or inf"):
        testing.assert_equivariant(layer, good.clone().fill_(math.nan), act)
    with pytest.raises(ValueError, match=r"act_in is 5x5 but the features have 6 nodes"):
        testing.assert_equivariant(layer, good, torch.eye(5))
    with pytest.raises(ValueError, match=r"act_in must be a square"):
        testing.assert_equivariant(layer, good, torch.eye(6)[:5])
    with pytest.raises(TypeError, match="act_in must be a"):
        testing.assert_equivariant(layer, good, "shift")
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        testing.assert_equivariant(layer, [[1.0]], act)


def test_checker_fails_on_nan_output():
    nan_fn = lambda f: f * math.nan  # noqa: E731
    with pytest.raises(AssertionError, match="relative error nan"):
        testing.assert_equivariant(nan_fn, torch.randn(3, 4), torch.eye(4))


def test_relative_error_is_scale_aware():
    a = torch.randn(10, dtype=torch.float64)
    assert testing.relative_error(1e6 * a, 1e6 * a * (1 + 1e-9)) < 2e-9
    assert testing.relative_error(torch.zeros(3), torch.zeros(3)) == 0.0


# ----------------------------------------------------------------------------- non-abelian groups
def test_so3_lconv_on_vectors_is_not_equivariant_and_the_checks_say_so():
    # Free W_i need g to commute with every L_i: exp(0.7 L_x) does not commute with L_y, L_z.
    so3 = G.matrix_algebra("so3", dtype=torch.float64)
    torch.manual_seed(0)
    layer = LConv(2, 2, generators=so3, bias=False).double()  # a bias would also need g to fix constants
    x = torch.randn(16, 2, 3, dtype=torch.float64)
    for j in range(3):
        g = G.exp(so3[j], 0.7)
        assert testing.equivariance_error(layer, x, g) > 0.1
        with pytest.raises(AssertionError, match="not equivariant"):
            testing.assert_equivariant(layer, x, g)
        assert testing.commutation_error(so3, g) > 0.1
        with pytest.raises(AssertionError, match="does not commute.*left_invariant"):
            testing.assert_commutes(so3, g)
        # one generator alone commutes with its own group
        testing.assert_commutes(so3[j], g)
        testing.assert_equivariant(LConv(2, 2, generators=so3[j], bias=False).double(), x, g)


def test_se2_family_on_a_grid_fails_against_quarter_turns_and_shifts(dtype):
    grid = Grid((12, 12))
    se2 = G.family("se2", grid, dtype=dtype)
    layer = _layer(se2, dtype, c_in=1, c_out=4)
    x = torch.randn(4, 1, grid.size, dtype=dtype)
    for act in (grid.rot90, lambda f: grid.shift(f, (2, 1))):
        assert testing.equivariance_error(layer, x, act) > 0.1
        with pytest.raises(AssertionError):
            testing.assert_equivariant(layer, x, act)
        with pytest.raises(AssertionError):
            testing.assert_commutes(se2, act)
    # translations alone (abelian) pass against shifts
    testing.assert_commutes(G.translation(grid, dtype=dtype), lambda f: grid.shift(f, (2, 1)))


def test_a_relu_between_layers_breaks_equivariance_to_interpolated_rotations():
    # exp(0.3 L) commutes with L (linear stack: rounding), but it is not a permutation of the
    # nodes, so a pointwise ReLU in between breaks it (measured 0.2-0.8 over seeds)
    grid = Grid((12, 12))
    R = G.rotation(grid, dtype=torch.float64)
    g = G.exp(R[0], 0.3)
    torch.manual_seed(0)
    first, second = LConv(1, 4, generators=R).double(), LConv(4, 2, generators=R).double()
    x = torch.randn(8, 1, grid.size, dtype=torch.float64)
    testing.assert_equivariant(torch.nn.Sequential(first, second), x, g, rtol=1e-11)
    relu = torch.nn.Sequential(first, torch.nn.ReLU(), second)
    assert testing.equivariance_error(relu, x, g) > 0.1
    with pytest.raises(AssertionError):
        testing.assert_equivariant(relu, x, g)
    # quarter turns are permutations: the ReLU stack stays exactly equivariant to them
    testing.assert_equivariant(relu, x, grid.rot90)


def test_invariance_and_commutation_checks():
    grid = Grid((6, 6))
    x = torch.randn(3, 2, grid.size, dtype=torch.float64)
    assert testing.assert_invariant(lambda f: f.sum(-1), x, grid.rot90) < 1e-12
    with pytest.raises(AssertionError, match="not invariant"):
        testing.assert_invariant(lambda f: f[..., 0], x, grid.rot90)
    T = G.translation(grid, dtype=torch.float64)
    probes = torch.randn(5, grid.size, dtype=torch.float64)
    assert testing.commutation_error(T, lambda f: grid.shift(f, (1, 2)), probes) < 1e-12
    assert testing.commutation_error(G.learned(grid, n=2, stencil=1).double(), lambda f: grid.shift(f, (1, 2))) < 1e-12
    with pytest.raises(ValueError, match=r"probe vectors \(B, 36\)"):
        testing.commutation_error(T, grid.rot90, torch.randn(2, 3, 36, dtype=torch.float64))
    with pytest.raises(TypeError, match="Generators module"):
        testing.commutation_error("rotation", grid.rot90)
