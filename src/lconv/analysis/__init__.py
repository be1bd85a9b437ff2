"""Analysis: compare learned generators with a ground truth, measure how well they hold, draw them.

Closure and structure constants live in :mod:`lconv.algebra` (:func:`~lconv.algebra.structure_constants`,
:func:`~lconv.algebra.closure_residual`), equivariance errors in :mod:`lconv.testing`
(:func:`~lconv.testing.equivariance_error`). The figures need matplotlib (``pip install "lconv[cli]"``).
"""

from ._compare import align, cosine, data_projector, grassmann_distance, principal_angles, restrict
from ._figures import plot_algebra, plot_generators, plot_history, plot_spectrum, plot_vector_fields, vector_field
from ._topology import (
    edge_recovery,
    grid_edges,
    lattice_recovery,
    load_topology,
    plot_recovered_graph,
    plot_unscrambled,
    save_topology,
)
from ._transform import transform_error

__all__ = [
    "align",
    "cosine",
    "data_projector",
    "edge_recovery",
    "grassmann_distance",
    "grid_edges",
    "lattice_recovery",
    "load_topology",
    "plot_algebra",
    "plot_generators",
    "plot_history",
    "plot_recovered_graph",
    "plot_spectrum",
    "plot_unscrambled",
    "plot_vector_fields",
    "principal_angles",
    "restrict",
    "save_topology",
    "transform_error",
    "vector_field",
]
