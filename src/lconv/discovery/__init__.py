"""Symmetry discovery: learn the generators that relate pairs of samples."""

from ._pairs import METHODS, STRUCTURES, DiscoveryResult, fit_coefficients, fit_pairs

__all__ = ["METHODS", "STRUCTURES", "DiscoveryResult", "fit_coefficients", "fit_pairs"]
