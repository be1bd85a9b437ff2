r"""Search spaces for symmetry discovery: subspaces of ``gl(d)``.

:class:`SearchSpace` is the one type every discovery fit takes (``space=``): the fit looks
for generators ``L = sum_m c_m B_m`` in it only. Its constructors, and the names
:meth:`SearchSpace.parse` reads (``lconv discover --space``):

* :meth:`SearchSpace.full` (``"full"``, also ``"free"``): all of ``gl(d)``;
* :meth:`SearchSpace.antisymmetric` (``"antisymmetric"``): ``so(d)``;
* :meth:`SearchSpace.span`: the span of given ``(m, d, d)`` matrices;
* :meth:`SearchSpace.blocks` (``"blocks:B"``): independent ``B x B`` diagonal blocks;
* :meth:`SearchSpace.kron` (``"kron:B"``): ``I (x) A``, one ``B x B`` matrix on each
  ``B``-vector;
* :meth:`SearchSpace.vector_field` (``"vector-field:HxW"``, or ``"vector-field"`` with the
  grid given apart): flows on an image grid.

The functions below return the same spaces as ``(m, d, d)`` tensors of basis matrices:

* :func:`full_space`: all ``d x d`` matrices (``m = d^2``), the elementary matrices ``E_ij``;
* :func:`antisymmetric_space`: ``so(d)`` (``m = d(d-1)/2``), ``(E_ij - E_ji)/sqrt(2)``
  for ``i < j``: a compact group acting orthogonally has antisymmetric generators;
* :func:`kron_space`: ``I_copies (x) A`` for ``A`` in a given basis of ``(k, k)``
  matrices, the same action on each of ``copies`` vectors stored one after another
  (``x = (v_1, ..., v_copies)``, each ``v`` of length ``k``);
* :func:`factorised_space`: ``kron_space`` over all of ``gl(k)``: ``I_4 (x) A`` is one
  ``2 x 2`` action shared by four 2-vectors (``m = 4``);
* :func:`block_space`: block-diagonal matrices with independent ``size x size`` blocks
  (``m = blocks size^2``): four independent ``2 x 2`` blocks (``m = 16``) is the space
  LieGAN searches for the two-body problem (its "2*2_factorization" mask);
* :class:`VectorFieldSpace` (:func:`vector_field_space`): on an image grid, the generators
  ``L = sum_alpha diag(v^alpha) D_alpha`` of flows, one vector ``v(p)`` per pixel
  (``m = ndim d``). It holds every symmetry that moves pixels along a flow: translations,
  rotations, scaling, shears, and any smooth deformation; it is kept as the derivative
  matrices and never forms its ``m`` basis matrices unless asked.

:func:`full_space` and :func:`antisymmetric_space` are orthonormal in the Frobenius inner
product; :func:`kron_space` keeps the scale of its block matrices (its Gram matrix is
``copies`` times theirs), so that it can serve as a ground truth with the block's structure
constants. The fits orthonormalise any basis they are given.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..grid import Grid
from ._derivative import derivative
from ._families import matrix_algebra

#: The search spaces by name, as ``space="..."`` and ``lconv discover --space`` take them;
#: ``B`` is a block size that divides ``d``, ``HxW`` an image grid.
SPACES = ("full", "antisymmetric", "blocks:B", "kron:B", "vector-field")


def _dim(d, where: str) -> int:
    if not isinstance(d, int) or isinstance(d, bool) or d < 1:
        raise ValueError(f"{where}: the dimension must be a positive int, got {d!r}")
    return d


def full_space(d: int, *, dtype: torch.dtype | None = None) -> Tensor:
    """All ``d x d`` matrices: the ``d^2`` elementary matrices ``E_ij`` (row-major), ``(d^2, d, d)``."""
    d = _dim(d, "full_space")
    return torch.eye(d * d, dtype=dtype or torch.get_default_dtype()).reshape(d * d, d, d)


def antisymmetric_space(d: int, *, dtype: torch.dtype | None = None) -> Tensor:
    """``so(d)``: ``(E_ij - E_ji) / sqrt(2)`` for ``i < j``, ``(d(d-1)/2, d, d)``, orthonormal."""
    d = _dim(d, "antisymmetric_space")
    if d < 2:
        raise ValueError("antisymmetric_space: needs d >= 2 (so(1) is zero)")
    pairs = [(i, j) for i in range(d) for j in range(i + 1, d)]
    out = torch.zeros(len(pairs), d, d, dtype=torch.float64)
    for m, (i, j) in enumerate(pairs):
        out[m, i, j], out[m, j, i] = -1.0, 1.0  # E_ji - E_ij: for d = 2 the rotation [[0, -1], [1, 0]]
    return (out / math.sqrt(2.0)).to(dtype or torch.get_default_dtype())


def kron_space(block: Tensor | str, copies: int, *, dtype: torch.dtype | None = None) -> Tensor:
    """``I_copies (x) A_i`` for each matrix ``A_i`` of ``block`` (``(m, k, k)`` or a name of
    :func:`~lconv.algebra.matrix_algebra`), shape ``(m, copies k, copies k)``.

    The generator acts on ``copies`` vectors of length ``k`` stored one after another,
    the same ``A`` on each: e.g. ``kron_space("so13", 2)`` is the Lorentz algebra acting on
    two 4-vectors at once.
    """
    copies = _dim(copies, "kron_space")
    a = matrix_algebra(block, dtype=torch.float64) if isinstance(block, str) else torch.as_tensor(block).double()
    if a.dim() == 2:
        a = a[None]
    if a.dim() != 3 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"kron_space: block must be (m, k, k) square matrices, got {tuple(a.shape)}")
    eye = torch.eye(copies, dtype=torch.float64)
    return torch.stack([torch.kron(eye, ai) for ai in a]).to(dtype or torch.get_default_dtype())


def factorised_space(copies: int = 4, block: int = 2, *, dtype: torch.dtype | None = None) -> Tensor:
    """``I_copies (x) A`` with ``A`` any ``block x block`` matrix: ``(block^2, copies block, copies block)``.

    The default ``L = I_4 (x) A`` (4 unknowns) applies one 2x2 action to each of four
    2-vectors, e.g. the positions and momenta of two bodies in the plane. It is smaller than
    the space LieGAN searches for that problem: LieGAN's "2*2_factorization" masks a full
    ``8 x 8`` generator down to four *independent* 2x2 blocks, :func:`block_space` (16
    unknowns).
    """
    return kron_space(full_space(_dim(block, "factorised_space"), dtype=torch.float64), copies, dtype=dtype)


def block_space(blocks: int = 4, size: int = 2, *, dtype: torch.dtype | None = None) -> Tensor:
    """Block-diagonal matrices with ``blocks`` independent ``size x size`` blocks: ``(blocks size^2, d, d)``, ``d = blocks size``.

    Basis: the elementary matrices ``E_ij`` with ``i`` and ``j`` in the same block (block by
    block, row-major inside each), orthonormal. The default, four independent 2x2 blocks on
    ``8 x 8`` generators (16 unknowns), is LieGAN's search space for the two-body problem
    (Yang et al. 2023; its code masks ``L`` with ``block_diag`` of four ``2 x 2`` blocks of
    ones, on the coordinates ``(q1, p1, q2, p2)``, each a 2-vector). It holds
    :func:`factorised_space` (the same block repeated) and lets each 2-vector move on its own.
    """
    blocks, size = _dim(blocks, "block_space"), _dim(size, "block_space")
    d = blocks * size
    out = torch.zeros(blocks * size * size, d, d, dtype=torch.float64)
    m = 0
    for b in range(blocks):
        for i in range(size):
            for j in range(size):
                out[m, b * size + i, b * size + j] = 1.0
                m += 1
    return out.to(dtype or torch.get_default_dtype())


class SearchSpace:
    r"""A subspace of ``gl(d)`` in which a discovery fit looks for its generators.

    Every fit (:func:`~lconv.discovery.fit_pairs`, :func:`~lconv.discovery.fit_dataset`,
    :func:`~lconv.discovery.fit_recursive`) takes one as ``space=``, or its name
    (:meth:`parse`), or ``(m, d, d)`` matrices (:meth:`span`). Build one with
    :meth:`full`, :meth:`antisymmetric`, :meth:`span`, :meth:`blocks`, :meth:`kron` or
    :meth:`vector_field`.

    The fits map free parameters to generators with :meth:`generators` and back with
    :meth:`project` (least squares); :meth:`basis` forms the ``(dim, d, d)`` basis
    matrices, for the fits that need them (small ``d``).

    Attributes:
        kind: ``"full"``, ``"antisymmetric"``, ``"span"``, ``"blocks"``, ``"kron"`` or
            ``"vector-field"``.
        d: the generators are ``d x d``.
        dim: the dimension of the space: the most generators it can hold.
        name: how a run's ``config`` records it (its :meth:`parse` name where it has one).
        orthonormal: whether :meth:`basis` is orthonormal in the Frobenius inner product.
    """

    def __init__(self, kind: str, d: int, *, matrices: Tensor | None = None, name: str | None = None,
                 orthonormal: bool = False):  # fmt: skip
        self.kind, self.d = kind, _dim(d, "SearchSpace")
        self._matrices = matrices
        self.orthonormal = orthonormal
        if matrices is not None:
            self.dim = len(matrices)
        elif kind == "full":
            self.dim, self.orthonormal = d * d, True
        elif kind == "antisymmetric":
            self.dim, self.orthonormal = d * (d - 1) // 2, True
        else:
            raise ValueError(f"SearchSpace: the {kind!r} space needs its basis matrices")
        self.name = name or kind

    # ---------------------------------------------------------------- constructors
    @classmethod
    def full(cls, d: int) -> SearchSpace:
        """All ``d x d`` matrices, ``gl(d)`` (``dim = d^2``)."""
        return cls("full", _dim(d, "SearchSpace.full"))

    @classmethod
    def antisymmetric(cls, d: int) -> SearchSpace:
        """The antisymmetric matrices, ``so(d)`` (``dim = d(d-1)/2``): a compact group acting orthogonally."""
        d = _dim(d, "SearchSpace.antisymmetric")
        if d < 2:
            raise ValueError("SearchSpace.antisymmetric: needs d >= 2 (so(1) is zero)")
        return cls("antisymmetric", d)

    @classmethod
    def span(cls, basis, *, name: str | None = None) -> SearchSpace:
        """The span of ``basis`` ``(m, d, d)`` (a tensor or an array; need not be orthonormal)."""
        b = torch.as_tensor(basis)
        if not b.is_floating_point():
            b = b.double()
        if b.dim() != 3 or b.shape[1] != b.shape[2] or len(b) == 0:
            raise ValueError(f"SearchSpace.span: basis must be (m, d, d) square matrices, got {tuple(b.shape)}")
        if not torch.isfinite(b).all():
            raise ValueError("SearchSpace.span: basis contains NaN or inf")
        return cls("span", b.shape[-1], matrices=b, name=name or f"span({len(b)})")

    @classmethod
    def blocks(cls, d: int, size: int) -> SearchSpace:
        """Block-diagonal ``d x d`` matrices with ``d / size`` independent ``size x size`` blocks (:func:`block_space`)."""
        d, size = _dim(d, "SearchSpace.blocks"), _dim(size, "SearchSpace.blocks")
        if d % size:
            raise ValueError(f"SearchSpace.blocks: give a block size that divides d = {d}, got {size}")
        return cls("blocks", d, matrices=block_space(d // size, size, dtype=torch.float64), name=f"blocks:{size}",
                   orthonormal=True)  # fmt: skip

    @classmethod
    def kron(cls, block: int | str | Tensor, copies: int) -> SearchSpace:
        """``I_copies (x) A``: one action ``A`` on each of ``copies`` consecutive vectors (:func:`kron_space`).

        ``block``: an int ``k`` (``A`` any ``k x k`` matrix, :func:`factorised_space`), a name
        of :func:`~lconv.algebra.matrix_algebra` (e.g. ``"so13"``) or ``(m, k, k)`` matrices.
        """
        if isinstance(block, int) and not isinstance(block, bool):
            b = _dim(block, "SearchSpace.kron")
            return cls("kron", b * _dim(copies, "SearchSpace.kron"), matrices=factorised_space(copies, b, dtype=torch.float64),
                       name=f"kron:{b}")  # fmt: skip
        mats = kron_space(block, copies, dtype=torch.float64)
        label = block if isinstance(block, str) else f"{len(mats)} matrices"
        return cls("kron", mats.shape[-1], matrices=mats, name=f"kron({label}, {copies})")

    @staticmethod
    def vector_field(grid, *, method: str = "swi", smoothness: float = 0.1) -> VectorFieldSpace:
        """Flows on an image grid (a :class:`~lconv.Grid` or its shape): :class:`VectorFieldSpace`."""
        if not isinstance(grid, Grid):
            grid = Grid(tuple(grid) if isinstance(grid, (tuple, list)) else grid)
        return VectorFieldSpace(grid, method=method, smoothness=smoothness)

    @classmethod
    def parse(cls, text: str, d: int, *, grid=None) -> SearchSpace:
        """The space named ``text`` (:data:`SPACES`) for ``d x d`` generators.

        ``"full"`` (or ``"free"``), ``"antisymmetric"``, ``"blocks:B"``, ``"kron:B"``,
        ``"vector-field:HxW"``, or ``"vector-field"`` on ``grid`` (a :class:`~lconv.Grid`
        or its shape).
        """
        if not is_space_name(text):
            raise ValueError(f"unknown search space {text!r}; choose one of {', '.join(SPACES)}")
        kind, _, arg = text.partition(":")
        if kind in ("full", "free"):
            return cls.full(d)
        if kind == "antisymmetric":
            return cls.antisymmetric(d)
        if kind == "vector-field":
            if arg:
                grid = tuple(int(v) for v in arg.split("x"))
            if grid is None:
                raise ValueError(
                    "search space 'vector-field' needs the image grid: pass space='vector-field:HxW' or "
                    "SearchSpace.vector_field((H, W))"
                )
            space = cls.vector_field(grid)
            if space.d != d:
                raise ValueError(f"search space {text!r}: grid {tuple(space.grid.shape)} has {space.d} pixels, d = {d}")
            return space
        b = int(arg)
        if b < 1 or d % b:
            raise ValueError(f"search space {text!r}: give a block size that divides d = {d}, e.g. {kind}:2")
        return cls.blocks(d, b) if kind == "blocks" else cls.kron(b, d // b)

    @classmethod
    def resolve(cls, space, d: int, *, where: str = "SearchSpace") -> SearchSpace:
        """What the fits' ``space=`` holds, as a space of ``d x d`` generators.

        A :class:`SearchSpace`, a name (:meth:`parse`), ``(m, d, d)`` matrices (:meth:`span`),
        or None (all of ``gl(d)``).
        """
        if space is None:
            return cls.full(d)
        if isinstance(space, str):
            try:
                return cls.parse(space, d)
            except ValueError as exc:
                raise ValueError(f"{where}: {exc}") from None
        if not isinstance(space, SearchSpace):
            if not hasattr(space, "shape"):
                raise TypeError(
                    f"{where}: space must be a SearchSpace, a name ({', '.join(SPACES)}) or (m, d, d) matrices, "
                    f"got {type(space).__name__}"
                )
            space = cls.span(space)
        if space.d != d:
            where_d = f"on {space.grid!r} " if isinstance(space, VectorFieldSpace) else ""
            raise ValueError(
                f"{where}: the search space {where_d}holds {space.d} x {space.d} generators, the data d = {d}"
            )
        return space

    # ---------------------------------------------------------------- use
    def __len__(self) -> int:
        return self.dim

    def basis(self, dtype: torch.dtype | None = None, device=None) -> Tensor:
        """The ``(dim, d, d)`` basis matrices (orthonormal where :attr:`orthonormal`)."""
        dtype = dtype or (self._matrices.dtype if self._matrices is not None else torch.get_default_dtype())
        if self.kind == "full":
            out = full_space(self.d, dtype=dtype)
        elif self.kind == "antisymmetric":
            out = antisymmetric_space(self.d, dtype=dtype)
        else:
            out = self._matrices.to(dtype)
        return out.to(device) if device is not None else out

    def to(self, device=None, dtype=None) -> SearchSpace:
        """The same space with its basis on ``device`` in ``dtype``."""
        out = object.__new__(type(self))
        out.__dict__.update(self.__dict__)
        if self._matrices is not None:
            out._matrices = self._matrices.to(device=device, dtype=dtype)
        return out

    def generators(self, params: Tensor) -> Tensor:
        """Parameters (as :meth:`project` returns them) -> ``(k, d, d)`` generators."""
        if self.kind == "full":
            return params
        if self.kind == "antisymmetric":
            return params - params.transpose(1, 2)
        return torch.einsum("km,mij->kij", params, self._matrices.to(params))

    def project(self, L: Tensor) -> Tensor:
        """Least-squares parameters of the generators of the space closest to ``L`` ``(k, d, d)``."""
        if self.kind == "full":
            return L.clone()
        if self.kind == "antisymmetric":
            return (L - L.transpose(1, 2)) / 4  # p - p^T = (L - L^T)/2
        b = self._matrices.to(L).reshape(self.dim, -1)
        return torch.linalg.lstsq(b.T, L.reshape(len(L), -1).T).solution.T

    def __repr__(self) -> str:
        return f"SearchSpace({self.name!r}, d={self.d}, dim={self.dim})"


def is_space_name(text) -> bool:
    """Whether ``text`` names a search space (:data:`SPACES`), before ``d`` is known."""
    if not isinstance(text, str):
        return False
    kind, sep, arg = text.partition(":")
    if kind in ("full", "free", "antisymmetric"):
        return not sep
    if kind in ("blocks", "kron"):
        return arg.isdigit()
    if kind == "vector-field":
        return not sep or all(v.isdigit() for v in arg.split("x"))
    return False


class VectorFieldSpace(SearchSpace):
    r"""Generators of flows on a grid: ``L = sum_alpha diag(v^alpha) D_alpha``, parameters ``v`` ``(ndim, d)``.

    A vector field ``v`` moves the content of an image along its flow; on the grid its
    generator is ``(L f)(p) = sum_alpha v^alpha(p) (D_alpha f)(p)`` with ``D_alpha`` the
    derivative along ``x^alpha`` (:func:`~lconv.algebra.derivative`). Every generator of
    :func:`~lconv.algebra.pushforward` lies here: the SWI rotation generator
    ``-(x D_y - y D_x)`` is ``v = (y, -x)``, translations are constant ``v``, scaling is
    ``v = -x``. A fit in this space learns ``ndim d`` numbers instead of ``d^2``.

    Parameters are flat, ``(k, ndim d)``, ordered ``v^0`` of every pixel, then ``v^1``, ...

    Where the data barely move (pixels where every image is flat, e.g. outside the support
    of band-limited images), ``v`` is not determined by the pairs. :meth:`smooth` then
    takes the flow of least curvature that fits the data as well: affine flows
    (translations, rotations, scaling, shears) have none, so they are continued exactly.
    ``fit_pairs`` applies it to its result with ``smoothness``.

    Args:
        grid: the image grid.
        method: the derivative, ``"swi"`` (periodic axes) or ``"central"``.
        smoothness: weight of the curvature against the data in :meth:`smooth`, relative
            to the best-determined pixel; 0 turns the smoothing off.
    """

    def __init__(self, grid: Grid, *, method: str = "swi", smoothness: float = 0.1, dtype: torch.dtype | None = None):
        if not isinstance(grid, Grid):
            raise TypeError(f"VectorFieldSpace: grid must be a lconv.Grid, got {type(grid).__name__}")
        if not (isinstance(smoothness, (int, float)) and smoothness >= 0 and math.isfinite(smoothness)):
            raise ValueError(f"VectorFieldSpace: smoothness must be a number >= 0, got {smoothness!r}")
        self.grid, self.method, self.smoothness = grid, method, float(smoothness)
        self.derivatives = torch.stack([derivative(grid, a, method=method, dtype=dtype) for a in range(grid.ndim)])
        self.kind, self.d, self._matrices, self.orthonormal = "vector-field", grid.size, None, False
        self.dim = grid.ndim * grid.size
        self.name = "vector-field:" + "x".join(str(s) for s in grid.shape)

    def to(self, device=None, dtype=None) -> VectorFieldSpace:
        """The same space with its derivative matrices on ``device`` in ``dtype``."""
        out = object.__new__(VectorFieldSpace)
        out.__dict__.update(self.__dict__, derivatives=self.derivatives.to(device=device, dtype=dtype))
        return out

    def generators(self, params: Tensor) -> Tensor:
        """``(k, ndim d)`` parameters -> ``(k, d, d)`` generators."""
        v = params.reshape(len(params), self.grid.ndim, self.d)
        return torch.einsum("kap,apj->kpj", v, self.derivatives.to(params))

    def project(self, L: Tensor) -> Tensor:
        """Least-squares parameters of the generators closest to ``L`` (Frobenius), ``(k, ndim d)``.

        Row ``p`` of ``L`` is fitted by ``sum_alpha v^alpha(p) D_alpha[p]``: a small
        ``ndim x ndim`` system per pixel.
        """
        D = self.derivatives.to(L)
        gram = torch.einsum("apj,bpj->pab", D, D)  # (d, ndim, ndim)
        rhs = torch.einsum("kpj,apj->kpa", L, D)  # (k, d, ndim)
        v = (torch.linalg.pinv(gram, hermitian=True) @ rhs.transpose(0, 1).transpose(1, 2)).permute(2, 1, 0)
        return v.reshape(len(L), -1)

    def fields(self, L: Tensor) -> Tensor:
        """The vector fields of generators ``L`` (projected onto the space), ``(k, ndim, *grid.shape)``."""
        return self.project(L).reshape(len(L), self.grid.ndim, *self.grid.shape)

    def smooth(self, L: Tensor, x: Tensor) -> Tensor:
        r"""The flows closest to ``L`` on the data ``x`` with the least curvature, ``(k, d, d)``.

        With ``g_n(p) = ((D_0 x_n)(p), ..., (D_{ndim-1} x_n)(p))`` the image gradients, the
        data weight each pixel's vector ``v(p)`` by ``B_p = sum_n g_n(p) g_n(p)^T``
        (a change ``dv`` alters the pairs by ``sum_n (g_n . dv)^2``). Solves

        .. math::
            \min_u \sum_p (u_p - v_p)^T B_p (u_p - v_p)
            + \lambda \max_p \operatorname{tr} B_p \sum_\alpha |H u^\alpha|^2

        with ``H`` the second differences (both axes and mixed; central differences on the
        open grid, so affine ``u`` cost nothing) and ``lambda = smoothness``. Where the
        data pin ``v`` down it stays; elsewhere it is continued as an affine-like flow.

        Args:
            L: generators ``(k, d, d)`` (projected onto the space first).
            x: the data ``(N, d)`` or ``(N, C, d)`` the generators act on.
        """
        if self.smoothness == 0:
            return L
        a, d = self.grid.ndim, self.d
        cpu = dict(device="cpu", dtype=torch.float64)  # one small (ndim d)^2 solve: on the CPU, in float64
        D = self.derivatives.to(**cpu)
        xs = x.reshape(-1, d).to(**cpu)
        grads = torch.einsum("apj,nj->pna", D, xs)  # (d, N C, ndim)
        block = grads.transpose(1, 2) @ grads  # (d, ndim, ndim): B_p
        weight = torch.zeros(a * d, a * d, dtype=torch.float64)
        idx = torch.arange(d)
        for i in range(a):
            for j in range(a):
                weight[i * d + idx, j * d + idx] = block[:, i, j]
        open_grid = Grid(self.grid.shape, periodic=False)
        first = [derivative(open_grid, b, method="central", dtype=torch.float64) for b in range(a)]
        second = torch.cat([first[b] @ first[c] for b in range(a) for c in range(b, a)])  # kills affine functions
        curvature = torch.kron(torch.eye(a, dtype=torch.float64), second.T @ second)
        scale = self.smoothness * float(block.diagonal(dim1=1, dim2=2).sum(-1).max())
        v = self.project(L.to(**cpu))  # (k, a d)
        u = torch.linalg.solve(weight + scale * curvature, weight @ v.T).T
        return self.generators(u).to(L)

    def basis(self, dtype: torch.dtype | None = None, device=None) -> Tensor:
        """The ``(ndim d, d, d)`` basis matrices ``E_pp D_alpha``, for small grids and :func:`fit_dataset`."""
        eye = torch.eye(self.dim, dtype=dtype or self.derivatives.dtype, device=device or self.derivatives.device)
        return self.generators(eye)

    def __repr__(self) -> str:
        return f"VectorFieldSpace({self.grid!r}, method={self.method!r}, smoothness={self.smoothness:g})"


def vector_field_space(
    grid: Grid, *, method: str = "swi", smoothness: float = 0.1, dtype: torch.dtype | None = None
) -> VectorFieldSpace:
    """The generators of flows on ``grid`` (:class:`VectorFieldSpace`), for ``fit_pairs(..., space=...)``."""
    return VectorFieldSpace(grid, method=method, smoothness=smoothness, dtype=dtype)
