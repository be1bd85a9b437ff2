import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lconv import Grid


def test_coordinates_are_centred_cartesian_row_major():
    grid = Grid((3, 4))  # 3 rows (y), 4 columns (x)
    xy = grid.coordinates()
    assert xy.shape == (12, 2)
    # node y*W + x = 1*4 + 2 = 6 sits at column 2, row 1
    assert torch.equal(xy[6], torch.tensor([2 - 1.5, 1 - 1.0], dtype=torch.float64))
    assert torch.allclose(xy.mean(0), torch.zeros(2, dtype=torch.float64))


def test_flatten_roundtrip_and_errors():
    grid = Grid((5, 6))
    img = torch.randn(2, 3, 5, 6)
    flat = grid.flatten(img)
    assert flat.shape == (2, 3, 30)
    assert torch.equal(flat[0, 0, 6 * 1 + 2], img[0, 0, 1, 2])  # row-major
    assert torch.equal(grid.unflatten(flat), img)
    with pytest.raises(ValueError, match="Grid.flatten"):
        grid.flatten(torch.randn(2, 6, 5))
    with pytest.raises(ValueError, match="Grid.flatten"):
        grid.flatten(torch.randn(6))
    with pytest.raises(ValueError, match="30 nodes"):
        grid.unflatten(torch.randn(2, 29))


@pytest.mark.parametrize("bad", [(), (0, 3), (2, 2, 2, 2), (2.5,)])
def test_bad_shapes_are_rejected(bad):
    with pytest.raises(ValueError, match="Grid"):
        Grid(bad)


def test_periodic_shift_is_a_roll_in_cartesian_order():
    grid = Grid((4, 5))
    img = torch.arange(20.0).reshape(4, 5)
    out = grid.unflatten(grid.shift(grid.flatten(img), (2, -1)))  # x by +2, y by -1
    assert torch.equal(out, torch.roll(img, shifts=(-1, 2), dims=(0, 1)))
    # content at p moves to p + s
    f = torch.zeros(20)
    f[1 * 5 + 1] = 1.0
    g = grid.unflatten(grid.shift(f, (2, 1)))
    assert g[2, 3] == 1.0 and g.sum() == 1.0


def test_nonperiodic_shift_fills_zeros():
    grid = Grid(6, periodic=False)
    f = torch.arange(1.0, 7.0)
    assert torch.equal(grid.shift(f, 2), torch.tensor([0, 0, 1, 2, 3, 4.0]))
    assert torch.equal(grid.shift(f, -2), torch.tensor([3, 4, 5, 6, 0, 0.0]))


def test_rot90_sense_and_order():
    grid = Grid((5, 5))
    f = torch.randn(2, 25)
    four = grid.rot90(grid.rot90(grid.rot90(grid.rot90(f))))
    assert torch.equal(four, f)
    # a point on the +x axis goes to the +y axis (x -> y is the positive sense)
    e = torch.zeros(25)
    e[2 * 5 + 4] = 1  # row 2 (y = 0), column 4 (x = +2)
    out = grid.unflatten(grid.rot90(e))
    assert out[4, 2] == 1  # row 4 (y = +2), column 2 (x = 0)
    with pytest.raises(ValueError, match="square 2-D"):
        Grid((4, 5)).rot90(torch.randn(20))


def test_action_matrix_of_shift_is_a_permutation():
    grid = Grid((3, 3))
    m = grid.action_matrix(lambda f: grid.shift(f, (1, 0)))
    f = torch.randn(9, dtype=torch.float64)
    assert torch.allclose(m @ f, grid.shift(f, (1, 0)))
    assert torch.equal(m.sum(0), torch.ones(9, dtype=torch.float64))


def test_neighbours_periodic_and_masked():
    grid = Grid((4, 4), periodic=False)
    index, mask, offsets = grid.neighbours(1)
    assert index.shape == mask.shape == (16, 9)
    assert offsets.shape == (9, 2)
    corner = 0  # row 0, column 0: only offsets with x, y >= 0 exist
    assert int(mask[corner].sum()) == 4
    inner = 1 * 4 + 1
    assert bool(mask[inner].all())
    xy = grid.coordinates()
    for j in range(9):
        assert torch.equal(xy[index[inner, j]] - xy[inner], offsets[j].double())
    per_index, per_mask, _ = Grid((4, 4)).neighbours(1)
    assert bool(per_mask.all())
    assert set(per_index[0].tolist()) == {0, 1, 3, 4, 5, 7, 12, 13, 15}


def test_edges_have_no_self_loops_and_both_directions():
    grid = Grid(5, periodic=False)
    e = grid.edges(1)
    assert e.shape == (2, 8)
    pairs = set(map(tuple, e.T.tolist()))
    assert all((b, a) in pairs for a, b in pairs)
    assert all(a != b for a, b in pairs)


shapes = st.lists(st.integers(1, 5), min_size=1, max_size=3).map(tuple)


@settings(max_examples=40, deadline=None)
@given(shape=shapes, data=st.data())
def test_periodic_shifts_compose_and_invert(shape, data):
    grid = Grid(shape)
    a = data.draw(st.lists(st.integers(-6, 6), min_size=grid.ndim, max_size=grid.ndim))
    b = data.draw(st.lists(st.integers(-6, 6), min_size=grid.ndim, max_size=grid.ndim))
    f = torch.randn(2, grid.size)
    ab = [x + y for x, y in zip(a, b)]
    assert torch.equal(grid.shift(grid.shift(f, a), b), grid.shift(f, ab))
    assert torch.equal(grid.shift(grid.shift(f, a), [-x for x in a]), f)
    # the shift moves every node's coordinate by the shift, modulo the grid
    idx = grid.index()
    moved = grid.shift(torch.arange(grid.size, dtype=torch.float64), a).long()  # moved[p] = p - a
    expected = torch.remainder(idx - torch.tensor(a[::-1]), torch.tensor(shape))
    strides = torch.tensor([int(torch.tensor(shape[k + 1 :]).prod()) for k in range(len(shape))])
    assert torch.equal(moved, (expected * strides).sum(-1))
