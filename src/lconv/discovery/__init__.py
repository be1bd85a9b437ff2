"""Symmetry discovery: learn the generators that relate pairs of samples."""

from ._pairs import METHODS, STRUCTURES, DiscoveryResult, fit_coefficients, fit_pairs
from ._recursive import RecursiveAngleModel, fit_recursive

__all__ = [
    "METHODS",
    "STRUCTURES",
    "DiscoveryResult",
    "RecursiveAngleModel",
    "fit_coefficients",
    "fit_pairs",
    "fit_recursive",
]
