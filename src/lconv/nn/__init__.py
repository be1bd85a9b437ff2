"""Neural-network modules: the L-conv layer, the parametrisations of its generators, the SI D classifiers."""

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
from ._models import CNN, MODELS, FullyConnected, LConvClassifier, ShallowFC, build_model, param_count

__all__ = [
    "CNN",
    "MODELS",
    "FullyConnected",
    "LConvClassifier",
    "ShallowFC",
    "build_model",
    "param_count",
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
