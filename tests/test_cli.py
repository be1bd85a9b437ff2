import json
import subprocess
import sys

import numpy as np
import pytest

from lconv.cli import main


def test_demo_prints_the_fig6_cosines_and_equivariance_errors(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--image", "8"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if "(I + 2T/8)^8" in line)
    assert "0.7724" in row
    row = next(line for line in out.splitlines() if line.strip().startswith("│ translation"))
    assert float(row.split("│")[-2]) < 1e-12


def test_bad_option_exits_2_with_one_line(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--size", "1"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["no-such-command"])
    assert exc.value.code == 2


def test_console_script_runs_without_traceback():
    proc = subprocess.run([sys.executable, "-m", "lconv.cli", "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("lconv ")
    proc = subprocess.run([sys.executable, "-m", "lconv.cli", "demo", "--size", "0"], capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def _run(argv):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    return exc.value.code


def test_discover_writes_the_run_folder(tmp_path, capsys):
    out = tmp_path / "run"
    code = _run(["discover", "--size", "5", "--n", "150", "--epochs", "3", "--out", str(out)])
    assert code == 0
    names = {p.name for p in out.iterdir()}
    assert {"config.json", "metrics.json", "generators.npy", "report.md", "figures"} <= names
    assert {p.name for p in (out / "figures").iterdir()} == {"generators.png", "flows.png", "loss.png"}
    metrics = json.loads((out / "metrics.json").read_text())
    config = json.loads((out / "config.json").read_text())
    assert config["task"] == "rotation" and config["structure"] == "vector-field" and not config["known_t"]
    gens = np.load(out / "generators.npy")
    assert gens.shape == (1, 25, 25)
    assert 0 < metrics["cosine"][0] <= 1 and "baseline_lstsq" in metrics
    assert "|cos| with the truth" in capsys.readouterr().out

    # the same folder again: refused in one line, nothing overwritten
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert _run(["discover", "--size", "5", "--n", "150", "--epochs", "1", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "already exists" in err[0] and "--out" in err[0]
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_discover_rejects_bad_options_in_one_line(tmp_path, capsys):
    assert _run(["discover", "--task", "spin", "--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [err[0]] and "unknown task 'spin'" in err[0]
    assert _run(["discover", "--method", "magic", "--n", "20", "--size", "4", "--out", str(tmp_path / "b")]) == 2
    assert "unknown method" in capsys.readouterr().err
    assert _run(["discover", "--generators", "500", "--n", "20", "--size", "4", "--out", str(tmp_path / "c")]) == 2
    assert "search space has dimension" in capsys.readouterr().err
    assert _run(["discover", "--task", "so3", "--structure", "vector-field", "--out", str(tmp_path / "d")]) == 2
    assert "needs an image task" in capsys.readouterr().err
    assert _run(["discover", "--structure", "curly", "--n", "20", "--size", "4", "--out", str(tmp_path / "e")]) == 2
    assert "unknown structure 'curly'" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # failed runs leave no folders behind


def test_discover_vector_task_so3(tmp_path):
    out = tmp_path / "so3"
    assert (
        _run(
            [
                "discover",
                "--task",
                "so3",
                "--n",
                "200",
                "--t-min",
                "-0.5",
                "--t-max",
                "0.5",
                "--epochs",
                "5",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["grassmann_distance"] < 0.05
    assert metrics["structure_constants_error"] < 0.02


def test_repro_c1_prints_the_paper_beside_ours(tmp_path, capsys):
    table = tmp_path / "c1.md"
    assert _run(["repro", "c1", "--out", str(tmp_path / "run"), "--table", str(table)]) == 0
    out = capsys.readouterr().out
    assert "0.772" in out and "0.770" in out and "0.940" in out
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert [round(r["ours"], 2) for r in results["rows"]] == [0.77, 0.94, 1.0]
    assert table.read_text().startswith("# SI C.1") and "lconv repro c1 --seed 0" in table.read_text()
    assert _run(["repro", "c9", "--out", str(tmp_path / "x")]) == 2
    assert "unknown experiment 'c9'" in capsys.readouterr().err
