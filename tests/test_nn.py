import pytest
import torch
from helpers import LargestTensor, band_limited, reference_lconv

from lconv import Grid, LConv, LConvStack, nn
from lconv import generators as G
from lconv.algebra import translation
from lconv.nn import functional


def _dense_local(gen):
    """Independent dense build of a LocalGenerators / StencilGenerators by explicit loops."""
    w = gen.weight if gen.weight.dim() == 3 else gen.weight[:, None, :].expand(-1, gen.d, -1)
    out = torch.zeros(gen.n, gen.d, gen.d, dtype=w.dtype)
    for v in range(gen.d):
        for j in range(gen.index.shape[1]):
            if gen.mask[v, j]:
                out[:, v, gen.index[v, j]] = out[:, v, gen.index[v, j]] + w[:, v, j]
                if gen.difference:
                    out[:, v, v] = out[:, v, v] - w[:, v, j]
    return out


GRID = Grid((5, 4), periodic=False)
EDGES = Grid((5, 4)).edges(1)

KINDS = {
    "fixed": (lambda: G.FixedGenerators(G.family("se2", Grid((5, 4)))), lambda g: g.L),
    "dense": (lambda: G.learned(GRID, n=3), lambda g: g.weight),
    "low-rank": (lambda: G.learned(GRID, n=3, rank=2), lambda g: g.U @ g.V.transpose(1, 2)),
    "local": (lambda: G.learned(GRID, n=3, local=1), _dense_local),
    "local-difference": (lambda: G.learned(GRID, n=2, local=2, difference=True), _dense_local),
    "stencil": (lambda: G.learned(GRID, n=3, stencil=1), _dense_local),
    "graph-edges": (
        lambda: G.learned(GRID.size, n=2, edges=EDGES, difference=True),
        lambda g: G.from_incidence(EDGES, g.edge_weights(EDGES), GRID.size),
    ),
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_parametrisation_matches_the_dense_reference(kind, dtype):
    torch.manual_seed(0)
    make, dense = KINDS[kind]
    layer = LConv(3, 4, generators=make()).to(dtype)
    x = torch.randn(2, 3, GRID.size, dtype=dtype)
    L = dense(layer.generators)
    assert L.shape == (layer.num_generators, GRID.size, GRID.size)
    y = layer(x)
    ref = reference_lconv(x, L, layer.weight0, layer.weight, layer.bias)
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    assert torch.allclose(y, ref, rtol=tol, atol=tol)
    assert torch.allclose(layer.generators.matrices(), L, rtol=tol, atol=tol)
    # gradients through the fast path equal those through the reference
    params = list(layer.parameters())
    g_fast = torch.autograd.grad(y.square().sum(), params)
    y_ref = reference_lconv(x, dense(layer.generators), layer.weight0, layer.weight, layer.bias)
    g_ref = torch.autograd.grad(y_ref.square().sum(), params)
    for a, b in zip(g_fast, g_ref):
        assert torch.allclose(a, b, rtol=10 * tol, atol=10 * tol)


def test_functional_form_accepts_a_tensor():
    torch.manual_seed(0)
    L = torch.randn(2, 6, 6)
    x, w0, w, b = torch.randn(3, 4, 6), torch.randn(5, 4), torch.randn(2, 5, 4), torch.randn(5)
    assert torch.allclose(functional.lconv(x, L, w0, w, b), reference_lconv(x, L, w0, w, b), atol=1e-5)


# ----------------------------------------------------------------------------- Sec. 5 special cases
def test_one_generator_gcn_is_a_gcn_layer(dtype):
    torch.manual_seed(0)
    A = (torch.rand(7, 7) < 0.4).to(dtype)
    A = ((A + A.T) > 0).to(dtype)
    A.fill_diagonal_(0)
    H = torch.randn(7, 3, dtype=dtype)  # nodes x features, as in Kipf & Welling
    theta = torch.randn(3, 5, dtype=dtype)
    ahat = A + torch.eye(7, dtype=dtype)
    dinv = torch.diag(ahat.sum(1).rsqrt())
    gcn_out = dinv @ ahat @ dinv @ H @ theta  # (nodes, out)

    layer = LConv(3, 5, generators=G.gcn(A, dtype=dtype), bias=False).to(dtype)
    with torch.no_grad():
        layer.weight0.zero_()
        layer.weight[0] = theta.T
    out = layer(H.T[None])[0].T
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    assert torch.allclose(out, gcn_out, rtol=tol, atol=tol)

    # the same operator as edge weights on the graph with self-loops (local parametrisation)
    edges = torch.cat([G.edges_from_adjacency(A), torch.arange(7).repeat(2, 1)], 1)  # edges and self-loops
    local = G.LocalGenerators.on_graph(edges, 7, n=1).to(dtype)
    op = dinv @ ahat @ dinv
    with torch.no_grad():
        local.weight.copy_((op[torch.arange(7)[:, None], local.index] * local.mask)[None])
    assert torch.allclose(local.matrices()[0], op, rtol=tol, atol=tol)


def test_theorem1_stack_reproduces_a_1d_convolution_kernel(dtype):
    # A 3-tap periodic convolution sum_s a_s shift_s f from L-conv layers with the SWI
    # translation generator. Tolerance: relative error below 1% with 32 layers on signals
    # of frequency <= 4 (of 15), and first-order convergence in the depth.
    grid = Grid(32)
    T = G.translation(grid, dtype=dtype)
    f = band_limited(32, 8, 4, generator=torch.Generator().manual_seed(0), dtype=dtype)
    taps = torch.tensor([0.25, 0.5, -0.75], dtype=dtype)
    points = torch.tensor([[-1.0], [0.0], [1.0]], dtype=dtype)
    exact = sum(a * grid.shift(f, int(s)) for a, s in zip(taps, points[:, 0]))

    def error(depth):
        stack = LConvStack.from_kernel(taps, points, T, depth).to(dtype)
        with torch.no_grad():
            return float((stack(f[:, None])[:, 0] - exact).norm() / exact.norm())

    e8, e32 = error(8), error(32)
    assert e32 < 0.01
    assert 3.5 < e8 / e32 < 4.5  # O(1/m)
    assert error(1) > e8


# ----------------------------------------------------------------------------- stacks
def test_stack_shares_generators_and_recursion_is_one_call():
    torch.manual_seed(0)
    gens = G.learned(Grid((4, 4)), n=2, rank=3)
    stack = LConvStack([2, 4, 4, 1], gens, activation=torch.tanh)
    assert all(layer.generators is gens for layer in stack.layers)
    n_gen_params = sum(p.numel() for p in gens.parameters())
    assert sum(p.numel() for p in stack.parameters()) == n_gen_params + sum(
        l.weight0.numel() + l.weight.numel() + l.bias.numel() for l in stack.layers
    )
    x = torch.randn(3, 2, 16)
    y = stack(x)
    manual = stack.layers[2](torch.tanh(stack.layers[1](torch.tanh(stack.layers[0](x)))))
    assert torch.allclose(y, manual)
    y.sum().backward()
    assert gens.U.grad is not None and gens.U.grad.abs().sum() > 0

    rec = LConvStack([3] * 6, gens, tie_weights=True)
    assert len(rec.layers) == 1
    x = torch.randn(2, 3, 16)
    manual = x
    for _ in range(5):
        manual = rec.layers[0](manual)
    assert torch.allclose(rec(x), manual)
    with pytest.raises(ValueError, match="tie_weights=True needs equal channels"):
        LConvStack([3, 4], gens, tie_weights=True)


@pytest.mark.parametrize("kind", list(KINDS))
def test_two_layers_run_under_bf16_autocast_on_the_cpu(kind):
    """The second layer gets the first one's bf16 output with float32 weights: autocast casts, as in torch's modules."""
    torch.manual_seed(0)
    stack = LConvStack([3, 4, 2], KINDS[kind][0](), activation=torch.tanh)  # smooth: no ReLU kinks flip with bf16
    params = list(stack.parameters())
    x = torch.randn(2, 3, GRID.size)
    ref = stack(x)
    g_ref = torch.cat([g.flatten() for g in torch.autograd.grad(ref.square().sum(), params)])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = stack(x)
    assert y.dtype == torch.bfloat16
    err = float((y.float() - ref).detach().norm() / ref.detach().norm())
    assert 1e-5 < err < 3e-2, err  # bf16 really ran (8 bits of mantissa; 0.3-0.9% here) and computed the same stack
    grads = torch.autograd.grad(y.float().square().sum(), params)
    assert all(g.dtype == torch.float32 for g in grads)  # the weights stay float32, and so do their gradients
    g = torch.cat([g.flatten() for g in grads])
    assert float((g - g_ref).norm() / g_ref.norm()) < 3e-2  # 0.2-0.8% here
    with pytest.raises(TypeError, match="LConv: input is torch.bfloat16 .* torch.autocast"):
        stack(x.bfloat16())  # outside autocast the dtypes must agree


# ----------------------------------------------------------------------------- bad input
def test_layer_errors_name_the_class_and_the_fix():
    grid = Grid((4, 4))
    layer = LConv(2, 3, generators=G.rotation(grid))
    with pytest.raises(ValueError, match=r"LConv: input has 15 nodes .* act on 16; flatten .*Grid.flatten"):
        layer(torch.randn(1, 2, 15))
    with pytest.raises(ValueError, match=r"LConv: expected input of shape \(batch, 2, 16\)"):
        layer(torch.randn(1, 3, 16))
    with pytest.raises(ValueError, match=r"LConv: expected input of shape"):
        layer(torch.randn(2, 16))
    with pytest.raises(TypeError, match=r"LConv: input is torch.float64 .* layer.to"):
        layer(torch.randn(1, 2, 16, dtype=torch.float64))
    with pytest.raises(TypeError, match="LConv: expected a floating-point tensor"):
        layer(torch.ones(1, 2, 16, dtype=torch.long))
    with pytest.raises(ValueError, match="FixedGenerators: generators must be square"):
        LConv(1, 1, generators=torch.randn(2, 16, 15))
    with pytest.raises(ValueError, match="FixedGenerators: .*NaN"):
        LConv(1, 1, generators=torch.full((16, 16), float("nan")))
    with pytest.raises(TypeError, match="expected generators as a torch.Tensor"):
        LConv(1, 1, generators="rotation")
    with pytest.raises(ValueError, match="LConv: in_channels must be a positive int"):
        LConv(0, 1, generators=G.rotation(grid))
    with pytest.raises(ValueError, match="learned: choose one of"):
        G.learned(grid, n=2, rank=2, local=1)
    with pytest.raises(ValueError, match="needs a Grid"):
        G.learned(16, n=2, local=1)
    with pytest.raises(ValueError, match="LowRankGenerators: rank must be"):
        G.learned(grid, n=2, rank=0)


# ----------------------------------------------------------------------------- scale
@pytest.mark.parametrize("structure", [dict(local=1), dict(rank=4), dict(stencil=1)])
def test_256x256_runs_without_any_d_by_d_matrix(structure):
    grid = Grid((256, 256), periodic=False)
    d = grid.size
    torch.manual_seed(0)
    layer = LConv(2, 3, generators=G.learned(grid, n=2, **structure))
    sizes = [t.numel() for t in list(layer.parameters()) + list(layer.buffers())]
    assert max(sizes) <= 32 * d  # a d x d matrix would be 65536 * d
    x = torch.randn(2, 2, d)
    with LargestTensor() as probe:
        y = layer(x)
        y.square().mean().backward()
    assert y.shape == (2, 3, d)
    assert probe.largest <= 64 * d, probe.largest
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in layer.parameters())


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("kind", list(KINDS))
def test_layers_run_on_any_device(kind, device):
    torch.manual_seed(0)
    layer = LConv(3, 4, generators=KINDS[kind][0]())
    x = torch.randn(2, 3, GRID.size)
    expected = layer(x)
    moved = layer.to(device)
    y = moved(x.to(device))
    y.square().sum().backward()
    assert y.device.type == device
    assert torch.allclose(y.cpu(), expected.detach(), atol=1e-5)
    assert all(p.grad is not None and p.grad.device.type == device for p in moved.parameters())


# ----------------------------------------------------------------------------- fast kernels
FAST = {
    # name: (generators, c_in, c_out); c_out < c_in mixes channels before the generators act
    "dense, generators first": (lambda: G.learned(GRID, n=3), 3, 4),
    "dense, channels first": (lambda: G.learned(GRID, n=3), 5, 2),
    "fixed, channels first": (lambda: G.FixedGenerators(G.family("se2", Grid((5, 4)))), 4, 3),
    "low-rank": (lambda: G.learned(GRID, n=3, rank=2), 3, 5),
    "stencil, periodic": (lambda: G.learned(Grid((5, 4)), n=2, stencil=1), 3, 4),
    "stencil, edges, difference": (lambda: G.learned(GRID, n=3, stencil=1, difference=True), 3, 4),
    "stencil, mixed periodicity, radius 2": (
        lambda: G.learned(Grid((6, 5), periodic=(True, False)), n=2, stencil=2, difference=True),
        2,
        3,
    ),
    "stencil, 1-D side shorter than the stencil": (lambda: G.learned(Grid(3), n=2, stencil=2), 2, 2),
    "stencil, 3-D": (lambda: G.learned(Grid((3, 4, 3), periodic=False), n=2, stencil=1, difference=True), 2, 3),
    "local, periodic, difference": (lambda: G.learned(Grid((4, 5)), n=3, local=1, difference=True), 3, 2),
    "local, graph without self loops": (lambda: G.learned(GRID.size, n=2, edges=EDGES), 2, 3),
}


def _dense_of(gen):
    if isinstance(gen, G.FixedGenerators):
        return gen.L
    if isinstance(gen, G.DenseGenerators):
        return gen.weight
    if isinstance(gen, G.LowRankGenerators):
        return gen.U @ gen.V.transpose(1, 2)
    return _dense_local(gen)


@pytest.mark.parametrize("case", list(FAST))
def test_fast_kernels_match_the_einsum_reference_in_float64(case):
    torch.manual_seed(1)
    make, c_in, c_out = FAST[case]
    layer = LConv(c_in, c_out, generators=make()).double()
    x = torch.randn(3, c_in, layer.num_nodes, dtype=torch.float64, requires_grad=True)
    gy = torch.randn(3, c_out, layer.num_nodes, dtype=torch.float64)
    inputs = [x] + list(layer.parameters())
    y = layer(x)
    ref = reference_lconv(x, _dense_of(layer.generators), layer.weight0, layer.weight, layer.bias)
    assert torch.allclose(y, ref, rtol=1e-12, atol=1e-12)
    for a, b in zip(torch.autograd.grad(y, inputs, gy), torch.autograd.grad(ref, inputs, gy)):
        assert torch.allclose(a, b, rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("order", ["nodes", "generators"])
@pytest.mark.parametrize("difference", [False, True])
def test_both_orders_of_the_local_kernel_match_the_reference(order, difference, monkeypatch):
    from lconv.nn import _kernels

    torch.manual_seed(2)
    gen = G.learned(Grid((5, 6), periodic=(False, True)), n=2, local=1, difference=difference).double()
    layer = LConv(3, 4, generators=gen).double()
    x = torch.randn(2, 3, 30, dtype=torch.float64, requires_grad=True)
    inputs = [x, *layer.parameters()]
    ref = reference_lconv(x, _dense_local(gen), layer.weight0, layer.weight, layer.bias)
    g_ref = torch.autograd.grad(ref.square().sum(), inputs)
    original = _kernels.local_sum
    monkeypatch.setattr("lconv.nn._generators.local_sum", lambda *a: original(*a, order=order))
    for budget in (1 << 30, 1800):  # all nodes in one chunk; 1 or 4 nodes per chunk
        monkeypatch.setitem(_kernels.CHUNK_BYTES, "cpu", budget)
        y = layer(x)
        assert torch.allclose(y, ref, rtol=1e-12, atol=1e-12)
        for a, b in zip(torch.autograd.grad(y.square().sum(), inputs), g_ref):
            assert torch.allclose(a, b, rtol=1e-11, atol=1e-11)
    with pytest.raises(ValueError, match="order must be"):
        original(x, gen.node_weights(), gen.index, 4, layer.weight0, layer.weight, order="rows")


def test_lconv_takes_device_and_dtype_like_torch_modules():
    from lconv import Grid, LConv, generators

    grid = Grid((5, 5))
    layer = LConv(2, 3, generators.rotation(grid), dtype=torch.float64)
    assert {p.dtype for p in layer.parameters()} == {torch.float64}
    assert layer.generators.matrices().dtype == torch.float64
    x = torch.randn(4, 2, grid.size, dtype=torch.float64)
    assert layer(x).dtype == torch.float64
    learned = LConv(2, 3, generators.learned(grid, n=2, rank=3), device="meta")
    assert {p.device.type for p in learned.parameters()} == {"meta"}


# -- device= and dtype= as torch modules take them -----------------------------------------------------------------------

BUILT = {
    "dense": {},
    "low-rank": {"rank": 2},
    "local": {"local": 1},
    "stencil": {"stencil": 1},
    "edges": {"edges": EDGES},
}
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _built_as_asked(module, device, dtype):
    for t in [*module.parameters(), *module.buffers()]:
        assert t.device.type == device
        if t.is_floating_point():
            assert t.dtype == dtype


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("kind", list(BUILT))
def test_learned_generators_are_made_on_the_device_and_dtype_asked_for(kind, device):
    torch.manual_seed(0)
    gen = nn.learned(GRID, n=3, device=device, dtype=torch.float64, **BUILT[kind])
    _built_as_asked(gen, device, torch.float64)
    x = torch.randn(2, 1, GRID.size, dtype=torch.float64, device=device)
    out, dense = gen(x), gen.matrices()
    assert out.dtype == dense.dtype == torch.float64 and out.device.type == dense.device.type == device
    torch.testing.assert_close(out, torch.einsum("ivu,bcu->bciv", dense, x), rtol=1e-12, atol=1e-12)
    layer = LConv(1, 2, generators=gen, device=device, dtype=torch.float64)
    y = layer(x)
    assert y.dtype == torch.float64 and y.device.type == device
    y.square().sum().backward()
    assert all(p.grad is not None and p.grad.dtype == torch.float64 for p in gen.parameters())


@pytest.mark.parametrize("device", DEVICES)
def test_fixed_and_left_invariant_generators_take_device_and_dtype(device):
    fixed = nn.FixedGenerators(translation(Grid((6, 6))), device=device, dtype=torch.float64)
    _built_as_asked(fixed, device, torch.float64)
    assert fixed.matrices().dtype == torch.float64
    space = nn.SE2Grid(Grid((6, 6)), orientations=4)
    lifted = nn.left_invariant(space, n=2, learned=True, device=device, dtype=torch.float64)
    _built_as_asked(lifted, device, torch.float64)
    out = lifted(torch.randn(3, space.size, dtype=torch.float64, device=device))
    assert out.shape == (3, 2, space.size) and out.dtype == torch.float64 and out.device.type == device


def test_generators_default_to_torchs_default_dtype_and_refuse_integer_dtypes():
    assert nn.learned(GRID, n=2, rank=2).U.dtype == torch.get_default_dtype()
    with pytest.raises(TypeError, match="floating"):
        nn.learned(GRID, n=2, dtype=torch.int64)
    with pytest.raises(TypeError, match="floating"):
        nn.FixedGenerators(translation(Grid((4, 4))), dtype=torch.int32)
