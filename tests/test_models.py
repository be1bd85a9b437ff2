"""The SI D classifiers: shapes, parameter counts, and what each baseline is meant to be."""

from __future__ import annotations

import pytest
import torch

from lconv.nn import MODELS, LConvClassifier, build_model, param_count

MNIST = (1, 28, 28)


@pytest.mark.parametrize("name", [m for m in MODELS if m != "escnn"])
@pytest.mark.parametrize("layers", [1, 2])
def test_logits_shape_and_gradients(name, layers):
    torch.manual_seed(0)
    net = build_model(name, (3, 8, 8), 5, channels=4, layers=layers, n_generators=3, rank=2, kernel=3)
    x = torch.randn(6, 3, 8, 8)
    out = net(x)
    assert out.shape == (6, 5)
    out.square().sum().backward()
    grads = [p.grad for p in net.parameters() if p.requires_grad]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)


def test_lconv_parameter_count_formula():
    c, n, r, d, k = 16, 8, 4, 784, 10
    net = build_model("lconv", MNIST, k, channels=c, n_generators=n, rank=r)
    layer = c * 1 * (n + 1) + c + 2 * n * d * r  # W0, W_i, b, U_i and V_i
    assert param_count(net) == layer + c * d * k + k


def test_shared_generators_cost_only_the_channel_weights():
    one = build_model("lconv", MNIST, 10, channels=4, n_generators=3, rank=2)
    two = build_model("lconv", MNIST, 10, channels=4, n_generators=3, rank=2, layers=2, shared=True)
    assert two.layers[0].generators is two.layers[1].generators
    assert param_count(two) == param_count(one) + 4 * 4 * (3 + 1) + 4  # W0, W_i and b of the second layer
    with pytest.raises(ValueError, match="shared generators need one rank"):
        LConvClassifier(MNIST, 10, layers=2, rank=(2, 3), shared=True)


def test_cnn_matches_the_papers_185k_parameters():
    # SI D's best CNN on MNIST: 5x5, 32 filters, no padding: 185k parameters
    net = build_model("cnn", MNIST, 10, kernel=5)
    assert param_count(net) == (25 * 32 + 32) + (24 * 24 * 32 * 10 + 10) == 185_162
    pooled = build_model("cnn", MNIST, 10, kernel=3, pool=True, padding="same")
    assert param_count(pooled) == (9 * 32 + 32) + (14 * 14 * 32 * 10 + 10)


def test_fc_shallow_matches_the_lconv_budget():
    options = dict(channels=8, n_generators=4, rank=3)
    budget = param_count(build_model("lconv", MNIST, 10, **options))
    shallow = build_model("fc-shallow", MNIST, 10, **options)
    per_unit = 784 + 1 + 10
    assert abs(param_count(shallow) - budget) <= per_unit / 2


def test_fc_has_lconvs_shape_without_weight_sharing():
    options = dict(channels=8, n_generators=4, rank=3)
    fc = build_model("fc", MNIST, 10, **options)
    widths = [m.out_features for m in fc.modules() if isinstance(m, torch.nn.Linear)]
    assert widths == [4 * 3, 8 * 784, 10]
    assert param_count(fc) > param_count(build_model("lconv", MNIST, 10, **options))


def test_random_lconv_freezes_only_the_generators():
    net = build_model("lconv-random", MNIST, 10, channels=4, n_generators=2, rank=2)
    frozen = {name for name, p in net.named_parameters() if not p.requires_grad}
    assert frozen == {"layers.0.generators.U", "layers.0.generators.V"}
    assert param_count(net) == param_count(net, trainable=False) - 2 * 2 * 784 * 2


def test_lconv_classifier_is_blind_to_pixel_order():
    # a fixed pixel permutation P is absorbed by the generators (U, V -> P U, P V) and the head:
    # L-conv on scrambled images is L-conv on the originals with permuted parameters
    torch.manual_seed(0)
    shape, d = (1, 6, 6), 36
    net = LConvClassifier(shape, 4, channels=3, n_generators=2, rank=2)
    perm = torch.randperm(d)
    twin = LConvClassifier(shape, 4, channels=3, n_generators=2, rank=2)
    twin.load_state_dict(net.state_dict())
    with torch.no_grad():
        gens = twin.layers[0].generators
        gens.U.copy_(gens.U[:, perm])
        gens.V.copy_(gens.V[:, perm])
        w = twin.head.weight.reshape(4, 3, d)
        twin.head.weight.copy_(w[:, :, perm].reshape(4, 3 * d))
    x = torch.randn(5, *shape)
    scrambled = x.flatten(2)[:, :, perm].reshape(5, *shape)
    torch.testing.assert_close(twin(scrambled), net(x), rtol=1e-5, atol=1e-5)


def test_bad_inputs_and_options():
    net = build_model("lconv", MNIST, 10, channels=2, n_generators=2, rank=2)
    with pytest.raises(ValueError, match=r"expected images of shape \(batch, 1, 28, 28\)"):
        net(torch.randn(2, 784))
    with pytest.raises(ValueError, match="unknown model 'resnet'; choose one of"):
        build_model("resnet", MNIST, 10)
    with pytest.raises(ValueError, match="FullyConnected: got 3 ranks for 2 layers"):
        build_model("fc", MNIST, 10, layers=2, rank=(2, 2, 2))
    with pytest.raises(ValueError, match="leave no pixels"):
        build_model("cnn", (1, 6, 6), 10, kernel=5, layers=2)


def test_escnn_is_optional():
    try:
        import escnn  # noqa: F401
    except ImportError:
        with pytest.raises(ValueError, match="pip install escnn"):
            build_model("escnn", MNIST, 10)
        return
    torch.manual_seed(0)
    net = build_model("escnn", MNIST, 10, channels=16).eval()
    x = torch.randn(2, *MNIST)
    assert net(x).shape == (2, 10)
    assert param_count(net) > 24 * 24 * 16 * 10  # the head sees 16 maps of 24 x 24, like the CNN's
    # C8-equivariant features: turning the image by 90 degrees turns each feature map and permutes the fields
    f, g = net.features(net.field_in(x)).tensor, net.features(net.field_in(torch.rot90(x, 1, (2, 3)))).tensor
    pooled = lambda t: t.reshape(2, -1, 8, 24, 24).amax(2)  # noqa: E731  (max over each field's 8 rotations)
    torch.testing.assert_close(pooled(g), torch.rot90(pooled(f), 1, (2, 3)), rtol=1e-4, atol=1e-4)
