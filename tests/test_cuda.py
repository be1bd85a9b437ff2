"""The same layers, training and discovery on a CUDA device (skipped where torch sees none).

Each check compares the GPU against float64 on the CPU, so it fails if a fast path takes a
different route on the GPU (chunk sizes, TF32, autocast) and gets a different answer.
"""

from __future__ import annotations

import copy
import json

import pytest
import torch
from helpers import SHARED, needs_shared

from lconv.cli import main
from lconv.experiments._precision import precision_mode
from lconv.experiments.bench import errors
from lconv.grid import Grid
from lconv.nn import LConv, learned
from lconv.nn._kernels import local_sum

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="torch sees no CUDA device")
CUDA = torch.device("cuda")
KINDS = {"dense": {}, "low-rank": {"rank": 4}, "local": {"local": 1}, "stencil": {"stencil": 1}}


def _rel(a, b):
    b = b.detach()
    return float((a.detach().double().cpu() - b).norm() / b.norm())


@pytest.mark.parametrize("periodic", [False, True])
@pytest.mark.parametrize("kind", list(KINDS))
def test_every_parametrisation_on_cuda_matches_float64(kind, periodic):
    torch.manual_seed(0)
    layer = LConv(6, 5, generators=learned(Grid((12, 12), periodic=periodic), n=3, **KINDS[kind]))
    ref = copy.deepcopy(layer).double()
    gpu = layer.to(CUDA)
    x = torch.randn(4, 6, 144, dtype=torch.float64, requires_grad=True)
    gy = torch.randn(4, 5, 144, dtype=torch.float64)
    ref(x).backward(gy)
    xg = x.detach().float().to(CUDA).requires_grad_()
    with precision_mode("fp32", CUDA):
        y = gpu(xg)
        y.backward(gy.float().to(CUDA))
    assert y.device.type == "cuda"
    assert _rel(y, ref(x)) < 1e-5 and _rel(xg.grad, x.grad) < 1e-5
    for p, q in zip(gpu.parameters(), ref.parameters()):
        assert _rel(p.grad, q.grad) < 1e-5


@pytest.mark.parametrize("precision, low, high", [("fp32", 0, 1e-5), ("tf32", 1e-5, 1e-2), ("bf16", 1e-4, 3e-2)])
@pytest.mark.parametrize("kind", ["dense", "low-rank", "local", "stencil"])
def test_precision_modes_cost_the_error_they_should(kind, precision, low, high):
    """TF32 keeps 10 mantissa bits, bf16 8: errors well above float32's and below 3%."""
    torch.manual_seed(0)
    layer = LConv(32, 32, generators=learned(Grid((16, 16), periodic=False), n=4, **KINDS[kind])).to(CUDA)
    x = torch.randn(8, 32, 256, device=CUDA, requires_grad=True)
    gy = torch.randn(8, 32, 256, device=CUDA)
    with precision_mode(precision, CUDA):
        err = errors(layer, x, gy, precision)
    if kind == "local" and precision == "tf32":
        low = 0  # gathers and batched products of K = 9 taps: TF32 may not engage
    assert low <= err["error_output"] < high and low <= err["error_grad"] < high, err


@pytest.mark.parametrize("order", ["nodes", "generators"])
def test_local_kernels_in_large_chunks_match_the_cpu(order):
    torch.manual_seed(0)
    d, k, n, c, o, b = 300, 9, 3, 4, 6, 5
    index = torch.randint(0, d, (d, k))
    index[:, 0] = torch.arange(d)
    ts = [torch.randn(b, c, d), torch.randn(n, d, k), torch.randn(o, c), torch.randn(n, o, c), torch.randn(o)]
    gy = torch.randn(b, o, d)
    cpu = [t.double().requires_grad_() for t in ts]
    gpu = [t.to(CUDA).requires_grad_() for t in ts]
    local_sum(cpu[0], cpu[1], index, 0, *cpu[2:], order=order).backward(gy.double())
    with precision_mode("fp32", CUDA):
        y = local_sum(gpu[0], gpu[1], index.to(CUDA), 0, *gpu[2:], order=order)
        y.backward(gy.to(CUDA))
    for a, e in zip(gpu, cpu):
        assert _rel(a.grad, e.grad) < 1e-5


def test_bench_on_cuda_reads_the_allocator_peak(tmp_path):
    out = tmp_path / "bench.json"
    with pytest.raises(SystemExit) as exc:
        main(["bench", "--quick", "--device", "cuda", "--precision", "tf32", "--out", str(out)])
    assert exc.value.code == 0
    res = json.loads(out.read_text())
    assert "gpu" in res["machine"] and res["memory_measure"].startswith("torch.cuda.max_memory_allocated")
    assert all(r["time_s"] > 0 and r["memory_bytes"] > 0 for r in res["results"] if r["time_s"] is not None)


@needs_shared
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_training_on_cuda_learns(tmp_path, precision):
    from lconv.experiments.train import train

    options = dict(channels=2, generators=2, rank=2, train_size=640, batch_size=64, epochs=2, seed=0)
    _, m = train(out=tmp_path / "run", data_dir=SHARED, device="cuda", precision=precision, **options)
    assert m["device"].startswith("cuda") and m["test_accuracy"] > 0.5


def test_discover_on_cuda_finds_the_rotation(tmp_path):
    from lconv.experiments.discover import discover

    _, m = discover(size=5, n=300, epochs=10, device="cuda", out=tmp_path / "run")
    assert m["cosine"][0] > 0.5


def test_vector_field_discovery_on_cuda_matches_the_cpu():
    from lconv.algebra import SearchSpace
    from lconv.analysis import cosine
    from lconv.data import image_pairs
    from lconv.discovery import fit_pairs

    p = image_pairs("translation", n=120, size=6, images="band-limited", transform="exact", seed=0)
    space = SearchSpace.vector_field(p.grid)
    cpu = fit_pairs(p.x, p.y, n_generators=2, space=space, options=dict(epochs=4))
    gpu = fit_pairs(p.x, p.y, n_generators=2, space=space, options=dict(epochs=4), device="cuda")
    assert gpu.generators.device.type == "cpu"  # results come back to the CPU
    for a, b in zip(gpu.generators, cpu.generators):
        assert cosine(a, b) > 0.999
