"""``lconv-graph``: L-conv with local generators on the pixel graph found in scrambled images, and its run folder."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from helpers import SHARED, needs_shared

from lconv.analysis import edge_recovery, grid_edges, load_topology, save_topology
from lconv.discovery import fit_topology
from lconv.nn import GraphLConvClassifier, param_count

H = W = 12


def smooth_scrambled(n: int = 600, seed: int = 0):
    """Smooth random images ``(n, 1, H, W)`` (blurred noise) with their pixels permuted by ``perm``:
    scrambled pixel ``j`` is pixel ``perm[j]``."""
    g = torch.Generator().manual_seed(seed)
    noise = torch.randn(n, 1, H + 8, W + 8, generator=g)
    r = torch.arange(-4, 5, dtype=torch.float32)
    k = torch.exp(-(r[:, None] ** 2 + r[None] ** 2) / (2 * 1.5**2))
    images = F.conv2d(noise, (k / k.sum())[None, None])  # (n, 1, H, W)
    perm = torch.randperm(H * W, generator=g)
    return images.flatten(2)[..., perm].reshape(n, 1, H, W), perm


@pytest.fixture(scope="module")
def scrambled():
    x, perm = smooth_scrambled()
    return x, perm, fit_topology(x.flatten(1), shape=(H, W))


def test_discovered_graph_is_the_hidden_lattice(scrambled):
    x, perm, topo = scrambled
    rec = edge_recovery(topo.edges, grid_edges((H, W), perm))
    assert rec["recall"] > 0.9 and rec["precision"] > 0.9, rec


def test_generators_move_signal_only_along_the_graph(scrambled):
    x, perm, topo = scrambled
    net = GraphLConvClassifier((1, H, W), 5, topo, channels=3, layers=2, n_generators=4)
    assert net(x[:7]).shape == (7, 5)
    gens = net.layers[0].generators
    neighbours = {v: set() for v in range(H * W)}
    for a, b in topo.edges.tolist():
        neighbours[a].add(b)
        neighbours[b].add(a)
    for v in (0, 17, 100):
        delta = torch.zeros(H * W)
        delta[v] = 1.0
        moved = gens(delta).abs().sum(0)  # (d,): where the n generators put the delta's mass
        assert set(torch.nonzero(moved).flatten().tolist()) <= neighbours[v] | {v}
        assert moved[sorted(neighbours[v])].gt(0).all()  # every edge carries a weight
    # difference form (Eq. 72): constant signals are in the kernel of every generator
    assert gens(torch.ones(H * W)).abs().max() < 1e-5


def test_build_model_lconv_graph_and_its_budget(scrambled):
    from lconv.nn import MODELS, build_model

    x, perm, topo = scrambled
    assert "lconv-graph" in MODELS
    net = build_model("lconv-graph", (1, H, W), 4, graph=topo, channels=3, n_generators=2)
    assert isinstance(net, GraphLConvClassifier) and net(x[:2]).shape == (2, 4)
    d, k = H * W, net.layers[0].generators.index.shape[1]
    assert k <= 4
    assert param_count(net) == 2 * d * k + (3 + 2 * 3 + 3) + (3 * d * 4 + 4)
    # on MNIST the defaults stay within the ~190k budget of the SI D models, also with two layers
    mnist = build_model("lconv-graph", (1, 28, 28), 10)
    assert param_count(mnist) <= 190_000
    assert param_count(build_model("lconv-graph", (1, 28, 28), 10, layers=2)) <= 190_000
    assert mnist(torch.randn(3, 1, 28, 28)).shape == (3, 10)
    with pytest.raises(TypeError, match="graph is an option of lconv-graph"):
        build_model("lconv", (1, H, W), 4, graph=topo)
    with pytest.raises(ValueError, match="nodes"):
        build_model("lconv-graph", (1, 28, 28), 10, graph=topo)  # fitted on 12 x 12 images


def test_topology_file_round_trip(scrambled, tmp_path):
    x, _, topo = scrambled
    back = load_topology(save_topology(topo, tmp_path / "topology.npz"))
    assert torch.equal(back.edges, topo.edges) and torch.equal(back.constant, topo.constant)
    assert topo.order is not None  # smooth 12 x 12 images: the lattice is found, and its order kept
    assert torch.equal(back.order, topo.order) and back.shape == topo.shape
    assert torch.equal(back.unscramble(x[:3].flatten(1)), topo.unscramble(x[:3].flatten(1)))
    assert back.graph == topo.graph and back.num_samples == topo.num_samples
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="delete it"):
        load_topology(tmp_path / "bad.npz")


@needs_shared
def test_train_lconv_graph_fits_caches_and_reports_the_topology(tmp_path, monkeypatch):
    from lconv.experiments.train import train

    opts = dict(dataset="mnist", variant="rotated-scrambled", model="lconv-graph", channels=2, generators=2,
                train_size=2500, batch_size=128, seed=0, data_dir=SHARED)  # fmt: skip
    folder, m = train(out=tmp_path / "run", epochs=1, **opts)
    path = folder / "topology.npz"
    assert path.is_file()
    saved = json.loads((folder / "metrics.json").read_text())
    for key in ("topology_edge_recall", "topology_edge_precision", "topology_lattice_fraction", "test_accuracy"):
        assert saved[key] == pytest.approx(m[key])
    # 2,250 training images: the lattice is found (about 97% of the pixels at their true site)
    assert m["topology_images"] == 2250 and m["topology_lattice_found"] is True
    assert 0.8 < m["topology_edge_recall"] <= 1 and 0.8 < m["topology_edge_precision"] <= 1
    assert 0.8 < m["topology_lattice_fraction"] <= 1
    assert m["param_count"] == param_count(GraphLConvClassifier((1, 28, 28), 10, load_topology(path), channels=2,
                                                                n_generators=2))  # fmt: skip
    assert m["test_accuracy"] > 0.2  # ten classes: chance is 0.1
    assert "topology_edge_recall" in (folder / "report.md").read_text()

    # --resume reads the graph back: fitting again is an error here
    def refit(*args, **kwargs):
        raise AssertionError("the topology was fitted again on resume")

    monkeypatch.setattr("lconv.discovery.fit_topology", refit)
    before = path.read_bytes()
    _, m2 = train(out=folder, resume=True, epochs=2, data_dir=SHARED)
    assert m2["epochs"] == 2 and path.read_bytes() == before
    assert m2["topology_edge_recall"] == pytest.approx(m["topology_edge_recall"])


@needs_shared
def test_train_lconv_graph_on_too_few_images_says_what_to_raise(tmp_path):
    from lconv.experiments.train import train

    with pytest.raises(ValueError, match="raise --train-size"):
        train(out=tmp_path / "run", model="lconv-graph", variant="rotated-scrambled", train_size=40, epochs=1,
              data_dir=SHARED)  # fmt: skip


def test_lattice_se2_model_puts_pixels_back_and_keeps_quarter_turn_invariance():
    from lconv.nn import LatticeSE2Classifier, SE2LConvClassifier

    torch.manual_seed(0)
    x = torch.randn(3, 1, 8, 8, dtype=torch.float64)
    perm = torch.randperm(64)
    scrambled = x.flatten(2)[..., perm].reshape(x.shape)  # scrambled pixel j is pixel perm[j]
    order = torch.argsort(perm)  # scrambled[:, order] is back on the lattice
    model = LatticeSE2Classifier((1, 8, 8), 5, order, channels=3, layers=2).double().eval()
    plain = SE2LConvClassifier((1, 8, 8), 5, channels=3, layers=2).double().eval()
    plain.load_state_dict(model.se2.state_dict())
    assert torch.allclose(model(scrambled), plain(x), atol=1e-12)
    turned = torch.rot90(x, 1, (-2, -1)).flatten(2)[..., perm].reshape(x.shape)
    assert torch.allclose(model(turned), model(scrambled), atol=1e-10)  # a quarter turn of the hidden lattice
    assert not torch.allclose(model(scrambled), plain(scrambled), atol=1e-3)  # the order matters
    with pytest.raises(ValueError, match="permutation of the 64 pixels"):
        LatticeSE2Classifier((1, 8, 8), 5, torch.zeros(64, dtype=torch.long))


def test_build_lattice_model_from_a_topology_and_refuse_a_graph_without_lattice(scrambled):
    from lconv.nn import LatticeSE2Classifier, build_model

    x, perm, topo = scrambled
    model = build_model("lconv-se2-lattice", (1, H, W), 10, graph=topo, channels=2, layers=1)
    assert isinstance(model, LatticeSE2Classifier) and torch.equal(model.order, topo.order)
    assert param_count(model) == param_count(build_model("lconv-se2", (1, H, W), 10, channels=2, layers=1))
    no_lattice = type(topo)(**{**topo.__dict__, "order": None, "graph": "knn"})
    with pytest.raises(ValueError, match="use lconv-graph"):
        build_model("lconv-se2-lattice", (1, H, W), 10, graph=no_lattice)
    with pytest.raises(TypeError, match="graph is an option of"):
        build_model("lconv-se2", (1, H, W), 10, graph=topo)


def test_second_order_lattice_model_fits_the_graph_in_train(scrambled, tmp_path):
    from lconv.experiments.train import train
    from lconv.nn import GRAPH_MODELS, LatticeSE2Classifier, build_model

    x, perm, topo = scrambled
    model = build_model("lconv-se2-lattice-order2", (1, H, W), 10, graph=topo, channels=2, layers=1)
    assert isinstance(model, LatticeSE2Classifier) and model.se2.layer_order == 2
    assert "lconv-se2-lattice-order2" in GRAPH_MODELS and "lconv-se2-order2" not in GRAPH_MODELS
    if SHARED.is_dir():
        _, m = train(out=tmp_path / "run", model="lconv-se2-lattice-order2", variant="rotated-scrambled", channels=2,
                     layers=1, train_size=2500, epochs=1, data_dir=SHARED)  # fmt: skip
        assert m["topology_lattice_found"] is True and 0.8 < m["topology_lattice_fraction"] <= 1


def test_pooled_cnn_has_at_least_the_se2_models_parameters():
    from lconv.nn import CNN, build_model

    cnn = build_model("cnn-pooled", (1, 28, 28), 10)
    assert isinstance(cnn, CNN) and cnn(torch.randn(2, 1, 28, 28)).shape == (2, 10)
    for name in ("lconv-se2", "lconv-se2-order2"):
        assert param_count(cnn) >= param_count(build_model(name, (1, 28, 28), 10))
    assert any(isinstance(m, torch.nn.MaxPool2d) for m in cnn.modules())


@needs_shared
def test_train_lattice_se2_model_reports_the_lattice_it_found(tmp_path):
    from lconv.experiments.dtable import markdown
    from lconv.experiments.train import train

    opts = dict(dataset="mnist", variant="rotated-scrambled", model="lconv-se2-lattice", channels=4, layers=1,
                train_size=2500, batch_size=128, seed=0, data_dir=SHARED)  # fmt: skip
    folder, m = train(out=tmp_path / "run", epochs=1, **opts)
    assert (folder / "topology.npz").is_file() and m["topology_lattice_found"] is True
    assert 0.8 < m["topology_lattice_fraction"] <= 1
    from safetensors.torch import load_file

    best = load_file(str(folder / "best.safetensors"))
    assert torch.equal(best["model.order"], load_topology(folder / "topology.npz").order)  # the checkpoint keeps the order
    row = dict(dataset="mnist", variant="rotated-scrambled", model="lconv-se2-lattice", test_accuracy=0.5, paper=None,
               param_count=m["param_count"], lr=0.002, epoch_seconds=1.0, test_std=0.0, seeds=[0],
               discovery=dict(edge_recall=0.99, edge_precision=0.98, lattice_fraction=0.97, seconds=2.0))  # fmt: skip
    assert "| mnist | rotated-scrambled | lconv-se2-lattice | 0.9900 | 0.9800 | 0.9700 | 2.0 |" in markdown([row], "x")
