"""lconv: Lie algebra convolution (L-conv) and automatic symmetry discovery in PyTorch.

After Dehmamy, Walters, Liu, Wang and Yu, "Automatic Symmetry Discovery with Lie Algebra
Convolutional Network", NeurIPS 2021.

    >>> from lconv import Grid, LConv, generators
    >>> grid = Grid((28, 28))
    >>> layer = LConv(1, 32, generators=generators.learned(grid, n=4, rank=8))

``import lconv`` needs torch and numpy alone; the command line, the experiments, figures
and checkpoints come with the ``cli`` extra (``pip install "lconv[cli]"``).

``lconv.Grid``, ``lconv.LConv`` and ``lconv.LConvStack`` are aliases of
:class:`lconv.grid.Grid`, :class:`lconv.nn.LConv` and :class:`lconv.nn.LConvStack`, and
:mod:`lconv.generators` gathers aliases of :mod:`lconv.algebra` and :mod:`lconv.nn`; each
object is listed in the ``__all__`` of its home alone.
"""

from . import algebra, generators, nn, testing
from .grid import Grid  # noqa: F401  (alias)
from .nn import LConv, LConvStack  # noqa: F401  (aliases)

__version__ = "0.1.0"

__all__ = ["__version__", "algebra", "generators", "nn", "testing"]
