"""Image datasets (MNIST, Fashion-MNIST, CIFAR-10, CIFAR-100) and their rotated and scrambled variants.

Files live in one data folder, one sub-folder per dataset, exactly as the publishers
serve them:

* ``mnist/`` and ``fashion-mnist/``: ``train-images-idx3-ubyte.gz``,
  ``train-labels-idx1-ubyte.gz``, ``t10k-images-idx3-ubyte.gz``,
  ``t10k-labels-idx1-ubyte.gz`` (IDX format, gzip).
* ``cifar10/``: ``cifar-10-binary.tar.gz`` or the folder ``cifar-10-batches-bin/`` it
  unpacks to (``data_batch_1.bin`` .. ``data_batch_5.bin``, ``test_batch.bin``).
* ``cifar100/``: ``cifar-100-binary.tar.gz`` or the folder ``cifar-100-binary/``
  (``train.bin``, ``test.bin``).

Only the *binary* CIFAR versions are read; the "python" versions are pickles, which can
run arbitrary code when loaded, and are refused.

The data folder is the ``data_dir`` argument, else the environment variable
``LCONV_DATA``. Nothing is downloaded unless ``download=True``; then missing files are
fetched from their publishers, checked against the checksums in :data:`DATASETS` and
written atomically. Files read with ``verify=True`` (the default) are checked against
the same checksums (CIFAR folders: against the official record counts); each file is
hashed once per process.

Variants (:data:`VARIANTS`):

* ``"default"``: the images as they are.
* ``"rotated"``: image ``i`` of a split turned by its own angle, uniform in
  ``[-90, 90)`` degrees, a function of ``(seed, split, i)`` only (:func:`rotation_angles`);
  bilinear, zero padding, about the image centre. A positive angle turns the image
  **counter-clockwise as displayed** (row 0 at the top): 90 degrees is
  ``torch.rot90(image, 1, dims=(-2, -1))``. On :class:`~lconv.grid.Grid` coordinates
  (``y`` pointing down) this moves the content by ``R(-angle)``, i.e.
  ``exp(-angle L)`` for ``L = generators.rotation(grid)``.
* ``"rotated-scrambled"``: the rotated images with their pixels permuted by one fixed
  permutation that depends only on the seed (:func:`pixel_permutation`), the same for
  train and test and for every channel.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import struct
import tarfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .. import _optional
from .._io import atomic_writer
from ..grid import Grid
from .synthetic import grid_sample_transform

#: Environment variable naming the data folder when no ``data_dir`` is given.
ENV_VAR = "LCONV_DATA"
SPLITS = ("train", "test")
VARIANTS = ("default", "rotated", "rotated-scrambled")

_FIX_CORRUPT = "delete it and run with --download (download=True), or copy the publisher's file there"


@dataclass(frozen=True)
class RemoteFile:
    """A file as its publisher serves it.

    Attributes:
        name: file name inside the dataset's folder.
        urls: where to fetch it, tried in order.
        sha256, md5: checksums of the file (sha256 is used where both are known).
        size: size in bytes.
    """

    name: str
    urls: tuple[str, ...]
    sha256: str | None = None
    md5: str | None = None
    size: int | None = None


@dataclass(frozen=True)
class DatasetInfo:
    """What a dataset holds and where its files come from.

    Attributes:
        name: the name loaders take (``"mnist"``, ...); also the sub-folder of the data folder.
        channels, image_shape: images are ``(channels, *image_shape)``, ``image_shape = (H, W)``.
        num_classes: labels are ``0 .. num_classes - 1``.
        num_train, num_test: images per split.
        files: the publisher's files.
        homepage: the publisher's page.
        members: for CIFAR, the files of each split inside the archive (``folder/name``).
    """

    name: str
    channels: int
    image_shape: tuple[int, int]
    num_classes: int
    num_train: int
    num_test: int
    files: tuple[RemoteFile, ...]
    homepage: str
    members: dict[str, tuple[str, ...]] = field(default_factory=dict, hash=False)

    @property
    def num_pixels(self) -> int:
        return self.image_shape[0] * self.image_shape[1]


_IDX_NAMES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
_MNIST_URLS = ("http://yann.lecun.com/exdb/mnist/", "https://ossci-datasets.s3.amazonaws.com/mnist/")
_FASHION_URLS = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)
_CIFAR_URL = "https://www.cs.toronto.edu/~kriz/"


def _idx_files(bases: tuple[str, ...], sums: dict[str, tuple[str, str, int]]) -> tuple[RemoteFile, ...]:
    names = _IDX_NAMES["train"] + _IDX_NAMES["test"]
    return tuple(RemoteFile(n, tuple(b + n for b in bases), *sums[n]) for n in names)


#: Known datasets by name.
DATASETS: dict[str, DatasetInfo] = {
    "mnist": DatasetInfo(
        "mnist", 1, (28, 28), 10, 60000, 10000,
        _idx_files(_MNIST_URLS, {
            "train-images-idx3-ubyte.gz": ("440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
                                           "f68b3c2dcbeaaa9fbdd348bbdeb94873", 9912422),
            "train-labels-idx1-ubyte.gz": ("3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
                                           "d53e105ee54ea40749a09fcbcd1e9432", 28881),
            "t10k-images-idx3-ubyte.gz": ("8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
                                          "9fb629c4189551a2d022fa330f9573f3", 1648877),
            "t10k-labels-idx1-ubyte.gz": ("f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
                                          "ec29112dd5afa0611ce80d1b7f02629c", 4542),
        }),
        "http://yann.lecun.com/exdb/mnist/",
    ),
    "fashion-mnist": DatasetInfo(
        "fashion-mnist", 1, (28, 28), 10, 60000, 10000,
        _idx_files(_FASHION_URLS, {
            "train-images-idx3-ubyte.gz": ("3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
                                           "8d4fb7e6c68d591d4c3dfef9ec88bf0d", 26421880),
            "train-labels-idx1-ubyte.gz": ("a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
                                           "25c81989df183df01b3e8a0aad5dffbe", 29515),
            "t10k-images-idx3-ubyte.gz": ("346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
                                          "bef4ecab320f06d8554ea6380940ec79", 4422102),
            "t10k-labels-idx1-ubyte.gz": ("67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
                                          "bb300cfdad3c16e7a12a480ee83cd310", 5148),
        }),
        "https://github.com/zalandoresearch/fashion-mnist",
    ),
    "cifar10": DatasetInfo(
        "cifar10", 3, (32, 32), 10, 50000, 10000,
        (RemoteFile("cifar-10-binary.tar.gz", (_CIFAR_URL + "cifar-10-binary.tar.gz",),
                    md5="c32a1d4ab5d03f1284b67883e8d87530", size=170052171),),
        "https://www.cs.toronto.edu/~kriz/cifar.html",
        {"train": tuple(f"cifar-10-batches-bin/data_batch_{i}.bin" for i in range(1, 6)),
         "test": ("cifar-10-batches-bin/test_batch.bin",)},
    ),
    "cifar100": DatasetInfo(
        "cifar100", 3, (32, 32), 100, 50000, 10000,
        (RemoteFile("cifar-100-binary.tar.gz", (_CIFAR_URL + "cifar-100-binary.tar.gz",),
                    md5="03b5dce01913d631647c71ecec9e9cb8", size=168513733),),
        "https://www.cs.toronto.edu/~kriz/cifar.html",
        {"train": ("cifar-100-binary/train.bin",), "test": ("cifar-100-binary/test.bin",)},
    ),
}  # fmt: skip

# The python (pickle) versions of CIFAR, recognised only to refuse them clearly.
_PICKLED = {
    "cifar10": ("cifar-10-python.tar.gz", "cifar-10-batches-py"),
    "cifar100": ("cifar-100-python.tar.gz", "cifar-100-python"),
}


# ---------------------------------------------------------------------------- names and folders
def _info(name: str) -> DatasetInfo:
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    return DATASETS[name]


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """The data folder: ``data_dir`` if given, else ``$LCONV_DATA``.

    Raises:
        ValueError: neither is set.
    """
    if data_dir is not None and str(data_dir) != "":
        return Path(data_dir).expanduser()
    env = os.environ.get(ENV_VAR, "")
    if env:
        return Path(env).expanduser()
    raise ValueError(
        f"no data folder: pass data_dir (--data-dir) or set the environment variable {ENV_VAR} to a folder "
        f"that holds {', '.join(n + '/' for n in DATASETS)} (or will, with --download)"
    )


def _missing(path: Path, info: DatasetInfo, also: str = "") -> FileNotFoundError:
    return FileNotFoundError(
        f"{info.name}: {path} not found{also}; copy the publisher's file there ({info.homepage}), point --data-dir "
        f"or {ENV_VAR} at the folder that holds {info.name}/, or run with --download (download=True)"
    )


# ---------------------------------------------------------------------------- checksums
_DIGESTS: dict[tuple[str, int, int, str], str] = {}


def _digest(path: Path, algorithm: str) -> str:
    """Hex digest of a file, computed once per (path, mtime, size) in this process."""
    st = path.stat()
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size, algorithm)
    if key not in _DIGESTS:
        h = hashlib.new(algorithm)
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
        _DIGESTS[key] = h.hexdigest()
    return _DIGESTS[key]


def _expected(remote: RemoteFile) -> tuple[str, str] | None:
    if remote.sha256:
        return "sha256", remote.sha256.lower()
    if remote.md5:
        return "md5", remote.md5.lower()
    return None


def _verify(path: Path, remote: RemoteFile) -> None:
    expected = _expected(remote)
    if expected is None:
        return
    algorithm, want = expected
    got = _digest(path, algorithm)
    if got != want:
        raise ValueError(
            f"{path}: {algorithm} checksum {got} does not match the publisher's {want} (corrupt, truncated or "
            f"not the official file); {_FIX_CORRUPT}, or pass verify=False to read it anyway"
        )


# ---------------------------------------------------------------------------- downloads
def download_file(
    urls: str | tuple[str, ...] | list[str],
    path: str | os.PathLike,
    *,
    sha256: str | None = None,
    md5: str | None = None,
    progress: bool = True,
    timeout: float = 60.0,
) -> Path:
    """Fetch a file to ``path``, trying ``urls`` in order, and check its checksum.

    The file is streamed to a temporary file beside ``path`` and renamed only once it is
    complete and its checksum (sha256 if given, else md5) matches; a failed or
    mismatched download leaves nothing behind. ``file://`` URLs work too. With ``progress``
    a bar is drawn on stderr when rich is installed (``pip install "lconv[cli]"``).

    Raises:
        ValueError: no URL gave the right file and at least one gave a wrong checksum.
        ConnectionError: no URL could be read.
    """
    urls = (urls,) if isinstance(urls, str) else tuple(urls)
    if not urls:
        raise ValueError("download_file: no URL given")
    path = Path(path)
    want = ("sha256", sha256.lower()) if sha256 else ("md5", md5.lower()) if md5 else None
    failures = []
    mismatch = None
    for url in urls:
        try:
            _fetch(url, path, want, progress, timeout)
            return path
        except _ChecksumMismatch as exc:
            mismatch = exc
            failures.append(f"{url} ({exc})")
        except (urllib.error.URLError, OSError) as exc:
            failures.append(f"{url} ({getattr(exc, 'reason', None) or exc})")
    if mismatch is not None:
        raise ValueError(
            f"download of {path.name} failed: {'; '.join(failures)}; nothing was written to {path}, "
            "copy the publisher's file there yourself"
        )
    raise ConnectionError(
        f"could not download {path.name}: {'; '.join(failures)}; copy the publisher's file to {path} yourself"
    )


class _ChecksumMismatch(Exception):
    pass


def _fetch(url: str, path: Path, want: tuple[str, str] | None, progress: bool, timeout: float) -> None:
    h = hashlib.new(want[0]) if want else None
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        total = resp.headers.get("Content-Length") if getattr(resp, "headers", None) else None
        total = int(total) if total and str(total).isdigit() else None
        with atomic_writer(path) as out, _progress_bar(path.name, total, progress) as advance:
            while chunk := resp.read(1 << 20):
                out.write(chunk)
                if h is not None:
                    h.update(chunk)
                advance(len(chunk))
            if h is not None and h.hexdigest() != want[1]:
                raise _ChecksumMismatch(f"{want[0]} {h.hexdigest()} instead of {want[1]}")


@contextmanager
def _progress_bar(name: str, total: int | None, enabled: bool) -> Iterator[Callable[[int], None]]:
    """A rich progress bar on stderr (or nothing, also when rich is not installed); yields ``advance(nbytes)``."""
    rich = _optional.rich_progress() if enabled else None
    if rich is None:
        yield lambda n: None
        return
    console, p = rich
    columns = (p.TextColumn("{task.description}"), p.BarColumn(), p.DownloadColumn(), p.TransferSpeedColumn(),
               p.TimeRemainingColumn())  # fmt: skip
    with p.Progress(*columns, console=console.Console(stderr=True)) as bar:
        task = bar.add_task(name, total=total)
        yield lambda n: bar.advance(task, n)


def download_dataset(name: str, *, data_dir: str | os.PathLike | None = None, progress: bool = True) -> list[Path]:
    """Download the publisher's files of dataset ``name`` that are not in the data folder yet.

    Files already there are left alone (they are verified when read). Returns the paths
    of all the dataset's files.
    """
    info = _info(name)
    folder = resolve_data_dir(data_dir) / info.name
    paths = []
    for remote in info.files:
        path = folder / remote.name
        if not path.is_file():
            download_file(remote.urls, path, sha256=remote.sha256, md5=remote.md5, progress=progress)
        paths.append(path)
    return paths


def _ensure(path: Path, remote: RemoteFile, info: DatasetInfo, download: bool) -> None:
    if path.is_file():
        return
    if not download:
        raise _missing(path, info)
    download_file(remote.urls, path, sha256=remote.sha256, md5=remote.md5)


# ---------------------------------------------------------------------------- IDX (MNIST, Fashion-MNIST)
def _gunzip(path: Path) -> bytes:
    try:
        with gzip.open(path, "rb") as fh:
            return fh.read()
    except (OSError, EOFError, zlib.error) as exc:
        raise ValueError(f"{path}: not a complete gzip file ({exc}); {_FIX_CORRUPT}") from None


def _read_idx(path: Path, shape: tuple[int, ...]) -> np.ndarray:
    """An IDX file of unsigned bytes whose dimensions after the first are ``shape[1:]``."""
    raw = _gunzip(path)
    ndim = len(shape)
    header = 4 + 4 * ndim
    if len(raw) < header or raw[:3] != b"\x00\x00\x08" or raw[3] != ndim:
        magic = raw[:4].hex() if len(raw) >= 4 else "missing"
        raise ValueError(
            f"{path}: bad IDX magic number {magic} (expected 000008{ndim:02x}, {ndim}-D unsigned bytes); {_FIX_CORRUPT}"
        )
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    if tuple(dims[1:]) != tuple(shape[1:]):
        raise ValueError(
            f"{path}: IDX dimensions {dims}, expected (N, {', '.join(map(str, shape[1:]))}); {_FIX_CORRUPT}"
        )
    size = math.prod(dims)
    if len(raw) != header + size:
        what = "truncated" if len(raw) < header + size else "too long"
        raise ValueError(
            f"{path}: {what}: {len(raw) - header} data bytes where the header announces {size}; {_FIX_CORRUPT}"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims).copy()


def _load_idx(info: DatasetInfo, root: Path, split: str, download: bool, verify: bool) -> tuple[np.ndarray, np.ndarray]:
    remotes = {r.name: r for r in info.files}
    paths = []
    for fname in _IDX_NAMES[split]:
        path = root / info.name / fname
        _ensure(path, remotes[fname], info, download)
        if verify:
            _verify(path, remotes[fname])
        paths.append(path)
    images = _read_idx(paths[0], (0, *info.image_shape))
    labels = _read_idx(paths[1], (0,))
    if len(images) != len(labels):
        raise ValueError(f"{paths[0]} holds {len(images)} images but {paths[1]} {len(labels)} labels; {_FIX_CORRUPT}")
    _check_labels(labels, info, paths[1])
    return images[:, None], labels


def _check_labels(labels: np.ndarray, info: DatasetInfo, where) -> None:
    if len(labels) and int(labels.max()) >= info.num_classes:
        raise ValueError(
            f"{where}: label {int(labels.max())} out of range for {info.name} (0..{info.num_classes - 1}); "
            f"not a {info.name} file? {_FIX_CORRUPT}"
        )


# ---------------------------------------------------------------------------- CIFAR binary
def _cifar_layout(info: DatasetInfo) -> tuple[int, int]:
    """(label bytes per record, record length)."""
    label_bytes = 1 if info.name == "cifar10" else 2
    return label_bytes, label_bytes + info.channels * info.num_pixels


def _official_records(info: DatasetInfo, split: str) -> int:
    total = info.num_train if split == "train" else info.num_test
    return total // len(info.members[split])


def _decode_cifar(raw: bytes, where: str, info: DatasetInfo, split: str, verify: bool) -> tuple[np.ndarray, np.ndarray]:
    label_bytes, record = _cifar_layout(info)
    if len(raw) == 0 or len(raw) % record:
        raise ValueError(
            f"{where}: {len(raw)} bytes is not a whole number of {record}-byte {info.name} records "
            f"(truncated, or not the binary version); {_FIX_CORRUPT}"
        )
    n = len(raw) // record
    if verify and n != _official_records(info, split):
        raise ValueError(
            f"{where}: {n} records, the publisher's file has {_official_records(info, split)}; {_FIX_CORRUPT}, "
            "or pass verify=False to read it anyway"
        )
    arr = np.frombuffer(raw, dtype=np.uint8).reshape(n, record)
    if label_bytes == 2 and len(arr) and int(arr[:, 0].max()) >= 20:
        raise ValueError(f"{where}: coarse label {int(arr[:, 0].max())} out of range (0..19); {_FIX_CORRUPT}")
    labels = arr[:, label_bytes - 1].copy()  # CIFAR-100: the fine label, after the coarse one
    _check_labels(labels, info, where)
    images = arr[:, label_bytes:].reshape(n, info.channels, *info.image_shape).copy()  # R, G, B planes, row-major
    return images, labels


def _max_member_size(info: DatasetInfo, split: str) -> int:
    return _official_records(info, split) * _cifar_layout(info)[1]


def _read_tar_members(archive: Path, wanted: tuple[str, ...], info: DatasetInfo, split: str) -> dict[str, bytes]:
    """Regular-file members named exactly ``wanted``, read into memory; nothing is extracted."""
    found: dict[str, bytes] = {}
    limit = _max_member_size(info, split)
    try:
        with tarfile.open(archive, "r|gz") as tar:
            for member in tar:
                name = member.name[2:] if member.name.startswith("./") else member.name
                if name not in wanted or name in found or not member.isfile():
                    continue
                if member.size > limit:
                    raise ValueError(
                        f"{archive}: member {name} has {member.size} bytes, more than the publisher's {limit}; "
                        f"{_FIX_CORRUPT}"
                    )
                fh = tar.extractfile(member)
                found[name] = fh.read() if fh is not None else b""
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise ValueError(f"{archive}: not a complete tar.gz archive ({exc}); {_FIX_CORRUPT}") from None
    lacking = [w for w in wanted if w not in found]
    if lacking:
        raise ValueError(
            f"{archive}: no regular file {', '.join(lacking)} inside (not the binary version?); {_FIX_CORRUPT}"
        )
    return found


def _load_cifar(
    info: DatasetInfo, root: Path, split: str, download: bool, verify: bool
) -> tuple[np.ndarray, np.ndarray]:
    folder = root / info.name
    wanted = info.members[split]
    remote = info.files[0]
    archive = folder / remote.name
    extracted = [folder / m for m in wanted]
    if all(p.is_file() for p in extracted):
        chunks = []
        limit = _max_member_size(info, split)
        for p in extracted:
            if p.stat().st_size > limit:
                raise ValueError(f"{p}: {p.stat().st_size} bytes, more than the publisher's {limit}; {_FIX_CORRUPT}")
            chunks.append((str(p), p.read_bytes()))
    else:
        if not archive.is_file():
            tar_py, dir_py = _PICKLED[info.name]
            if not download and ((folder / tar_py).exists() or (folder / dir_py).exists()):
                raise ValueError(
                    f"{info.name}: {folder} holds the python version ({tar_py} / {dir_py}), which is pickled and "
                    f"not supported; put the binary version {remote.name} (or its folder "
                    f"{wanted[0].split('/')[0]}/) there, or run with --download"
                )
            if not download:
                raise _missing(archive, info, f" (nor the unpacked {folder / wanted[0].split('/')[0]}/)")
            download_file(remote.urls, archive, sha256=remote.sha256, md5=remote.md5)
        if verify:
            _verify(archive, remote)
        members = _read_tar_members(archive, wanted, info, split)
        chunks = [(f"{archive}:{m}", members[m]) for m in wanted]
    parts = [_decode_cifar(raw, where, info, split, verify) for where, raw in chunks]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


# ---------------------------------------------------------------------------- public loaders
def load_images(
    name: str,
    split: str = "train",
    *,
    data_dir: str | os.PathLike | None = None,
    download: bool = False,
    verify: bool = True,
) -> tuple[Tensor, Tensor]:
    """The raw images and labels of one split of a dataset.

    Args:
        name: a key of :data:`DATASETS` (``"mnist"``, ``"fashion-mnist"``, ``"cifar10"``, ``"cifar100"``).
        split: ``"train"`` or ``"test"``.
        data_dir: the data folder (holds ``<name>/``); default ``$LCONV_DATA``.
        download: fetch missing files from the publisher (the only way this touches the network).
        verify: check the publisher's checksum of each file (CIFAR folders: the record
            counts). With ``False`` only the format is checked, e.g. for small test files.

    Returns:
        ``(images, labels)``: ``uint8`` of shape ``(N, C, H, W)`` and ``int64`` of shape ``(N,)``.
        CIFAR-100 labels are the fine labels (0..99).

    Raises:
        FileNotFoundError: a file is missing (and ``download`` is False).
        ValueError: unknown name or split, no data folder, or a corrupt file.
    """
    info = _info(name)
    _check_split(split)
    root = resolve_data_dir(data_dir)
    loader = _load_cifar if info.members else _load_idx
    images, labels = loader(info, root, split, download, verify)
    return torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64))


def load_dataset(
    name: str,
    split: str = "train",
    *,
    variant: str = "default",
    seed: int = 0,
    data_dir: str | os.PathLike | None = None,
    download: bool = False,
    verify: bool = True,
) -> tuple[Tensor, Tensor]:
    """Images as float32 in ``[0, 1]``, shape ``(N, C, H, W)``, and int64 labels ``(N,)``.

    ``variant`` is one of :data:`VARIANTS` (see :func:`apply_variant`); ``seed`` fixes the
    rotation angles and the pixel permutation. The other arguments are those of
    :func:`load_images`.
    """
    _check_variant(variant)
    images, labels = load_images(name, split, data_dir=data_dir, download=download, verify=verify)
    return apply_variant(images, variant, split=split, seed=seed), labels


# ---------------------------------------------------------------------------- seeded randomness
_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_STREAMS = {"train": 1, "test": 2, "scramble": 3, "validation": 4}


def _mix_int(z: int) -> int:
    z &= _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def _hashes(seed: int, stream: str, index: np.ndarray) -> np.ndarray:
    """64-bit hashes of ``(seed, stream, i)`` for each ``i`` in ``index`` (splitmix64)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    key = np.uint64(_mix_int(_mix_int(int(seed)) ^ _STREAMS[stream]))
    z = key + (index.astype(np.uint64) + np.uint64(1)) * np.uint64(_GOLDEN)  # wraps modulo 2**64
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _uniform(seed: int, stream: str, index: np.ndarray) -> np.ndarray:
    """Uniform floats in ``[0, 1)``, one per index, from the top 53 bits of the hashes."""
    return (_hashes(seed, stream, index) >> np.uint64(11)).astype(np.float64) * 2.0**-53


def _permutation(seed: int, stream: str, n: int) -> Tensor:
    return torch.from_numpy(np.argsort(_hashes(seed, stream, np.arange(n)), kind="stable"))


# ---------------------------------------------------------------------------- variants
def _check_variant(variant: str) -> None:
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; choose one of {', '.join(VARIANTS)}")


def rotation_angles(n: int, *, seed: int = 0, split: str = "train", start: int = 0) -> Tensor:
    """The angles of the ``rotated`` variant, in degrees, uniform in ``[-90, 90)``.

    The angle of image ``i`` is a function of ``(seed, split, i)`` alone (a counter-based
    hash, independent of ``n`` and of any global random state); this returns those of
    images ``start .. start + n - 1``. Train and test use different streams.

    Returns:
        float64 tensor of shape ``(n,)``.
    """
    _check_split(split)
    if n < 0 or start < 0:
        raise ValueError(f"rotation_angles: n and start must be >= 0, got n={n}, start={start}")
    u = _uniform(seed, split, np.arange(start, start + n))
    return torch.from_numpy(-90.0 + 180.0 * u)


def rotate_images(images: Tensor, angles: Tensor, *, chunk_size: int = 1024) -> Tensor:
    """Turn each image counter-clockwise (as displayed, row 0 on top) by its angle in degrees.

    Bilinear interpolation, zero padding, about the image centre, with
    :func:`~lconv.data.grid_sample_transform`; all channels of an image turn together.
    ``90`` gives ``torch.rot90(image, 1, dims=(-2, -1))`` on square images.

    Args:
        images: ``(N, C, H, W)``; ``uint8`` is scaled to ``[0, 1]`` first.
        angles: ``(N,)`` degrees.
        chunk_size: images processed at once (bounds the memory of the sampling grids).

    Returns:
        float32 ``(N, C, H, W)`` (float64 if ``images`` is float64).
    """
    if images.dim() != 4:
        raise ValueError(f"rotate_images: images must be (N, C, H, W), got shape {tuple(images.shape)}")
    angles = torch.as_tensor(angles, dtype=torch.float64).reshape(-1)
    if len(angles) != len(images):
        raise ValueError(f"rotate_images: {len(angles)} angles for {len(images)} images; pass one angle per image")
    n, c, h, w = images.shape
    dtype = torch.float64 if images.dtype == torch.float64 else torch.float32
    out = torch.empty(n, c, h, w, dtype=dtype)
    grid = Grid((h, w))
    for s in range(0, n, max(1, chunk_size)):
        x = _to_unit(images[s : s + chunk_size]).to(dtype)
        t = torch.deg2rad(angles[s : s + chunk_size])
        cos, sin = torch.cos(t), torch.sin(t)
        g = torch.zeros(len(t), 3, 3, dtype=torch.float64)
        # Counter-clockwise on screen is R(-t) on (x, y) with y pointing down.
        g[:, 0, 0], g[:, 0, 1], g[:, 1, 0], g[:, 1, 1], g[:, 2, 2] = cos, sin, -sin, cos, 1.0
        y = grid_sample_transform(x.reshape(-1, h * w), grid, g.repeat_interleave(c, dim=0))
        out[s : s + chunk_size] = y.reshape(-1, c, h, w)
    return out.clamp_(0.0, 1.0) if images.dtype == torch.uint8 else out


def pixel_permutation(num_pixels: int, *, seed: int = 0) -> Tensor:
    """The fixed pixel permutation of the ``rotated-scrambled`` variant.

    A function of ``(seed, num_pixels)`` only, so train and test share it.

    Returns:
        int64 tensor ``(num_pixels,)``; scrambled pixel ``j`` is original pixel ``perm[j]``
        (pixels flattened row-major).
    """
    if num_pixels < 1:
        raise ValueError(f"pixel_permutation: num_pixels must be >= 1, got {num_pixels}")
    return _permutation(seed, "scramble", num_pixels)


def scramble_pixels(images: Tensor, perm: Tensor) -> Tensor:
    """Apply one pixel permutation to every channel of every image: ``(N, C, H, W) -> (N, C, H, W)``."""
    n, c, h, w = images.shape
    if perm.shape != (h * w,):
        raise ValueError(f"scramble_pixels: permutation of shape {tuple(perm.shape)} for {h}x{w} images")
    return images.reshape(n, c, h * w)[:, :, perm].reshape(n, c, h, w)


def apply_variant(images: Tensor, variant: str, *, split: str, seed: int = 0, start: int = 0) -> Tensor:
    """Build a variant of a split's images (see the module docstring).

    Args:
        images: ``(N, C, H, W)``, ``uint8`` (scaled to ``[0, 1]``) or float in ``[0, 1]``.
        variant: one of :data:`VARIANTS`.
        split: ``"train"`` or ``"test"``; selects the rotation angles.
        seed: fixes the angles and the permutation.
        start: index of ``images[0]`` in its split, when ``images`` is a slice of it.

    Returns:
        float32 ``(N, C, H, W)`` in ``[0, 1]``.
    """
    _check_variant(variant)
    _check_split(split)
    if images.dim() != 4:
        raise ValueError(f"apply_variant: images must be (N, C, H, W), got shape {tuple(images.shape)}")
    if variant == "default":
        return _to_unit(images).float()
    out = rotate_images(images, rotation_angles(len(images), seed=seed, split=split, start=start)).float()
    if variant == "rotated-scrambled":
        out = scramble_pixels(out, pixel_permutation(out.shape[-2] * out.shape[-1], seed=seed))
    return out


def _to_unit(images: Tensor) -> Tensor:
    return images.float() / 255.0 if images.dtype == torch.uint8 else images


def split_validation(n: int, fraction: float = 0.1, *, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Split ``n`` training examples into train and validation indices, by seed.

    ``round(fraction * n)`` examples go to validation. The same ``(n, fraction, seed)``
    always gives the same split.

    Returns:
        ``(train_idx, val_idx)``: disjoint int64 tensors, each sorted, together ``0 .. n-1``.
    """
    if not 0 <= fraction < 1:
        raise ValueError(f"split_validation: fraction must be in [0, 1), got {fraction}")
    if n < 0:
        raise ValueError(f"split_validation: n must be >= 0, got {n}")
    order = _permutation(seed, "validation", n)
    k = int(round(fraction * n))
    return order[k:].sort().values, order[:k].sort().values
