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
from ._models import (
    CNN,
    MODEL_DEFAULTS,
    MODELS,
    FullyConnected,
    LConvClassifier,
    ShallowFC,
    build_model,
    model_options,
    param_count,
)

__all__ = [
    "CNN",
    "MODELS",
    "MODEL_DEFAULTS",
    "FullyConnected",
    "LConvClassifier",
    "ShallowFC",
    "build_model",
    "model_options",
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
