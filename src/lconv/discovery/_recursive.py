r"""The paper's SI C.3 model: a recursive L-conv that regresses the angle between two images.

``m`` copies of ``x`` pass ``steps`` times through one L-conv layer with one learned dense
generator (shared weights: ``Q^steps[x]``); each output channel is compared with ``y`` by a
dot product, and a small MLP (``m -> hidden``, tanh, ``-> 1``) predicts the angle. The
model is trained on the mean squared error of the angle, so the angles are labels here;
the generator of the L-conv layer is what is read out.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
from torch import Tensor, nn

from ..nn import learned
from ..nn.functional import lconv
from ._pairs import DiscoveryResult


class RecursiveAngleModel(nn.Module):
    """``angle = MLP(<Q^steps[x 1_m], y>)``; shapes: ``x, y`` ``(B, d)`` -> ``(B,)``.

    ``Q`` is an L-conv layer with ``W0 = I`` and ``W_1 = diag(eps)`` (one learned step size
    per channel, so that channel ``c`` computes ``(I + eps_c L)^steps x``, a transformation
    by about ``steps * eps_c``): the channels encode several angles at once.
    """

    def __init__(self, d: int, *, channels: int = 8, steps: int = 5, hidden: int = 32):
        super().__init__()
        self.steps = steps
        self.generators = learned(d, n=1)
        self.eps = nn.Parameter(torch.linspace(0.0, 0.1, channels))
        self.register_buffer("eye", torch.eye(channels))
        self.head = nn.Sequential(nn.Linear(channels, hidden), nn.Tanh(), nn.Linear(hidden, 1))

    @property
    def generator(self) -> Tensor:
        return self.generators.matrices()

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        q = x[:, None, :].expand(-1, len(self.eps), -1)
        for _ in range(self.steps):
            q = lconv(q, self.generators, self.eye, torch.diag(self.eps)[None])
        return self.head(torch.einsum("bmd,bd->bm", q, y))[:, 0]


def fit_recursive(
    x: Tensor,
    y: Tensor,
    t: Tensor,
    *,
    channels: int = 8,
    steps: int = 5,
    hidden: int = 32,
    epochs: int = 10,
    batch_size: int = 16,
    lr: float = 1e-3,
    seed: int = 0,
    progress: Callable[[int, int, float], None] | None = None,
) -> DiscoveryResult:
    """Train :class:`RecursiveAngleModel` on pairs ``(x, y)`` with angles ``t`` (``(N,)``) as labels.

    Returns a :class:`DiscoveryResult` whose ``generators`` is the layer's learned
    ``(1, d, d)`` generator and whose ``t`` holds the predicted angles.
    """
    if x.dim() != 2 or x.shape != y.shape:
        raise ValueError(f"fit_recursive: x and y must both be (N, d), got {tuple(x.shape)} and {tuple(y.shape)}")
    t = torch.as_tensor(t, dtype=x.dtype).reshape(len(x))
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = RecursiveAngleModel(x.shape[1], channels=channels, steps=steps, hidden=hidden).to(x.dtype)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    history: dict[str, list[float]] = {"loss": [], "seconds": []}
    start = time.perf_counter()
    for epoch in range(epochs):
        order = torch.randperm(len(x), generator=gen)
        total = 0.0
        for s in range(0, len(x), batch_size):
            idx = order[s : s + batch_size]
            loss = (model(x[idx], y[idx]) - t[idx]).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        history["loss"].append(total / len(x))
        history["seconds"].append(time.perf_counter() - start)
        if progress is not None:
            progress(epoch + 1, epochs, history["loss"][-1])
    with torch.no_grad():
        pred = model(x, y)
    config = dict(method="recursive", channels=channels, steps=steps, hidden=hidden, epochs=epochs,
                  batch_size=batch_size, lr=lr, seed=seed)  # fmt: skip
    return DiscoveryResult(model.generator.detach(), pred[:, None], history, "recursive", config)
