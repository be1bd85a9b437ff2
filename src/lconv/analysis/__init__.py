"""Analysis: compare learned generators with a ground truth, measure how well they hold, draw them."""

from ..algebra import closure_residual, structure_constants
from ..testing import equivariance_error
from ._compare import align, cosine, data_projector, grassmann_distance, principal_angles, restrict
from ._figures import plot_algebra, plot_generators, plot_history, plot_spectrum, plot_vector_fields, vector_field
from ._topology import edge_recovery, grid_edges, lattice_recovery, plot_recovered_graph, plot_unscrambled
from ._transform import transform_error

__all__ = [
    "align",
    "closure_residual",
    "cosine",
    "data_projector",
    "edge_recovery",
    "equivariance_error",
    "grassmann_distance",
    "grid_edges",
    "lattice_recovery",
    "plot_algebra",
    "plot_generators",
    "plot_history",
    "plot_recovered_graph",
    "plot_spectrum",
    "plot_unscrambled",
    "plot_vector_fields",
    "principal_angles",
    "restrict",
    "structure_constants",
    "transform_error",
    "vector_field",
]
