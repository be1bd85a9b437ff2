"""lconv: Lie algebra convolution (L-conv) and automatic symmetry discovery in PyTorch.

After Dehmamy, Walters, Liu, Wang and Yu, "Automatic Symmetry Discovery with Lie Algebra
Convolutional Network", NeurIPS 2021.

    >>> from lconv import Grid, LConv, generators
    >>> grid = Grid((28, 28))
    >>> layer = LConv(1, 32, generators=generators.learned(grid, n=4, rank=8))
"""

from . import algebra, generators, nn, testing
from .grid import Grid
from .nn import LConv, LConvStack

__version__ = "0.1.0"

__all__ = ["Grid", "LConv", "LConvStack", "__version__", "algebra", "generators", "nn", "testing"]
