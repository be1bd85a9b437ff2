"""The L-conv layer (Eq. 13, 22), its functional form, and stacks sharing one set of generators."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from ._generators import Generators, as_generators, check_features
from .functional import lconv

__all__ = ["LConv", "LConvStack"]


class LConv(nn.Module):
    r"""Lie algebra convolution (Dehmamy et al. 2021, Eq. 13 and 22).

    .. math::
        Q[f] = W^0 \Big(f + \sum_i \bar\epsilon^i L_i f\Big) + b
             = W^0 f + \sum_{i=1}^{n} W^i (L_i f) + b ,

    with the products ``W^i = W^0 eps^i`` as free parameters. ``W^0, W^i`` act on
    channels and ``L_i`` on nodes.

    **Equivariance.** With free weights the layer is equivariant to exactly the
    transformations ``g`` that commute with every ``L_i`` (``lconv.testing.assert_commutes``
    checks this) and, when the layer has a bias, that map constant features to
    themselves (permutations of the nodes and ``exp(t L)`` of vector fields do; rotations
    of the coordinates of a vector do not: use ``bias=False`` there). For an abelian
    algebra (translations, one rotation generator) that includes ``exp(t L)`` for the
    whole group the ``L_i`` generate. For a non-abelian
    algebra pushed forward onto the nodes it does not: with ``family("se2", grid)`` the
    layer is not equivariant to quarter turns or shifts of the grid, with so(3) on vectors
    not to ``exp(t L_j)`` (relative errors 0.2-1 in float64; ``python -m
    lconv.nn.theorem1`` prints them). For those groups lift the features to the group and
    use its left-invariant generators (:func:`lconv.nn.left_invariant` on an
    :class:`~lconv.nn.SE2Grid` or :class:`~lconv.nn.SE3Grid`, the paper's ``g L_i . d/dg``).

    Nonlinearities: a pointwise nonlinearity commutes with permutations of the nodes, so
    stacks with nonlinearities stay equivariant to exact actions (integer shifts, quarter
    turns, the lifted grid's rotations; Corollary 1). It does not commute with
    interpolating actions such as ``exp(theta L)`` for a rotation on a grid:
    ``LConv -> ReLU -> LConv`` with the rotation generator is equivariant to
    ``exp(0.3 L)`` to 4e-15 without the ReLU and to 0.2-0.8 with it (float64, 12x12).
    The same holds for any network acting on channels alone, node by node: it keeps
    equivariance to exact actions, and to interpolating ones only when it is linear.

    Args:
        in_channels: ``c_in``.
        out_channels: ``c_out``.
        generators: a ``(n, d, d)`` (or ``(d, d)``) tensor, stored as fixed generators, or a
            :class:`Generators` module such as ``generators.learned(grid, n=4, rank=8)``,
            whose parameters are trained with the layer. Pass the same module to
            several layers to share generators.
        bias: add a learnable bias ``b`` (``c_out``).
        device, dtype: where and in which precision the weights are made, as for torch's
            modules; the generators are moved there too (in place, so generators shared
            with other layers move with them).

    Init:
        ``W0``, ``W_i`` and ``b`` uniform in ``+-1/sqrt((n + 1) c_in)``, the ``nn.Linear``
        rule for the ``(n + 1) c_in`` inputs ``[f, L_1 f, ..., L_n f]``.

    Shapes:
        input ``(batch, c_in, d)``; output ``(batch, c_out, d)``.

    Example:
        >>> from lconv import Grid, LConv, generators
        >>> grid = Grid((7, 7))
        >>> layer = LConv(1, 8, generators=generators.rotation(grid))
        >>> layer(torch.randn(2, 1, 49)).shape
        torch.Size([2, 8, 49])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        generators,
        *,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ):
        super().__init__()
        for name, v in (("in_channels", in_channels), ("out_channels", out_channels)):
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"LConv: {name} must be a positive int, got {v!r}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.generators: Generators = as_generators(generators)
        if device is not None or dtype is not None:  # as torch modules: the generators come along
            self.generators.to(device=device, dtype=dtype)
        n = self.generators.n
        factory = dict(device=device, dtype=dtype)
        self.weight0 = nn.Parameter(torch.empty(out_channels, in_channels, **factory))
        self.weight = nn.Parameter(torch.empty(n, out_channels, in_channels, **factory))
        self.bias = nn.Parameter(torch.empty(out_channels, **factory)) if bias else None
        self.reset_parameters()

    @property
    def num_generators(self) -> int:
        return self.generators.n

    @property
    def num_nodes(self) -> int:
        return self.generators.d

    def reset_parameters(self) -> None:
        """Re-draw ``W0``, ``W_i`` and ``b`` (the generators keep their values)."""
        bound = 1 / math.sqrt((self.num_generators + 1) * self.in_channels)
        for p in (self.weight0, self.weight, self.bias):
            if p is not None:
                nn.init.uniform_(p, -bound, bound)

    def forward(self, f: Tensor) -> Tensor:
        check_features(f, self.num_nodes, "LConv")
        if f.dim() != 3 or f.shape[1] != self.in_channels:
            raise ValueError(
                f"LConv: expected input of shape (batch, {self.in_channels}, {self.num_nodes}), got {tuple(f.shape)}; "
                "add a channel axis with x.unsqueeze(1) for single-channel data"
            )
        # As in torch's modules: under autocast the products cast inputs and weights to autocast's dtype
        # (a layer after a bf16 layer gets bf16 features); outside it the dtypes must agree.
        if f.dtype != self.weight0.dtype and not torch.is_autocast_enabled(f.device.type):
            raise TypeError(
                f"LConv: input is {f.dtype} but the layer is {self.weight0.dtype}; "
                f"convert one of them, e.g. layer.to({f.dtype}), or run under torch.autocast"
            )
        return lconv(f, self.generators, self.weight0, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, n={self.num_generators}, d={self.num_nodes}, bias={self.bias is not None}"


class LConvStack(nn.Module):
    r"""Several L-conv layers sharing one set of generators, applied in one call.

    ``f -> act(Q_1[f]) -> ... -> Q_m[...]`` with every ``Q_k`` an :class:`LConv` over the
    same :class:`Generators` module (its parameters are shared, so learned generators
    receive gradients from every layer). With ``tie_weights=True`` one layer is applied
    ``len(channels) - 1`` times: the recursive L-conv of SI C.3, ``Q^m[f]``.

    Args:
        channels: ``[c_0, c_1, ..., c_m]``: ``m`` layers, layer ``k`` maps ``c_{k-1}``
            to ``c_k`` channels.
        generators: as for :class:`LConv`.
        activation: applied between layers (not after the last); default none, which
            keeps the stack linear.
        bias: biases in each layer.
        tie_weights: share ``W0, W_i, b`` across layers too (all channels equal).

    Shapes:
        input ``(batch, c_0, d)``; output ``(batch, c_m, d)``.
    """

    def __init__(
        self,
        channels: Sequence[int],
        generators,
        *,
        activation: Callable[[Tensor], Tensor] | None = None,
        bias: bool = True,
        tie_weights: bool = False,
    ):
        super().__init__()
        channels = list(channels)
        if len(channels) < 2:
            raise ValueError(f"LConvStack: channels needs at least two entries [c_in, c_out], got {channels}")
        if tie_weights and len(set(channels)) != 1:
            raise ValueError(f"LConvStack: tie_weights=True needs equal channels, got {channels}")
        self.generators = as_generators(generators)
        self.depth = len(channels) - 1
        self.tie_weights = tie_weights
        self.activation = activation
        count = 1 if tie_weights else self.depth
        self.layers = nn.ModuleList(
            LConv(channels[k], channels[k + 1], self.generators, bias=bias) for k in range(count)
        )

    def forward(self, f: Tensor) -> Tensor:
        for k in range(self.depth):
            f = self.layers[0 if self.tie_weights else k](f)
            if self.activation is not None and k < self.depth - 1:
                f = self.activation(f)
        return f

    @classmethod
    def from_kernel(cls, taps: Tensor, points: Tensor, generators, depth: int) -> LConvStack:
        r"""A linear stack that approximates a group convolution with a kernel of point masses.

        Theorem 1 / Lemma 2, made explicit: the kernel ``sum_s a_s delta(u_s)`` with
        ``u_s = exp(t_s . L)`` acts as ``sum_s a_s exp(t_s . L)``. Each ``exp`` is replaced by
        ``(I + t_s . L / m)^m``: ``m = depth`` L-conv layers, one channel per tap,
        move each localised kernel from the identity to ``u_s``; the last layer sums the
        taps. With the translation generator this reproduces a CNN kernel, e.g. taps
        ``[a_-1, a_0, a_1]`` at ``points = [[-1], [0], [1]]``. The error is
        ``O(|t . L|^2 / m)`` on band-limited inputs.

        Args:
            taps: ``(S,)`` kernel weights ``a_s``.
            points: ``(S, n)`` group coordinates ``t_s`` of each tap.
            generators: the ``n`` generators (tensor or module).
            depth: number of layers ``m`` (``>= 1``).

        Returns:
            A stack with channels ``[1, S, ..., S, 1]`` and no bias.
        """
        gens = as_generators(generators)
        taps = torch.as_tensor(taps)
        points = torch.as_tensor(points, dtype=taps.dtype)
        if points.dim() == 1:
            points = points[:, None]
        if taps.dim() != 1 or points.shape != (len(taps), gens.n):
            raise ValueError(
                f"LConvStack.from_kernel: need taps (S,) and points (S, n={gens.n}), "
                f"got {tuple(taps.shape)} and {tuple(points.shape)}"
            )
        if not isinstance(depth, int) or depth < 1:
            raise ValueError(f"LConvStack.from_kernel: depth must be a positive int, got {depth!r}")
        s = len(taps)
        stack = cls([1] + [s] * (depth - 1) + [1], gens, bias=False) if depth > 1 else cls([1, 1], gens, bias=False)
        step = points / depth  # (S, n)
        with torch.no_grad():
            for k, layer in enumerate(stack.layers):
                first, last = k == 0, k == depth - 1
                if first and last:  # one layer: sum_s a_s (I + t_s L)
                    layer.weight0.copy_(taps.sum()[None, None])
                    layer.weight.copy_((taps[:, None] * step).sum(0)[:, None, None])
                elif first:  # 1 -> S: channel s gets (I + t_s L / m) f
                    layer.weight0.copy_(torch.ones(s, 1))
                    layer.weight.copy_(step.T[:, :, None])
                elif last:  # S -> 1: sum_s a_s (I + t_s L / m) g_s
                    layer.weight0.copy_(taps[None, :])
                    layer.weight.copy_((taps[None, :] * step.T)[:, None, :])
                else:  # S -> S, diagonal
                    layer.weight0.copy_(torch.eye(s))
                    layer.weight.copy_(torch.diag_embed(step.T))
        return stack
