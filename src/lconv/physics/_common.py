"""Unpacking one L-conv layer into dense weights and generators, and checking the data against it."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from ..nn import Generators, LConv, LConvStack


class Parts(NamedTuple):
    """``W0 (c_out, c_in)``, ``W (n, c_out, c_in)``, ``b (c_out,)`` (zeros without bias), ``L (n, d, d)``."""

    weight0: Tensor
    weight: Tensor
    bias: Tensor
    generators: Tensor

    @property
    def c_in(self) -> int:
        return self.weight0.shape[1]

    @property
    def c_out(self) -> int:
        return self.weight0.shape[0]

    @property
    def d(self) -> int:
        return self.generators.shape[-1]


_LAYER_HINT = "pass one LConv, or its weights as (W0, W) or (W0, W, b) together with generators="


def _dense_generators(generators, where: str) -> Tensor:
    if isinstance(generators, Generators):
        return generators.matrices()
    if isinstance(generators, Tensor):
        L = generators[None] if generators.dim() == 2 else generators
        if L.dim() != 3 or L.shape[-1] != L.shape[-2]:
            raise ValueError(f"{where}: generators must be (n, d, d) or (d, d), got {tuple(generators.shape)}")
        return L
    raise TypeError(
        f"{where}: generators must be a (n, d, d) tensor or a Generators module, got {type(generators).__name__}"
    )


def layer_parts(layer, generators, where: str) -> Parts:
    """Dense parts of one L-conv layer: an :class:`LConv`, a one-layer stack, or raw weights.

    Gradients flow through the returned tensors to the layer's parameters and generators.
    """
    if isinstance(layer, LConvStack):
        if layer.depth != 1:
            raise ValueError(
                f"{where}: got an LConvStack of {layer.depth} layers, but the field theory is that of one L-conv "
                f"layer; pass one layer, e.g. stack.layers[0]"
            )
        layer = layer.layers[0]
    if isinstance(layer, nn.Module) and not isinstance(layer, LConv):
        count = sum(isinstance(m, LConv) for m in layer.modules())
        raise ValueError(
            f"{where}: got a {type(layer).__name__} holding {count} L-conv layers, but the field theory is that of "
            f"exactly one linear L-conv layer; {_LAYER_HINT}"
        )
    if isinstance(layer, LConv):
        if generators is not None:
            raise ValueError(f"{where}: an LConv brings its own generators; pass generators= only with raw weights")
        W0, W, b = layer.weight0, layer.weight, layer.bias
        L = layer.generators.matrices()
    elif isinstance(layer, (tuple, list)):
        if len(layer) not in (2, 3):
            raise ValueError(f"{where}: weights must be (W0, W) or (W0, W, b), got {len(layer)} items; {_LAYER_HINT}")
        if generators is None:
            raise ValueError(f"{where}: raw weights need generators= (the (n, d, d) matrices L_i of the layer)")
        W0, W = layer[0], layer[1]
        b = layer[2] if len(layer) == 3 else None
        L = _dense_generators(generators, where)
    else:
        raise TypeError(f"{where}: expected an LConv or a tuple of weights, got {type(layer).__name__}; {_LAYER_HINT}")

    for name, t in (("W0", W0), ("W", W), ("b", b), ("generators", L)):
        if t is None:
            continue
        if not isinstance(t, Tensor):
            raise TypeError(f"{where}: {name} must be a torch.Tensor, got {type(t).__name__}")
        if not t.is_floating_point():
            raise TypeError(f"{where}: {name} must be floating point, got {t.dtype}; use .double()")
        if not bool(torch.isfinite(t).all()):
            raise ValueError(f"{where}: {name} contains NaN or inf; pass a layer with finite weights and generators")
    if W0.dim() != 2:
        raise ValueError(f"{where}: W0 must be (c_out, c_in), got {tuple(W0.shape)}")
    n = L.shape[0]
    c_out, c_in = W0.shape
    if W.dim() == 2:
        W = W[None]
    if tuple(W.shape) != (n, c_out, c_in):
        raise ValueError(
            f"{where}: W must be (n, c_out, c_in) = ({n}, {c_out}, {c_in}) to match W0 and the {n} generators, "
            f"got {tuple(W.shape)}"
        )
    if b is None:
        b = torch.zeros(c_out, dtype=W0.dtype, device=W0.device)
    elif tuple(b.shape) != (c_out,):
        raise ValueError(f"{where}: b must be (c_out,) = ({c_out},), got {tuple(b.shape)}")
    dtypes = {t.dtype for t in (W0, W, b, L)}
    if len(dtypes) != 1:
        raise TypeError(f"{where}: weights and generators have different dtypes {sorted(map(str, dtypes))}; cast them")
    return Parts(W0, W, b, L)


def check_field(t, parts: Parts, channels: int, name: str, where: str, batch: int | None = None) -> Tensor:
    """``t`` must be a finite ``(batch, channels, d)`` tensor of the layer's dtype."""
    if not isinstance(t, Tensor):
        raise TypeError(f"{where}: {name} must be a torch.Tensor, got {type(t).__name__}")
    want = f"({'batch' if batch is None else batch}, {channels}, {parts.d})"
    if t.dim() != 3 or t.shape[1] != channels or t.shape[2] != parts.d or (batch is not None and t.shape[0] != batch):
        raise ValueError(
            f"{where}: {name} must have shape {want} (batch, channels, nodes) for this layer, got {tuple(t.shape)}; "
            "flatten grid axes with Grid.flatten and add a channel axis with .unsqueeze(1)"
        )
    if t.dtype != parts.weight0.dtype:
        raise TypeError(f"{where}: {name} is {t.dtype} but the layer is {parts.weight0.dtype}; cast one of them")
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{where}: {name} contains NaN or inf; drop or repair those samples")
    return t


def check_candidate(candidate, d: int, dtype: torch.dtype, where: str) -> Tensor:
    """A candidate generator ``(d, d)`` or several ``(k, d, d)``, finite, of the layer's dtype."""
    if not isinstance(candidate, Tensor):
        raise TypeError(f"{where}: the candidate generator must be a torch.Tensor, got {type(candidate).__name__}")
    if candidate.dim() not in (2, 3) or candidate.shape[-1] != d or candidate.shape[-2] != d:
        raise ValueError(
            f"{where}: the candidate generator must be (d, d) or (k, d, d) with d = {d} nodes, "
            f"got {tuple(candidate.shape)}"
        )
    if candidate.dtype != dtype:
        raise TypeError(f"{where}: the candidate is {candidate.dtype} but the layer is {dtype}; cast one of them")
    if not bool(torch.isfinite(candidate).all()):
        raise ValueError(f"{where}: the candidate generator contains NaN or inf; pass finite matrices")
    return candidate


def apply(L: Tensor, f: Tensor) -> Tensor:
    """``(L_i f)[b, i, a, r] = sum_v L_i[r, v] f[b, a, v]``: ``(n, d, d), (B, c, d) -> (B, n, c, d)``."""
    return torch.einsum("irv,bav->biar", L, f)


def residual(parts: Parts, x: Tensor, y: Tensor) -> Tensor:
    """``R = Q[f] - y``, ``(B, c_out, d)``."""
    W0, W, b, L = parts
    return torch.einsum("oa,bar->bor", W0, x) + torch.einsum("ioa,biar->bor", W, apply(L, x)) + b[:, None] - y
