import dataclasses
import gzip
import hashlib
import io
import os
import shutil
import tarfile
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import SHARED, needs_shared

from lconv.data import (
    DATASETS,
    SPLITS,
    VARIANTS,
    RemoteFile,
    apply_variant,
    download_dataset,
    download_file,
    load_dataset,
    load_images,
    pixel_permutation,
    rotate_images,
    rotation_angles,
    scramble_pixels,
    split_validation,
)


# ---------------------------------------------------------------------------- independent decoders and writers
def decode_idx(path):
    """IDX decoded with gzip and numpy alone: big-endian dims after a 4-byte magic."""
    raw = gzip.decompress(Path(path).read_bytes())
    ndim = raw[3]
    dims = np.frombuffer(raw[4 : 4 + 4 * ndim], dtype=">u4").astype(int)
    return np.frombuffer(raw[4 + 4 * ndim :], dtype=np.uint8).reshape(dims)


def write_idx(path, array, magic=None):
    array = np.asarray(array, dtype=np.uint8)
    magic = magic if magic is not None else bytes([0, 0, 8, array.ndim])
    header = magic + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(header + array.tobytes()))


def cifar_records(images, labels, coarse=None):
    """Records of the CIFAR binary format, laid out byte by byte: label byte(s), then the
    1024 red values row by row, then green, then blue."""
    n = len(images)
    lead = 1 if coarse is None else 2
    rec = np.zeros((n, lead + 3072), dtype=np.uint8)
    if coarse is not None:
        rec[:, 0] = coarse
    rec[:, lead - 1] = labels
    for c in range(3):
        for row in range(32):
            off = lead + c * 1024 + row * 32
            rec[:, off : off + 32] = images[:, c, row, :]
    return rec.tobytes()


def tiny_cifar(name, seed=0):
    """Per split: {member path inside the archive: (images, labels, coarse or None)}."""
    rng = np.random.default_rng(seed)
    members = DATASETS[name].members
    out = {}
    for split in SPLITS:
        out[split] = {}
        for k, member in enumerate(members[split]):
            n = 3 + k
            images = rng.integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8)
            labels = rng.integers(0, DATASETS[name].num_classes, size=n)
            coarse = rng.integers(0, 20, size=n) if name == "cifar100" else None
            out[split][member] = (images, labels, coarse)
    return out


def write_tiny_cifar(root, name, as_tar, seed=0):
    data = tiny_cifar(name, seed)
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    blobs = {m: cifar_records(*v) for split in data.values() for m, v in split.items()}
    if as_tar:
        with tarfile.open(folder / DATASETS[name].files[0].name, "w:gz") as tar:
            for m, blob in [("readme.txt", b"x"), *blobs.items()]:
                info = tarfile.TarInfo(m)
                info.size = len(blob)
                tar.addfile(info, io.BytesIO(blob))
    else:
        for m, blob in blobs.items():
            (folder / m).parent.mkdir(parents=True, exist_ok=True)
            (folder / m).write_bytes(blob)
    return data


def one_line_error(exc_info, *needles):
    msg = str(exc_info.value)
    assert "\n" not in msg, msg
    for needle in needles:
        assert needle in msg, (needle, msg)


# ---------------------------------------------------------------------------- MNIST and Fashion-MNIST
@needs_shared
def test_mnist_matches_an_independent_decode():
    x, y = load_images("mnist", "train", data_dir=SHARED)
    assert x.shape == (60000, 1, 28, 28) and x.dtype == torch.uint8
    assert y.shape == (60000,) and y.dtype == torch.int64
    assert y.tolist()[:10] == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert y.bincount().tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert np.array_equal(y.numpy(), decode_idx(SHARED / "mnist/train-labels-idx1-ubyte.gz"))
    xt, yt = load_images("mnist", "test", data_dir=SHARED)
    assert xt.shape == (10000, 1, 28, 28) and yt.shape == (10000,)
    assert int(yt.min()) == 0 and int(yt.max()) == 9
    assert np.array_equal(xt[:, 0].numpy(), decode_idx(SHARED / "mnist/t10k-images-idx3-ubyte.gz"))
    assert np.array_equal(yt.numpy(), decode_idx(SHARED / "mnist/t10k-labels-idx1-ubyte.gz"))
    assert yt.tolist()[:10] == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]


@needs_shared
def test_fashion_mnist_matches_an_independent_decode():
    x, y = load_images("fashion-mnist", "train", data_dir=SHARED)
    assert x.shape == (60000, 1, 28, 28) and y.shape == (60000,)
    assert y.bincount().tolist() == [6000] * 10
    assert y.tolist()[:10] == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]
    raw = decode_idx(SHARED / "fashion-mnist/train-images-idx3-ubyte.gz")
    assert np.array_equal(x[::997, 0].numpy(), raw[::997])
    xt, yt = load_images("fashion-mnist", "test", data_dir=SHARED)
    assert xt.shape == (10000, 1, 28, 28)
    assert yt.bincount().tolist() == [1000] * 10
    assert np.array_equal(xt[:, 0].numpy(), decode_idx(SHARED / "fashion-mnist/t10k-images-idx3-ubyte.gz"))
    assert np.array_equal(yt.numpy(), decode_idx(SHARED / "fashion-mnist/t10k-labels-idx1-ubyte.gz"))


@needs_shared
def test_lconv_data_environment_variable_is_honoured(monkeypatch, tmp_path):
    monkeypatch.setenv("LCONV_DATA", str(SHARED))
    _, y = load_images("mnist", "test")
    assert y.tolist()[:3] == [7, 2, 1]
    monkeypatch.setenv("LCONV_DATA", str(tmp_path / "nowhere"))
    _, y2 = load_images("mnist", "test", data_dir=SHARED)  # the argument wins over the variable
    assert torch.equal(y, y2)


def test_the_data_tests_look_in_lconv_data_where_it_is_set(monkeypatch, tmp_path):
    import runpy

    helpers = Path(__file__).with_name("helpers.py")
    monkeypatch.setenv("LCONV_DATA", str(tmp_path))
    assert runpy.run_path(str(helpers))["SHARED"] == tmp_path
    monkeypatch.delenv("LCONV_DATA")
    assert runpy.run_path(str(helpers))["SHARED"] == Path(__file__).resolve().parents[2] / "shared" / "data"


def test_no_data_folder_names_lconv_data(monkeypatch):
    monkeypatch.delenv("LCONV_DATA", raising=False)
    with pytest.raises(ValueError) as exc:
        load_images("mnist", "test")
    one_line_error(exc, "LCONV_DATA", "--data-dir")


def test_missing_file_names_the_path_and_the_fixes(tmp_path, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the network was used without download=True")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    with pytest.raises(FileNotFoundError) as exc:
        load_images("fashion-mnist", "test", data_dir=tmp_path)
    one_line_error(exc, str(tmp_path / "fashion-mnist" / "t10k-images-idx3-ubyte.gz"), "LCONV_DATA", "--download")
    with pytest.raises(FileNotFoundError) as exc:
        load_images("cifar100", "train", data_dir=tmp_path)
    one_line_error(exc, "cifar-100-binary.tar.gz", "LCONV_DATA", "--download")


def test_unknown_names_list_the_valid_ones(tmp_path):
    with pytest.raises(ValueError, match="mnist, fashion-mnist, cifar10, cifar100"):
        load_images("svhn", data_dir=tmp_path)
    with pytest.raises(ValueError, match="train, test"):
        load_images("mnist", "val", data_dir=tmp_path)
    with pytest.raises(ValueError, match="default, rotated, rotated-scrambled"):
        load_dataset("mnist", variant="flipped", data_dir=tmp_path)
    assert set(DATASETS) == {"mnist", "fashion-mnist", "cifar10", "cifar100"}
    assert DATASETS["cifar100"].num_classes == 100 and DATASETS["cifar10"].channels == 3
    assert DATASETS["mnist"].image_shape == (28, 28)


# ---------------------------------------------------------------------------- small IDX files and corruption
def test_small_idx_files_read_exactly_and_bad_ones_are_refused(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(3, 28, 28), dtype=np.uint8)
    folder = tmp_path / "mnist"
    write_idx(folder / "t10k-images-idx3-ubyte.gz", images)
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", [3, 0, 9])
    x, y = load_images("mnist", "test", data_dir=tmp_path, verify=False)
    assert np.array_equal(x[:, 0].numpy(), images) and y.tolist() == [3, 0, 9]

    with pytest.raises(ValueError) as exc:  # not the official bytes
        load_images("mnist", "test", data_dir=tmp_path)
    one_line_error(exc, "t10k-images-idx3-ubyte.gz", "checksum", "--download")

    write_idx(folder / "t10k-labels-idx1-ubyte.gz", [3, 0, 9], magic=b"\x00\x00\x09\x01")
    with pytest.raises(ValueError) as exc:
        load_images("mnist", "test", data_dir=tmp_path, verify=False)
    one_line_error(exc, "t10k-labels-idx1-ubyte.gz", "magic", "--download")

    header = b"\x00\x00\x08\x03" + b"".join(d.to_bytes(4, "big") for d in (3, 28, 28))
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(header + images[:2].tobytes()))
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", [3, 0, 9])
    with pytest.raises(ValueError) as exc:
        load_images("mnist", "test", data_dir=tmp_path, verify=False)
    one_line_error(exc, "t10k-images-idx3-ubyte.gz", "truncated")

    write_idx(folder / "t10k-images-idx3-ubyte.gz", images)
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", [3, 10, 9])
    with pytest.raises(ValueError, match="label 10 out of range"):
        load_images("mnist", "test", data_dir=tmp_path, verify=False)


@needs_shared
def test_corrupt_official_files_fail_their_checksum(tmp_path):
    src = SHARED / "mnist" / "t10k-labels-idx1-ubyte.gz"
    folder = tmp_path / "mnist"
    folder.mkdir()
    shutil.copy(SHARED / "mnist" / "t10k-images-idx3-ubyte.gz", folder)
    target = folder / src.name
    shutil.copy(src, target)
    _, y = load_images("mnist", "test", data_dir=tmp_path)
    assert y.tolist()[:3] == [7, 2, 1]

    raw = bytearray(src.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    target.write_bytes(bytes(raw))
    os.utime(target, ns=(1, 1))  # a new mtime even on coarse clocks: the cached digest must not be reused
    with pytest.raises(ValueError) as exc:
        load_images("mnist", "test", data_dir=tmp_path)
    one_line_error(exc, str(target), "sha256", "delete it and run with --download")

    target.write_bytes(src.read_bytes()[:2000])  # truncated
    with pytest.raises(ValueError) as exc:
        load_images("mnist", "test", data_dir=tmp_path)
    one_line_error(exc, str(target), "checksum")
    with pytest.raises(ValueError) as exc:
        load_images("mnist", "test", data_dir=tmp_path, verify=False)
    one_line_error(exc, str(target), "gzip")


# ---------------------------------------------------------------------------- CIFAR binary
@pytest.mark.parametrize("as_tar", [False, True], ids=["folder", "tar.gz"])
@pytest.mark.parametrize("name", ["cifar10", "cifar100"])
def test_cifar_binary_files_decode_to_the_exact_pixels(tmp_path, name, as_tar):
    data = write_tiny_cifar(tmp_path, name, as_tar)
    for split in SPLITS:
        x, y = load_images(name, split, data_dir=tmp_path, verify=False)
        parts = list(data[split].values())
        want_x = np.concatenate([p[0] for p in parts])
        want_y = np.concatenate([p[1] for p in parts])  # CIFAR-100: the fine label
        assert x.shape == (len(want_x), 3, 32, 32) and x.dtype == torch.uint8 and y.dtype == torch.int64
        assert np.array_equal(x.numpy(), want_x) and np.array_equal(y.numpy(), want_y)
    # channel order, spelled out on the first record of the test split
    member = DATASETS[name].members["test"][0]
    images, labels, coarse = data["test"][member]
    rec = cifar_records(images[:1], labels[:1], None if coarse is None else coarse[:1])
    lead = 1 if name == "cifar10" else 2
    x, y = load_images(name, "test", data_dir=tmp_path, verify=False)
    assert int(y[0]) == rec[lead - 1]
    assert int(x[0, 0, 0, 1]) == rec[lead + 1]  # red, row 0, column 1
    assert int(x[0, 0, 1, 0]) == rec[lead + 32]  # red, row 1, column 0
    assert int(x[0, 1, 0, 0]) == rec[lead + 1024]  # green plane follows the red one
    assert int(x[0, 2, 31, 31]) == rec[lead + 3071]  # blue, last pixel
    with pytest.raises(ValueError) as exc:  # tiny files are not the publisher's
        load_images(name, "test", data_dir=tmp_path)
    one_line_error(exc, "--download")


def test_cifar_wrong_record_length_and_pickles_are_refused(tmp_path):
    write_tiny_cifar(tmp_path, "cifar10", as_tar=False)
    path = tmp_path / "cifar10" / "cifar-10-batches-bin" / "test_batch.bin"
    path.write_bytes(path.read_bytes() + b"12345")
    with pytest.raises(ValueError) as exc:
        load_images("cifar10", "test", data_dir=tmp_path, verify=False)
    one_line_error(exc, str(path), "3073-byte")

    (tmp_path / "p" / "cifar100" / "cifar-100-python").mkdir(parents=True)
    with pytest.raises(ValueError) as exc:
        load_images("cifar100", "test", data_dir=tmp_path / "p")
    one_line_error(exc, "pickle", "cifar-100-binary.tar.gz")


def test_cifar_archive_members_are_read_safely(tmp_path):
    write_tiny_cifar(tmp_path, "cifar10", as_tar=True)
    archive = tmp_path / "cifar10" / "cifar-10-binary.tar.gz"
    records = cifar_records(np.zeros((2, 3, 32, 32), np.uint8), [1, 2])
    with tarfile.open(archive, "w:gz") as tar:
        evil = tarfile.TarInfo("../cifar-10-batches-bin/test_batch.bin")  # not the member's name
        evil.size = len(records)
        tar.addfile(evil, io.BytesIO(records))
        link = tarfile.TarInfo("cifar-10-batches-bin/test_batch.bin")  # right name, but a symlink
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    with pytest.raises(ValueError) as exc:
        load_images("cifar10", "test", data_dir=tmp_path, verify=False)
    one_line_error(exc, "no regular file cifar-10-batches-bin/test_batch.bin")
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["cifar-10-binary.tar.gz", "cifar10"]  # nothing extracted

    archive.write_bytes(archive.read_bytes()[:-30])
    with pytest.raises(ValueError) as exc:
        load_images("cifar10", "test", data_dir=tmp_path, verify=False)
    one_line_error(exc, str(archive), "tar.gz")


# ---------------------------------------------------------------------------- downloads (file:// only)
def test_download_file_verifies_and_leaves_nothing_on_mismatch(tmp_path):
    src = tmp_path / "src" / "blob.bin"
    src.parent.mkdir()
    src.write_bytes(os.urandom(3000))
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    dest = tmp_path / "dl" / "blob.bin"
    missing = (tmp_path / "src" / "nope.bin").as_uri()
    download_file([missing, src.as_uri()], dest, sha256=digest)  # falls back to the second URL
    assert dest.read_bytes() == src.read_bytes()

    bad = tmp_path / "bad" / "blob.bin"
    with pytest.raises(ValueError) as exc:
        download_file(src.as_uri(), bad, sha256="0" * 64, progress=False)
    one_line_error(exc, "blob.bin", "sha256")
    assert not bad.exists() and list(bad.parent.iterdir()) == []  # not even a temporary file

    with pytest.raises(ConnectionError):
        download_file(missing, bad, md5="0" * 32, progress=False)
    assert list(bad.parent.iterdir()) == []


@needs_shared
def test_download_true_fetches_only_the_missing_files(tmp_path, monkeypatch):
    info = DATASETS["mnist"]
    files = tuple(
        dataclasses.replace(r, urls=((tmp_path / "gone" / r.name).as_uri(), (SHARED / "mnist" / r.name).as_uri()))
        for r in info.files
    )
    monkeypatch.setitem(DATASETS, "mnist", dataclasses.replace(info, files=files))
    x, y = load_images("mnist", "test", data_dir=tmp_path / "data", download=True)
    assert sorted(p.name for p in (tmp_path / "data" / "mnist").iterdir()) == [
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    ]
    x0, y0 = load_images("mnist", "test", data_dir=SHARED)
    assert torch.equal(x, x0) and torch.equal(y, y0)


def test_download_dataset_for_cifar_checks_the_md5(tmp_path, monkeypatch):
    data = write_tiny_cifar(tmp_path / "publisher", "cifar10", as_tar=True)
    archive = tmp_path / "publisher" / "cifar10" / "cifar-10-binary.tar.gz"
    md5 = hashlib.md5(archive.read_bytes()).hexdigest()
    info = DATASETS["cifar10"]
    monkeypatch.setitem(
        DATASETS, "cifar10", dataclasses.replace(info, files=(RemoteFile(archive.name, (archive.as_uri(),), md5=md5),))
    )
    (path,) = download_dataset("cifar10", data_dir=tmp_path / "data", progress=False)
    assert path.read_bytes() == archive.read_bytes()
    _, y = load_images("cifar10", "test", data_dir=tmp_path / "data", verify=False)
    assert y.tolist() == list(next(iter(data["test"].values()))[1])

    wrong = dataclasses.replace(info, files=(RemoteFile(archive.name, (archive.as_uri(),), md5="0" * 32),))
    monkeypatch.setitem(DATASETS, "cifar10", wrong)
    with pytest.raises(ValueError, match="md5"):
        load_images("cifar10", "test", data_dir=tmp_path / "other", download=True, verify=False)
    assert not (tmp_path / "other" / "cifar10" / archive.name).exists()


# ---------------------------------------------------------------------------- variants
def test_rotation_angles_depend_only_on_seed_split_and_index():
    a = rotation_angles(500, seed=3, split="train")
    assert a.dtype == torch.float64 and a.shape == (500,)
    assert bool(((a >= -90) & (a < 90)).all()) and a.min() < -80 and a.max() > 80
    assert torch.equal(rotation_angles(20, seed=3, split="train", start=100), a[100:120])
    assert torch.equal(rotation_angles(500, seed=3, split="train"), a)
    assert not torch.allclose(rotation_angles(500, seed=3, split="test"), a)
    assert not torch.allclose(rotation_angles(500, seed=4, split="train"), a)


def test_quarter_turn_is_rot90_counter_clockwise_as_displayed():
    x = torch.randint(0, 256, (2, 3, 9, 9), dtype=torch.uint8)
    unit = x.float() / 255
    ccw = rotate_images(x, torch.tensor([90.0, 90.0]))
    assert torch.allclose(ccw[..., 1:-1, 1:-1], torch.rot90(unit, 1, dims=(-2, -1))[..., 1:-1, 1:-1], atol=1e-5)
    cw = rotate_images(x, torch.tensor([-90.0, -90.0]))
    assert torch.allclose(cw[..., 1:-1, 1:-1], torch.rot90(unit, -1, dims=(-2, -1))[..., 1:-1, 1:-1], atol=1e-5)
    # a small positive angle: a dot right of the centre moves up (row 0 is the top)
    dot = torch.zeros(1, 1, 21, 21)
    dot[0, 0, 10, 17] = 1.0
    moved = rotate_images(dot, torch.tensor([30.0]))[0, 0]
    rows = torch.arange(21.0)[:, None].expand(21, 21)
    cols = torch.arange(21.0)[None, :].expand(21, 21)
    centre = ((moved * rows).sum() / moved.sum(), (moved * cols).sum() / moved.sum())
    assert abs(float(centre[0]) - (10 - 7 * 0.5)) < 0.3 and abs(float(centre[1]) - (10 + 7 * 3**0.5 / 2)) < 0.3


def test_rotated_variant_is_seeded_and_differs_between_splits():
    x = torch.randint(0, 256, (40, 3, 12, 12), dtype=torch.uint8)
    a = apply_variant(x, "rotated", split="train", seed=1)
    assert a.dtype == torch.float32 and a.shape == x.shape and 0 <= float(a.min()) and float(a.max()) <= 1
    assert torch.equal(a, apply_variant(x, "rotated", split="train", seed=1))
    assert not torch.allclose(a, apply_variant(x, "rotated", split="train", seed=2))
    assert not torch.allclose(a, apply_variant(x, "rotated", split="test", seed=1))
    expected = rotate_images(x, rotation_angles(40, seed=1, split="train"))
    assert torch.equal(a, expected)
    assert torch.equal(apply_variant(x[10:], "rotated", split="train", seed=1, start=10), a[10:])
    assert torch.equal(apply_variant(x, "default", split="test"), x.float() / 255)
    assert torch.equal(rotate_images(x, rotation_angles(40, seed=1), chunk_size=7), expected)


def test_scrambled_variant_uses_one_permutation_for_everything():
    perm = pixel_permutation(144, seed=5)
    assert torch.equal(perm.sort().values, torch.arange(144))
    assert torch.equal(perm, pixel_permutation(144, seed=5))
    assert not torch.equal(perm, pixel_permutation(144, seed=6))
    x = torch.randint(0, 256, (6, 3, 12, 12), dtype=torch.uint8)
    for split in SPLITS:
        rot = apply_variant(x, "rotated", split=split, seed=5)
        scr = apply_variant(x, "rotated-scrambled", split=split, seed=5)
        assert torch.equal(scr.reshape(6, 3, 144), rot.reshape(6, 3, 144)[:, :, perm])  # every channel, both splits
        assert torch.equal(scr.reshape(6, 3, -1).sort(-1).values, rot.reshape(6, 3, -1).sort(-1).values)
    assert torch.equal(scramble_pixels(x, perm).reshape(6, 3, 144), x.reshape(6, 3, 144)[:, :, perm])
    other = apply_variant(x, "rotated-scrambled", split="train", seed=6)
    assert not torch.equal(other, apply_variant(x, "rotated-scrambled", split="train", seed=5))


def test_load_dataset_returns_unit_floats_for_each_variant(tmp_path):
    write_tiny_cifar(tmp_path, "cifar10", as_tar=False)
    raw, labels = load_images("cifar10", "train", data_dir=tmp_path, verify=False)
    for variant in VARIANTS:
        x, y = load_dataset("cifar10", "train", variant=variant, seed=2, data_dir=tmp_path, verify=False)
        assert x.dtype == torch.float32 and x.shape == raw.shape and torch.equal(y, labels)
        assert torch.equal(x, apply_variant(raw, variant, split="train", seed=2))
        assert 0 <= float(x.min()) and float(x.max()) <= 1


@needs_shared
@pytest.mark.slow
def test_rotated_scrambled_mnist_test_split():
    x, y = load_dataset("mnist", "test", variant="rotated-scrambled", seed=0, data_dir=SHARED)
    assert x.shape == (10000, 1, 28, 28) and y.shape == (10000,)
    raw, _ = load_images("mnist", "test", data_dir=SHARED)
    rot = rotate_images(raw, rotation_angles(10000, seed=0, split="test"))
    assert torch.equal(x, scramble_pixels(rot, pixel_permutation(784, seed=0)))


def test_validation_split_is_disjoint_covering_and_seeded():
    train, val = split_validation(1000, 0.2, seed=7)
    assert len(val) == 200 and len(train) == 800
    assert torch.equal(torch.cat([train, val]).sort().values, torch.arange(1000))
    assert torch.equal(train, train.sort().values)
    t2, v2 = split_validation(1000, 0.2, seed=7)
    assert torch.equal(train, t2) and torch.equal(val, v2)
    assert not torch.equal(val, split_validation(1000, 0.2, seed=8)[1])
    assert len(split_validation(10, 0.0)[1]) == 0
    with pytest.raises(ValueError, match="fraction"):
        split_validation(10, 1.0)
