"""Generators: the public entry for everything that makes or handles the ``L_i``.

Built-in families on a :class:`~lconv.Grid` return dense ``(n, d, d)`` tensors, used as
fixed generators (prior knowledge) or as ground truth; :func:`learned` returns a
learnable parametrisation (dense, low-rank, local, stencil or graph edges) for symmetry
discovery::

    from lconv import Grid, LConv, generators
    grid = Grid((28, 28))
    layer = LConv(1, 32, generators=generators.rotation(grid))                  # fixed
    learner = LConv(1, 32, generators=generators.learned(grid, n=4, rank=8))    # learned

Conventions (centre, axes, signs, the Nyquist term) are stated in :mod:`lconv.grid`,
:func:`swi_derivative` and :func:`pushforward`.
"""

from .algebra import (
    FAMILIES,
    StructureConstants,
    bracket,
    central_difference,
    closure_residual,
    derivative,
    edges_from_adjacency,
    exp,
    exp_apply,
    exp_approx,
    family,
    from_incidence,
    gcn,
    incidence,
    matrix_algebra,
    pushforward,
    rotation,
    scaling,
    structure_constants,
    swi_derivative,
    translation,
)
from .nn import (
    DenseGenerators,
    FixedGenerators,
    Generators,
    LocalGenerators,
    LowRankGenerators,
    StencilGenerators,
    as_generators,
    learned,
)

__all__ = [
    "FAMILIES",
    "DenseGenerators",
    "FixedGenerators",
    "Generators",
    "LocalGenerators",
    "LowRankGenerators",
    "StencilGenerators",
    "StructureConstants",
    "as_generators",
    "bracket",
    "central_difference",
    "closure_residual",
    "derivative",
    "edges_from_adjacency",
    "exp",
    "exp_apply",
    "exp_approx",
    "family",
    "from_incidence",
    "gcn",
    "incidence",
    "learned",
    "matrix_algebra",
    "pushforward",
    "rotation",
    "scaling",
    "structure_constants",
    "swi_derivative",
    "translation",
]
