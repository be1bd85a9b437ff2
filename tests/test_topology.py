"""Topology discovery (fit_topology) and its metrics on synthetic scrambled images whose lattice is known."""

import numpy as np
import pytest
import torch

from lconv.analysis import edge_recovery, grid_edges, lattice_recovery, plot_recovered_graph, plot_unscrambled
from lconv.discovery import TopologyResult, fit_topology
from lconv.nn import LocalGenerators

H = W = 10


def smooth_images(n=400, shape=(H, W), sigma=1.3, seed=0):
    """Gaussian-filtered white noise, cropped from a larger field (no wrap-around): ``(n, H * W)``."""
    g = torch.Generator().manual_seed(seed)
    h, w = shape
    pad = 6
    noise = torch.randn(n, 1, h + 2 * pad, w + 2 * pad, generator=g, dtype=torch.float64)
    r = torch.arange(-pad, pad + 1, dtype=torch.float64)
    k = torch.exp(-(r**2) / (2 * sigma**2))
    k2 = (k[:, None] * k[None, :])[None, None]
    field = torch.nn.functional.conv2d(noise, k2 / k2.sum())
    return field[:, 0, :h, :w].reshape(n, h * w)


def scrambled(n=400, seed=0, constant=()):
    x = smooth_images(n, seed=seed)
    for p in constant:
        x[:, p] = 0.5
    perm = torch.randperm(H * W, generator=torch.Generator().manual_seed(100 + seed))
    return x[:, perm], perm, x


def varying(result):
    m = torch.ones(result.num_nodes, dtype=torch.bool)
    m[result.constant] = False
    return m


def test_grid_edges_count_and_scrambling():
    e = grid_edges((3, 4))
    assert e.shape == (3 * 3 + 4 * 2, 2) and e.dtype == torch.int64
    assert bool((e[:, 0] < e[:, 1]).all())
    perm = torch.randperm(12, generator=torch.Generator().manual_seed(1))
    es = grid_edges((3, 4), perm)
    # scrambled nodes i, j are joined exactly when their pixels perm[i], perm[j] are
    back = torch.sort(perm[es], dim=1).values
    assert {tuple(t) for t in back.tolist()} == {tuple(t) for t in e.tolist()}


def test_metrics_on_known_answers():
    true = grid_edges((4, 4))
    assert edge_recovery(true, true)["recall"] == 1.0
    half = true[::2]
    wrong = torch.tensor([[0, 15]])
    m = edge_recovery(torch.cat([half, wrong]), true.flip(1))  # direction does not matter
    assert m["recall"] == len(half) / len(true)
    assert m["precision"] == len(half) / (len(half) + 1)
    # restricted to nodes 0..3 (the top row): 3 true edges there
    assert edge_recovery(true, true, nodes=torch.arange(4))["true"] == 3
    # a rotated and shifted lattice is fully recovered
    perm = torch.arange(16)
    site = torch.arange(16).reshape(4, 4)
    order = torch.rot90(site, 1).flip(1).reshape(-1)
    out = lattice_recovery(order, perm, (4, 4))
    assert out["fraction"] == 1.0
    swapped = order.clone()
    swapped[[0, 5]] = swapped[[5, 0]]
    assert lattice_recovery(swapped, perm, (4, 4))["fraction"] == 14 / 16


def test_recovers_the_lattice_of_scrambled_smooth_images():
    x, perm, _ = scrambled()
    r = fit_topology(x, k=4)
    assert isinstance(r, TopologyResult)
    assert r.edges.shape[1] == 2 and r.edges.dtype == torch.int64
    assert len(r.constant) == 0 and r.lattice_found and r.shape == (H, W) and r.graph == "lattice"
    for edges in (r.edges, r.knn_edges):  # the lattice's graph and the correlation graph it started from
        m = edge_recovery(edges, grid_edges((H, W), perm))
        assert m["recall"] >= 0.95 and m["precision"] >= 0.95
    assert len(r.weights) == len(r.edges)
    assert lattice_recovery(r.order, perm, (H, W))["fraction"] >= 0.95
    assert sorted(r.order.tolist()) == list(range(H * W))
    assert set(r.seconds) == {"correlation", "graph", "lattice", "total"}
    # the edges feed the graph generators directly
    layer = LocalGenerators.on_graph(r.edge_index, H * W, 2)
    assert layer(torch.randn(3, 1, H * W)).shape == (3, 1, 2, H * W)


def test_unscramble_puts_images_back_up_to_a_symmetry():
    x, perm, original = scrambled()
    r = fit_topology(x)
    img = r.unscramble(x[:5])
    assert img.shape == (5, H, W)
    assert lattice_recovery(r.order, perm, (H, W))["fraction"] == 1.0
    # the whole 10 x 10 lattice is used, so no shift: a symmetry of the square maps the images onto the originals
    ref = original[:5].reshape(5, H, W)
    cands = [torch.rot90(img.flip(-1) if f else img, t, dims=(-2, -1)) for t in range(4) for f in (False, True)]
    assert any(torch.allclose(c, ref) for c in cands)


def test_constant_pixels_are_reported_and_left_isolated():
    corners = (0, W - 1, H * W - W, H * W - 1)
    x, perm, _ = scrambled(constant=corners)
    r = fit_topology(x)
    const = set(torch.argsort(perm)[list(corners)].tolist())  # scrambled nodes of the corner pixels
    assert set(r.constant.tolist()) == const
    assert const <= set(r.isolated.tolist())
    assert not (set(r.edges.reshape(-1).tolist()) & const)
    assert torch.isnan(r.coordinates[list(const)]).all()
    vary = varying(r)
    m = edge_recovery(r.edges, grid_edges((H, W), perm), nodes=vary)
    assert m["recall"] >= 0.95 and m["precision"] >= 0.95
    assert lattice_recovery(r.order, perm, (H, W), nodes=vary)["fraction"] >= 0.95


def test_no_lattice_gives_graph_and_eigenmap():
    x, perm, _ = scrambled()
    r = fit_topology(x, lattice=False)
    assert r.order is None and not r.lattice_found and r.graph == "knn"
    assert torch.equal(r.edges, r.knn_edges)
    assert r.coordinates.shape == (H * W, 2) and torch.isfinite(r.coordinates).all()
    with pytest.raises(ValueError, match="no lattice"):
        r.unscramble(x)
    # independent noise has no lattice: the fit is poor and no order is claimed
    noise = torch.randn(400, H * W, generator=torch.Generator().manual_seed(3))
    assert fit_topology(noise).order is None


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda x: x[:10], "too few for a stable correlation estimate; pass at least 50"),
        (lambda x: torch.where(torch.arange(H * W) == 7, float("nan"), x), "NaN or inf; drop those samples"),
        (lambda x: torch.zeros_like(x), "pass samples in which at least 3 nodes change"),
        (lambda x: x[:, :, None, None], r"must be \(N, d\)"),
    ],
)
def test_bad_input_is_one_line_naming_the_fix(make, match):
    x, _, _ = scrambled(n=60)
    with pytest.raises(ValueError, match=match) as err:
        fit_topology(make(x))
    assert "\n" not in str(err.value)


def test_bad_arguments():
    x, _, _ = scrambled(n=60)
    with pytest.raises(ValueError, match=r"shape=\(H, W\) with H \* W == 100"):
        fit_topology(x, shape=(9, 10))
    with pytest.raises(ValueError, match="k must be"):
        fit_topology(x, k=0)
    with pytest.raises(ValueError, match="permutation"):
        lattice_recovery(torch.zeros(100, dtype=torch.long), torch.arange(100), (H, W))


def test_images_and_non_square_shape():
    x = smooth_images(300, shape=(6, 12), seed=4)
    perm = torch.randperm(72, generator=torch.Generator().manual_seed(5))
    r = fit_topology(x[:, perm].reshape(300, 6, 12).numpy())  # (N, H, W) gives the shape; arrays work too
    assert r.shape == (6, 12) and r.lattice_found
    assert lattice_recovery(r.order, perm, (6, 12))["fraction"] >= 0.9
    r2 = fit_topology(x[:, perm])  # 72 is not a square: no lattice tried
    assert r2.shape is None and r2.order is None


def test_figures(tmp_path):
    x, perm, _ = scrambled(constant=(0,))
    r = fit_topology(x)
    a = plot_recovered_graph(r.edges, perm, (H, W), tmp_path / "graph.png", constant=r.constant)
    b = plot_unscrambled(x[:3], r.order, perm, (H, W), tmp_path / "back.png")
    for p in (a, b):
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob("*.tmp"))


def test_deterministic():
    x, _, _ = scrambled(n=200)
    a, b = fit_topology(x), fit_topology(x)
    assert torch.equal(a.edges, b.edges)
    assert (a.order is None and b.order is None) or torch.equal(a.order, b.order)
    assert np.allclose(a.weights.numpy(), b.weights.numpy())


def test_refinement_moves_a_border_line_placed_one_site_off():
    from lconv.discovery._topology import _correlation, _objective, _refine

    c, _, _ = _correlation(smooth_images(400), 1e-6)
    truth = np.arange(H * W).reshape(H, W)
    truth[0, 0] = truth[H - 1, 0] = -1  # two empty corners leave the first column room to move
    grid = truth.copy()
    grid[:, 0] = np.roll(truth[:, 0], 1)  # the whole first column one row down
    assert _objective(c, grid) < _objective(c, truth)
    _refine(c, grid, max_passes=5)
    assert np.array_equal(grid, truth)
