"""Symmetry discovery: learn the generators that relate pairs of samples, or that leave one map unchanged.

One call shape for every fit: ``fit_pairs(x, y, ...)``, ``fit_dataset(x, y, ...)`` and
``fit_recursive(x, y, t=..., ...)`` take ``space=`` (a :class:`~lconv.algebra.SearchSpace`,
its name, or ``(m, d, d)`` matrices), ``n_generators=``, ``seed=``, ``device=`` and
``options=`` (:class:`PairsOptions`, :class:`DatasetOptions`, :class:`RecursiveOptions`, or
a dict), and return a :class:`DiscoveryResult` on the input's device, in its dtype.
"""

from ._dataset import (
    MODELS,
    DatasetOptions,
    FittedModel,
    fit_dataset,
    fit_model,
    kernel_sample_cap,
    map_derivatives,
)
from ._pairs import METHODS, PairsOptions, fit_coefficients, fit_pairs
from ._recursive import RecursiveAngleModel, RecursiveOptions, fit_recursive
from ._result import DiscoveryResult
from ._starts import count_symmetries, data_span
from ._topology import TopologyResult, fit_topology

__all__ = [
    "METHODS",
    "MODELS",
    "DatasetOptions",
    "DiscoveryResult",
    "FittedModel",
    "PairsOptions",
    "RecursiveAngleModel",
    "RecursiveOptions",
    "TopologyResult",
    "count_symmetries",
    "data_span",
    "fit_coefficients",
    "fit_dataset",
    "fit_model",
    "fit_pairs",
    "fit_recursive",
    "fit_topology",
    "kernel_sample_cap",
    "map_derivatives",
]
