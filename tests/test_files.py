import json
import pickle

import numpy as np
import pytest
import torch

from lconv.data import KINDS, DataFile, read_data, write_pairs

RNG = np.random.default_rng(0)


def _raises(exc, match_all, fn, *args, **kwargs):
    """Call ``fn``, expect ``exc`` with a one-line message containing every string of ``match_all``."""
    with pytest.raises(exc) as info:
        fn(*args, **kwargs)
    msg = str(info.value)
    assert "\n" not in msg, msg
    for part in match_all:
        assert part in msg, (part, msg)
    return msg


# --------------------------------------------------------------------------- formats


def test_npz_round_trip_keeps_values_and_float64(tmp_path):
    x, y, t = RNG.normal(size=(6, 3)), RNG.normal(size=(6, 3)), RNG.normal(size=(6, 2))
    path = write_pairs(tmp_path / "pairs.npz", x, y, t=t)
    assert path == tmp_path / "pairs.npz"
    assert [p.name for p in tmp_path.iterdir()] == ["pairs.npz"]  # no temporary file left
    data = read_data(path)
    assert isinstance(data, DataFile) and len(data) == 6
    assert data.x.dtype == data.y.dtype == data.t.dtype == torch.float64
    assert np.array_equal(data.x.numpy(), x) and np.array_equal(data.y.numpy(), y)
    assert np.array_equal(data.t.numpy(), t)
    assert data.kind == "pairs"
    assert data.description == (
        "6 pairs of vectors in R^3 with parameters t of shape (N, 2) from pairs.npz (x, y, t); "
        "detected: x and y have the same shape"
    )
    src = data.source
    assert src["format"] == "npz" and src["keys"] == ["x", "y", "t"] and src["dtype"] == "float64"
    assert src["path"] == str(path.resolve()) and len(src["sha256"]) == 64
    assert src["kind"] == "pairs" and src["kind_given"] is False
    json.dumps(src)  # a run's config.json can hold it


def test_dtypes_float32_unless_float64(tmp_path):
    x = RNG.normal(size=(4, 2))
    write_pairs(tmp_path / "a.npz", x.astype(np.float32), x.astype(np.float16))
    assert read_data(tmp_path / "a.npz").x.dtype == torch.float32
    write_pairs(tmp_path / "b.npz", np.arange(8).reshape(4, 2), np.arange(8, 16).reshape(4, 2))
    b = read_data(tmp_path / "b.npz")
    assert b.x.dtype == torch.float32 and b.y[3, 1].item() == 15.0
    write_pairs(tmp_path / "c.npz", x.astype(np.float32), x)  # one float64 array keeps float64
    assert read_data(tmp_path / "c.npz").x.dtype == torch.float64
    assert read_data(tmp_path / "c.npz", dtype=torch.float32).y.dtype == torch.float32
    write_pairs(tmp_path / "t.npz", torch.ones(3, 2), torch.zeros(3, 2))  # tensors accepted
    assert read_data(tmp_path / "t.npz").y.shape == (3, 2)


def test_npy_pair(tmp_path):
    x, y = RNG.normal(size=(5, 2, 3)).astype(np.float32), RNG.normal(size=(5, 2, 3)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    data = read_data(tmp_path / "x.npy", target=tmp_path / "y.npy")
    assert data.kind == "pairs" and data.x.dtype == torch.float32 and data.t is None
    assert torch.equal(data.y, torch.from_numpy(y))
    assert data.description.startswith("5 pairs of stacks of 2 vectors in R^3 from x.npy (x), y.npy (y)")
    assert data.source["target"] == str((tmp_path / "y.npy").resolve())


def test_csv_with_header_by_name(tmp_path):
    (tmp_path / "t.csv").write_text("qx,qy,qz,E\n1,2,3,0.5\n4,5,6,1.5\n\n7,8,9,2.5\n")
    data = read_data(tmp_path / "t.csv", x_columns="qx,qy,qz", y_columns="E")
    assert data.kind == "invariant" and data.y.shape == (3,) and data.x.dtype == torch.float32
    assert data.x.tolist() == [[1, 2, 3], [4, 5, 6], [7, 8, 9]] and data.y.tolist() == [0.5, 1.5, 2.5]
    assert data.source["header"] is True and data.source["columns"] == {"x": [0, 1, 2], "y": [3]}
    assert data.source["column_names"]["y"] == ["E"]
    assert "from t.csv (x: qx,qy,qz; y: E); detected: y is one number per sample" in data.description


def test_csv_without_header_by_range_and_index(tmp_path):
    table = RNG.normal(size=(4, 7))
    np.savetxt(tmp_path / "t.csv", table, delimiter=",")
    data = read_data(tmp_path / "t.csv", x_columns="0:3", y_columns="3:6", t_columns="-1")
    assert data.source["header"] is False and data.kind == "pairs"
    assert np.allclose(data.x.numpy(), table[:, :3]) and np.allclose(data.y.numpy(), table[:, 3:6])
    assert np.allclose(data.t.numpy(), table[:, 6:])
    same = read_data(tmp_path / "t.csv", x_columns=[0, 1, 2], y_columns="3,4,5", dtype=torch.float64)
    assert np.array_equal(same.y.numpy(), table[:, 3:6])  # savetxt's 18 digits round-trip in float64
    mixed = read_data(tmp_path / "t.csv", x_columns=":2,6", y_columns="5")
    assert np.allclose(mixed.x.numpy(), table[:, [0, 1, 6]])


def test_csv_savetxt_header_line(tmp_path):
    np.savetxt(tmp_path / "t.csv", np.arange(6.0).reshape(2, 3), delimiter=",", header="a,b,c")
    data = read_data(tmp_path / "t.csv", x_columns="a,b", y_columns="c")
    assert data.x.tolist() == [[0, 1], [3, 4]] and data.y.tolist() == [2, 5]
    (tmp_path / "c.csv").write_text("# made by hand\n1,2\n3,4\n")  # a comment, not a header
    assert read_data(tmp_path / "c.csv", x_columns="0", y_columns="1").x.shape == (2, 1)


# --------------------------------------------------------------------------- kinds


@pytest.mark.parametrize(
    "x_shape, y_shape, kind, y_out",
    [
        ((5, 3), (5, 3), "pairs", (5, 3)),
        ((5, 4, 3), (5, 4, 3), "pairs", (5, 4, 3)),
        ((5, 3), (5,), "invariant", (5,)),
        ((5, 2, 3), (5, 1), "invariant", (5,)),
        ((5, 4, 3), (5, 3), "equivariant", (5, 3)),
        ((5, 3), (5, 2, 3), "equivariant", (5, 2, 3)),
        ((5,), (5,), "pairs", (5, 1)),  # one-dimensional x is (N, 1); so is y
    ],
)
def test_kind_detection(tmp_path, x_shape, y_shape, kind, y_out):
    write_pairs(tmp_path / "d.npz", RNG.normal(size=x_shape), RNG.normal(size=y_shape))
    data = read_data(tmp_path / "d.npz")
    assert data.kind == kind and tuple(data.y.shape) == y_out
    assert data.x.ndim in (2, 3) and "detected: " in data.description


def test_kind_override(tmp_path):
    write_pairs(tmp_path / "d.npz", RNG.normal(size=(5, 3)), RNG.normal(size=(5, 3)))
    data = read_data(tmp_path / "d.npz", kind="equivariant")
    assert data.kind == "equivariant" and data.description.endswith("; --kind given")
    assert data.description.startswith("5 samples of an equivariant map R^3 -> R^3")
    assert data.source["kind_given"] is True
    write_pairs(tmp_path / "s.npz", RNG.normal(size=(5, 1)), RNG.normal(size=(5, 1)))
    assert read_data(tmp_path / "s.npz").kind == "pairs"
    inv = read_data(tmp_path / "s.npz", kind="invariant")
    assert inv.kind == "invariant" and inv.y.shape == (5,)
    assert set(KINDS) == {"pairs", "invariant", "equivariant"}


# --------------------------------------------------------------------------- errors


def test_bad_kind_and_wrong_kind(tmp_path):
    write_pairs(tmp_path / "d.npz", RNG.normal(size=(5, 3)), RNG.normal(size=(5,)))
    _raises(ValueError, ["pairs, invariant, equivariant", "'rotation'"], read_data, tmp_path / "d.npz", kind="rotation")
    _raises(ValueError, ["kind 'pairs'", "(N, 3)", "(N,)"], read_data, tmp_path / "d.npz", kind="pairs")
    _raises(ValueError, ["kind 'equivariant'", "last dimension 3"], read_data, tmp_path / "d.npz", kind="equivariant")
    write_pairs(tmp_path / "p.npz", RNG.normal(size=(5, 3)), RNG.normal(size=(5, 3)))
    _raises(
        ValueError, ["kind 'invariant'", "(N,) or (N, 1)", "(N, 3)"], read_data, tmp_path / "p.npz", kind="invariant"
    )


def test_shapes_neither_pairs_nor_map(tmp_path):
    write_pairs(tmp_path / "d.npz", RNG.normal(size=(5, 3)), RNG.normal(size=(5, 2)))
    _raises(ValueError, ["y has shape (N, 2) and x (N, 3)", "(N,) or (N, 1)", "--kind"], read_data, tmp_path / "d.npz")


def test_missing_and_unsupported_files(tmp_path):
    _raises(FileNotFoundError, ["no such data file", "nope.npz"], read_data, tmp_path / "nope.npz")
    (tmp_path / "d.h5").write_bytes(b"x")
    _raises(ValueError, ["'.h5'", ".npz, .npy, .csv"], read_data, tmp_path / "d.h5")
    (tmp_path / "dir.npz").mkdir()
    _raises(ValueError, ["is a folder"], read_data, tmp_path / "dir.npz")
    np.save(tmp_path / "x.npy", np.zeros((3, 2)))
    _raises(FileNotFoundError, ["no such target file"], read_data, tmp_path / "x.npy", target=tmp_path / "y.npy")


def test_npy_needs_target(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((3, 2)))
    _raises(ValueError, ["target=", "--target", "numpy.savez"], read_data, tmp_path / "x.npy")


def test_options_for_another_format_are_refused(tmp_path):
    write_pairs(tmp_path / "d.npz", np.zeros((3, 2)), np.ones((3, 2)))
    _raises(ValueError, ["--target"], read_data, tmp_path / "d.npz", target=tmp_path / "y.npy")
    _raises(ValueError, ["--x-columns", "is for .csv files only"], read_data, tmp_path / "d.npz", x_columns="0:2")


def test_npz_missing_key(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.zeros((3, 2)), z=np.ones((3, 2)))
    _raises(
        ValueError,
        ["has no array 'y'; it holds: x, z", "numpy.savez('d.npz', x=..., y=...)"],
        read_data,
        tmp_path / "d.npz",
    )


def test_corrupt_npz(tmp_path):
    (tmp_path / "junk.npz").write_bytes(b"these are not the bytes of a zip file")
    _raises(
        ValueError,
        ["cannot read", "junk.npz as .npz", "not a zip archive", "numpy.savez"],
        read_data,
        tmp_path / "junk.npz",
    )
    write_pairs(tmp_path / "full.npz", RNG.normal(size=(50, 3)), RNG.normal(size=(50, 3)))
    raw = (tmp_path / "full.npz").read_bytes()
    for cut in (len(raw) // 2, len(raw) - 10):
        (tmp_path / "cut.npz").write_bytes(raw[:cut])
        _raises(ValueError, ["cannot read", "cut.npz as .npz: "], read_data, tmp_path / "cut.npz")
    np.save(tmp_path / "arr.npy", np.zeros((3, 2)))
    (tmp_path / "arr.npz").write_bytes((tmp_path / "arr.npy").read_bytes())
    _raises(ValueError, ["an .npy array, not an .npz archive"], read_data, tmp_path / "arr.npz")
    (tmp_path / "x.npy").write_bytes(raw)
    np.save(tmp_path / "y.npy", np.zeros((50, 3)))
    _raises(ValueError, ["x.npy as .npy", "an .npz archive"], read_data, tmp_path / "x.npy", target=tmp_path / "y.npy")


UNPICKLED = []


def _tripwire():
    UNPICKLED.append(1)
    return 0


class Tripwire:
    """Unpickling this object records it: a loader that unpickles would set off the wire."""

    def __reduce__(self):
        return (_tripwire, ())


def test_pickled_data_is_refused_not_loaded(tmp_path):
    objects = np.array([Tripwire(), Tripwire()], dtype=object)
    np.savez(tmp_path / "o.npz", x=objects, y=np.zeros(2))  # savez allows pickles by default
    _raises(ValueError, ["x in", "object array", "never unpickles", "numpy.savez"], read_data, tmp_path / "o.npz")
    np.save(tmp_path / "x.npy", np.zeros((2, 1)))
    np.save(tmp_path / "y.npy", objects, allow_pickle=True)
    _raises(ValueError, ["y in", "y.npy", "never unpickles"], read_data, tmp_path / "x.npy", target=tmp_path / "y.npy")
    (tmp_path / "p.npz").write_bytes(pickle.dumps({"x": Tripwire(), "y": Tripwire()}))
    _raises(ValueError, ["p.npz as .npz", "not a zip archive"], read_data, tmp_path / "p.npz")
    assert UNPICKLED == []


@pytest.mark.parametrize(
    "y, words",
    [
        (np.array(["a", "b", "c"]), ["y (y.npy) holds text", "y.astype(float)"]),
        (np.array([True, False, True]), ["y", "booleans"]),
        (np.array([1j, 2j, 3j]), ["y", "complex"]),
    ],
)
def test_non_numeric_dtypes(tmp_path, y, words):
    np.save(tmp_path / "x.npy", np.zeros((3, 2)))
    np.save(tmp_path / "y.npy", y)
    _raises(ValueError, words, read_data, tmp_path / "x.npy", target=tmp_path / "y.npy")


def test_nan_and_inf(tmp_path):
    x, y = RNG.normal(size=(6, 2)), RNG.normal(size=(6, 2))
    x[4, 1], y[2, 0], y[4, 0] = np.nan, np.inf, -np.inf
    write_pairs(tmp_path / "d.npz", x, y)
    _raises(
        ValueError,
        ["2 samples hold NaN or inf", "(1 in x, 2 in y)", "first at row 2", "drop those rows"],
        read_data,
        tmp_path / "d.npz",
    )
    (tmp_path / "t.csv").write_text("a,b\n1,2\n3,nan\n5,6\n")
    _raises(
        ValueError,
        ["1 sample holds NaN", "row 1 (line 3)"],
        read_data,
        tmp_path / "t.csv",
        x_columns="a",
        y_columns="b",
    )
    write_pairs(tmp_path / "big.npz", np.full((3, 2), 1e300), np.ones((3, 2)))
    _raises(
        ValueError,
        ["after casting to float32", "dtype=torch.float64"],
        read_data,
        tmp_path / "big.npz",
        dtype=torch.float32,
    )


def test_lengths_and_sample_count(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.zeros((5, 2)), y=np.zeros((4, 2)))
    _raises(ValueError, ["x and y must match row for row", "x 5", "y 4"], read_data, tmp_path / "d.npz")
    np.savez(tmp_path / "t.npz", x=np.zeros((5, 2)), y=np.zeros((5, 2)), t=np.zeros(3))
    _raises(ValueError, ["x, y and t must match", "x 5", "y 5", "t 3"], read_data, tmp_path / "t.npz")
    write_pairs(tmp_path / "one.npz", np.zeros((1, 2)), np.zeros((1, 2)))
    _raises(ValueError, ["one.npz holds 1 sample", "at least 2"], read_data, tmp_path / "one.npz")


def test_array_ranks(tmp_path):
    write_pairs(tmp_path / "x4.npz", np.zeros((3, 2, 2, 2)), np.zeros((3, 2, 2, 2)))
    _raises(ValueError, ["(N, d) or (N, C, d)", "reshape"], read_data, tmp_path / "x4.npz")
    write_pairs(tmp_path / "t3.npz", np.zeros((3, 2)), np.zeros((3, 2)), t=np.zeros((3, 1, 1)))
    _raises(ValueError, ["t has shape (3, 1, 1)", "(N,) or (N, k)"], read_data, tmp_path / "t3.npz")


def test_csv_errors(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b,c\n1,2,3\n4,oops,6\n")
    _raises(ValueError, ["x_columns=", "--x-columns", "y_columns=", "--y-columns"], read_data, path)
    _raises(ValueError, ["--y-columns"], read_data, path, x_columns="a")
    _raises(
        ValueError,
        ["line 3, column 1 ('b')", "'oops' is not a number"],
        read_data,
        path,
        x_columns="a,b",
        y_columns="c",
    )
    _raises(
        ValueError, ["no column named 'd'", "header names are a, b, c"], read_data, path, x_columns="a", y_columns="d"
    )
    _raises(ValueError, ["column 5 is out of range", "3 columns"], read_data, path, x_columns="a", y_columns="5")
    _raises(
        ValueError,
        ["column 0 ('a') is in both x_columns and y_columns"],
        read_data,
        path,
        x_columns="0:2",
        y_columns="a",
    )
    (tmp_path / "semi.csv").write_text("1;2;3\n4;5;6\n")
    _raises(
        ValueError, ["the delimiter must be a comma"], read_data, tmp_path / "semi.csv", x_columns="0", y_columns="1"
    )
    (tmp_path / "ragged.csv").write_text("1,2,3\n4,5\n")
    _raises(
        ValueError,
        ["line 2: 2 columns", "first row has 3"],
        read_data,
        tmp_path / "ragged.csv",
        x_columns="0",
        y_columns="1",
    )
    (tmp_path / "noheader.csv").write_text("1,2\n3,4\n")
    _raises(
        ValueError,
        ["no column named 'a'", "no header row"],
        read_data,
        tmp_path / "noheader.csv",
        x_columns="a",
        y_columns="1",
    )


def test_write_pairs_errors(tmp_path):
    _raises(ValueError, [".npz"], write_pairs, tmp_path / "d.csv", np.zeros((2, 1)), np.zeros((2, 1)))
    _raises(ValueError, ["x 3", "y 2"], write_pairs, tmp_path / "d.npz", np.zeros((3, 1)), np.zeros((2, 1)))
    _raises(ValueError, ["y", "astype(float)"], write_pairs, tmp_path / "d.npz", np.zeros(2), np.array(["a", "b"]))
    assert not (tmp_path / "d.npz").exists()
