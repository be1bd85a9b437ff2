"""The image classifiers of SI D: L-conv and its baselines, each followed by the paper's head.

Every model maps images ``(batch, C, H, W)`` to logits ``(batch, classes)``: one or two
hidden layers (L-conv, a CNN, or fully connected), a ReLU after each, then the paper's
head: flatten and one linear layer (the softmax is in the cross-entropy loss). No
dropout, normalisation or pooling beyond what the options ask for (SI D).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..grid import Grid
from ._generators import LowRankGenerators
from ._graph_models import GraphLConvClassifier
from ._layer import LConv
from ._lifted import Lifting, SE2Grid, left_invariant, lifted_max_pool2

__all__ = [
    "GRAPH_MODELS",
    "MODELS",
    "MODEL_DEFAULTS",
    "CNN",
    "FullyConnected",
    "LConvClassifier",
    "LatticeSE2Classifier",
    "SE2LConvClassifier",
    "ShallowFC",
    "build_model",
    "model_options",
    "param_count",
]

MODELS = (
    "lconv", "lconv-random", "lconv-se2", "lconv-se2-order2", "lconv-se2-lattice", "lconv-se2-lattice-order2",
    "lconv-graph", "cnn", "cnn-pooled", "fc", "fc-shallow", "escnn",
)  # fmt: skip
#: The models that need the pixels' graph (``build_model(..., graph=)``; ``lconv train`` fits it on the training images).
GRAPH_MODELS = ("lconv-graph", "lconv-se2-lattice", "lconv-se2-lattice-order2")


def param_count(model: nn.Module, *, trainable: bool = True) -> int:
    """Number of (trainable, by default) scalar parameters of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable)


def _check_images(x: Tensor, shape: tuple[int, int, int], where: str) -> None:
    if x.dim() != 4 or tuple(x.shape[1:]) != shape:
        raise ValueError(
            f"{where}: expected images of shape (batch, {', '.join(map(str, shape))}), got {tuple(x.shape)}"
        )


def _ranks(rank: int | tuple[int, ...], layers: int, where: str) -> tuple[int, ...]:
    """One generator rank per layer, from one rank for all or one per layer."""
    ranks = (rank,) * layers if isinstance(rank, int) else tuple(rank)
    if len(ranks) != layers:
        raise ValueError(f"{where}: got {len(ranks)} ranks for {layers} layers; give one rank or one per layer")
    return ranks


class LConvClassifier(nn.Module):
    r"""L-conv layers with learned low-rank generators, then flatten and a linear head.

    Layer ``l`` computes ``f <- ReLU(W0 f + sum_i W_i (U_i V_i^T f) + b)`` on the
    ``d = H W`` pixels as nodes, with ``n`` generators ``L_i = U_i V_i^T`` of rank ``r``
    (``2 n d r`` parameters per layer; each layer has its own generators). The pixel
    order plays no role: a fixed permutation of the pixels is absorbed by ``U, V``,
    which is why L-conv keeps working on scrambled images (SI D).

    Args:
        image_shape: ``(C, H, W)``.
        num_classes: number of classes.
        channels: output channels of every L-conv layer (SI D: 32).
        layers: number of L-conv layers (1 or more).
        n_generators: ``n`` per layer (SI D: 9, as many as a 3x3 kernel has taps).
        rank: rank ``r`` of each generator; a single int, or one per layer.
        train_generators: ``False`` freezes the random initial generators
            (the "random L" baseline of SI D).
        shared: all layers use the first layer's generators (Lemma 2 / Theorem 1 of
            the paper: a stack sharing its generators approximates a group convolution
            with a wider kernel), so depth costs only ``W0, W_i``.

    Shapes:
        input ``(batch, C, H, W)``; output ``(batch, num_classes)``.
    """

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        num_classes: int,
        *,
        channels: int = 32,
        layers: int = 1,
        n_generators: int = 9,
        rank: int | tuple[int, ...] = 16,
        train_generators: bool = True,
        shared: bool = False,
    ):
        super().__init__()
        self.image_shape = tuple(image_shape)
        c, h, w = self.image_shape
        d = h * w
        ranks = _ranks(rank, layers, "LConvClassifier")
        if shared and len(set(ranks)) > 1:
            raise ValueError(f"LConvClassifier: shared generators need one rank, got {ranks}")
        blocks, gens = [], None
        for i, r in enumerate(ranks):
            if gens is None or not shared:
                gens = LowRankGenerators(n_generators, d, r)
                gens.requires_grad_(train_generators)
            blocks.append(LConv(c if i == 0 else channels, channels, gens))
        self.layers = nn.ModuleList(blocks)
        self.head = nn.Linear(channels * d, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        _check_images(x, self.image_shape, type(self).__name__)
        f = x.flatten(2)  # (B, C, d)
        for layer in self.layers:
            f = torch.relu(layer(f))
        return self.head(f.flatten(1))


class SE2LConvClassifier(nn.Module):
    r"""An SE(2)-equivariant L-conv network: lifting, lifted L-conv layers, orientation and spatial pooling, linear head.

    The image (``d = H W`` pixels on a periodic grid) is lifted to ``N`` orientations by
    :class:`Lifting` (learned derivatives along every orientation's axes, up to
    ``order``); then ``layers`` L-conv layers with the left-invariant generators of SE(2)
    (:func:`left_invariant`; ``W0, W_1..W_3, b`` per layer); the lifting and every layer
    are followed by a batch normalisation per channel (``norm``) and ReLU; then the
    maximum over the orientations, the mean over the pixels and the paper's head (one
    linear layer on the ``channels`` invariant features). The normalisation takes its
    statistics per channel over the batch and all lifted nodes, so it commutes with
    permutations of the nodes (in training and in evaluation); without it the signal
    shrinks layer by layer at the default initialisation and training starts slowly.
    With ``pool=True`` the lifting averages its derivatives over 2x2 windows (its output
    is on the half grid), a 2x2 max-pooling of every orientation's image follows the
    lifting (``lift_pool``) and every L-conv layer but the last, each as long as the side
    is even and at least 8 (on MNIST: lifted at 14 x 14, every L-conv layer at 7 x 7).

    The forward pass runs **fibre-major** (features ``(N, C, B, H, W)``, orientation axis
    first), so every L-conv layer is three stencils and one batched product of ``N``
    matrices (:meth:`~lconv.nn.LeftInvariantGenerators.weighted_sum_fibre_major`) and
    the lifting one more; :meth:`features_reference` computes the same function with the
    ``LConv`` modules on ``(B, C, N H W)``. The class defaults (24 channels, 3 layers,
    ``N = 4``, 7,594 parameters on MNIST) are small and fast; ``build_model("lconv-se2")``
    (:data:`MODEL_DEFAULTS`) takes 48 channels and 6 layers (57,082 parameters), whose
    training step ``python benchmarks/se2.py speed`` times against the pooled CNN with at
    least as many parameters. Eight orientations cost about twice as much as four.

    Every step commutes exactly with quarter turns of a square image (the lifted
    features turn and move by ``N/4`` orientations; pooling windows map onto windows on
    even sides) and the pooled features are invariant to them, so the logits are
    invariant to quarter turns for any weights, at initialisation and after training
    (up to rounding). Without pooling they are also invariant to integer shifts.

    Args:
        image_shape: ``(C, H, W)``; quarter-turn invariance needs ``H == W``.
        num_classes: number of classes.
        channels: channels of the lifting and of every L-conv layer.
        layers: number of lifted L-conv layers.
        orientations: ``N``, a multiple of 4.
        order: derivative order of the lifting.
        method: derivatives, ``"central"`` or ``"swi"``.
        pool: 2x2 max-pooling between layers (see above).
        learned: learned combinations of the left-invariant fields (still equivariant).
        norm: batch normalisation after the lifting and every layer.
        lift_average: the lifting's averaging window (default 2 with ``pool``, else 1).
        lift_pool: 2x2 max-pooling of the lifted features before the first L-conv layer
            (default: with ``pool``, where the lifted side is even and at least 8).
        layer_order: 1, the paper's L-conv layers; 2 adds to every layer the
            second-order left-invariant terms ``sum_k W''_k S_k f``
            (:meth:`~lconv.nn.LeftInvariantGenerators.second_order_fields`; four more
            ``(channels, channels)`` weights per layer, initialised at zero), still
            equivariant (``python benchmarks/se2.py speed`` times ``lconv-se2-order2``).

    Shapes:
        input ``(batch, C, H, W)``; output ``(batch, num_classes)``.
    """

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        num_classes: int,
        *,
        channels: int = 24,
        layers: int = 3,
        orientations: int = 4,
        order: int = 2,
        method: str = "central",
        pool: bool = True,
        learned: bool = False,
        norm: bool = True,
        lift_average: int | None = None,
        lift_pool: bool | None = None,
        layer_order: int = 1,
    ):
        super().__init__()
        self.image_shape = tuple(image_shape)
        c, h, w = self.image_shape
        if not isinstance(layers, int) or layers < 1:
            raise ValueError(f"SE2LConvClassifier: layers must be a positive int, got {layers!r}")
        if layer_order not in (1, 2):
            raise ValueError(f"SE2LConvClassifier: layer_order must be 1 or 2, got {layer_order!r}")
        self.layer_order = layer_order
        space = SE2Grid(Grid((h, w)), orientations)

        def pools(s: SE2Grid) -> bool:
            return pool and all(side % 2 == 0 and side >= 8 for side in s.grid.shape)

        if lift_average is None:
            lift_average = 2 if pools(space) else 1
        self.lifting = Lifting(c, channels, space, order=order, method=method, average=lift_average)
        space = self.lifting.out_space
        self.lift_space = space
        self.lift_pool = pools(space) if lift_pool is None else bool(lift_pool)
        if self.lift_pool:
            if any(side % 2 for side in space.grid.shape):
                raise ValueError(
                    f"SE2LConvClassifier: lift_pool needs even sides after the lifting, got {space.grid!r}"
                )
            space = SE2Grid(Grid(tuple(s // 2 for s in space.grid.shape)), orientations)
        self.spaces: list[SE2Grid] = []
        self.pool_after: list[bool] = []
        blocks = []
        for i in range(layers):
            self.spaces.append(space)
            blocks.append(LConv(channels, channels, left_invariant(space, method=method, learned=learned)))
            self.pool_after.append(i < layers - 1 and pools(space))
            if self.pool_after[-1]:
                space = SE2Grid(Grid(tuple(s // 2 for s in space.grid.shape)), orientations)
        self.layers = nn.ModuleList(blocks)
        # second-order terms (layer_order=2): zero at initialisation, so the network starts as the first-order one
        self.second = nn.ParameterList(
            nn.Parameter(torch.zeros(4, channels, channels)) for _ in range(layers if layer_order == 2 else 0)
        )
        count = layers + 1 if norm else 0
        self.norms = nn.ModuleList(nn.BatchNorm1d(channels) for _ in range(count))
        self.head = nn.Linear(channels, num_classes)

    def _act(self, f: Tensor, i: int) -> Tensor:
        return torch.relu(self.norms[i](f) if len(self.norms) else f)

    def _act_fibre_major(self, f: Tensor, i: int, pool: bool = False) -> Tensor:
        """Normalisation, then (``pool``) the 2x2 max-pooling, then ReLU (which commutes with the max)."""
        if len(self.norms):
            f = self.norms[i](f.reshape(f.shape[0], f.shape[1], -1)).reshape(f.shape)
        if pool:
            n, c, b, h, w = f.shape
            f = F.max_pool2d(f.reshape(n * c, b, h, w), 2).reshape(n, c, b, h // 2, w // 2)
        return torch.relu(f)

    def features(self, x: Tensor) -> Tensor:
        """The invariant features before the head, ``(batch, channels)``.

        Computed fibre-major (orientation axis first, ``(N, C, B, H, W)``): every layer is
        one batched product over the orientations
        (:meth:`~lconv.nn.LeftInvariantGenerators.weighted_sum_fibre_major`); the same
        function as :meth:`features_reference` (``LConv`` on ``(B, C, N H W)``) up to rounding.
        """
        _check_images(x, self.image_shape, type(self).__name__)
        f = self._act_fibre_major(self.lifting.fibre_major(x.flatten(2), max_pool=self.lift_pool), 0)
        for i, (layer, pool) in enumerate(zip(self.layers, self.pool_after)):
            weight2 = self.second[i] if len(self.second) else None
            f = layer.generators.weighted_sum_fibre_major(f, layer.weight0, layer.weight, layer.bias, weight2)
            f = self._act_fibre_major(f, i + 1, pool)
        return f.amax(0).mean((-2, -1)).T

    def features_reference(self, x: Tensor) -> Tensor:
        """:meth:`features` through the ``LConv`` layers on batch-major features (slower; for tests)."""
        _check_images(x, self.image_shape, type(self).__name__)
        f = self.lifting(x.flatten(2))
        if self.lift_pool:
            f, _ = lifted_max_pool2(f, self.lift_space)
        f = self._act(f, 0)
        for i, (layer, space, pool) in enumerate(zip(self.layers, self.spaces, self.pool_after)):
            g = layer(f)
            if len(self.second):  # + sum_k W''_k S_k f
                g = g + torch.einsum("koc,bckv->bov", self.second[i], layer.generators.second_order_fields(f))
            f = self._act(g, i + 1)
            if pool:
                f, _ = lifted_max_pool2(f, space)
        return self.spaces[-1].pool(f, "max").mean(-1)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


class LatticeSE2Classifier(nn.Module):
    """:class:`SE2LConvClassifier` on a pixel lattice found in the data: pixels put back in order, then lifted.

    For images whose pixels were permuted by an unknown fixed permutation (the
    ``rotated-scrambled`` variant), :func:`~lconv.discovery.fit_topology` recovers the
    lattice from the training images alone and returns ``order``, with ``x[:, order]`` the
    samples back on a lattice (up to a symmetry of the square and a shift, which the
    model does not need to know). This module gathers the pixels by ``order`` (a fixed
    buffer, no parameters) and applies the SE(2)-equivariant classifier on the lattice.
    Without a lattice (``order=None``) it is the image's own grid.

    Args:
        image_shape: ``(C, H, W)``.
        num_classes: number of classes.
        order: int64 ``(H W,)``, a permutation of the pixels (``TopologyResult.order``), or None.
        **options: those of :class:`SE2LConvClassifier`.

    Shapes:
        input ``(batch, C, H, W)`` (scrambled pixels); output ``(batch, num_classes)``.
    """

    def __init__(self, image_shape: tuple[int, int, int], num_classes: int, order: Tensor | None = None, **options):
        super().__init__()
        self.image_shape = tuple(image_shape)
        d = self.image_shape[1] * self.image_shape[2]
        order = torch.arange(d) if order is None else torch.as_tensor(order, dtype=torch.long).flatten()
        if len(order) != d or not torch.equal(order.sort().values, torch.arange(d)):
            raise ValueError(
                f"LatticeSE2Classifier: order must be a permutation of the {d} pixels, got shape {tuple(order.shape)}; "
                "pass TopologyResult.order of fit_topology on these images"
            )
        self.register_buffer("order", order)
        self.se2 = SE2LConvClassifier(self.image_shape, num_classes, **options)

    def forward(self, x: Tensor) -> Tensor:
        _check_images(x, self.image_shape, type(self).__name__)
        return self.se2(x.flatten(2)[:, :, self.order].reshape(x.shape))


class CNN(nn.Module):
    """``k x k`` convolutions (ReLU, optional 2x2 max-pooling after each), then flatten and a linear head.

    Args:
        image_shape: ``(C, H, W)``.
        num_classes: number of classes.
        channels: filters per layer (SI D: 32).
        layers: number of convolutional layers.
        kernel: kernel size ``k`` (SI D: 3; its best CNN on MNIST used 5).
        padding: ``"valid"`` (no padding, the paper's count of 185k parameters for 5x5 on
            MNIST) or ``"same"``.
        pool: 2x2 max-pooling after each layer.
    """

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        num_classes: int,
        *,
        channels: int = 32,
        layers: int = 1,
        kernel: int = 3,
        padding: str = "valid",
        pool: bool = False,
    ):
        super().__init__()
        if padding not in ("valid", "same"):
            raise ValueError(f"CNN: padding must be 'valid' or 'same', got {padding!r}")
        self.image_shape = tuple(image_shape)
        c, h, w = self.image_shape
        blocks: list[nn.Module] = []
        for i in range(layers):
            blocks += [nn.Conv2d(c if i == 0 else channels, channels, kernel, padding=padding), nn.ReLU()]
            if padding == "valid":
                h, w = h - kernel + 1, w - kernel + 1
            if pool:
                blocks.append(nn.MaxPool2d(2))
                h, w = h // 2, w // 2
            if h < 1 or w < 1:
                raise ValueError(
                    f"CNN: {layers} layers of {kernel}x{kernel} leave no pixels of {image_shape}; use fewer"
                )
        self.features = nn.Sequential(*blocks)
        self.head = nn.Linear(channels * h * w, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        _check_images(x, self.image_shape, type(self).__name__)
        return self.head(self.features(x).flatten(1))


class FullyConnected(nn.Module):
    """L-conv's shape without its weight sharing (SI D, "FC" / "FC (L-conv)").

    Each layer maps ``C d -> n r -> channels d`` by two linear maps (the first without an
    activation, like ``V^T`` and ``U`` of low-rank generators), then ReLU; then the
    head. Far more parameters than L-conv, the point of the comparison.
    """

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        num_classes: int,
        *,
        channels: int = 32,
        layers: int = 1,
        n_generators: int = 9,
        rank: int | tuple[int, ...] = 16,
    ):
        super().__init__()
        self.image_shape = tuple(image_shape)
        c, h, w = self.image_shape
        d = h * w
        ranks = _ranks(rank, layers, "FullyConnected")
        blocks: list[nn.Module] = []
        width = c * d
        for r in ranks:
            blocks += [nn.Linear(width, n_generators * r), nn.Linear(n_generators * r, channels * d), nn.ReLU()]
            width = channels * d
        self.features = nn.Sequential(*blocks)
        self.head = nn.Linear(width, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        _check_images(x, self.image_shape, type(self).__name__)
        return self.head(self.features(x.flatten(1)))


class ShallowFC(nn.Module):
    """One wide hidden layer whose width matches a given parameter budget (SI D, "FC (shallow)").

    ``width = round((budget - K) / (C d + 1 + K))`` for ``K`` classes, so that
    ``C d width + width + width K + K`` is as close to ``budget`` as an integer width allows.
    """

    def __init__(self, image_shape: tuple[int, int, int], num_classes: int, *, budget: int):
        super().__init__()
        self.image_shape = tuple(image_shape)
        c, h, w = self.image_shape
        inputs = c * h * w
        width = max(1, round((budget - num_classes) / (inputs + 1 + num_classes)))
        self.width = width
        self.features = nn.Sequential(nn.Linear(inputs, width), nn.ReLU())
        self.head = nn.Linear(width, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        _check_images(x, self.image_shape, type(self).__name__)
        return self.head(self.features(x.flatten(1)))


def _escnn_model(image_shape: tuple[int, int, int], num_classes: int, *, channels: int, layers: int, kernel: int):
    """C8-equivariant ``kernel x kernel`` convolutions (escnn) shaped like :class:`CNN`, then the paper's head.

    ``channels // 8`` regular fields of the rotation group C8 give ``channels`` feature
    maps per layer, without padding, so that the head has the CNN's size.
    """
    try:
        from escnn import gspaces
        from escnn import nn as enn
    except ImportError:
        raise ValueError("model 'escnn' needs the escnn library: pip install escnn") from None

    c, h, w = image_shape
    space = gspaces.rot2dOnR2(N=8)
    field_in = enn.FieldType(space, c * [space.trivial_repr])
    fields = max(1, channels // 8)
    field_hidden = enn.FieldType(space, fields * [space.regular_repr])
    blocks, field = [], field_in
    for _ in range(layers):
        blocks += [enn.R2Conv(field, field_hidden, kernel_size=kernel, padding=0), enn.ReLU(field_hidden)]
        field = field_hidden
        h, w = h - kernel + 1, w - kernel + 1
    if h < 1 or w < 1:
        raise ValueError(f"escnn: {layers} layers of {kernel}x{kernel} leave no pixels of {image_shape}; use fewer")

    class EscnnCNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.image_shape = tuple(image_shape)
            self.field_in = field_in
            self.features = enn.SequentialModule(*blocks)
            self.head = nn.Linear(8 * fields * h * w, num_classes)

        def forward(self, x: Tensor) -> Tensor:
            _check_images(x, self.image_shape, "escnn model")
            return self.head(self.features(enn.GeometricTensor(x, self.field_in)).tensor.flatten(1))

    return EscnnCNN()


#: Per-model defaults: about 190k parameters on MNIST for L-conv (8 channels, 8 generators of
#: rank 10) and the paper's best CNN (32 filters of 5x5, 185k); the FC baselines take
#: L-conv's shape and budget. The paper's own L-conv setting was 32 channels, 9 generators
#: of rank 16 (477k parameters on MNIST): pass those to compare. ``lconv-se2`` (SE(2)-equivariant,
#: 4 orientations, 48 channels, 6 lifted layers at 7 x 7) has 57,082 parameters on MNIST, as has
#: ``lconv-se2-lattice``; ``lconv-se2-order2`` (the same with the second-order terms in every layer,
#: ``layer_order=2``, 32 channels) 50,346; ``cnn-pooled`` (two 5x5 layers of 40 filters, 2x2 max-pooling) 60,690.
#: ``lconv-graph`` (16 channels, 8 generators with one weight per edge of the pixel graph) has
#: 150,698 parameters on MNIST with the 4-neighbour graph, 178,106 with two layers.
MODEL_DEFAULTS: dict[str, dict] = {
    "lconv": dict(channels=8, n_generators=8, rank=10),
    "lconv-random": dict(channels=8, n_generators=8, rank=10),
    "lconv-graph": dict(channels=16, n_generators=8),
    "lconv-se2": dict(channels=48, layers=6, n_generators=3, pool=True, orientations=4),
    "lconv-se2-lattice": dict(channels=48, layers=6, n_generators=3, pool=True, orientations=4),
    "lconv-se2-order2": dict(channels=32, layers=6, n_generators=3, pool=True, orientations=4, layer_order=2),
    "lconv-se2-lattice-order2": dict(channels=32, layers=6, n_generators=3, pool=True, orientations=4, layer_order=2),
    "fc": dict(channels=8, n_generators=8, rank=10),
    "fc-shallow": dict(channels=8, n_generators=8, rank=10),
    "cnn": dict(channels=32, kernel=5, padding="valid", pool=False),
    "cnn-pooled": dict(channels=40, layers=2, kernel=5, padding="same", pool=True),
    "escnn": dict(channels=32, kernel=5),
}


def model_options(name: str, **options) -> dict:
    """The options ``name`` uses: ``options`` that are not None, the rest from :data:`MODEL_DEFAULTS`."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    resolved = dict(layers=1, channels=32, n_generators=9, rank=16, shared=False, kernel=3, padding="valid", pool=False)
    resolved.update(MODEL_DEFAULTS[name])
    resolved.update({k: v for k, v in options.items() if v is not None})
    known = {"layers", "channels", "n_generators", "rank", "shared", "kernel", "padding", "pool"}
    known |= {"orientations", "learned", "norm", "lift_average", "lift_pool", "layer_order"}  # lconv-se2, from Python
    unknown = set(resolved) - known
    if unknown:
        raise TypeError(f"build_model: unknown options {', '.join(sorted(unknown))}")
    return resolved


def build_model(name: str, image_shape: tuple[int, int, int], num_classes: int, **options) -> nn.Module:
    """One of the SI D models by name (:data:`MODELS`).

    Options (each None or left out takes the model's default, :data:`MODEL_DEFAULTS`):
    ``layers``, ``channels``, ``n_generators`` and ``rank`` (L-conv and the FC baselines),
    ``shared`` (L-conv: one set of generators for all layers),
    ``kernel``, ``padding`` and ``pool`` (CNN). ``fc-shallow`` takes the parameter count of
    the ``lconv`` model with the same options as its budget. ``lconv-se2``
    (:class:`SE2LConvClassifier`) takes ``layers``, ``channels``, ``pool`` and, from Python
    only, ``orientations``, ``learned``, ``norm``, ``lift_average``, ``lift_pool`` and ``layer_order``; its
    ``n_generators`` is the 3 of se(2). ``lconv-se2-order2`` and ``lconv-se2-lattice-order2`` are
    ``lconv-se2`` and ``lconv-se2-lattice`` with ``layer_order=2``.
    ``lconv-graph`` (:class:`GraphLConvClassifier`) takes ``layers``, ``channels``,
    ``n_generators`` and ``graph``: the :class:`~lconv.discovery.TopologyResult` of
    ``fit_topology`` on the (scrambled) training images, or edges ``(E, 2)``; without it the
    image's own 4-neighbour grid. ``lconv-se2-lattice`` (:class:`LatticeSE2Classifier`) is
    ``lconv-se2`` after putting the pixels back on the lattice of ``graph`` (its ``order``;
    without it the image's own grid). ``cnn-pooled`` is the CNN with 2x2 max-pooling and
    ``"same"`` padding, sized to have at least as many parameters as ``lconv-se2``.
    """
    graph = options.pop("graph", None)
    if graph is not None and name not in GRAPH_MODELS:
        raise TypeError(f"build_model: graph is an option of {', '.join(GRAPH_MODELS)}, not of {name}")
    o = model_options(name, **options)
    if not isinstance(o["layers"], int) or o["layers"] < 1:
        raise ValueError(f"layers must be a positive int, got {o['layers']!r}")
    lconv_options = dict(channels=o["channels"], layers=o["layers"], n_generators=o["n_generators"], rank=o["rank"])
    if name in ("lconv", "lconv-random"):
        return LConvClassifier(
            image_shape, num_classes, train_generators=name == "lconv", shared=o["shared"], **lconv_options
        )
    if name == "lconv-graph":
        return GraphLConvClassifier(
            image_shape, num_classes, graph, channels=o["channels"], layers=o["layers"], n_generators=o["n_generators"]
        )
    if name.startswith("lconv-se2"):
        if o["n_generators"] != 3:
            raise ValueError(
                f"lconv-se2 uses the 3 left-invariant generators of se(2), got n_generators={o['n_generators']}; "
                "drop --generators (learned combinations: build_model(..., learned=True))"
            )
        extra = {
            k: o[k] for k in ("orientations", "learned", "norm", "lift_average", "lift_pool", "layer_order") if k in o
        }
        se2 = dict(channels=o["channels"], layers=o["layers"], pool=o["pool"], **extra)
        if name not in GRAPH_MODELS:
            return SE2LConvClassifier(image_shape, num_classes, **se2)
        order = getattr(graph, "order", graph)
        if graph is not None and order is None:
            raise ValueError(
                f"lconv-se2-lattice: no lattice was found in the images (graph {getattr(graph, 'graph', '?')!r}); "
                "use lconv-graph, which works on any graph"
            )
        return LatticeSE2Classifier(image_shape, num_classes, order, **se2)
    if name in ("cnn", "cnn-pooled"):
        cnn = {k: o[k] for k in ("channels", "layers", "kernel", "padding", "pool")}
        return CNN(image_shape, num_classes, **cnn)
    if name == "fc":
        return FullyConnected(image_shape, num_classes, **lconv_options)
    if name == "fc-shallow":
        with torch.device("meta"):
            budget = param_count(LConvClassifier(image_shape, num_classes, **lconv_options))
        return ShallowFC(image_shape, num_classes, budget=budget)
    return _escnn_model(image_shape, num_classes, channels=o["channels"], layers=o["layers"], kernel=o["kernel"])
