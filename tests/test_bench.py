import importlib
import json
import math

import pytest

from lconv.cli import main

bench_module = importlib.import_module("lconv.experiments.bench")

TINY = ["bench", "--sizes", "6,8", "--batch", "2", "--channels", "3", "-n", "2", "--rank", "2", "--repeats", "1"]
TINY += ["--no-headline", "--memory-size", "8", "--threads", "1"]
METHODS = ["dense", "low-rank", "local", "stencil", "reference", "matmul", "conv2d"]


def _run(argv):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    return exc.value.code


def test_tiny_bench_writes_json_with_consistent_times_and_ratios(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert _run([*TINY, "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert {"config", "machine", "memory_measure", "results", "headline", "largest_batch", "seconds"} <= set(res)
    assert res["config"]["sizes"] == [6, 8] and res["config"]["baseline_precision"] == "fp32"
    assert res["config"]["precision"] == "fp32"
    assert res["machine"]["torch_threads"] == 1
    rows = res["results"]
    assert [(r["size"], r["method"]) for r in rows] == [(s, m) for s in (6, 8) for m in METHODS]
    for size in (6, 8):
        by = {r["method"]: r for r in rows if r["size"] == size}
        t_ref, t_conv = by["reference"]["time_s"], by["conv2d"]["time_s"]
        for r in by.values():
            assert r["d"] == size * size and r["batch"] == 2 and r["channels"] == 3 and r["generators"] == 2
            assert math.isfinite(r["time_s"]) and r["time_s"] > 0 and r["times_s"] == [r["time_s"]]
            assert r["memory_bytes"] > 0
            assert r["speedup_vs_reference"] == pytest.approx(t_ref / r["time_s"], rel=1e-12)
            assert r["time_vs_conv2d"] == pytest.approx(r["time_s"] / t_conv, rel=1e-12)
        assert by["reference"]["speedup_vs_reference"] == pytest.approx(1.0)
    # the dense layers hold n d^2 generators and their gradient, the others do not
    dense, local = (next(r for r in rows if r["size"] == 8 and r["method"] == m) for m in ("dense", "local"))
    assert dense["memory_bytes"] > 2 * 4 * 2 * 64 * 64 > local["memory_bytes"]
    largest = res["largest_batch"]
    assert largest["size"] == 8 and set(largest["kinds"]) == {"dense", "low-rank", "local", "stencil"}
    for kind in ("low-rank", "local", "stencil"):
        v = largest["kinds"][kind]
        assert v["bytes_batch_9"] > v["bytes_batch_1"] > 0 and v["largest_batch"] > 1000
    assert out.with_suffix(".png").stat().st_size > 1000
    printed = capsys.readouterr().out
    assert "lconv bench" in printed and "conv2d" in printed and str(out) in printed


def test_bench_run_folder_and_skipped_dense(tmp_path):
    out = tmp_path / "run"
    argv = ["bench", "--quick", "--kinds", "dense,stencil", "--dense-max-gib", "0", "--memory-size", "0"]
    assert _run([*argv, "--out", str(out)]) == 0
    assert {p.name for p in out.iterdir()} == {"config.json", "metrics.json", "report.md", "figures"}
    assert (out / "figures" / "time_vs_d.png").exists()
    res = json.loads((out / "metrics.json").read_text())
    assert res["largest_batch"] is None
    for r in res["results"]:
        if r["method"] in ("dense", "reference", "matmul"):
            assert r["time_s"] is None and "GiB" in r["skipped"]
        else:
            assert r["time_s"] > 0 and r["speedup_vs_reference"] is None
    assert "| 28 | 784 |" in (out / "report.md").read_text()
    # the same folder again is refused
    assert _run([*argv, "--out", str(out)]) == 2


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--kinds", "dense,sparse"], "unknown parametrisation sparse"),
        (["--sizes", "28,x"], "--sizes: expected comma-separated integers"),
        (["--sizes", "2"], "sizes must be ints >= 3"),
        (["--batch", "0"], "batch must be ints >= 1"),
        (["--device", "no-such-device"], "device"),
        (["--precision", "fp16"], "unknown precision fp16"),
        (["--precision", "tf32"], "tf32 is a CUDA mode"),
        (["--baseline-precision", "fp8"], "unknown precision fp8"),
    ],
)
def test_bad_bench_options_exit_2_with_one_line(argv, message, capsys):
    assert _run(["bench", "--quick", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("lconv: error:") and message in err[0]


def test_unknown_bench_option_exits_2():
    assert _run(["bench", "--no-such-option"]) == 2


def test_headline_summary_reads_the_benchmarks_case():
    rows = [
        dict(bench_module.HEADLINE, d=784, method=m, time_s=t, speedup_vs_reference=2.0 / t, time_vs_conv2d=t / 0.1)
        for m, t in [("dense", 0.5), ("low-rank", 0.12), ("local", 0.2), ("reference", 2.0), ("matmul", 0.4),
                     ("conv2d", 0.1)]
    ]  # fmt: skip
    h = bench_module._headline(rows, ("dense", "low-rank", "local"))
    assert h["dense_speedup_vs_reference"] == {"value": 4.0, "target": ">= 3", "met": True}
    assert h["low-rank_time_vs_conv2d"]["met"] and not h["local_time_vs_conv2d"]["met"]
    assert h["matmul_speedup_vs_reference"] == 5.0
    lines = bench_module.headline_lines(h)
    assert "dense_speedup_vs_reference: 4.00 (target >= 3: met)" in lines
    assert any(line.startswith("matmul_speedup_vs_reference: 5.00 (the bound") for line in lines)


def test_matmul_floor_is_the_reference_with_identity_channel_weights():
    """``Matmul`` computes sum_k L_k x_c: the reference's products with W_k = I, W0 = 0, b = 0."""
    import torch

    torch.manual_seed(0)
    n, d, c, b = 3, 10, 4, 5
    ref = bench_module.Reference(c, c, n, d)
    mm = bench_module.Matmul(n, d)
    with torch.no_grad():
        mm.P.copy_(ref.L.reshape(n * d, d))
        ref.weight.copy_(torch.eye(c).expand(n, c, c))
        ref.weight0.zero_()
        ref.bias.zero_()
    x = torch.randn(b, c, d, requires_grad=True)
    gy = torch.randn(b, c, d)
    y_mm, y_ref = mm(x), ref(x)
    assert y_mm.shape == (b, c, d) and torch.allclose(y_mm, y_ref, atol=1e-5)
    (gx_mm, gp), (gx_ref, gl) = (torch.autograd.grad(y, (x, w), gy) for y, w in ((y_mm, mm.P), (y_ref, ref.L)))
    assert torch.allclose(gx_mm, gx_ref, atol=1e-5) and torch.allclose(gp, gl.reshape(n * d, d), atol=1e-5)


def test_layers_in_bf16_beside_baselines_in_fp32(tmp_path):
    """--baseline-precision keeps the reference and Conv2d in float32 while the layers run in bf16."""
    out = tmp_path / "mixed.json"
    argv = [*TINY, "--sizes", "6", "--precision", "bf16", "--baseline-precision", "fp32", "--out", str(out)]
    assert _run(argv) == 0
    res = json.loads(out.read_text())
    assert res["config"]["precision"] == "bf16" and res["config"]["baseline_precision"] == "fp32"
    for r in res["results"]:
        if r["method"] in ("reference", "conv2d"):
            assert r["precision"] == "fp32" and r["error_output"] < 1e-5 and r["error_grad"] < 1e-5
        else:
            assert r["precision"] == "bf16" and r["error_output"] > 1e-4 and r["error_grad"] > 1e-4
    assert "precision bf16 (reference and Conv2d fp32)" in bench_module.report(res)


def test_benchmarks_script_runs_the_same_command():
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "run.py"
    proc = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "--sizes" in proc.stdout and "--memory-size" in proc.stdout


def test_bf16_bench_states_its_error_beside_fp32(tmp_path):
    """bf16 autocast runs on the CPU too; every row carries its error against float64."""
    rows = {}
    for precision in ("fp32", "bf16"):
        out = tmp_path / f"{precision}.json"
        assert _run([*TINY, "--sizes", "6", "--precision", precision, "--out", str(out)]) == 0
        res = json.loads(out.read_text())
        assert res["config"]["precision"] == precision
        rows[precision] = {r["method"]: r for r in res["results"]}
    for method in METHODS:
        fp32, bf16 = rows["fp32"][method], rows["bf16"][method]
        assert fp32["error_output"] < 1e-5 and fp32["error_grad"] < 1e-5
        # bfloat16 keeps 8 significant bits: errors of a few 1e-3, far above float32's
        assert 1e-4 < bf16["error_output"] < 3e-2 and 1e-4 < bf16["error_grad"] < 3e-2


@pytest.mark.parametrize("order", ["nodes", "generators"])
def test_local_kernels_under_autocast_match_float64(order):
    """The local kernels are custom autograd functions: under autocast they run in bf16 and
    hand float32 gradients back to float32 parameters."""
    import torch

    from lconv.nn._kernels import local_sum

    torch.manual_seed(0)
    d, k, n, c, o, b = 20, 5, 3, 4, 6, 3
    index = torch.randint(0, d, (d, k))
    index[:, 0] = torch.arange(d)
    tensors = [torch.randn(b, c, d), torch.randn(n, d, k), torch.randn(o, c), torch.randn(n, o, c), torch.randn(o)]
    tensors = [t.requires_grad_() for t in tensors]
    gy = torch.randn(b, o, d)
    exact = [t.detach().double().requires_grad_() for t in tensors]
    y64 = local_sum(exact[0], exact[1], index, 0, *exact[2:], order=order)
    y64.backward(gy.double())
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = local_sum(tensors[0], tensors[1], index, 0, *tensors[2:], order=order)
    assert y.dtype == torch.bfloat16
    y.backward(gy.to(y.dtype))
    assert ((y.double() - y64).norm() / y64.norm()) < 2e-2
    for t, e in zip(tensors, exact):
        assert t.grad.dtype == torch.float32
        assert ((t.grad.double() - e.grad).norm() / e.grad.norm()) < 2e-2


def test_errors_are_skipped_where_the_float64_copy_would_be_too_large(tmp_path, monkeypatch):
    monkeypatch.setattr(bench_module, "ERROR_MAX_BYTES", 0)
    out = tmp_path / "bench.json"
    assert _run([*TINY, "--sizes", "6", "--memory-size", "0", "--out", str(out)]) == 0
    rows = json.loads(out.read_text())["results"]
    assert all(r["error_output"] is None and r["error_grad"] is None for r in rows)
    assert all(bench_module.format_error(r) == "-" for r in rows)
