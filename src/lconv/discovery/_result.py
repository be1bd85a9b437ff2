"""What every discovery fit returns (:class:`DiscoveryResult`), and the call conventions the fits share.

**Device and dtype.** Every tensor of a result is on the device of the input ``x`` and in
its dtype (numpy input: the CPU), whatever ``device=`` the fit computed on.
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

#: Old spellings of ``n_generators``: passing one raises ``TypeError`` naming the new keyword.
OLD_COUNT_NAMES = ("n", "num_generators", "k", "generators")
_TENSORS = ("generators", "t", "residuals", "coefficients", "spectrum", "singular_values", "trivial", "on_data")
_SCALARS = ("method", "n_trivial", "n_symmetries", "count_reason", "model_error", "data_rank")


@dataclass
class DiscoveryResult:
    """What a discovery fit found: :func:`fit_pairs`, :func:`fit_dataset` and :func:`fit_recursive` all return one.

    Every tensor is on the input's device and in its dtype.

    Attributes:
        generators: ``(k, d, d)`` the generators found (unit Frobenius norm where only their
            direction is identifiable: unknown ``t``, or one dataset), best first.
        t: ``(N, k)`` coefficients per pair (given or fitted; :func:`fit_recursive`: the
            predicted angles), or None (:func:`fit_dataset`: one dataset has none).
        residuals: ``(k,)`` each generator's evidence (its value in ``spectrum``), or None.
        coefficients: ``(k, m)`` the generators over the search space's orthonormalised
            basis, where the fit has them (:func:`fit_dataset`), else None.
        history: per-round ``loss`` and ``seconds`` (and what else the fit records).
        method: ``"exp"``, ``"lstsq"``, ``"lconv"`` (pairs), the model of a dataset fit
            (``"kernel"``, ``"mlp"``, ``"callable"``, ``"given"``), or ``"recursive"``.
        config: the resolved options, JSON-ready (``space``: the search space's name).
        spectrum: the evidence for the number of generators, ascending (0: certainly a
            symmetry), or None. ``singular_values`` is the same for :func:`fit_dataset`.
        trivial: ``(n_trivial, d, d)`` an orthonormal basis of the generators of the space
            that vanish on the data's span (``L P = 0``), which fit every sample trivially and
            are never searched nor counted; None when there are none.
        n_trivial: their number.
        n_symmetries: how many generators the evidence singles out, or None when the fit did
            not count (``n_generators`` given to :func:`fit_pairs`).
        count_reason: why ``n_symmetries`` is what it is, in words ("" when not counted).
        model_error: :func:`fit_dataset`: relative held-out error of the fitted model.
        on_data: :func:`fit_dataset`: each generator restricted to the data's span, ``L P``.
        data_rank: :func:`fit_dataset`: the dimension of the data's span.
    """

    generators: Tensor
    t: Tensor | None = None
    history: dict[str, list[float]] = field(default_factory=dict)
    method: str = "exp"
    config: dict = field(default_factory=dict)
    spectrum: Tensor | None = None
    residuals: Tensor | None = None
    trivial: Tensor | None = None
    n_trivial: int = 0
    coefficients: Tensor | None = None
    singular_values: Tensor | None = None
    n_symmetries: int | None = None
    count_reason: str = ""
    model_error: float | None = None
    on_data: Tensor | None = None
    data_rank: int | None = None

    def sample(self, x, scale: float = 1.0, *, generator: torch.Generator | None = None) -> Tensor:
        """Data augmentation: ``exp(sum_i t_i L_i) x`` with ``t_i ~ N(0, scale^2)`` drawn per sample.

        Args:
            x: ``(B, d)`` or ``(B, C, d)`` (the channels of a sample share ``t``), tensor or array.
            scale: standard deviation of each ``t_i``; the generators have unit Frobenius
                norm when ``t`` was unknown, so ``scale`` is the size of the group element.
            generator: a ``torch.Generator`` for reproducible draws.

        Returns:
            the transformed samples, shaped like ``x``.
        """
        from ._pairs import _apply

        x = torch.as_tensor(x)
        if not x.is_floating_point() or x.dim() not in (2, 3) or x.shape[-1] != self.generators.shape[-1]:
            raise ValueError(
                f"sample: x must be float (B, {self.generators.shape[-1]}) or (B, C, {self.generators.shape[-1]}), "
                f"got {x.dtype} {tuple(x.shape)}"
            )
        L = self.generators.to(x)
        t = scale * torch.randn(len(x), len(L), generator=generator, dtype=x.dtype).to(x.device)
        with torch.no_grad():
            return _apply(L, t, x)

    def to(self, device=None, dtype: torch.dtype | None = None) -> DiscoveryResult:
        """The same result with every tensor on ``device`` in ``dtype`` (floating tensors only)."""
        moved = {}
        for name in _TENSORS:
            v = getattr(self, name)
            if isinstance(v, Tensor):
                moved[name] = v.to(device=device, dtype=dtype if v.is_floating_point() else None)
        return dataclasses.replace(self, **moved)

    def save(self, path: str | Path) -> Path:
        """Write the result to ``path`` (``.npz``, no pickles): tensors as arrays, the rest as JSON.

        :meth:`load` reads it back.
        """
        path = Path(path)
        arrays = {}
        for name in _TENSORS:
            v = getattr(self, name)
            if v is not None:
                v = v.detach().cpu()
                arrays[name] = (v.float() if v.dtype == torch.bfloat16 else v).numpy()
        meta = {name: getattr(self, name) for name in _SCALARS}
        meta.update(history=self.history, config=self.config, dtype=str(self.generators.dtype).removeprefix("torch."))
        arrays["meta"] = np.array(json.dumps(meta, default=str))
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as fh:
            np.savez(fh, **arrays)
        return path

    @classmethod
    def load(cls, path: str | Path, *, device=None) -> DiscoveryResult:
        """Read a result :meth:`save` wrote, its tensors on ``device`` (default: the CPU)."""
        with np.load(Path(path), allow_pickle=False) as z:
            if "meta" not in z.files or "generators" not in z.files:
                raise ValueError(f"{path}: not a saved DiscoveryResult (no 'meta' and 'generators' arrays)")
            meta = json.loads(str(z["meta"]))
            dtype = getattr(torch, meta.pop("dtype", "float32"))
            tensors = {name: torch.from_numpy(z[name]).to(device) for name in _TENSORS if name in z.files}
        tensors = {k: v.to(dtype) if v.is_floating_point() else v for k, v in tensors.items()}
        return cls(**tensors, **meta)


# ------------------------------------------------------------------------------ call conventions
def coerce_options(options, cls, where: str):
    """``options=`` as the fit's dataclass: an instance, a dict of its fields, or None (defaults)."""
    if options is None:
        return cls()
    if isinstance(options, cls):
        return options
    if isinstance(options, dict):
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(options) - names)
        if unknown:
            raise TypeError(f"{where}: unknown option(s) {unknown}; {cls.__name__} has {sorted(names)}")
        return cls(**options)
    raise TypeError(f"{where}: options must be a {cls.__name__} or a dict, got {type(options).__name__}")


def check_count(n_generators, where: str, extra: tuple = ()) -> None:
    """``n_generators``: a positive int, ``"auto"``, or one of ``extra``."""
    if isinstance(n_generators, str) or n_generators is None:
        if n_generators in ("auto", *extra):
            return
    elif isinstance(n_generators, int) and not isinstance(n_generators, bool) and n_generators >= 1:
        return
    allowed = ["a positive int", "'auto'", *(repr(e) for e in extra)]
    raise ValueError(f"{where}: n_generators must be {', '.join(allowed[:-1])} or {allowed[-1]}, got {n_generators!r}")


def legacy_keywords(where: str, old: dict, options, cls, *, space_keys: tuple = ()) -> tuple:
    """Sort the keywords of the calls before ``options=``: ``(options, old space keywords)``.

    The old spellings of the number of generators raise ``TypeError`` naming
    ``n_generators``; a method's option passed flat (``epochs=5``) still works and warns
    (``DeprecationWarning``) with the new call; the old search-space keywords are returned
    for the fit to turn into ``space=``.
    """
    for name in OLD_COUNT_NAMES:
        if name in old:
            raise TypeError(f"{where}: {name}= is now n_generators=; call {where}(..., n_generators={old[name]!r})")
    names = {f.name for f in dataclasses.fields(cls)}
    flat = {k: v for k, v in old.items() if k in names}
    spaces = {k: v for k, v in old.items() if k in space_keys}
    unknown = sorted(set(old) - set(flat) - set(spaces))
    if unknown:
        raise TypeError(f"{where}() got an unexpected keyword argument {unknown[0]!r}")
    if flat:
        shown = ", ".join(f"{k}={v!r}" for k, v in flat.items())
        warnings.warn(
            f"{where}: {', '.join(flat)} {'is' if len(flat) == 1 else 'are'} now options; "
            f"call {where}(..., options={cls.__name__}({shown}))",
            DeprecationWarning, stacklevel=3,
        )  # fmt: skip
        options = coerce_options(options, cls, where)
        options = dataclasses.replace(options, **flat)
    return coerce_options(options, cls, where), spaces


def legacy_positional(where: str, args: tuple, names: tuple[str, ...], given: dict) -> dict:
    """Values passed by position after the data, under their keyword ``names``, with a ``DeprecationWarning``."""
    if len(args) > len(names):
        raise TypeError(
            f"{where}: takes at most {len(names)} value(s) after the data by position; pass the rest by keyword"
        )
    out = {}
    for name, value in zip(names, args):
        if given.get(name) is not None:
            raise TypeError(f"{where}: {name} given twice, by position and by keyword")
        out[name] = value
    if out:
        shown = ", ".join(f"{k}=..." for k in out)
        warnings.warn(f"{where}: pass {', '.join(out)} by keyword: {where}(x, y, {shown})", DeprecationWarning,
                      stacklevel=3)  # fmt: skip
    return out


def legacy_space(where: str, spaces: dict, space):
    """``space=`` from the old ``structure=``, ``basis=`` and ``grid=`` keywords (with a ``DeprecationWarning``)."""
    from ..algebra._spaces import SearchSpace

    if not spaces:
        return space
    if space is not None:
        raise TypeError(f"{where}: give the search space once, as space=, not with {', '.join(spaces)}=")
    structure, basis, grid = spaces.get("structure"), spaces.get("basis"), spaces.get("grid")
    if basis is not None and structure not in (None, "free", "full"):
        raise ValueError(f"{where}: give either basis= or structure={structure!r}, not both")
    if basis is not None:
        space, new = basis, "space=basis"
    elif structure == "vector-field" or (structure is None and grid is not None):
        if grid is None:
            raise ValueError(
                f"{where}: the vector-field space needs the image grid: space=SearchSpace.vector_field(grid)"
            )
        space, new = SearchSpace.vector_field(grid), "space=SearchSpace.vector_field(grid)"
    else:
        space, new = structure, f"space={structure!r}"
    warnings.warn(f"{where}: {'=, '.join(spaces)}= is now space=; call {where}(..., {new})", DeprecationWarning,
                  stacklevel=3)  # fmt: skip
    return space
