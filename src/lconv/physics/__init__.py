r"""Physics of one L-conv layer: its MSE loss as a field theory, robustness, Noether currents (Sec. 6, SI A.3-A.5).

Notation
========

Per sample (the batch index is dropped): input ``f`` of shape ``(c_in, d)``, target ``y``
``(c_out, d)``, generators ``L_i`` ``(d, d)`` for ``i = 1..n``, weights ``W0, W_i``
``(c_out, c_in)``, bias ``b`` ``(c_out,)``. Channel indices ``a, c`` (input) and ``o``
(output), node indices ``r, v``, generator indices ``i, j``. Weights act on channels,
generators on nodes: ``(L_i f)[a, r] = sum_v L_i[r, v] f[a, v]``; ``f_r`` is the column
``f[:, r]``. The layer is ``Q[f] = A f + b`` with the linear part
``A f = W0 f + sum_i W_i (L_i f)`` and ``W_i = W0 eps_i`` (Eq. 22). Write ``F_i = L_i f``
(the "derivatives" of ``f``) and ``R = Q[f] - y``.

The loss as a field theory (Eq. 24-26, 63-67)
=============================================

Expanding ``ell = sum_r |R_r|^2 = sum_r |W0 f_r + sum_i W_i F_{i,r} - (y_r - b)|^2`` gives,
exactly and with no assumption,

.. math::
    \ell = \sum_r \Big[\underbrace{f_r^T m_2 f_r}_{\text{mass}}
         + \underbrace{\sum_{ij} F_{i,r}^T h^{ij} F_{j,r}}_{\text{kinetic}}
         + \underbrace{2 \sum_i f_r^T v^i F_{i,r}}_{\text{cross}}
         - 2 (y_r - b)^T (A f)_r + |y_r - b|^2 \Big],

.. math::
    m_2 = W_0^T W_0, \qquad h^{ij} = W_i^T W_j = \epsilon_i^T m_2 \epsilon_j, \qquad v^i = W_0^T W_i = m_2 \epsilon_i ,

with shapes ``m2 (c_in, c_in)``, ``h (n, n, c_in, c_in)`` and ``v (n, c_in, c_in)``, and
the index symmetry ``h^{ij}_{ac} = h^{ji}_{ca}``. ``h`` is a metric on the generator
directions with an inner product on the input channels; for ``c_in = 1`` it is an
``n x n`` Riemannian metric (Eq. 26). It needs no ``eps``: ``h = W_i^T W_j`` holds for the
free weights of the layer; the paper's form ``eps_i^T W0^T W0 eps_j`` needs ``W_i = W0 eps_i``
to be solvable (:func:`epsilon`; always when ``W0`` is square and invertible).

*Source.* Moving ``L_i`` off ``f`` by the node transpose, ``sum_r u_r . (L_i f)_r =
sum_r (L_i^T u)_r . f_r`` (discrete integration by parts, exact), turns the cross term with
the targets into ``-2 sum_r J_r . f_r`` with the source field ``J = A^T (y - b) = W0^T (y -
b) + sum_i L_i^T W_i^T (y - b)``; the ``constant`` is ``|y_r - b|^2``. The paper instead
concatenates ``Phi = [f | y]`` into one field; that is the same quadratic form with the
``y`` block written out (mass ``[[m2, -W0^T], [-W0, 1]]``, no kinetic term for ``y``).

*Boundary and gauge terms.* Only the symmetric part of the operator ``v^i (x) L_i`` counts in
a quadratic form. Split ``v^i = s^i + a^i`` (symmetric / antisymmetric in channels) and
``L_i = S_i + A_i`` (symmetric / antisymmetric in nodes); the mixed products are
antisymmetric and drop out, so the cross term is exactly

.. math::
    2 \sum_i \langle f, (s^i \otimes S_i) f\rangle \;(\text{boundary}) \;+\;
    2 \sum_i \langle f, (a^i \otimes A_i) f\rangle \;(\text{gauge}).

In the continuum, ``L_i = xi_i^alpha d_alpha`` is a vector field, ``L_i^T = -L_i - div xi_i``
up to surface terms, and the boundary term is the paper's total derivative
``sum_i L_i (f^T s^i f) = oint (n . xi_i) f^T s^i f - int (div xi_i) f^T s^i f`` (last term of
Eq. 25): a surface integral for divergence-free flows (translations, rotations; SI A.3.2).
On a grid this is literal: on a periodic grid the SWI translation and rotation generators
are exactly antisymmetric, ``S_i = 0``, and the term vanishes; with central differences
on a non-periodic axis ``S_i`` lives on the first and last two nodes; for scaling
(``div xi != 0``) it has a bulk part. The gauge term is absent for ``c_in = 1`` or when
``v^i = m2 eps_i`` is symmetric, which the paper's form ``Phi^T v^i Phi`` assumes;
otherwise it is the cross term of ``|(d + a) f|^2`` with a constant ``so(c_in)`` potential.

*Spatial metric.* For grid generators ``L_i = sum_alpha diag(xi_i^alpha) D_alpha``, the
kinetic term is ``sum_r (D_alpha f)_r^T H^{alpha beta}(x_r) (D_beta f)_r`` with
``H^{alpha beta} = sum_ij xi_i^alpha xi_j^beta h^{ij}`` (:func:`spatial_metric`); for
translations ``H = h`` is constant (SI A.3.3).

How the metric transforms (Eq. 68-70)
=====================================

If ``g`` normalises the span of the generators, ``g L_i g^{-1} = sum_j Ad[i, j] L_j``
(:func:`adjoint`), then ``L_i g = g sum_k B[i, k] L_k`` with ``B = Ad^{-1}``, so for ``g``
orthogonal on the nodes the kinetic term of ``g f`` is that of ``f`` under
``h'^{kl} = sum_ij B[i, k] h^{ij} B[j, l]``: the metric transforms as a 2-tensor in the
generator indices (:func:`transform_metric`); ``m2`` is unchanged.

Robustness: the Euler-Lagrange equation (Eq. 27, 74-77)
=======================================================

The gradient of the per-sample loss with respect to the input,

.. math::
    E = \frac{\partial \mathcal L}{\partial f} + \sum_i L_i^T \frac{\partial \mathcal L}{\partial F_i}
      = 2 W_0^T R + 2 \sum_i L_i^T W_i^T R ,

is the EL expression (``L_i^T -> -d_alpha xi_i^alpha`` in the continuum). A data point with
``E = 0`` is a stationary point of the loss, robust to small perturbations
(:func:`euler_lagrange`, :func:`robustness_score`, :func:`solve_euler_lagrange`).

Noether current (Eq. 28, 80-87)
===============================

For a candidate generator ``C`` the current ``J`` is a flow between nodes built from
the momenta ``pi_i = drho/dF_i = 2 W_i^T R`` and the density ``rho_r = |R_r|^2``; it obeys
``div J + E . Cf - 2 R . Cy = (symmetry defect)`` exactly, so it is conserved when the loss
is invariant under ``C`` at robust points with invariant targets
(:func:`noether_current`, :func:`plot_noether_current`).
"""

from ._field import FieldTheory, adjoint, epsilon, field_theory, spatial_metric, transform_metric
from ._figures import plot_noether_current
from ._noether import NoetherCurrent, current_field, noether_current
from ._robust import euler_lagrange, robustness_score, solve_euler_lagrange

__all__ = [
    "FieldTheory",
    "NoetherCurrent",
    "adjoint",
    "current_field",
    "epsilon",
    "euler_lagrange",
    "field_theory",
    "noether_current",
    "plot_noether_current",
    "robustness_score",
    "solve_euler_lagrange",
    "spatial_metric",
    "transform_metric",
]
