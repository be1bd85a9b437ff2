r"""The paper's SI C.3 model: a recursive L-conv that regresses the angle between two images.

``m`` copies of ``x`` pass ``steps`` times through one L-conv layer with one learned
generator (shared weights: ``Q^steps[x]``); each output channel is compared with ``y`` by a
dot product, and a small MLP (``m -> hidden``, tanh, ``-> 1``) predicts the angle. The
model is trained on the mean squared error of the angle, so the angles are labels here;
the generator of the L-conv layer is what is read out. It lies in a search space (all of
``gl(d)`` by default).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn

from ..algebra._spaces import SearchSpace
from ._result import DiscoveryResult, check_count, legacy_keywords, legacy_positional


class RecursiveAngleModel(nn.Module):
    """``angle = MLP(<Q^steps[x 1_m], y>)``; shapes: ``x, y`` ``(B, d)`` -> ``(B,)``.

    ``Q`` is an L-conv layer with ``W0 = I`` and ``W_1 = diag(eps)`` (one learned step size
    per channel, so that channel ``c`` computes ``(I + eps_c L)^steps x``, a transformation
    by about ``steps * eps_c``): the channels encode several angles at once.

    Args:
        d: the dimension of the samples.
        space: the search space of the generator ``L`` (default: all of ``gl(d)``).
        channels, steps, hidden: ``m``, the passes through the layer, the MLP's width.
        generator: a ``torch.Generator`` for the initial weights (default: torch's global one).
    """

    def __init__(self, d: int, *, space: SearchSpace | str | None = None, channels: int = 8, steps: int = 5,
                 hidden: int = 32, generator: torch.Generator | None = None):  # fmt: skip
        super().__init__()
        self.steps = steps
        self.space = SearchSpace.resolve(space, d, where="RecursiveAngleModel")
        start = torch.randn(1, d, d, generator=generator) / math.sqrt(d)  # entries N(0, 1/d), as a dense layer
        self.params = nn.Parameter(self.space.project(start.to(torch.get_default_dtype())).contiguous())
        self.eps = nn.Parameter(torch.linspace(0.0, 0.1, channels))
        self.head = nn.Sequential(_linear(channels, hidden, generator), nn.Tanh(), _linear(hidden, 1, generator))

    @property
    def generator(self) -> Tensor:
        """The layer's generator, ``(1, d, d)``."""
        return self.space.generators(self.params)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        L = self.generator[0]
        q = x[:, None, :].expand(-1, len(self.eps), -1)
        for _ in range(self.steps):
            q = q + self.eps[:, None] * (q @ L.T)  # W0 q + W_1 (L q), W0 = I, W_1 = diag(eps)
        return self.head(torch.einsum("bmd,bd->bm", q, y))[:, 0]


def _linear(n_in: int, n_out: int, generator: torch.Generator | None) -> nn.Linear:
    """``nn.Linear`` with torch's default initialisation drawn from ``generator`` (the global RNG untouched)."""
    layer = nn.utils.skip_init(nn.Linear, n_in, n_out)
    bound = 1 / math.sqrt(n_in)
    with torch.no_grad():
        layer.weight.copy_((torch.rand(n_out, n_in, generator=generator) * 2 - 1) * bound)
        layer.bias.copy_((torch.rand(n_out, generator=generator) * 2 - 1) * bound)
    return layer


@dataclass
class RecursiveOptions:
    """Options of :func:`fit_recursive` (``options=``): the model (``channels``, ``steps``,
    ``hidden``) and its training by Adam (``epochs``, ``batch_size``, ``lr``)."""

    channels: int = 8
    steps: int = 5
    hidden: int = 32
    epochs: int = 10
    batch_size: int = 16
    lr: float = 1e-3


def fit_recursive(
    x: Tensor,
    y: Tensor,
    *legacy,
    t: Tensor | None = None,
    space: SearchSpace | str | Tensor | None = None,
    n_generators: int = 1,
    seed: int = 0,
    device: str | torch.device | None = None,
    options: RecursiveOptions | dict | None = None,
    progress: Callable[[int, int, float], None] | None = None,
    **old,
) -> DiscoveryResult:
    """Train :class:`RecursiveAngleModel` on pairs ``(x, y)`` with angles ``t`` (``(N,)``) as labels.

    Args:
        x, y: pairs ``(N, d)``.
        t: the angles ``(N,)`` or ``(N, 1)``, the labels (required).
        space: the generator's search space (:class:`~lconv.algebra.SearchSpace`, a name, or
            ``(m, d, d)`` matrices); default all of ``gl(d)``.
        n_generators: 1, the one generator the model learns.
        seed: seeds the initial weights and the minibatches through a local
            ``torch.Generator``; torch's global random state is left as it was.
        device: where to train (default: where ``x`` is); the result comes back to ``x``'s device.
        options: :class:`RecursiveOptions` (or a dict of its fields).
        progress: called as ``progress(epoch, epochs, loss)`` after each epoch.

    Returns:
        :class:`DiscoveryResult` whose ``generators`` is the layer's learned ``(1, d, d)``
        generator and whose ``t`` ``(N, 1)`` holds the predicted angles, on ``x``'s device in
        its dtype.
    """
    opts, _ = legacy_keywords("fit_recursive", old, options, RecursiveOptions)
    t = legacy_positional("fit_recursive", legacy, ("t",), dict(t=t)).get("t", t)
    if not isinstance(x, Tensor) or not isinstance(y, Tensor) or x.dim() != 2 or x.shape != y.shape:
        shapes = [tuple(v.shape) if isinstance(v, Tensor) else type(v).__name__ for v in (x, y)]
        raise ValueError(f"fit_recursive: x and y must both be (N, d) tensors, got {shapes[0]} and {shapes[1]}")
    if t is None:
        raise TypeError("fit_recursive: the angles are the labels: call fit_recursive(x, y, t=angles)")
    check_count(n_generators, "fit_recursive")
    if n_generators != 1:
        raise ValueError(f"fit_recursive: the recursive model learns one generator; got n_generators={n_generators!r}")
    out_device, dtype = x.device, x.dtype
    dev = torch.device(device) if device is not None else x.device
    t = torch.as_tensor(t, dtype=dtype).reshape(len(x)).to(dev)
    x, y = x.to(dev), y.to(dev)
    space = SearchSpace.resolve(space, x.shape[1], where="fit_recursive")
    gen = torch.Generator().manual_seed(seed)
    model = RecursiveAngleModel(x.shape[1], space=space, channels=opts.channels, steps=opts.steps,
                                hidden=opts.hidden, generator=gen).to(dev, dtype)  # fmt: skip
    model.space = space.to(dev, dtype)
    opt = torch.optim.Adam(model.parameters(), lr=opts.lr)
    history: dict[str, list[float]] = {"loss": [], "seconds": []}
    start = time.perf_counter()
    for epoch in range(opts.epochs):
        order = torch.randperm(len(x), generator=gen).to(dev)
        total = 0.0
        for s in range(0, len(x), opts.batch_size):
            idx = order[s : s + opts.batch_size]
            loss = (model(x[idx], y[idx]) - t[idx]).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        history["loss"].append(total / len(x))
        history["seconds"].append(time.perf_counter() - start)
        if progress is not None:
            progress(epoch + 1, opts.epochs, history["loss"][-1])
    with torch.no_grad():
        pred = model(x, y)
    config = dict(fit="recursive", method="recursive", space=space.name, space_dim=space.dim, n_generators=1,
                  **asdict(opts), seed=seed, device=str(dev))  # fmt: skip
    result = DiscoveryResult(model.generator.detach(), pred[:, None], history, "recursive", config)
    return result.to(out_device, dtype)
