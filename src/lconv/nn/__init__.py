"""Neural-network modules: the L-conv layer and the parametrisations of its generators."""

from . import functional
from ._generators import (
    DenseGenerators,
    FixedGenerators,
    Generators,
    LocalGenerators,
    LowRankGenerators,
    StencilGenerators,
    as_generators,
    learned,
)
from ._layer import LConv, LConvStack

__all__ = [
    "DenseGenerators",
    "FixedGenerators",
    "Generators",
    "LConv",
    "LConvStack",
    "LocalGenerators",
    "LowRankGenerators",
    "StencilGenerators",
    "as_generators",
    "functional",
    "learned",
]
