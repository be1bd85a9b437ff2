"""A user's own data for symmetry discovery: ``.npz``, ``.npy`` or ``.csv`` files.

:func:`read_data` loads samples ``x`` and targets ``y`` (and optionally group parameters
``t``) into a :class:`DataFile`, decides what ``y`` is to ``x`` (the *kind*) and checks
everything a fit would otherwise trip over later: shapes, lengths, NaN/inf, dtypes.
:func:`write_pairs` writes an ``.npz`` that :func:`read_data` reads back.

Files
-----
``.npz``
    Arrays named ``x``, ``y`` and optionally ``t``, as written by
    ``numpy.savez(FILE, x=..., y=...)`` or :func:`write_pairs`.
``.npy``
    ``x`` from the file, ``y`` from a second ``.npy`` file given as ``target=``.
``.csv``
    Comma-separated numbers, one sample a row. ``x_columns`` and ``y_columns`` (and
    optionally ``t_columns``) pick the columns, each as an index range ``"0:3"`` (Python
    slice rules, ends may be left out or negative), a list ``"0,1,2"``, header names
    ``"qx,qy"``, any mix of these separated by commas, or a sequence of ints and names.
    A header row is optional; it is detected when the first row is not all numbers. A
    first line written by ``numpy.savetxt(..., header=...)`` (starting with ``#``) counts
    as the header; later lines starting with ``#`` and blank lines are skipped.

Arrays are never unpickled (``allow_pickle=False``): object arrays are refused.

Kinds
-----
``"pairs"``
    ``y = g x`` for some group element ``g`` per sample; ``y`` has ``x``'s shape.
``"invariant"``
    ``y = f(x)`` with ``f(g x) = f(x)``; ``y`` is one number per sample.
``"equivariant"``
    ``y = F(x)`` with ``F(g x) = g F(x)``; ``y`` is moved by the same action as ``x``.

Detection when ``kind`` is not given (``x`` of shape ``(N,)`` is first read as
``(N, 1)``, so ``x`` is ``(N, d)`` or ``(N, C, d)``):

1. ``y`` has ``x``'s shape -> ``"pairs"``. An equivariant map has the same shapes, so
   this is ambiguous; pairs is the default and ``kind="equivariant"`` overrides it. For
   ``x`` of shape ``(N, 1)`` a ``y`` of shape ``(N,)`` counts as the same shape.
2. ``y`` is one number per sample, ``(N,)`` or ``(N, 1)`` -> ``"invariant"``.
3. ``y`` is ``(N, d)`` or ``(N, C', d)`` with ``x``'s last dimension ``d`` but a shape
   other than ``x``'s (a different number of vectors per sample) -> ``"equivariant"``.
4. Anything else (for instance ``y`` of shape ``(N, m)`` with ``m != d`` and ``m > 1``)
   is an error.

A ``kind`` given explicitly is checked against the same shapes: ``"pairs"`` needs ``y``
of ``x``'s shape, ``"invariant"`` one number per sample, ``"equivariant"`` ``x``'s last
dimension. An invariant ``y`` is returned as ``(N,)``.

Dtypes
------
Integer and floating arrays are accepted; booleans, complex numbers, strings and
objects are not. The tensors are float64 when ``x`` or ``y`` is stored as float64 and
float32 otherwise (integers, float16 and CSV text become float32); ``dtype=`` forces
one of the two. ``t`` takes the same dtype.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .._io import write_bytes

KINDS = ("pairs", "invariant", "equivariant")
FORMATS = (".npz", ".npy", ".csv")

_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")


@dataclass
class DataFile:
    """Samples read from a user's file by :func:`read_data`.

    Attributes:
        x: ``(N, d)`` or ``(N, C, d)`` float tensor.
        y: ``x``'s shape for pairs, ``(N,)`` for an invariant map, ``(N, d)`` or
            ``(N, C', d)`` for an equivariant map.
        t: ``(N,)`` or ``(N, k)`` group parameters of each pair, or None.
        kind: ``"pairs"``, ``"invariant"`` or ``"equivariant"``.
        description: one line: what the data is, where it came from, how the kind was
            decided.
        source: JSON-serialisable record of the file(s), the keys or columns used, the
            stored and returned dtypes and the file's sha256, for a run's config.
    """

    x: Tensor
    y: Tensor
    t: Tensor | None
    kind: str
    description: str
    source: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.x)


def read_data(
    path: str | Path,
    *,
    target: str | Path | None = None,
    x_columns: str | Sequence[int | str] | None = None,
    y_columns: str | Sequence[int | str] | None = None,
    t_columns: str | Sequence[int | str] | None = None,
    kind: str | None = None,
    dtype: torch.dtype | None = None,
) -> DataFile:
    """Read ``x``, ``y`` (and ``t``) from ``path``; see the module docstring for formats,
    kind detection and dtypes.

    Args:
        path: an ``.npz`` (arrays ``x``, ``y``, optional ``t``), ``.npy`` (``x``) or
            ``.csv`` file.
        target: the ``.npy`` file holding ``y``; required with an ``.npy`` ``path`` and
            refused otherwise.
        x_columns, y_columns: the CSV columns of ``x`` and ``y``; required for ``.csv``.
        t_columns: optional CSV columns of ``t``.
        kind: ``"pairs"``, ``"invariant"`` or ``"equivariant"``; None detects it.
        dtype: ``torch.float32`` or ``torch.float64``; None keeps float64 input as
            float64 and makes everything else float32.

    Raises:
        FileNotFoundError: ``path`` or ``target`` does not exist.
        ValueError: anything else wrong with the options or the data (one line naming
            the fix).
    """
    if kind is not None and kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)} (--kind); got {kind!r}")
    if dtype is not None and dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be torch.float32 or torch.float64; got {dtype!r}")
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(
            f"cannot read {path}: unsupported file type {repr(path.suffix) if path.suffix else '(no extension)'}; "
            f"supported are {', '.join(FORMATS)} (.npz with arrays x, y[, t]; .npy with --target; "
            ".csv with --x-columns and --y-columns)"
        )
    _check_exists(path)
    if suffix != ".npy" and target is not None:
        raise ValueError(f"target= (--target) names the .npy file of y and goes with an .npy x; {path} is {suffix}")
    if suffix != ".csv":
        given = [
            n
            for n, v in (("x_columns", x_columns), ("y_columns", y_columns), ("t_columns", t_columns))
            if v is not None
        ]
        if given:
            flags = ", ".join(f"{n}= (--{n.replace('_', '-')})" for n in given)
            verb = "is" if len(given) == 1 else "are"
            raise ValueError(
                f"{flags} {verb} for .csv files only; {path} is {suffix}: leave {'it' if verb == 'is' else 'them'} out"
            )

    if suffix == ".npz":
        arrays, names, where, source, lines = _read_npz(path)
    elif suffix == ".npy":
        arrays, names, where, source, lines = _read_npy_pair(path, target)
    else:
        arrays, names, where, source, lines = _read_csv(path, x_columns, y_columns, t_columns)

    if dtype is None and suffix == ".csv":
        dtype = torch.float32  # text has no stored dtype; the library's default
    x, y, t = _validate(arrays, names, dtype, path, lines)
    kind, how = _decide_kind(x, y, kind, names)
    if kind == "invariant":
        y = y.reshape(len(y))
    elif y.ndim == 1:  # x was (N,) or (N, 1): same shape
        y = y.reshape(x.shape)

    source.update(
        kind=kind,
        kind_given=how == "--kind given",
        dtype=str(x.dtype).removeprefix("torch."),
        shapes={k: list(v.shape) for k, v in (("x", x), ("y", y), ("t", t)) if v is not None},
    )
    description = _describe(x, y, t, kind, how, where)
    return DataFile(x=x, y=y, t=t, kind=kind, description=description, source=source)


def write_pairs(path: str | Path, x, y, t=None) -> Path:
    """Save ``x``, ``y`` (and ``t``) as an ``.npz`` that :func:`read_data` reads, atomically.

    Works for any kind (``y`` may be one number per sample). Accepts numpy arrays, torch
    tensors or nested lists; ``path`` must end in ``.npz``. Returns the path.
    """
    path = Path(path)
    if path.suffix.lower() != ".npz":
        raise ValueError(f"write_pairs writes .npz files; name the file with .npz, not {path.name!r}")
    arrays = {"x": _as_numpy(x, "x"), "y": _as_numpy(y, "y")}
    if t is not None:
        arrays["t"] = _as_numpy(t, "t")
    for name, a in arrays.items():
        if a.dtype.kind not in "iuf":
            raise ValueError(f"write_pairs: {name} has dtype {a.dtype}; save numbers, e.g. {name}.astype(float)")
        if a.ndim == 0:
            raise ValueError(f"write_pairs: {name} is a scalar; give one row per sample")
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(
            "write_pairs: x, y and t need one row per sample; lengths are "
            + ", ".join(f"{k} {v}" for k, v in lengths.items())
        )
    buf = io.BytesIO()
    np.savez(buf, allow_pickle=False, **arrays)
    return write_bytes(path, buf.getvalue())


# ---------------------------------------------------------------------------------------
# Readers: each returns ({name: numpy array}, {name: label for messages}, the files for the
# description, the source record, and the file's line number of each sample or None.


def _check_exists(path: Path, what: str = "data file") -> None:
    if not path.exists():
        raise FileNotFoundError(f"no such {what}: {path}")
    if path.is_dir():
        raise ValueError(f"{path} is a folder; give a {what} (.npz, .npy or .csv)")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _head(path: Path, n: int = 8) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(n)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def _pickle_refusal(path: Path, name: str, fix: str) -> str:
    return (
        f"{name} in {path} is an object array, which only unpickling could load and lconv never unpickles "
        f"data files; {fix}"
    )


class _Refusal(Exception):
    """A message for the user, raised inside a block whose other failures mean a damaged file."""


def _read_npz(path: Path):
    fix = f"save numeric arrays with numpy.savez({path.name!r}, x=..., y=...) or lconv.data.write_pairs"
    head = _head(path)
    if not head.startswith(_ZIP_MAGICS):
        what = "an .npy array, not an .npz archive" if head.startswith(_NPY_MAGIC) else "not a zip archive"
        raise ValueError(f"cannot read {path} as .npz: the file is {what}; {fix}")
    arrays = {}
    try:
        with np.load(path, allow_pickle=False) as z:
            held = list(z.files)
            for name in ("x", "y"):
                if name not in held:
                    holds = ", ".join(held) if held else "no arrays"
                    raise _Refusal(
                        f"{path} has no array {name!r}; it holds: {holds}. "
                        f"Save pairs with numpy.savez({path.name!r}, x=..., y=...)"
                    )
            for name in ("x", "y", "t"):
                if name in held:
                    try:
                        arrays[name] = z[name]
                    except ValueError as exc:
                        if "allow_pickle" in str(exc):
                            raise _Refusal(_pickle_refusal(path, name, fix)) from None
                        raise
    except _Refusal as exc:
        raise ValueError(str(exc)) from None
    except Exception as exc:  # BadZipFile, EOFError, zlib.error, ValueError of a damaged archive
        raise ValueError(f"cannot read {path} as .npz: {_one_line(exc)}; {fix}") from None
    keys = sorted(arrays, key="xyt".index)
    source = {
        "format": "npz",
        "path": str(path.resolve()),
        "sha256": _sha256(path),
        "keys": keys,
        "stored_dtypes": {k: str(arrays[k].dtype) for k in keys},
    }
    return arrays, {k: k for k in arrays}, f"{path.name} ({', '.join(keys)})", source, None


def _load_npy(path: Path, name: str) -> np.ndarray:
    fix = f"save a numeric array with numpy.save({path.name!r}, {name})"
    head = _head(path)
    if not head.startswith(_NPY_MAGIC):
        what = "an .npz archive, not an .npy array" if head.startswith(_ZIP_MAGICS) else "not an .npy array"
        raise ValueError(f"cannot read {path} as .npy: the file is {what}; {fix}")
    try:
        a = np.load(path, allow_pickle=False)
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise ValueError(_pickle_refusal(path, name, fix)) from None
        raise ValueError(f"cannot read {path} as .npy: {_one_line(exc)}; {fix}") from None
    except Exception as exc:
        raise ValueError(f"cannot read {path} as .npy: {_one_line(exc)}; {fix}") from None
    if not isinstance(a, np.ndarray):
        raise ValueError(f"cannot read {path} as .npy: it does not hold one array; {fix}")
    return a


def _read_npy_pair(path: Path, target):
    if target is None:
        raise ValueError(
            f"{path} holds x only; give the .npy file of y with target= (--target FILE.npy), "
            "or save both in one .npz with numpy.savez(FILE, x=..., y=...)"
        )
    target = Path(target)
    if target.suffix.lower() != ".npy":
        raise ValueError(f"target= (--target) must be an .npy file holding y; got {target.name!r}")
    _check_exists(target, "target file")
    arrays = {"x": _load_npy(path, "x"), "y": _load_npy(target, "y")}
    names = {"x": f"x ({path.name})", "y": f"y ({target.name})"}
    source = {
        "format": "npy",
        "path": str(path.resolve()),
        "target": str(target.resolve()),
        "sha256": _sha256(path),
        "target_sha256": _sha256(target),
        "stored_dtypes": {k: str(v.dtype) for k, v in arrays.items()},
    }
    return arrays, names, f"{path.name} (x), {target.name} (y)", source, None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _read_csv(path: Path, x_columns, y_columns, t_columns):
    missing = [n for n, v in (("x_columns", x_columns), ("y_columns", y_columns)) if v is None or v == ""]
    if missing:
        flags = " and ".join(f"{n}= (--{n.replace('_', '-')})" for n in missing)
        raise ValueError(f"{path} is a table: give {flags}, as a range '0:3', indices '0,1,2' or header names 'qx,qy'")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"cannot read {path} as .csv: not UTF-8 text ({_one_line(exc)}); save it as text") from None

    rows: list[tuple[int, list[str]]] = []  # (line number, cells)
    header: list[str] | None = None
    try:
        for lineno, cells in _csv_lines(text):
            rows.append((lineno, cells))
    except csv.Error as exc:
        raise ValueError(f"cannot read {path} as .csv: {_one_line(exc)}") from None
    comment = [c[0].lstrip().startswith("#") for _, c in rows]
    if rows and comment[0]:
        # numpy.savetxt(..., header="qx,qy") writes the header as "# qx,qy"
        first = [c.strip() for c in rows[0][1]]
        first[0] = first[0].lstrip("#").strip()
        data = [c for (_, c), com in zip(rows, comment) if not com]
        if data and len(first) == len(data[0]) and not all(_is_number(c) for c in first):
            header = first
    rows = [row for row, com in zip(rows, comment) if not com]
    if header is None and rows and not all(_is_number(c) for c in rows[0][1]):
        header = [c.strip() for c in rows[0][1]]
        rows = rows[1:]
    if not rows:
        raise ValueError(f"{path} has no data rows; write one sample a row, numbers separated by commas")

    width = len(header) if header is not None else len(rows[0][1])
    if width == 1:
        cell = rows[0][1][0].strip()
        for sep, name in ((";", "semicolons"), ("\t", "tabs"), (" ", "spaces")):
            if sep in cell:
                raise ValueError(
                    f"{path} looks separated by {name}, not commas; the delimiter must be a comma: "
                    "save it with numpy.savetxt(FILE, table, delimiter=',')"
                )
    for lineno, cells in rows:
        if len(cells) != width:
            raise ValueError(
                f"{path}, line {lineno}: {len(cells)} columns where the "
                f"{'header' if header is not None else 'first row'} has {width}; give every row the same columns"
            )

    chosen = {}
    for name, spec in (("x", x_columns), ("y", y_columns), ("t", t_columns)):
        if spec is None or spec == "":
            continue
        chosen[name] = _columns(spec, header, width, path, f"{name}_columns")
    seen: dict[int, str] = {}
    for name, cols in chosen.items():
        for c in cols:
            if c in seen:
                raise ValueError(
                    f"{path}: column {_col_label(c, header)} is in both {seen[c]}_columns and {name}_columns; "
                    "give each column to one of them"
                )
            seen[c] = name

    used = sorted(seen)
    table = np.empty((len(rows), width), dtype=np.float64)
    for i, (lineno, cells) in enumerate(rows):
        for c in used:
            cell = cells[c]
            try:
                table[i, c] = float(cell)
            except ValueError:
                hint = "; the delimiter must be a comma" if any(s in cell for s in (";", "\t")) else ""
                raise ValueError(
                    f"{path}, line {lineno}, column {_col_label(c, header)}: {cell.strip()!r} is not a number"
                    f"{hint}; fix or drop that row"
                ) from None

    arrays = {name: table[:, cols] for name, cols in chosen.items()}
    specs = {k: _spec_text(v) for k, v in (("x", x_columns), ("y", y_columns), ("t", t_columns)) if k in chosen}
    names = {k: f"{k} (columns {v})" for k, v in specs.items()}
    where = f"{path.name} (" + "; ".join(f"{k}: {v}" for k, v in specs.items()) + ")"
    source = {
        "format": "csv",
        "path": str(path.resolve()),
        "sha256": _sha256(path),
        "header": header is not None,
        "columns": dict(chosen),
        "stored_dtypes": {k: "text" for k in chosen},
    }
    if header is not None:
        source["column_names"] = {k: [header[c] for c in v] for k, v in chosen.items()}
    return arrays, names, where, source, [n for n, _ in rows]


def _csv_lines(text: str):
    """Yield (line number, cells) for each non-blank line of CSV text."""
    lines = text.splitlines()
    reader = csv.reader(lines)
    for cells in reader:
        lineno = reader.line_num
        if not cells or all(not c.strip() for c in cells):
            continue
        yield lineno, cells


def _col_label(c: int, header) -> str:
    return f"{c} ({header[c]!r})" if header is not None else str(c)


def _spec_text(spec) -> str:
    if isinstance(spec, str):
        return spec.strip()
    if isinstance(spec, int):
        return str(spec)
    return ",".join(str(s) for s in spec)


def _columns(spec, header, width: int, path: Path, option: str) -> list[int]:
    """Resolve a column spec (ranges, indices, header names) to column indices."""
    flag = f"{option}= (--{option.replace('_', '-')})"
    if isinstance(spec, int) and not isinstance(spec, bool):
        items: list = [spec]
    elif isinstance(spec, str):
        items = [s.strip() for s in spec.split(",")]
    elif isinstance(spec, Sequence):
        items = list(spec)
    else:
        raise TypeError(f"{flag} must be a string like '0:3' or a list of indices or names; got {type(spec).__name__}")
    names = f"; the header names are {', '.join(header)}" if header is not None else "; the file has no header row"
    out: list[int] = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (int, str)):
            raise TypeError(f"{flag}: {item!r} is neither a column index nor a name")
        if isinstance(item, str) and item == "":
            raise ValueError(f"{flag}: empty entry in {_spec_text(spec)!r}; separate indices or names by single commas")
        if isinstance(item, str) and ":" in item:
            parts = item.split(":")
            try:
                if len(parts) != 2:
                    raise ValueError
                bounds = [int(p) if p.strip() else None for p in parts]
            except ValueError:
                raise ValueError(f"{flag}: {item!r} is not a range of indices like '0:3'") from None
            picked = list(range(width))[slice(*bounds)]
            if not picked:
                raise ValueError(f"{flag}: range {item!r} selects no columns of {width} in {path}")
            out.extend(picked)
            continue
        index = item if isinstance(item, int) else _int_or_none(item)
        if index is not None:
            if not -width <= index < width:
                raise ValueError(
                    f"{flag}: column {index} is out of range; {path} has {width} columns (0 to {width - 1})"
                )
            out.append(index % width)
        elif header is None or item not in header:
            raise ValueError(f"{flag}: no column named {item!r} in {path}{names}")
        else:
            out.append(header.index(item))
    if len(set(out)) != len(out):
        raise ValueError(f"{flag}: {_spec_text(spec)!r} names a column twice; list each column once")
    return out


def _int_or_none(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


# ---------------------------------------------------------------------------------------
# Checks shared by every format.


def _validate(arrays: dict, names: dict, dtype, path: Path, lines: list[int] | None):
    for key, a in arrays.items():
        if a.dtype.kind not in "iuf":
            what = {"b": "booleans", "c": "complex numbers", "U": "text", "S": "bytes", "O": "objects"}.get(
                a.dtype.kind, f"dtype {a.dtype}"
            )
            raise ValueError(
                f"{names[key]} holds {what} (dtype {a.dtype}); save real numbers, e.g. {key}.astype(float)"
            )

    x, y, t = arrays["x"], arrays["y"], arrays.get("t")
    if x.ndim == 0 or y.ndim == 0:
        which = names["x"] if x.ndim == 0 else names["y"]
        raise ValueError(f"{which} is a single number; save one row per sample")
    if x.ndim == 1:
        x = x.reshape(-1, 1)
    if x.ndim > 3:
        raise ValueError(
            f"{names['x']} has shape {tuple(x.shape)}; expected (N, d) or (N, C, d): "
            "flatten the extra axes, e.g. x.reshape(len(x), C, -1)"
        )
    if y.ndim > 3:
        raise ValueError(
            f"{names['y']} has shape {tuple(y.shape)}; expected (N,), (N, d) or (N, C, d): flatten the extra axes"
        )
    if x.shape[-1] == 0 or (x.ndim == 3 and x.shape[1] == 0):
        raise ValueError(f"{names['x']} has shape {tuple(x.shape)} with no features; give at least one per sample")
    if t is not None and t.ndim not in (1, 2):
        raise ValueError(
            f"{names['t']} has shape {tuple(t.shape)}; expected (N,) or (N, k): one parameter vector per sample"
        )
    lengths = [(k, len(a)) for k, a in (("x", x), ("y", y), ("t", t)) if a is not None]
    if len({n for _, n in lengths}) > 1:
        raise ValueError(
            f"{'x, y and t' if t is not None else 'x and y'} must match row for row; lengths are "
            + ", ".join(f"{names[k]} {n}" for k, n in lengths)
            + ": keep the same samples in each"
        )
    n = len(x)
    if n < 2:
        raise ValueError(f"{path} holds {n} sample{'s' if n != 1 else ''}; discovery needs at least 2")

    _check_finite((x, y, t), names, path, lines, "")
    if dtype is None:
        dtype = torch.float64 if np.float64 in (x.dtype.type, y.dtype.type) else torch.float32
    np_dtype = np.float64 if dtype == torch.float64 else np.float32
    with np.errstate(over="ignore", invalid="ignore"):
        out = [None if a is None else np.array(a, dtype=np_dtype, copy=True, order="C") for a in (x, y, t)]
    _check_finite(out, names, path, lines, " after casting to float32, beyond its range")
    return tuple(None if a is None else torch.from_numpy(a) for a in out)


def _check_finite(arrays, names, path: Path, lines: list[int] | None, cast: str) -> None:
    bad_rows = np.zeros(len(arrays[0]), dtype=bool)
    counts = {}
    for key, a in zip("xyt", arrays):
        if a is None:
            continue
        bad = ~np.isfinite(a).reshape(len(a), -1)
        if bad.any():
            counts[key] = int(bad.sum())
            bad_rows |= bad.any(axis=1)
    if counts:
        rows = np.flatnonzero(bad_rows)
        where = ", ".join(f"{c} in {names[k]}" for k, c in counts.items())
        first = int(rows[0])
        at = f"row {first}" + (f" (line {lines[first]})" if lines is not None else "")
        fix = (
            "pass dtype=torch.float64 or rescale the data"
            if cast
            else "drop those rows before saving, e.g. keep = np.isfinite(x).all(axis=1) & np.isfinite(y).all(axis=1)"
        )
        raise ValueError(
            f"{path}: {len(rows)} {'samples hold' if len(rows) != 1 else 'sample holds'} NaN or inf{cast} "
            f"({where}), the first at {at}; {fix}"
        )


def _decide_kind(x: Tensor, y: Tensor, kind: str | None, names: dict) -> tuple[str, str]:
    n = len(x)
    same = tuple(y.shape) == tuple(x.shape) or (y.ndim == 1 and tuple(x.shape) == (n, 1))
    scalar = y.ndim == 1 or tuple(y.shape) == (n, 1)
    vectors = y.ndim in (2, 3) and y.shape[-1] == x.shape[-1]
    xs, ys = _shape_text(x), _shape_text(y)
    if kind is None:
        if same:
            return "pairs", "detected: x and y have the same shape"
        if scalar:
            return "invariant", "detected: y is one number per sample"
        if vectors:
            return "equivariant", "detected: y has x's last dimension but a different shape"
        raise ValueError(
            f"y has shape {ys} and x {xs}: accepted are y of x's shape (pairs, y = g x), "
            f"y of shape (N,) or (N, 1) (an invariant map), or y of shape (N, {x.shape[-1]}) or "
            f"(N, C', {x.shape[-1]}) (an equivariant map); --kind cannot make other shapes fit"
        )
    how = "--kind given"
    if kind == "pairs" and not same:
        raise ValueError(f"kind 'pairs' needs y of x's shape {xs}; y is {ys} (--kind invariant or equivariant?)")
    if kind == "invariant" and not scalar:
        raise ValueError(f"kind 'invariant' needs y of one number per sample, (N,) or (N, 1); y is {ys}")
    if kind == "equivariant" and not (same or vectors):
        raise ValueError(
            f"kind 'equivariant' needs y with x's last dimension {x.shape[-1]}, (N, {x.shape[-1]}) or "
            f"(N, C', {x.shape[-1]}); y is {ys}"
        )
    return kind, how


def _shape_text(a) -> str:
    return "(" + ", ".join(["N", *map(str, a.shape[1:])]) + (",)" if a.ndim == 1 else ")")


def _space(shape) -> str:
    if len(shape) == 1:
        return "R" if shape[0] == 1 else f"R^{shape[0]}"
    return f"(R^{shape[1]})^{shape[0]}"


def _describe(x, y, t, kind, how, where) -> str:
    n = len(x)
    if kind == "pairs":
        what = f"vectors in R^{x.shape[-1]}" if x.ndim == 2 else f"stacks of {x.shape[1]} vectors in R^{x.shape[2]}"
        head = f"{n} pairs of {what}"
    else:
        target = "R" if kind == "invariant" else _space(tuple(y.shape[1:]))
        head = f"{n} samples of an {kind} map {_space(tuple(x.shape[1:]))} -> {target}"
    with_t = f" with parameters t of shape {_shape_text(t)}" if t is not None else ""
    return f"{head}{with_t} from {where}; {how}"


def _as_numpy(a, name: str) -> np.ndarray:
    if isinstance(a, Tensor):
        return a.detach().cpu().numpy()
    out = np.asarray(a)
    if out.dtype.kind == "O":
        raise ValueError(f"write_pairs: {name} is an object array; give numbers of one shape per sample")
    return out
