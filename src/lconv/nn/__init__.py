"""Neural-network modules: the L-conv layer, the parametrisations of its generators, lifted grids and their
left-invariant generators (equivariance for non-abelian groups), the SI D classifiers."""

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
from ._graph_models import GraphLConvClassifier
from ._layer import LConv, LConvStack
from ._lifted import (
    LeftInvariantGenerators,
    Lifting,
    OrientationPool,
    SE2Grid,
    SE3Grid,
    left_invariant,
    lifted_max_pool2,
)
from ._models import (
    CNN,
    GRAPH_MODELS,
    MODEL_DEFAULTS,
    MODELS,
    FullyConnected,
    LatticeSE2Classifier,
    LConvClassifier,
    SE2LConvClassifier,
    ShallowFC,
    build_model,
    model_options,
    param_count,
)

__all__ = [
    "CNN",
    "GRAPH_MODELS",
    "MODELS",
    "MODEL_DEFAULTS",
    "FullyConnected",
    "GraphLConvClassifier",
    "LConvClassifier",
    "LeftInvariantGenerators",
    "Lifting",
    "OrientationPool",
    "SE2Grid",
    "LatticeSE2Classifier",
    "SE2LConvClassifier",
    "SE3Grid",
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
    "left_invariant",
    "lifted_max_pool2",
]
