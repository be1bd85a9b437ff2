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

#: Names this package no longer holds, and their one home now.
_MOVED = {
    "full_space": ("lconv.algebra", "full_space", "SearchSpace.full(d)"),
    "antisymmetric_space": ("lconv.algebra", "antisymmetric_space", "SearchSpace.antisymmetric(d)"),
    "block_space": ("lconv.algebra", "block_space", "SearchSpace.blocks(d, size)"),
    "factorised_space": ("lconv.algebra", "factorised_space", "SearchSpace.kron(size, copies)"),
    "kron_space": ("lconv.algebra", "kron_space", "SearchSpace.kron(block, copies)"),
    "STRUCTURES": ("lconv.algebra", "SPACES", "the names SearchSpace.parse reads"),
    "DatasetResult": ("lconv.discovery", "DiscoveryResult", "the one result type of every fit"),
}


def __getattr__(name: str):
    if name in _MOVED:
        import importlib
        import warnings

        module, attr, new = _MOVED[name]
        warnings.warn(
            f"lconv.discovery.{name} has moved: use {module}.{attr} (or {new})", DeprecationWarning, stacklevel=2
        )
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'lconv.discovery' has no attribute {name!r}")
