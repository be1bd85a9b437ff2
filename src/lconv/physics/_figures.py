"""Figure: the Noether current on an image grid (PNG via matplotlib's Agg backend, written atomically)."""

from __future__ import annotations

import io
from pathlib import Path

import torch

from .. import _optional
from .._io import write_bytes
from ..grid import Grid
from ._noether import NoetherCurrent, current_field

__all__ = ["plot_noether_current"]


def _plt():
    return _optional.pyplot()


def plot_noether_current(
    noether: NoetherCurrent,
    grid: Grid,
    path: str | Path,
    *,
    sample: int = 0,
    candidate: int = 0,
    width: float = 1.5,
    title: str | None = None,
) -> Path:
    """Draw one sample's Noether current on a 2-D grid and write it as a PNG.

    Left: the loss density ``rho`` as a heat map with the current as arrows
    (:func:`current_field`). Right: ``div J`` on the colour scale of the largest flow
    between two nodes, ``max |J[r, v]|``, so a conserved current shows as a blank map;
    the title gives the ratio of the two.

    Args:
        noether: from :func:`noether_current`.
        grid: the 2-D grid of the nodes.
        path: the PNG to write (folders are created).
        sample: which sample of the batch.
        candidate: which candidate, when several were given.
        width: window of :func:`current_field`, in pixels.
        title: overall title.

    Returns:
        The path written.
    """
    if not isinstance(noether, NoetherCurrent):
        raise TypeError(f"plot_noether_current: expected a NoetherCurrent, got {type(noether).__name__}")
    if not isinstance(grid, Grid) or grid.ndim != 2:
        raise ValueError(f"plot_noether_current: needs a 2-D lconv.Grid, got {grid!r}")
    J, div = noether.current, noether.divergence
    if J.shape[-1] != grid.size:
        raise ValueError(
            f"plot_noether_current: the current is on {J.shape[-1]} nodes but {grid!r} has {grid.size}; "
            "pass the grid the data live on"
        )
    if not 0 <= sample < J.shape[0]:
        raise ValueError(f"plot_noether_current: sample {sample} is not in the batch of {J.shape[0]}")
    J, div, dens = J[sample], div[sample], noether.density[sample]
    if J.dim() == 3:
        if not 0 <= candidate < J.shape[0]:
            raise ValueError(f"plot_noether_current: candidate {candidate} is not among the {J.shape[0]} given")
        J, div = J[candidate], div[candidate]
    J, div, dens = (t.detach().double().cpu() for t in (J, div, dens))
    field = current_field(J, grid, width=width)
    flow = float(J.abs().max()) or 1.0
    ratio = float(div.abs().max()) / flow

    plt = _plt()
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(8.4, 3.9))
    H, W = grid.shape
    im0 = ax0.imshow(grid.unflatten(dens).numpy(), cmap="viridis", origin="upper")
    step = max(1, max(H, W) // 24)
    rows, cols = torch.meshgrid(torch.arange(0, H, step), torch.arange(0, W, step), indexing="ij")
    idx = (rows * W + cols).reshape(-1)
    vec = field[idx]
    ax0.quiver(
        cols.reshape(-1).numpy(), rows.reshape(-1).numpy(), vec[:, 0].numpy(), vec[:, 1].numpy(), color="w", angles="xy"
    )
    ax0.set_title("loss density and Noether current J", fontsize=9)
    fig.colorbar(im0, ax=ax0, fraction=0.046, pad=0.04)
    im1 = ax1.imshow(grid.unflatten(div).numpy(), cmap="RdBu_r", vmin=-flow, vmax=flow, origin="upper")
    ax1.set_title(f"div J  (max |div J| / max |J| = {ratio:.1e})", fontsize=9)
    fig.colorbar(im1, ax=ax1, fraction=0.046, pad=0.04)
    for ax in (ax0, ax1):
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=10)
    buf = io.BytesIO()
    try:
        fig.savefig(buf, dpi=110, bbox_inches="tight", format="png")
    finally:
        plt.close(fig)
    return write_bytes(path, buf.getvalue())
