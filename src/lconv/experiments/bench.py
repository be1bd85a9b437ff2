"""Speed and memory of one L-conv layer, beside the dense einsum reference and ``Conv2d`` 3x3.

:func:`bench` is what ``lconv bench`` (and ``python benchmarks/run.py``) runs. For every
case (image side, batch, channels, number of generators) it builds one ``LConv`` per
parametrisation on a non-periodic ``side x side`` grid (zero padding, as ``Conv2d``
with ``padding=1``), ``c -> c`` channels, and times one training step: forward, then
backward of a fixed random output gradient (parameter gradients, and the input's with
``input_grad=True``). All layers of a case are timed alternately in one process, in a
rotating order, after warm-up; the figure is the median over the repeats.

Baselines:

* ``reference``: ``y = W0 x + einsum('kdf,bcf,koc->bod', L, x, W) + b`` with dense
  ``L`` (``n d^2`` parameters), only where those fit in ``dense_max_gib``;
* ``matmul`` (:class:`Matmul`, beside the reference): the three ``n c d^2 B`` products
  of a dense layer's step as plain matrix products, so ``time(reference) / time(matmul)``
  is the most any dense implementation can gain over the reference in that precision;
* ``conv2d``: ``torch.nn.Conv2d(c, c, 3, padding=1)``.

Precision (``precision``, see :mod:`lconv.experiments._precision`): ``fp32`` runs
float32 with TF32 off everywhere (so ``Conv2d`` gets no TF32 either); ``tf32`` (CUDA
only) lets matrix products and convolutions use TF32; ``bf16`` runs the forward pass
under ``torch.autocast(dtype=torch.bfloat16)`` (on CPU too). ``baseline_precision``
sets the reference and ``Conv2d`` apart (a layer in bf16 beside the float32 reference).
Every row states its mode and the error it costs: ``error_output`` and ``error_grad``,
the relative Frobenius error ``|a - a64| / |a64|`` of the output and the worst of the
gradients (parameters and input) against the same layer in float64.

Memory: on CUDA the peak of ``torch.cuda.max_memory_allocated`` during one step, above
what was allocated before it, plus the layer's parameters and buffers and the input.
On CPU there is no allocator peak to read, so the figure is the *training-step
footprint*: the distinct storages of every tensor autograd saves for the backward pass
(``torch.autograd.graph.saved_tensors_hooks``), the parameters, buffers and their
gradients, the input (and its gradient) and the output. Temporaries freed within the
forward or backward pass are not counted.
"""

from __future__ import annotations

import contextlib
import copy
import math
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import Tensor, nn

from .. import __version__
from .._io import write_json, write_text
from ..grid import Grid
from ..nn import LConv, learned
from ._precision import autocast_dtype, check_precision, precision_mode

KINDS = ("dense", "low-rank", "local", "stencil")
BASELINES = ("reference", "matmul", "conv2d")
#: The headline case: 28x28 images, batch 128, 32 channels, 8 generators.
HEADLINE = dict(size=28, batch=128, channels=32, generators=8)
MEMORY_NOTE = {
    "cpu": "training-step footprint: distinct storages saved for backward + parameters, buffers and their "
    "gradients + input (and its gradient) + output; temporaries freed within a pass are not counted",
    "cuda": "torch.cuda.max_memory_allocated during one step above the memory allocated before it, "
    "plus parameters, buffers and the input",
}
#: The memory slope is read between batch 1 and batch ``1 + SLOPE_BATCHES``: wide enough that the
#: CUDA allocator's rounding and the generators' own temporaries do not hide the per-sample cost.
SLOPE_BATCHES = 8
QUICK = dict(sizes=(16, 28), batch=(4,), channels=(8,), generators=(2,), repeats=2, headline=False, memory_size=32)


class Reference(nn.Module):
    """The dense reference layer the speed targets are measured against: ``W0 x + einsum('kdf,bcf,koc->bod', L, x, W) + b``."""

    def __init__(self, c_in: int, c_out: int, n: int, d: int):
        super().__init__()
        self.L = nn.Parameter(torch.randn(n, d, d) / math.sqrt(d))
        bound = 1 / math.sqrt((n + 1) * c_in)
        self.weight0 = nn.Parameter(torch.empty(c_out, c_in).uniform_(-bound, bound))
        self.weight = nn.Parameter(torch.empty(n, c_out, c_in).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(c_out).uniform_(-bound, bound))

    def forward(self, x: Tensor) -> Tensor:
        y = torch.einsum("oc,bcd->bod", self.weight0, x) + torch.einsum("kdf,bcf,koc->bod", self.L, x, self.weight)
        return y + self.bias[:, None]


class Matmul(nn.Module):
    r"""A dense layer's three big products as plain matrix products: the least any dense layer computes.

    The forward pass is one product ``Y = P X`` of a parameter ``P`` of shape ``(n d, d)``
    with the input as a ``(d, c B)`` matrix: ``n c d^2 B`` multiply-adds, the count of
    ``sum_k L_k (x W_k)`` for ``c`` channels in and out. Its backward pass makes the other
    two, ``dP = dY X^T`` and ``dX = P^T dY``, as the generators' and the input's gradients
    do. ``Y``'s ``n`` blocks are summed to the layer's output shape. So no implementation of
    dense generators can take much less time than this module in the same precision, and
    ``time(reference) / time(matmul)`` bounds the speed-up any of them can reach.

    Shapes: ``(B, c, d) -> (B, c, d)``.
    """

    def __init__(self, n: int, d: int):
        super().__init__()
        self.n = n
        self.P = nn.Parameter(torch.randn(n * d, d) / math.sqrt(d))

    def forward(self, x: Tensor) -> Tensor:
        b, c, d = x.shape
        y = self.P @ x.permute(2, 1, 0).reshape(d, c * b)  # (n d, c B)
        return y.view(self.n, d, c, b).sum(0).permute(2, 1, 0)


class _Conv(nn.Module):
    """``Conv2d`` 3x3 on flattened ``(B, c, side*side)`` features, so every layer takes the same input."""

    def __init__(self, c_in: int, c_out: int, side: int):
        super().__init__()
        self.side = side
        self.conv = nn.Conv2d(c_in, c_out, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        b, c, d = x.shape
        return self.conv(x.view(b, c, self.side, self.side)).view(b, -1, d)


def _structure(kind: str, rank: int, radius: int) -> dict:
    return {"dense": {}, "low-rank": {"rank": rank}, "local": {"local": radius}, "stencil": {"stencil": radius}}[kind]


def _parse_kinds(kinds: Sequence[str]) -> tuple[str, ...]:
    kinds = tuple(kinds)
    bad = [k for k in kinds if k not in KINDS]
    if bad or not kinds:
        raise ValueError(f"bench: unknown parametrisation {', '.join(bad) or '(none)'}; choose from {', '.join(KINDS)}")
    return kinds


def _positive(name: str, values: Sequence[int], least: int = 1) -> tuple[int, ...]:
    values = tuple(values)
    if not values or any(not isinstance(v, int) or isinstance(v, bool) or v < least for v in values):
        raise ValueError(f"bench: {name} must be ints >= {least}, got {list(values)}")
    return values


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _forward(module: nn.Module, x: Tensor, precision: str = "fp32") -> Tensor:
    with precision_mode(precision, x.device):
        amp = autocast_dtype(precision)
        if amp is None:
            return module(x)
        with torch.autocast(x.device.type, dtype=amp):
            return module(x)


def _step(module: nn.Module, x: Tensor, gy: Tensor, precision: str = "fp32") -> Tensor:
    for p in module.parameters():
        p.grad = None
    x.grad = None
    y = _forward(module, x, precision)
    with precision_mode(precision, x.device):
        y.backward(gy.to(y.dtype))
    return y


#: The float64 copy that :func:`errors` compares with is made only up to this size (parameters and
#: their gradients, input and output): dense generators at 128x128 would need tens of GiB.
ERROR_MAX_BYTES = 2 << 30


def errors(module: nn.Module, x: Tensor, gy: Tensor, precision: str = "fp32") -> dict[str, float | None]:
    """Relative error of one step (output; worst gradient of parameters and input) against float64.

    ``|a - a64|_F / |a64|_F``, with ``a64`` from a float64 copy of the layer on the same input;
    ``None`` where that copy would exceed :data:`ERROR_MAX_BYTES`.
    """
    base = getattr(module, "_orig_mod", module)  # torch.compile's wrapper
    numel = 2 * sum(p.numel() for p in base.parameters()) + 2 * x.numel() + gy.numel()
    if 8 * numel > ERROR_MAX_BYTES:
        return dict(error_output=None, error_grad=None)
    ref = copy.deepcopy(base).double()
    x64 = x.detach().double().requires_grad_(x.requires_grad)
    y64 = ref(x64)
    y64.backward(gy.double())
    y = _step(base, x, gy, precision)

    def rel(a: Tensor, b: Tensor) -> float:
        return float((a.double() - b).norm() / b.norm().clamp_min(1e-300))

    pairs = [(p.grad, q.grad) for p, q in zip(base.parameters(), ref.parameters()) if q.grad is not None]
    if x.requires_grad:
        pairs.append((x.grad, x64.grad))
    return dict(error_output=rel(y.detach(), y64.detach()), error_grad=max(rel(a, b) for a, b in pairs))


def _footprint(module: nn.Module, x: Tensor, gy: Tensor, precision: str = "fp32") -> int:
    """One step on CPU, counting distinct storages (bytes) of what a training step holds.

    Every tensor seen is kept alive until the count is done, so a freed storage's address
    cannot be reused by a later one and miscounted as the same storage.
    """
    seen: dict[int, tuple[int, Tensor]] = {}

    def add(t: Tensor | None) -> None:
        if t is not None:
            s = t.untyped_storage()
            seen[s.data_ptr()] = (s.nbytes(), t)

    def pack(t: Tensor) -> Tensor:
        add(t)
        return t

    for p in module.parameters():
        p.grad = None
    x.grad = None
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        y = _forward(module, x, precision)
    add(y)
    with precision_mode(precision, x.device):
        y.backward(gy.to(y.dtype))
    for t in [x, x.grad, *module.buffers()]:
        add(t)
    for p in module.parameters():
        add(p)
        add(p.grad)
    return sum(nbytes for nbytes, _ in seen.values())


def _cuda_peak(module: nn.Module, x: Tensor, gy: Tensor, precision: str = "fp32") -> int:
    _sync(x.device)
    torch.cuda.reset_peak_memory_stats(x.device)
    before = torch.cuda.memory_allocated(x.device)
    _step(module, x, gy, precision)
    _sync(x.device)
    own = sum(t.numel() * t.element_size() for t in [*module.parameters(), *module.buffers(), x])
    return torch.cuda.max_memory_allocated(x.device) - before + own


def measure(
    modules: dict[str, nn.Module],
    x: Tensor,
    gy: Tensor,
    *,
    repeats: int,
    warmup: int,
    precision: str | dict[str, str] = "fp32",
) -> dict[str, dict]:
    """Median time of one training step of each module (alternating, rotating order) and its memory.

    ``precision`` is one mode for all, or one per module name (see :mod:`lconv.experiments._precision`).
    """
    device = x.device
    modes = precision if isinstance(precision, dict) else dict.fromkeys(modules, precision)
    out = {}
    for name, m in modules.items():
        peak = _cuda_peak if device.type == "cuda" else _footprint
        out[name] = {"memory_bytes": peak(m, x, gy, modes[name]), "times_s": []}
        for _ in range(max(warmup - 1, 0)):
            _step(m, x, gy, modes[name])
    names = list(modules)
    for r in range(repeats):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            _sync(device)
            t0 = time.perf_counter()
            _step(modules[name], x, gy, modes[name])
            _sync(device)
            out[name]["times_s"].append(time.perf_counter() - t0)
    for v in out.values():
        v["time_s"] = statistics.median(v["times_s"])
    return out


def _case_modules(
    size: int, c: int, n: int, kinds, *, rank: int, radius: int, dense_bytes: int, dense_max: float, compile: bool
) -> tuple[dict[str, nn.Module], dict[str, str]]:
    grid = Grid((size, size), periodic=False)
    d = grid.size
    modules: dict[str, nn.Module] = {}
    skipped: dict[str, str] = {}
    dense_fits = dense_bytes <= dense_max * 2**30
    note = f"dense generators need {dense_bytes / 2**30:.2f} GiB (n d^2 floats) > {dense_max:g} GiB; skipped"
    for kind in kinds:
        if kind == "dense" and not dense_fits:
            skipped[kind] = note
            continue
        structure = _structure(kind, rank, radius)
        if kind == "low-rank" and rank > d:
            skipped[kind] = f"rank {rank} > d = {d}; skipped"
            continue
        layer = LConv(c, c, generators=learned(grid, n=n, **structure))
        modules[kind] = torch.compile(layer) if compile else layer
    if dense_fits:
        modules["reference"] = Reference(c, c, n, d)
        modules["matmul"] = Matmul(n, d)
    else:
        skipped["reference"] = skipped["matmul"] = note
    modules["conv2d"] = _Conv(c, c, size)
    return modules, skipped


def bench(
    *,
    sizes: Sequence[int] = (28, 64, 128, 256, 512),
    batch: Sequence[int] = (2,),
    channels: Sequence[int] = (32,),
    generators: Sequence[int] = (8,),
    kinds: Sequence[str] = KINDS,
    rank: int = 8,
    radius: int = 1,
    repeats: int = 3,
    warmup: int = 1,
    headline: bool = True,
    memory_size: int | None = 512,
    memory_budget_gib: float = 8.0,
    dense_max_gib: float = 1.0,
    input_grad: bool = True,
    compile: bool = False,
    precision: str = "fp32",
    baseline_precision: str | None = None,
    device: str = "cpu",
    threads: int | None = None,
    seed: int = 0,
    out: str | Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[Path, dict]:
    """Time and memory of one training step of ``LConv`` per parametrisation, against its baselines.

    Args:
        sizes: image sides; ``d = side^2`` nodes.
        batch, channels, generators: the other axes of the sweep (every combination runs).
        kinds: parametrisations, from ``dense``, ``low-rank``, ``local``, ``stencil``.
        rank: of the low-rank generators. radius: of the local and stencil neighbourhoods.
        repeats: timed steps per layer (median reported). warmup: untimed steps first
            (the first also measures memory).
        headline: also run the headline case (28x28, batch 128, 32 channels, n = 8).
        memory_size: side at which the memory of one step with batch 1 and 9 is measured
            for every memory-light kind, to find the largest batch within
            ``memory_budget_gib``; ``None`` or 0 skips it.
        dense_max_gib: dense generators and the reference run only where ``n d^2`` floats
            fit in this many GiB.
        input_grad: the input needs its gradient too (a layer inside a network).
        compile: wrap the L-conv layers in ``torch.compile``.
        precision: of the L-conv layers and ``matmul``: ``fp32`` (TF32 off), ``tf32``
            (CUDA) or ``bf16`` (autocast); see the module docstring. Each row carries its
            error against float64.
        baseline_precision: of ``reference`` and ``conv2d`` (default: ``precision``), to
            set a layer in a faster mode beside the baselines in float32.
        device: torch device. threads: ``torch.set_num_threads`` for the run.
        out: a file ending in ``.json`` (the PNG goes beside it), or a run folder that
            must not exist or be empty (default ``runs/bench-TIMESTAMP``).

    Returns:
        ``(path, results)``: where the JSON was written, and its content.
    """
    from .discover import run_folder_path

    kinds = _parse_kinds(kinds)
    sizes = _positive("sizes", sizes, 3)
    batch = _positive("batch", batch)
    channels = _positive("channels", channels)
    generators = _positive("generators", generators)
    _positive("rank, radius, repeats", (rank, radius, repeats))
    if warmup < 1:
        raise ValueError(f"bench: warmup must be >= 1 (the first step measures memory), got {warmup}")
    if memory_size is not None and memory_size != 0:
        _positive("memory_size", (memory_size,), 3)
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise ValueError(f"bench: unknown device {device!r}; use cpu, cuda or cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("bench: --device cuda but torch sees no CUDA device; use --device cpu")
    baseline_precision = baseline_precision or precision
    check_precision(precision, dev, where="bench")
    check_precision(baseline_precision, dev, where="bench (baseline)")
    json_file = out is not None and str(out).endswith(".json")
    if json_file:
        if Path(out).exists():
            raise ValueError(f"bench: {out} already exists; choose another --out or remove it")
        folder = None
    else:
        folder = run_folder_path("bench", dev.type, out)

    cases = [dict(size=s, batch=b, channels=c, generators=n) for s in sizes for b in batch for c in channels
             for n in generators]  # fmt: skip
    if headline and HEADLINE not in cases:
        cases.insert(0, dict(HEADLINE))
    config = dict(
        sizes=list(sizes), batch=list(batch), channels=list(channels), generators=list(generators), kinds=list(kinds),
        rank=rank, radius=radius, repeats=repeats, warmup=warmup, headline=headline, memory_size=memory_size or None,
        memory_budget_gib=memory_budget_gib, dense_max_gib=dense_max_gib, input_grad=input_grad, compile=compile,
        device=str(dev), threads=threads, seed=seed, precision=precision, baseline_precision=baseline_precision,
    )  # fmt: skip
    old_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    started = time.perf_counter()
    rows: list[dict] = []
    try:
        for case in cases:
            rows += _run_case(case, kinds, dev, rank=rank, radius=radius, repeats=repeats, warmup=warmup,
                              dense_max=dense_max_gib, input_grad=input_grad, compile=compile, seed=seed,
                              precision=precision, baseline_precision=baseline_precision)  # fmt: skip
            if progress:
                progress(f"{case['size']}x{case['size']}, batch {case['batch']}")
        memory = None
        if memory_size:
            memory = _largest_batch(memory_size, kinds, dev, rank=rank, radius=radius, input_grad=input_grad,
                                    budget_gib=memory_budget_gib, seed=seed, precision=precision)  # fmt: skip
            if progress:
                progress(f"memory at {memory_size}x{memory_size}")
        machine = _machine(dev)
    finally:
        torch.set_num_threads(old_threads)
    results = dict(
        version=__version__, config=config, machine=machine, memory_measure=MEMORY_NOTE[dev.type], results=rows,
        headline=_headline(rows, kinds) if headline else None, largest_batch=memory,
        seconds=round(time.perf_counter() - started, 1),
    )  # fmt: skip
    if json_file:
        path = write_json(out, results)
        plot_times(rows, Path(out).with_suffix(".png"))
    else:
        write_json(folder / "config.json", config)
        path = write_json(folder / "metrics.json", results)
        figure = plot_times(rows, folder / "figures" / "time_vs_d.png")
        write_text(folder / "report.md", report(results, figure.relative_to(folder)))
    return path, results


def _run_case(
    case,
    kinds,
    dev,
    *,
    rank,
    radius,
    repeats,
    warmup,
    dense_max,
    input_grad,
    compile,
    seed,
    precision="fp32",
    baseline_precision="fp32",
) -> list[dict]:
    size, b, c, n = case["size"], case["batch"], case["channels"], case["generators"]
    d = size * size
    torch.manual_seed(seed)
    modules, skipped = _case_modules(
        size, c, n, kinds, rank=rank, radius=radius, dense_bytes=4 * n * d * d, dense_max=dense_max, compile=compile
    )
    modules = {k: m.to(dev) for k, m in modules.items()}
    x = torch.randn(b, c, d, device=dev, requires_grad=input_grad)
    gy = torch.randn(b, c, d, device=dev)
    modes = {k: baseline_precision if k in ("reference", "conv2d") else precision for k in modules}
    timed = measure(modules, x, gy, repeats=repeats, warmup=warmup, precision=modes)
    t_ref = timed.get("reference", {}).get("time_s")
    t_conv = timed["conv2d"]["time_s"]
    rows = []
    for method in [*kinds, *BASELINES]:
        row = dict(case, d=d, method=method)
        if method in skipped:
            row.update(time_s=None, skipped=skipped[method])
        else:
            m = timed[method]
            row.update(
                precision=modes[method], time_s=m["time_s"], times_s=m["times_s"], memory_bytes=m["memory_bytes"],
                speedup_vs_reference=None if t_ref is None else t_ref / m["time_s"],
                time_vs_conv2d=m["time_s"] / t_conv, **errors(modules[method], x, gy, modes[method]),
            )  # fmt: skip
        rows.append(row)
    return rows


def _largest_batch(size, kinds, dev, *, rank, radius, budget_gib, input_grad, seed, precision="fp32") -> dict:
    """Footprint of one step at ``size x size`` with batch 1 and 9 (32 channels, n = 8): the largest batch in budget."""
    c, n = HEADLINE["channels"], HEADLINE["generators"]
    d = size * size
    out = dict(size=size, d=d, channels=c, generators=n, budget_gib=budget_gib, kinds={})
    budget = budget_gib * 2**30
    for kind in kinds:
        if kind == "dense":
            gens = 4 * n * d * d
            side = math.isqrt(math.isqrt(int(budget // (2 * 4 * n))))  # L and its gradient alone
            out["kinds"][kind] = dict(
                generator_bytes=gens, fits=gens * 2 <= budget, largest_side_for_generators_and_gradients=side,
                note="not run: n d^2 floats for the generators and as many for their gradient",
            )  # fmt: skip
            continue
        torch.manual_seed(seed)
        layer = LConv(
            c, c, generators=learned(Grid((size, size), periodic=False), n=n, **_structure(kind, rank, radius))
        )
        layer = layer.to(dev)
        mem = []
        for b in (1, 1 + SLOPE_BATCHES):
            x = torch.randn(b, c, d, device=dev, requires_grad=input_grad)
            gy = torch.randn(b, c, d, device=dev)
            peak = _cuda_peak if dev.type == "cuda" else _footprint
            mem.append(peak(layer, x, gy, precision))
            del x, gy
        per_sample = (mem[1] - mem[0]) // SLOPE_BATCHES
        fixed = mem[0] - per_sample
        largest = int((budget - fixed) // per_sample) if per_sample > 0 else None
        out["kinds"][kind] = dict(
            bytes_batch_1=mem[0], **{f"bytes_batch_{1 + SLOPE_BATCHES}": mem[1]}, bytes_per_sample=per_sample,
            bytes_fixed=fixed,
            largest_batch=largest, fits=mem[0] <= budget,
        )  # fmt: skip
    return out


def _headline(rows: list[dict], kinds) -> dict:
    hit = [r for r in rows if all(r[k] == v for k, v in HEADLINE.items())]
    by = {r["method"]: r for r in hit}
    out = dict(HEADLINE, d=HEADLINE["size"] ** 2)
    if "dense" in by and by["dense"].get("speedup_vs_reference") is not None:
        s = by["dense"]["speedup_vs_reference"]
        out["dense_speedup_vs_reference"] = dict(value=s, target=">= 3", met=s >= 3)
        # the most any dense layer in this precision could gain over the reference
        out["matmul_speedup_vs_reference"] = by["matmul"]["speedup_vs_reference"]
    for kind in ("low-rank", "local", "stencil"):
        if kind in by and by[kind].get("time_s") is not None:
            r = by[kind]["time_vs_conv2d"]
            out[f"{kind}_time_vs_conv2d"] = dict(value=r, target="<= 1.5", met=r <= 1.5)
    return out


def _machine(dev: torch.device) -> dict:
    info = dict(
        platform=platform.platform(), python=platform.python_version(), torch=torch.__version__,
        cpu_count=os.cpu_count(), torch_threads=torch.get_num_threads(), processor=_cpu_name(),
    )  # fmt: skip
    if dev.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(dev)
    return info


def _cpu_name() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def plot_times(rows: list[dict], path: str | Path) -> Path:
    """Time of one training step against ``d`` (log-log), one line per method and per (batch, channels, n)."""
    from ..analysis._figures import _plt, _save

    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    groups = sorted({(r["batch"], r["channels"], r["generators"]) for r in rows})
    styles = ["-", "--", ":", "-."]
    methods = list(dict.fromkeys(r["method"] for r in rows))
    colours = {m: f"C{i}" for i, m in enumerate(methods)}
    for g, group in enumerate(groups):
        for m in methods:
            pts = sorted(
                (r["d"], r["time_s"]) for r in rows
                if (r["batch"], r["channels"], r["generators"]) == group and r["method"] == m and r["time_s"]
            )  # fmt: skip
            if pts:
                label = m if len(groups) == 1 else f"{m}, B={group[0]} c={group[1]} n={group[2]}"
                ax.plot(*zip(*pts), styles[g % 4], marker="os^Dv"[g % 5], color=colours[m], label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("nodes d (side^2)")
    ax.set_ylabel("forward + backward, s (median)")
    ax.set_title("one training step of one layer")
    ax.legend(fontsize=7)
    ax.grid(True, which="both", alpha=0.3)
    return _save(fig, path)


def _mib(v) -> str:
    return "" if v is None else f"{v / 2**20:.1f}"


def format_error(row: dict) -> str:
    """``output / gradient`` relative errors of a bench row, for tables."""
    if row.get("error_output") is None:
        return "-"
    return f"{row['error_output']:.1e} / {row['error_grad']:.1e}"


def precision_text(config: dict) -> str:
    """``precision bf16 (baselines fp32)``, or ``precision fp32`` where all share one mode."""
    p, b = config.get("precision", "fp32"), config.get("baseline_precision")
    return f"precision {p}" + (f" (reference and Conv2d {b})" if b and b != p else "")


def headline_lines(h: dict) -> list[str]:
    """The headline ratios against their targets, and the bound a plain matrix product sets on dense layers."""
    lines = [
        f"{k}: {v['value']:.2f} (target {v['target']}: {'met' if v['met'] else 'not met'})"
        for k, v in h.items()
        if isinstance(v, dict)
    ]
    if h.get("matmul_speedup_vs_reference") is not None:
        lines.append(
            f"matmul_speedup_vs_reference: {h['matmul_speedup_vs_reference']:.2f} (the bound on any dense layer in "
            "this precision: its three products as plain matrix products)"
        )
    return lines


def report(results: dict, figure: Path | None = None) -> str:
    """Markdown: the table of every case, the headline ratios, the memory at the largest size."""
    m = results["machine"]
    lines = [
        "# lconv bench",
        "",
        f"{m['processor']}, {m['cpu_count']} CPUs, {m['torch_threads']} torch threads, torch {m['torch']}"
        + (f", {m['gpu']}" if "gpu" in m else "")
        + f"; device {results['config']['device']}, {precision_text(results['config'])}",
        "",
        f"Memory: {results['memory_measure']}. Error: relative to float64, output / worst gradient.",
        "",
        "| side | d | batch | channels | n | method | time ms | speed-up vs einsum | time / Conv2d | memory MiB "
        "| error out / grad |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results["results"]:
        if r["time_s"] is None:
            cells = ["", "", "", "", "", r["skipped"]]
        else:
            sp = r["speedup_vs_reference"]
            cells = [f"{1e3 * r['time_s']:.1f}", "" if sp is None else f"{sp:.2f}", f"{r['time_vs_conv2d']:.2f}",
                     _mib(r["memory_bytes"]), format_error(r)]  # fmt: skip
        lines.append(
            "| "
            + " | ".join(
                str(v) for v in [r["size"], r["d"], r["batch"], r["channels"], r["generators"], r["method"], *cells]
            )
            + " |"  # fmt: skip
        )
    h = results.get("headline")
    if h:
        lines += [
            "",
            f"Headline ({h['size']}x{h['size']}, batch {h['batch']}, {h['channels']} channels, n = {h['generators']}):",
            "",
            *(f"* {line}" for line in headline_lines(h)),
        ]
    lb = results.get("largest_batch")
    if lb:
        lines += ["", f"One step at {lb['size']}x{lb['size']} ({lb['channels']} channels, n = {lb['generators']}), "
                  f"budget {lb['budget_gib']:g} GiB:", ""]  # fmt: skip
        for kind, v in lb["kinds"].items():
            if "largest_batch" in v:
                lines.append(
                    f"* {kind}: {_mib(v['bytes_batch_1'])} MiB at batch 1, {_mib(v['bytes_per_sample'])} MiB per "
                    f"further sample: largest batch {v['largest_batch']}"
                )
            else:
                lines.append(
                    f"* {kind}: generators alone {v['generator_bytes'] / 2**30:.0f} GiB; with their gradient they fit "
                    f"up to {v['largest_side_for_generators_and_gradients']}x{v['largest_side_for_generators_and_gradients']}"
                )
    if figure is not None:
        lines += ["", f"![time against d]({figure})"]
    return "\n".join(lines) + "\n"
