"""Generator algebra: discrete derivatives, generator families, graph generators, exp and brackets.

Everything here returns dense ``(n, d, d)`` tensors (float64 inputs are kept exact; the
result is cast to ``dtype``, by default torch's default dtype). Learnable, memory-light
parametrisations live in :mod:`lconv.nn`; :mod:`lconv.generators` gathers both.
"""

from ._classify import AlgebraInfo, identify_algebra, known_algebras
from ._derivative import central_difference, derivative, swi_derivative
from ._families import FAMILIES, family, matrix_algebra, pushforward, rotation, scaling, translation
from ._graph import edges_from_adjacency, from_incidence, gcn, incidence
from ._lie import (
    StructureConstants,
    bracket,
    closure_loss,
    closure_residual,
    exp,
    exp_apply,
    exp_approx,
    log,
    structure_constants,
)
from ._spaces import (
    SPACES,
    SearchSpace,
    VectorFieldSpace,
    antisymmetric_space,
    block_space,
    factorised_space,
    full_space,
    kron_space,
    vector_field_space,
)

__all__ = [
    "FAMILIES",
    "SPACES",
    "AlgebraInfo",
    "SearchSpace",
    "StructureConstants",
    "VectorFieldSpace",
    "antisymmetric_space",
    "block_space",
    "bracket",
    "central_difference",
    "closure_loss",
    "closure_residual",
    "derivative",
    "edges_from_adjacency",
    "exp",
    "exp_apply",
    "exp_approx",
    "factorised_space",
    "family",
    "from_incidence",
    "full_space",
    "gcn",
    "identify_algebra",
    "incidence",
    "known_algebras",
    "kron_space",
    "log",
    "matrix_algebra",
    "pushforward",
    "rotation",
    "scaling",
    "structure_constants",
    "swi_derivative",
    "translation",
    "vector_field_space",
]
