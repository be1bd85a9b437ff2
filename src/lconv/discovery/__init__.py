"""Symmetry discovery: learn the generators that relate pairs of samples, or that leave one map unchanged."""

from ..algebra import antisymmetric_space, factorised_space, full_space, kron_space
from ._dataset import MODELS, DatasetResult, FittedModel, count_symmetries, fit_dataset, fit_model, map_derivatives
from ._pairs import METHODS, STRUCTURES, DiscoveryResult, fit_coefficients, fit_pairs
from ._recursive import RecursiveAngleModel, fit_recursive

__all__ = [
    "METHODS",
    "MODELS",
    "STRUCTURES",
    "DatasetResult",
    "DiscoveryResult",
    "FittedModel",
    "RecursiveAngleModel",
    "antisymmetric_space",
    "count_symmetries",
    "factorised_space",
    "fit_coefficients",
    "fit_dataset",
    "fit_model",
    "fit_pairs",
    "fit_recursive",
    "full_space",
    "kron_space",
    "map_derivatives",
]
