r"""Kernels for the L-conv sum ``W0 f + sum_i W_i (L_i f)``, one per parametrisation.

Every kernel computes the same thing as
``W0 f + einsum('kdf,bcf,koc->bod', L, f, W)`` (the dense reference), but orders the
products so that all generators and all channels go through as few large matrix
products as the structure of ``L`` allows:

* dense or fixed ``L``: one ``(B c, d) x (d, n d)`` product; the channels are mixed
  before the generators act when that is cheaper (fewer output than input channels);
* low rank ``L_i = U_i V_i^T``: project on ``V``, mix the channels on the ``n r``
  coefficients, expand with ``U`` (``d x d`` never formed, ``n d`` values per channel
  never formed either);
* stencil on a grid: the generators and ``W0`` fold into one kernel, applied by a single
  ``conv1d/2d/3d`` (the stencil is a convolution);
* local weights per node: node by node in chunks of a few MiB, either as a locally
  connected product (one ``(c_out, K c_in)`` matrix per node, for large batches) or with
  the generators first and one product that mixes channels and generators (small
  batches, few generators); both gather the neighbours again in the backward pass
  instead of storing ``K`` or ``n`` values per node and channel. Gathering rows of a
  node-major copy was as fast as torch's sparse CSR product or faster (all ``L_i f`` at
  28x28, batch 128, 32 channels, n = 8, one thread: 286 against 333 ms), and in torch
  2.13 a CSR product gives no gradient for its values, so there is no CSR path.

Shapes: ``f`` is ``(B, c_in, d)``; ``weight0`` ``(c_out, c_in)``; ``weight``
``(n, c_out, c_in)``; ``bias`` ``(c_out,)`` or None; the result ``(B, c_out, d)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable

__all__ = ["dense_sum", "local_sum", "low_rank_sum", "mix_channels", "stencil_sum"]


def _add_w0(y: Tensor, f: Tensor, weight0: Tensor, bias: Tensor | None) -> Tensor:
    """``y += W0 f (+ b)`` in place on a fresh product ``y``: one batched product that reads
    ``f`` as it is laid out (``matmul(W0, f)`` would transpose ``f`` and its gradient) and no
    new ``(B, c_out, d)`` tensor. In-place products are not autocast: under autocast ``y``
    is in the low precision and ``W0, f`` are cast to it."""
    y.baddbmm_(weight0.to(y.dtype).expand(f.shape[0], -1, -1), f.to(y.dtype))
    return y if bias is None else y.add_(bias[:, None])


def mix_channels(f: Tensor, lf: Tensor, weight0: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``W0 f + sum_i W_i lf_i (+ b)`` for precomputed ``lf = (L_1 f, ..., L_n f)``, ``(B, c_in, n, d)``."""
    b, c, n, d = lf.shape
    w = weight.permute(1, 2, 0).reshape(weight.shape[1], c * n)  # w[o, c*n + i] = W_i[o, c]
    return _add_w0(torch.bmm(w.expand(b, -1, -1), lf.reshape(b, c * n, d)), f, weight0, bias)


def dense_sum(f: Tensor, L: Tensor, weight0: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """Dense ``(n, d, d)`` generators; the order of the two products is chosen by their cost.

    Generators first costs ``2 B c_in n d^2`` multiply-adds, channels first
    ``2 B c_out n d^2`` (the channel mixing itself costs the same in both orders), so the
    channels are mixed first exactly when ``c_out < c_in``.
    """
    n, d, _ = L.shape
    b, c, _ = f.shape
    o = weight.shape[1]
    if o < c:  # z[b, o*n + i] = W_i f, then sum_i L_i z_i in one product over (i, node)
        z = torch.bmm(weight.permute(1, 0, 2).reshape(o * n, c).expand(b, -1, -1), f)
        y = torch.matmul(z.reshape(b, o, n * d), L.transpose(1, 2).reshape(n * d, d))
        return _add_w0(y, f, weight0, bias)
    lf = f.reshape(b * c, d) @ L.reshape(n * d, d).T  # (B*c, n*d): all generators in one product
    return mix_channels(f, lf.reshape(b, c, n, d), weight0, weight, bias)


def low_rank_sum(
    f: Tensor, U: Tensor, V: Tensor, weight0: Tensor, weight: Tensor, bias: Tensor | None = None
) -> Tensor:
    """Low-rank generators ``L_i = U_i V_i^T`` with ``U, V`` of shape ``(n, d, r)``.

    ``sum_i W_i U_i V_i^T f``: the ``n r`` coefficients ``V_i^T f`` of every channel in
    one product, the channels mixed on those coefficients, then one product with ``U``.
    Cost ``2 B d n r (c_in + c_out)`` plus ``2 B n r c_in c_out``, against
    ``2 B d n (2 r c_in + c_in c_out)`` when ``L_i f`` is formed first.
    """
    n, d, r = U.shape
    b, c, _ = f.shape
    o = weight.shape[1]
    coef = f.reshape(b * c, d) @ V.permute(1, 0, 2).reshape(d, n * r)  # (B*c, n*r)
    coef = coef.reshape(b, c, n, r).permute(2, 1, 0, 3).reshape(n, c, b * r)
    mixed = torch.bmm(weight, coef)  # (n, o, B*r): sum_c W_i[o, c] (V_i^T f_c)
    mixed = mixed.reshape(n, o, b, r).permute(2, 1, 0, 3).reshape(b, o, n * r)
    y = torch.matmul(mixed, U.permute(0, 2, 1).reshape(n * r, d))  # (B, o, d)
    return _add_w0(y, f, weight0, bias)


# ----------------------------------------------------------------------------- stencils
def _pad(x: Tensor, radius: int, periodic: tuple[bool, ...]) -> Tensor:
    """Pad the trailing ``len(periodic)`` axes by ``radius``: wrap-around or zeros."""
    k = len(periodic)
    zeros = []
    for a, per in enumerate(periodic):
        dim = x.dim() - k + a
        if per:  # index modulo the side, so sides shorter than the radius wrap more than once
            s = x.shape[dim]
            idx = torch.remainder(torch.arange(-radius, s + radius, device=x.device), s)
            x = x.index_select(dim, idx)
        zeros.append((0, 0) if per else (radius, radius))
    pad = [p for pair in reversed(zeros) for p in pair]  # F.pad lists the last axis first
    return F.pad(x, pad) if any(pad) else x


_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


def stencil_sum(
    f: Tensor,
    stencils: Tensor,
    weight0: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    *,
    shape: tuple[int, ...],
    periodic: tuple[bool, ...],
    offsets: Tensor,
    radius: int,
    mask: Tensor,
    difference: bool,
) -> Tensor:
    r"""Stencil generators on a grid: ``W0 f + sum_i W_i (L_i f)`` as one convolution.

    ``(L_i f)_v = sum_j s_ij f_{v + o_j}`` (zero outside a non-periodic grid), so
    ``sum_i W_i L_i + W0`` is a convolution whose kernel at offset ``o_j`` is
    ``sum_i s_ij W_i`` (plus ``W0`` at the centre). The difference form subtracts
    ``(sum_j s_ij) f_v``, folded into the centre; on non-periodic grids the nodes next to
    an edge lose the missing neighbours' share, added back on those nodes only.

    Args:
        stencils: ``(n, K)``; ``offsets``: ``(K, ndim)`` Cartesian; ``mask``: ``(d, K)``.
    """
    n, k = stencils.shape
    b, c, d = f.shape
    o = weight.shape[1]
    ndim = len(shape)
    side = 2 * radius + 1
    # kernel slot of each stencil entry: array-axis offsets + radius, raveled row-major
    pos = offsets.flip(-1).to(f.device) + radius
    tap = torch.zeros(k, dtype=torch.long, device=f.device)
    for a in range(ndim):
        tap = tap * side + pos[:, a]
    with torch.autocast(f.device.type, enabled=False):  # the small kernel in the parameters' precision
        combined = (stencils.T @ weight.reshape(n, o * c)).reshape(k, o, c)  # sum_i s_ij W_i
        kernel = combined.new_zeros(side**ndim, o, c).index_add(0, tap, combined)
        centre = (side**ndim) // 2
        self_term = weight0
        if difference:
            self_term = self_term - (stencils.sum(1) @ weight.reshape(n, o * c)).reshape(o, c)
        kernel = kernel.index_add(0, torch.tensor([centre], device=f.device), self_term[None])
        kernel = kernel.permute(1, 2, 0).reshape(o, c, *([side] * ndim))
    x = _pad(f.reshape(b, c, *shape), radius, periodic)
    y = _CONV[ndim](x, kernel, bias).reshape(b, o, d)
    if difference and not all(periodic):
        # nodes next to a non-periodic edge: the missing neighbours' share of sum_j s_ij
        border = (~mask).any(1).nonzero().squeeze(1).to(f.device)
        if len(border):
            missing = stencils @ (~mask[border]).T.to(stencils.dtype)  # (n, nb)
            node_w = (missing.T @ weight.reshape(n, o * c)).reshape(-1, o, c)  # (nb, o, c)
            fb = f.index_select(2, border).permute(2, 1, 0)  # (nb, c, B)
            y = y.index_add(2, border, torch.bmm(node_w, fb).permute(2, 1, 0).to(y.dtype))
    return y


# ----------------------------------------------------------------------------- local weights
#: Bytes of gathered neighbour values per chunk of nodes: small enough to stay in cache
#: and to be recycled by the allocator, large enough that each product is a real GEMM.
CHUNK_BYTES = {"cpu": 2 << 20}
DEFAULT_CHUNK_BYTES = 256 << 20  # accelerators: few, large launches


def _chunk_nodes(ref: Tensor, d: int, per_node: int) -> int:
    """Nodes per chunk so that ``per_node`` values of each fit the device's budget."""
    budget = CHUNK_BYTES.get(ref.device.type, DEFAULT_CHUNK_BYTES)
    return max(1, min(d, budget // max(per_node * ref.element_size(), 1)))


def _node_weights(w: Tensor, weight: Tensor, weight0: Tensor, self_slot: int) -> Tensor:
    """``T[v, j, o, c] = sum_i w[i, v, j] W_i[o, c] + [j = self] W0[o, c]`` for a chunk of nodes, ``(m, K, o, c)``."""
    n, m, k = w.shape
    o, c = weight.shape[1:]
    t = (w.reshape(n, m * k).T @ weight.reshape(n, o * c)).view(m, k, o, c)
    t[:, self_slot] += weight0
    return t


class _LocallyConnected(torch.autograd.Function):
    r"""``y[b, o, v] = sum_{j, c} T[v, o, j, c] f[b, c, index[v, j]] + bias[o]``, ``T`` as in :func:`_node_weights`.

    Node chunks: gather ``(m, K c_in, B)`` neighbour values, build the chunk's per-node
    weights ``(m, c_out, K c_in)``, one batched product. Only ``f`` (node-major) and the
    weights are kept for the backward pass, which gathers again. Chunk buffers are
    allocated once per call and reused, so no large temporary is ever created.
    """

    @staticmethod
    def forward(ctx, f, w, weight, weight0, bias, index, self_slot):
        b, c, d = f.shape
        k = index.shape[1]
        o = weight.shape[1]
        ft = f.permute(2, 1, 0).contiguous()  # (d, c, B): one node's values are contiguous
        out = f.new_empty(b, o, d)
        step = _chunk_nodes(ft, d, k * (c * b + 2 * o * c))  # gathered values, per-node weights
        u = f.new_empty(step * k, c, b)
        res = f.new_empty(step, o, b)
        for s0 in range(0, d, step):
            s1 = min(s0 + step, d)
            m = s1 - s0
            torch.index_select(ft, 0, index[s0:s1].reshape(-1), out=u[: m * k])
            t = _node_weights(w[:, s0:s1], weight, weight0, self_slot).permute(0, 2, 1, 3).reshape(m, o, k * c)
            torch.bmm(t, u[: m * k].view(m, k * c, b), out=res[:m])
            if bias is not None:
                res[:m] += bias[:, None]
            out[:, :, s0:s1] = res[:m].permute(2, 1, 0)
        ctx.save_for_backward(ft, w, weight, weight0, index)
        ctx.self_slot = self_slot
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        ft, w, weight, weight0, index = ctx.saved_tensors
        d, c, b = ft.shape
        n, o = weight.shape[:2]
        k = index.shape[1]
        j0 = ctx.self_slot
        need_f, need_w, need_W, need_W0, need_b = ctx.needs_input_grad[:5]
        need_t = need_w or need_W or need_W0
        g_ft = torch.zeros_like(ft) if need_f else None
        g_w = torch.empty_like(w) if need_w else None
        g_W = torch.zeros(n, o * c, dtype=weight.dtype, device=weight.device) if need_W else None
        g_W0 = torch.zeros_like(weight0) if need_W0 else None
        step = _chunk_nodes(ft, d, k * (c * b + 2 * o * c))  # gathered values, per-node weights
        gs = grad.new_empty(step, o, b)
        u = grad.new_empty(step * k, c, b) if need_t else None
        gu = grad.new_empty(step, k * c, b) if need_f else None
        for s0 in range(0, d, step):
            s1 = min(s0 + step, d)
            m = s1 - s0
            idx = index[s0:s1].reshape(-1)
            gs[:m] = grad[:, :, s0:s1].permute(2, 1, 0)
            if need_t:
                torch.index_select(ft, 0, idx, out=u[: m * k])
                gt = torch.bmm(gs[:m], u[: m * k].view(m, k * c, b).transpose(1, 2)).view(m, o, k, c)  # dL/dT
                if need_W0:
                    g_W0 += gt[:, :, j0].sum(0)
                gt = gt.permute(0, 2, 1, 3).reshape(m * k, o * c)
                if need_W:
                    g_W.addmm_(w[:, s0:s1].reshape(n, m * k), gt)
                if need_w:
                    g_w[:, s0:s1] = (weight.reshape(n, o * c) @ gt.T).view(n, m, k)
            if need_f:
                tt = _node_weights(w[:, s0:s1], weight, weight0, j0).permute(0, 1, 3, 2).reshape(m, k * c, o)
                torch.bmm(tt, gs[:m], out=gu[:m])
                g_ft.index_add_(0, idx, gu[:m].view(m * k, c, b))
        g_f = g_ft.permute(2, 1, 0) if need_f else None
        g_W = g_W.view(n, o, c) if need_W else None
        g_b = grad.sum((0, 2)) if need_b else None
        return g_f, g_w, g_W, g_W0, g_b, None, None


class _LocalGeneratorsFirst(torch.autograd.Function):
    r"""``y = W0 f + sum_i W_i (L_i f) + b`` with local ``L_i``: the generators act first, node by node.

    Node chunks of a batch-major copy ``(d, B, c_in)`` of ``f``: gather ``(m, K, B c_in)``,
    one batched product with the chunk's weights ``(m, n, K)`` gives ``L_i f``, and one
    product with ``[W_i]`` ``(n c_in, c_out)`` mixes channels and generators (``W0`` is
    one more product on the chunk itself). Nothing of size ``n d`` per channel is
    stored: the backward pass gathers again.
    """

    @staticmethod
    def forward(ctx, f, w, weight, weight0, bias, index):
        b, c, d = f.shape
        k = index.shape[1]
        n, o = weight.shape[:2]
        ft = f.permute(2, 0, 1).contiguous()  # (d, B, c)
        wv = w.transpose(0, 1)  # (d, n, K)
        wm = weight.transpose(1, 2).reshape(n * c, o)  # wm[i*c + c', o] = W_i[o, c']
        out = f.new_empty(b, o, d)
        step = _chunk_nodes(ft, d, k * b * c)
        u = f.new_empty(step * k, b, c)
        res = f.new_empty(step * b, o)
        for s0 in range(0, d, step):
            s1 = min(s0 + step, d)
            m = s1 - s0
            torch.index_select(ft, 0, index[s0:s1].reshape(-1), out=u[: m * k])
            lf = torch.bmm(wv[s0:s1], u[: m * k].view(m, k, b * c))  # (m, n, B*c)
            lf = lf.view(m, n, b, c).transpose(1, 2).reshape(m * b, n * c)
            r = res[: m * b]
            torch.mm(lf, wm, out=r)
            r.addmm_(ft[s0:s1].view(m * b, c), weight0.T)
            if bias is not None:
                r += bias
            out[:, :, s0:s1] = r.view(m, b, o).permute(1, 2, 0)
        ctx.save_for_backward(ft, w, weight, weight0, index)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        ft, w, weight, weight0, index = ctx.saved_tensors
        d, b, c = ft.shape
        n, o = weight.shape[:2]
        k = index.shape[1]
        need_f, need_w, need_W, need_W0, need_b = ctx.needs_input_grad[:5]
        wv = w.transpose(0, 1)  # (d, n, K)
        wm = weight.transpose(1, 2).reshape(n * c, o)
        g_ft = torch.zeros_like(ft) if need_f else None
        g_wv = w.new_empty(d, n, k) if need_w else None
        g_wm = weight.new_zeros(n * c, o) if need_W else None
        g_W0 = torch.zeros_like(weight0) if need_W0 else None
        step = _chunk_nodes(ft, d, k * b * c)
        u = grad.new_empty(step * k, b, c)
        gs = grad.new_empty(step, b, o)
        for s0 in range(0, d, step):
            s1 = min(s0 + step, d)
            m = s1 - s0
            idx = index[s0:s1].reshape(-1)
            g = gs[:m]
            g.copy_(grad[:, :, s0:s1].permute(2, 0, 1))
            g2 = g.view(m * b, o)
            if need_W0:
                g_W0.addmm_(g2.T, ft[s0:s1].view(m * b, c))
            if need_f:
                g_ft[s0:s1].view(m * b, c).addmm_(g2, weight0)
            if not (need_w or need_W or need_f):
                continue
            uc = u[: m * k]
            torch.index_select(ft, 0, idx, out=uc)
            uv = uc.view(m, k, b * c)
            if need_W:
                lf = torch.bmm(wv[s0:s1], uv).view(m, n, b, c).transpose(1, 2).reshape(m * b, n * c)
                g_wm.addmm_(lf.T, g2)
            glf = (g2 @ wm.T).view(m, b, n, c).transpose(1, 2).reshape(m, n, b * c)  # dL/d(L_i f)
            if need_w:
                torch.bmm(glf, uv.transpose(1, 2), out=g_wv[s0:s1])
            if need_f:
                g_ft.index_add_(0, idx, torch.bmm(wv[s0:s1].transpose(1, 2), glf).view(m * k, b, c))
        g_f = g_ft.permute(1, 2, 0) if need_f else None
        g_w = g_wv.transpose(0, 1) if need_w else None
        g_W = g_wm.view(n, c, o).transpose(1, 2) if need_W else None
        g_b = grad.sum((0, 2)) if need_b else None
        return g_f, g_w, g_W, g_W0, g_b, None


def locally_connected_is_cheaper(b: int, c_in: int, c_out: int, n: int, k: int) -> bool:
    """Whether :class:`_LocallyConnected` beats :class:`_LocalGeneratorsFirst` (per node, in rough time units).

    Locally connected: building the per-node weights (``K c_in c_out`` values, made and
    copied from ``n`` generators; weight ``4 n``) plus the product
    ``K c_in c_out B``. Generators first: the memory-bound ``n K c_in B`` (weight 3)
    plus the channel mixing ``n c_in c_out B``. Calibrated on 2 CPU cores at 28x28,
    batch 4 to 128, 16 to 64 channels, 2 to 8 generators.
    """
    return k * c_in * c_out * (b + 4 * n) < n * c_in * b * (c_out + 3 * k)


def local_sum(
    f: Tensor,
    w: Tensor,
    index: Tensor,
    self_slot: int,
    weight0: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    *,
    order: str | None = None,
) -> Tensor:
    """Generators with weights on each node's neighbours: ``(L_i f)_v = sum_j w[i, v, j] f[index[v, j]]``.

    Args:
        w: ``(n, d, K)`` effective weights (masked; the difference form already folded
            into ``self_slot``).
        index: ``(d, K)`` neighbour table; column ``self_slot`` must be every node itself,
            where ``W0`` is folded in by the locally connected order.
        order: ``"nodes"`` (:class:`_LocallyConnected`: the generators and ``W0`` become one
            ``(c_out, K c_in)`` matrix per node, the cost of a ``K``-tap convolution),
            ``"generators"`` (:class:`_LocalGeneratorsFirst`), or None to pick the cheaper.
    """
    if torch.is_autocast_enabled(f.device.type):
        # The custom autograd functions below run in one dtype: cast to autocast's (outside them, so the
        # casts' own backward brings the gradients back to each input's dtype), then run with autocast off.
        dt = torch.get_autocast_dtype(f.device.type)
        f, w, weight0, weight = (t.to(dt) for t in (f, w, weight0, weight))
        bias = None if bias is None else bias.to(dt)
        with torch.autocast(f.device.type, enabled=False):
            return local_sum(f, w, index, self_slot, weight0, weight, bias, order=order)
    if order is None:
        b, c = f.shape[:2]
        n, o = weight.shape[:2]
        order = "nodes" if locally_connected_is_cheaper(b, c, o, n, index.shape[1]) else "generators"
    if order == "nodes":
        return _LocallyConnected.apply(f, w, weight, weight0, bias, index, self_slot)
    if order == "generators":
        return _LocalGeneratorsFirst.apply(f, w, weight, weight0, bias, index)
    raise ValueError(f"local_sum: order must be 'nodes', 'generators' or None, got {order!r}")
