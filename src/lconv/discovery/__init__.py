"""Symmetry discovery: learn the generators that relate pairs of samples, or that leave one map unchanged."""

from ..algebra import antisymmetric_space, block_space, factorised_space, full_space, kron_space
from ._dataset import (
    MODELS,
    DatasetResult,
    FittedModel,
    fit_dataset,
    fit_model,
    kernel_sample_cap,
    map_derivatives,
)
from ._pairs import METHODS, STRUCTURES, DiscoveryResult, fit_coefficients, fit_pairs
from ._recursive import RecursiveAngleModel, fit_recursive
from ._starts import count_symmetries, data_span
from ._topology import TopologyResult, fit_topology

__all__ = [
    "METHODS",
    "MODELS",
    "STRUCTURES",
    "DatasetResult",
    "DiscoveryResult",
    "FittedModel",
    "RecursiveAngleModel",
    "TopologyResult",
    "antisymmetric_space",
    "block_space",
    "count_symmetries",
    "data_span",
    "factorised_space",
    "fit_coefficients",
    "fit_dataset",
    "fit_model",
    "fit_pairs",
    "fit_recursive",
    "fit_topology",
    "full_space",
    "kernel_sample_cap",
    "kron_space",
    "map_derivatives",
]
