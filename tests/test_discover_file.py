"""lconv discover --data: a user's own file in, the algebra named, the generators saved and usable."""

import json

import numpy as np
import pytest
import torch

from lconv import LConv, analysis
from lconv.algebra import matrix_algebra
from lconv.cli import main
from lconv.data import write_pairs
from lconv.experiments.datafile import load_symmetries, parse_space

SO3 = matrix_algebra("so3", dtype=torch.float64)


def _run(argv):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    return exc.value.code


def _rotated_clouds(n=200, points=5, seed=0):
    gen = torch.Generator().manual_seed(seed)
    t = torch.randn(n, 3, generator=gen, dtype=torch.float64)  # angles up to several radians
    rot = torch.linalg.matrix_exp(torch.einsum("nk,kij->nij", t, SO3))
    x = torch.randn(n, points, 3, generator=gen, dtype=torch.float64)
    return x, torch.einsum("nij,ncj->nci", rot, x)


def test_pairs_from_a_file_give_so3_named_and_saved(tmp_path, capsys):
    x, y = _rotated_clouds()
    write_pairs(tmp_path / "pairs.npz", x.numpy(), y.numpy())
    out = tmp_path / "run"
    assert _run(["discover", "--data", str(tmp_path / "pairs.npz"), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "so(3)" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["kind"] == "pairs" and metrics["n_generators"] == 3
    assert metrics["algebra"]["name"] == "so(3)" and metrics["algebra"]["error"] < 1e-3
    assert metrics["heldout_error"] < 1e-3
    gens = np.load(out / "generators.npy")
    assert gens.shape == (3, 3, 3)
    assert analysis.grassmann_distance(torch.from_numpy(gens), SO3) < 1e-3
    saved = load_symmetries(out / "symmetries.npz")
    assert saved["algebra"] == "so(3)"
    assert torch.allclose(saved["generators"].float(), torch.from_numpy(gens), atol=1e-6)
    layer = LConv(2, 4, generators=saved["generators"].float())  # the result feeds a layer as it is
    assert layer(torch.randn(5, 2, 3)).shape == (5, 4, 3)
    assert {p.name for p in (out / "figures").iterdir()} >= {"algebra.png", "spectrum.png"}
    config = json.loads((out / "config.json").read_text())
    assert config["kind"] == "pairs" and config["source"]["sha256"]


def test_npy_and_csv_give_the_same_answer(tmp_path):
    x, y = _rotated_clouds(points=1, seed=1)
    x, y = x[:, 0], y[:, 0]
    np.save(tmp_path / "x.npy", x.numpy())
    np.save(tmp_path / "y.npy", y.numpy())
    np.savetxt(tmp_path / "t.csv", torch.cat([x, y], 1).numpy(), delimiter=",", header="a,b,c,A,B,C", comments="")
    runs = [
        ["--data", str(tmp_path / "x.npy"), "--target", str(tmp_path / "y.npy")],
        ["--data", str(tmp_path / "t.csv"), "--x-columns", "a,b,c", "--y-columns", "3:6"],
    ]
    for i, args in enumerate(runs):
        out = tmp_path / f"run{i}"
        assert _run(["discover", *args, "--out", str(out)]) == 0
        metrics = json.loads((out / "metrics.json").read_text())
        assert metrics["algebra"]["name"] == "so(3)"  # one vector per pair: from the invariant |x|^2


def test_an_invariant_map_from_a_file(tmp_path):
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(120, 3, generator=gen, dtype=torch.float64)
    y = x.pow(2).sum(1)  # invariant under so(3)
    np.savez(tmp_path / "inv.npz", x=x.numpy(), y=y.numpy())
    out = tmp_path / "run"
    assert _run(["discover", "--data", str(tmp_path / "inv.npz"), "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["kind"] == "invariant"
    assert metrics["n_generators"] == 3 and metrics["algebra"]["name"] == "so(3)"


def test_bad_files_and_options_are_one_line_and_leave_nothing(tmp_path, capsys):
    np.savez(tmp_path / "nox.npz", y=np.zeros((5, 3)))
    cases = [
        (["--data", str(tmp_path / "nox.npz")], "no array 'x'"),
        (["--data", str(tmp_path / "missing.npz")], "no such data file"),
        (["--data", str(tmp_path / "nox.npz"), "--space", "curly"], "unknown --space"),
        (["--task", "so3", "--space", "full"], "goes with --data"),
        (["--data", str(tmp_path / "nox.npz"), "-k", "three"], "positive number or 'auto'"),
    ]
    for args, message in cases:
        assert _run(["discover", *args, "--out", str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], err
    assert not (tmp_path / "out").exists()


def test_space_names():
    assert parse_space(None, 4, None).kind == "full"
    assert parse_space(None, 16, (4, 4)).name == "vector-field:4x4"
    blocks = parse_space("blocks:2", 8, None).basis()
    kron = parse_space("kron:2", 8, None).basis()
    assert blocks.shape == (16, 8, 8) and kron.shape == (4, 8, 8)
    with pytest.raises(ValueError, match="divides"):
        parse_space("blocks:3", 8, None)
    with pytest.raises(ValueError, match="--image-shape"):
        parse_space("vector-field", 8, None)
