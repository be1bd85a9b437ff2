"""Generators: the public entry for everything that makes or handles the ``L_i``.

Built-in families on a :class:`~lconv.Grid` return dense ``(n, d, d)`` tensors, used as
fixed generators (prior knowledge) or as ground truth; :func:`learned` returns a
learnable parametrisation (dense, low-rank, local, stencil or graph edges) for symmetry
discovery::

    from lconv import Grid, LConv, generators
    grid = Grid((28, 28))
    layer = LConv(1, 32, generators=generators.rotation(grid))                  # fixed
    learner = LConv(1, 32, generators=generators.learned(grid, n=4, rank=8))    # learned

An :class:`~lconv.LConv` with free channel weights is equivariant to exactly the
transformations that commute with all of its generators. For translations (an abelian
algebra) that is the group they generate. For a non-abelian algebra pushed forward onto
the space (``family("se2", grid)``, ``rotation`` of a 3-D grid, so(3) on vectors) it is
*not*: the generators do not commute with one another, so the layer is not equivariant
to the group they generate (relative errors of order one, see
``python -m lconv.nn.theorem1``). For such groups lift the features to the group and use
its left-invariant generators, which commute with the group acting on the left::

    space = SE2Grid(Grid((28, 28)), orientations=8)                  # (x, y, theta), N d nodes
    lift = Lifting(1, 16, space)                                     # image -> lifted features
    layer = LConv(16, 16, generators=left_invariant(space))          # SE(2)-equivariant

Conventions (centre, axes, signs, the Nyquist term) are stated in :mod:`lconv.grid`,
:func:`swi_derivative` and :func:`pushforward`.

Every name here is an alias: its home, where it is defined and documented, is
:mod:`lconv.algebra` (the dense families, ``exp``, brackets, structure constants, graph
generators) or :mod:`lconv.nn` (the parametrisations, ``learned``, lifted grids and
``left_invariant``). So that each object is exported from one place, ``__all__`` here is
empty; ``generators.rotation(grid)`` and ``from lconv.generators import learned`` work
as they always did.
"""

from .algebra import (  # noqa: F401
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
from .nn import (  # noqa: F401
    DenseGenerators,
    FixedGenerators,
    Generators,
    LeftInvariantGenerators,
    Lifting,
    LocalGenerators,
    LowRankGenerators,
    SE2Grid,
    SE3Grid,
    StencilGenerators,
    as_generators,
    learned,
    left_invariant,
)

__all__: list[str] = []  # aliases only: the homes are lconv.algebra and lconv.nn
