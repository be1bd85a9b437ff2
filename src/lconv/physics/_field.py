r"""The MSE loss of one L-conv layer as a field theory (Eq. 24-26, 63-67) and how its metric transforms (Eq. 68-70).

The derivation and the index conventions are in the docstring of :mod:`lconv.physics`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ._common import apply, check_field, layer_parts

__all__ = ["FieldTheory", "adjoint", "epsilon", "field_theory", "spatial_metric", "transform_metric"]

_REDUCTIONS = ("sum", "mean", "none")


def _sym(m: Tensor) -> Tensor:
    return (m + m.transpose(-1, -2)) / 2


def _antisym(m: Tensor) -> Tensor:
    return (m - m.transpose(-1, -2)) / 2


@dataclass(frozen=True, eq=False)
class FieldTheory:
    r"""The loss of one L-conv layer written as a quadratic field theory in the input ``f``.

    Per sample, with ``F_i = L_i f``, summed over nodes ``r``:

    .. math::
        \ell = \sum_r \Big[ f_r^T m_2 f_r + \sum_{ij} F_{i,r}^T h^{ij} F_{j,r}
               + 2 \sum_i f_r^T v^i F_{i,r} - 2 J_r^T f_r + c_r \Big] = \sum_r |Q[f]_r - y_r|^2 ,

    and the cross term ``2 f^T v^i F_i`` is split exactly into a *boundary* part
    (symmetric in channels and nodes) and a *gauge* part (antisymmetric in both).

    Attributes:
        m2: mass matrix ``W0^T W0``, ``(c_in, c_in)``.
        h: metric ``h[i, j] = W_i^T W_j``, ``(n, n, c_in, c_in)``; ``h[i, j] = h[j, i]^T``.
        v: cross coupling ``v[i] = W0^T W_i``, ``(n, c_in, c_in)``.
        source: ``J = A^T (y - b)``, ``(batch, c_in, d)``, where ``A f = W0 f + sum_i W_i L_i f``.
        constant: ``|y_r - b|^2`` per node, ``(batch, d)``.
        field: the inputs ``f``, ``(batch, c_in, d)``.
        generators: the layer's ``L_i``, ``(n, d, d)``.
        out_channels: ``c_out`` (for the ``mean`` reduction).

    The coefficients are plain tensors, so ``dataclasses.replace(theory, h=other)`` evaluates
    the same fields under another metric (see :func:`transform_metric`).
    """

    m2: Tensor
    h: Tensor
    v: Tensor
    source: Tensor
    constant: Tensor
    field: Tensor
    generators: Tensor
    out_channels: int

    def derivatives(self) -> Tensor:
        """``F_i = L_i f``, ``(batch, n, c_in, d)``."""
        return apply(self.generators, self.field)

    def densities(self) -> dict[str, Tensor]:
        r"""Each term per node, ``(batch, d)``; their sum over nodes and terms is the loss.

        ``mass``: ``f_r^T m2 f_r``; ``kinetic``: ``sum_ij F_{i,r}^T h^{ij} F_{j,r}``;
        ``boundary``: ``2 sum_i f_r^T sym(v^i) (S_i f)_r`` with ``S_i = (L_i + L_i^T)/2``;
        ``gauge``: ``2 sum_i f_r^T antisym(v^i) (A_i f)_r`` with ``A_i = (L_i - L_i^T)/2``;
        ``source``: ``-2 J_r . f_r``; ``constant``: ``|y_r - b|^2``.
        """
        f, L = self.field, self.generators
        F = apply(L, f)
        return {
            "mass": torch.einsum("bar,ac,bcr->br", f, self.m2, f),
            "kinetic": torch.einsum("biar,ijac,bjcr->br", F, self.h, F),
            "boundary": 2 * torch.einsum("bar,iac,bicr->br", f, _sym(self.v), apply(_sym(L), f)),
            "gauge": 2 * torch.einsum("bar,iac,bicr->br", f, _antisym(self.v), apply(_antisym(L), f)),
            "source": -2 * (self.source * f).sum(1),
            "constant": self.constant,
        }

    def terms(self) -> dict[str, Tensor]:
        """Each term per sample, ``(batch,)``: ``mass, kinetic, boundary, gauge, source, constant``."""
        return {k: v.sum(-1) for k, v in self.densities().items()}

    def loss(self, reduction: str = "sum") -> Tensor:
        """The MSE rebuilt from the terms: ``sum`` over everything (Eq. 24), ``mean`` over
        ``batch * c_out * d`` entries (``torch.nn.functional.mse_loss``), or ``none`` (per sample).
        """
        if reduction not in _REDUCTIONS:
            raise ValueError(f"FieldTheory.loss: reduction must be one of {_REDUCTIONS}, got {reduction!r}")
        per_sample = sum(self.terms().values())
        if reduction == "none":
            return per_sample
        total = per_sample.sum()
        if reduction == "mean":
            return total / (per_sample.shape[0] * self.out_channels * self.field.shape[-1])
        return total

    def euler_lagrange(self) -> Tensor:
        r"""The Euler-Lagrange expression from the coefficients, ``(batch, c_in, d)``:

        .. math::
            E = \frac{\partial \mathcal{L}}{\partial f} + \sum_i L_i^T \frac{\partial \mathcal{L}}{\partial F_i}
              = 2\Big(m_2 f + \sum_i v^i F_i - J\Big) + 2 \sum_i L_i^T\Big(v^{iT} f + \sum_j h^{ij} F_j\Big),

        the gradient of the per-sample loss with respect to ``f`` (Eq. 27, 77; in the
        continuum ``L_i^T -> -\partial_\alpha \xi_i^\alpha`` gives the usual form).
        """
        f, L = self.field, self.generators
        F = apply(L, f)
        local = torch.einsum("ac,bcr->bar", self.m2, f) + torch.einsum("iac,bicr->bar", self.v, F) - self.source
        momentum = torch.einsum("ica,bcr->biar", self.v, f) + torch.einsum("ijac,bjcr->biar", self.h, F)
        return 2 * local + 2 * torch.einsum("ivr,biav->bar", L, momentum)


def field_theory(layer, x: Tensor, y: Tensor, *, generators=None) -> FieldTheory:
    r"""The field theory of one L-conv layer on its data (Eq. 24-26, 63-67).

    Args:
        layer: an :class:`~lconv.LConv` (or a one-layer :class:`~lconv.LConvStack`), or
            its weights ``(W0, W)`` / ``(W0, W, b)`` with ``generators=``.
        x: inputs ``f``, ``(batch, c_in, d)``.
        y: targets, ``(batch, c_out, d)``.
        generators: ``(n, d, d)`` (or a :class:`~lconv.nn.Generators`), only with raw weights.

    Returns:
        A :class:`FieldTheory` whose :meth:`~FieldTheory.loss` equals
        ``sum_n |Q[f_n] - y_n|^2``. Every tensor keeps its autograd graph.

    Raises:
        ValueError: shapes that do not fit the layer, NaN/inf, or more than one layer.

    Example:
        >>> from lconv import Grid, LConv, generators
        >>> grid = Grid((6, 6))
        >>> layer = LConv(2, 3, generators.translation(grid, dtype=torch.float64)).double()
        >>> x, y = torch.randn(4, 2, 36, dtype=torch.float64), torch.randn(4, 3, 36, dtype=torch.float64)
        >>> theory = field_theory(layer, x, y)
        >>> bool(torch.isclose(theory.loss(), (layer(x) - y).pow(2).sum()))
        True
    """
    where = "field_theory"
    parts = layer_parts(layer, generators, where)
    check_field(x, parts, parts.c_in, "x", where)
    check_field(y, parts, parts.c_out, "y", where, batch=x.shape[0])
    W0, W, b, L = parts
    target = y - b[:, None]  # (B, c_out, d)
    source = torch.einsum("oa,bor->bar", W0, target) + torch.einsum("ivr,ioa,bov->bar", L, W, target)
    return FieldTheory(
        m2=W0.T @ W0,
        h=torch.einsum("ioa,joc->ijac", W, W),
        v=torch.einsum("oa,ioc->iac", W0, W),
        source=source,
        constant=target.pow(2).sum(1),
        field=x,
        generators=L,
        out_channels=parts.c_out,
    )


def spatial_metric(h: Tensor, vector_fields: Tensor) -> Tensor:
    r"""The metric on space, ``H^{ab}(x) = sum_ij xi_i^a(x) xi_j^b(x) h^{ij}`` (Eq. 26).

    When the generators are vector fields on a grid, ``L_i = sum_a diag(xi_i^a) D_a`` (as
    :func:`lconv.generators.pushforward` builds them, with ``xi_A(x) = -A x``), the
    kinetic term is ``sum_r sum_ab (D_a f)_r^T H^{ab}(x_r) (D_b f)_r``, exactly.

    Args:
        h: ``(n, n, c, c)``, e.g. :attr:`FieldTheory.h`.
        vector_fields: ``(n, d, k)``: component ``a`` of generator ``i`` at node ``r``.

    Returns:
        ``(d, k, k, c, c)``.
    """
    if not isinstance(h, Tensor) or h.dim() != 4 or h.shape[0] != h.shape[1] or h.shape[2] != h.shape[3]:
        raise ValueError(f"spatial_metric: h must be (n, n, c, c), got {tuple(getattr(h, 'shape', ()))}")
    if not isinstance(vector_fields, Tensor) or vector_fields.dim() != 3 or vector_fields.shape[0] != h.shape[0]:
        raise ValueError(
            f"spatial_metric: vector_fields must be (n, d, k) with n = {h.shape[0]} generators, "
            f"got {tuple(getattr(vector_fields, 'shape', ()))}"
        )
    return torch.einsum("ira,jrb,ijce->rabce", vector_fields, vector_fields, h.to(vector_fields.dtype))


def epsilon(layer, *, generators=None, rtol: float | None = None) -> Tensor:
    r"""The paper's ``eps_i`` with ``W_i = W0 eps_i``, ``(n, c_in, c_in)``.

    The layer trains ``W_i`` freely; ``eps_i = W0^+ W_i`` exists when every ``W_i`` maps
    into the column space of ``W0`` (always when ``W0`` is square and invertible). Then
    ``h^{ij} = eps_i^T m2 eps_j`` and ``v^i = m2 eps_i``, the paper's Eq. 26.

    Raises:
        ValueError: when ``W0 eps_i = W_i`` has no solution (relative residual above
            ``rtol``, default ``1e-8`` in float64 and ``1e-4`` otherwise).
    """
    W0, W, _, _ = layer_parts(layer, generators, "epsilon")
    eps = torch.linalg.pinv(W0) @ W
    tol = rtol if rtol is not None else (1e-8 if W0.dtype == torch.float64 else 1e-4)
    err = float((W0 @ eps - W).detach().norm() / W.detach().norm().clamp_min(torch.finfo(W.dtype).tiny))
    if err > tol:
        raise ValueError(
            f"epsilon: W_i = W0 eps_i has no solution (relative residual {err:.2g}): some W_i maps outside the "
            f"column space of W0 {tuple(W0.shape)}; use the metric h = W_i^T W_j, which needs no eps"
        )
    return eps


def adjoint(generators: Tensor, g: Tensor, *, rtol: float | None = None) -> Tensor:
    r"""The adjoint action of ``g`` on the span of the generators, ``(n, n)``:

    .. math::
        g L_i g^{-1} = \sum_j \mathrm{Ad}[i, j]\, L_j .

    Found by least squares over the ``d x d`` entries. For a rotation ``R`` acting on
    ``so(3)`` in its vector representation ``Ad = R^T``.

    Args:
        generators: ``(n, d, d)``.
        g: invertible ``(d, d)``, e.g. ``lconv.generators.exp(L, t)`` or
            ``grid.action_matrix(grid.rot90)``.
        rtol: largest accepted relative residual (default ``1e-8`` in float64, ``1e-4`` otherwise).

    Raises:
        ValueError: when ``g L_i g^{-1}`` leaves the span (``g`` is not in the group the
            generators generate, or they do not close).
    """
    if not isinstance(generators, Tensor) or generators.dim() != 3 or generators.shape[-1] != generators.shape[-2]:
        raise ValueError(f"adjoint: generators must be (n, d, d), got {tuple(getattr(generators, 'shape', ()))}")
    d = generators.shape[-1]
    if not isinstance(g, Tensor) or tuple(g.shape) != (d, d):
        raise ValueError(
            f"adjoint: g must be a ({d}, {d}) matrix acting on the same nodes, got {tuple(getattr(g, 'shape', ()))}"
        )
    if not (bool(torch.isfinite(generators).all()) and bool(torch.isfinite(g).all())):
        raise ValueError("adjoint: generators or g contain NaN or inf; pass finite matrices")
    g = g.to(generators.dtype)
    conj = torch.linalg.solve(g.T, (g @ generators).transpose(-1, -2)).transpose(-1, -2)  # g L g^-1
    basis = generators.reshape(len(generators), -1)
    target = conj.reshape(len(conj), -1)
    ad = torch.linalg.lstsq(basis.T, target.T).solution.T
    tol = rtol if rtol is not None else (1e-8 if generators.dtype == torch.float64 else 1e-4)
    err = float(
        (ad @ basis - target).detach().norm() / target.detach().norm().clamp_min(torch.finfo(target.dtype).tiny)
    )
    if err > tol:
        raise ValueError(
            f"adjoint: g L_i g^-1 leaves the span of the generators (relative residual {err:.2g}); "
            "g must belong to the group the generators generate, and they must close under brackets"
        )
    return ad


def transform_metric(h: Tensor, generators: Tensor, g: Tensor) -> Tensor:
    r"""The metric seen by features transformed by ``g`` (Eq. 68-70): a 2-tensor law.

    With ``B = Ad(g)^{-1}`` (so that ``L_i g = g sum_k B[i, k] L_k``),

    .. math::
        h'^{kl} = \sum_{ij} B[i, k]\, h^{ij}\, B[j, l] ,

    and for ``g`` orthogonal on the nodes (permutations such as ``grid.rot90``, or
    ``exp(t L)`` with antisymmetric ``L``) the kinetic term obeys
    ``K_h[g f] = K_{h'}[f]``: transforming the features is the same as transforming the
    metric. Channel indices are untouched.

    Args:
        h: ``(n, n, c, c)``.
        generators: ``(n, d, d)``, the ``L_i`` that ``h`` is written in.
        g: ``(d, d)``.

    Returns:
        ``(n, n, c, c)``.
    """
    if not isinstance(h, Tensor) or h.dim() != 4 or h.shape[0] != h.shape[1]:
        raise ValueError(f"transform_metric: h must be (n, n, c, c), got {tuple(getattr(h, 'shape', ()))}")
    ad = adjoint(generators, g)
    if ad.shape[0] != h.shape[0]:
        raise ValueError(
            f"transform_metric: h has {h.shape[0]} generator indices but there are {ad.shape[0]} generators"
        )
    B = torch.linalg.inv(ad).to(h.dtype)
    return torch.einsum("ik,ijab,jl->klab", B, h, B)
