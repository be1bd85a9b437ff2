import importlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

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
    cases = [
        (["demo", "--size", "1"], "'--size'", "lconv demo --help"),  # rejected by click
        (["no-such-command"], "no-such-command", "lconv --help"),
        (["train", "--bogus"], "--bogus", "lconv train --help"),
        (["bench", "--sizes", "28,x"], "--sizes: expected comma-separated integers", ""),  # ValueError of a check
        (["discover", "--data", "/nonexistent/x.npz"], "/nonexistent/x.npz", ""),  # OSError: missing file
    ]
    for argv, *words in cases:
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2, argv
        captured = capsys.readouterr()
        err = captured.err.strip()
        assert err.startswith("lconv: error: ") and "\n" not in err and all(w in err for w in words), err
        assert "Traceback" not in captured.err and captured.out == ""


def test_a_bug_prints_its_traceback_and_exits_1(monkeypatch, capsys):
    """A TypeError inside lconv is not the user's: traceback and status 1, not a one-line status 2."""
    import lconv.cli

    def broken(a, b):
        return a + "1"  # TypeError: unsupported operand, as a slip in the code would raise

    monkeypatch.setattr(lconv.cli, "_cosine", broken)
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--image", "8"])
    assert exc.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last):") and "in broken" in err
    assert "TypeError: unsupported operand" in err and "lconv: error:" not in err
    assert err.strip().splitlines()[-1].startswith("lconv: internal error")

    def rejects(*args, **kwargs):
        raise lconv.cli.typer.BadParameter("never mind")  # click's errors raised in a command: one line, status 2

    monkeypatch.setattr(lconv.cli, "_cosine", rejects)
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--image", "8"])
    assert exc.value.code == 2 and capsys.readouterr().err.startswith("lconv: error: Invalid value: never mind")


def test_help_shows_every_default_and_lconv_data(monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "200")  # one line per option
    for command in ("train", "repro", "bench"):
        with pytest.raises(SystemExit) as exc:
            main([command, "--help"])
        assert exc.value.code == 0
        out = capsys.readouterr().out
        lines = [line.rstrip(" │") for line in out.splitlines() if line.startswith("│ --")]
        assert len(lines) > 10
        assert not [line for line in lines if line.endswith(" .") or " . " in line or " ;" in line], command
        if command == "train":
            for option, default in (("--dataset", "mnist"), ("--layers", "1"), ("--lr", "2e-3"), ("--seed", "0")):
                line = next(line for line in lines if line.startswith(f"│ {option} "))
                assert f"[default: {default}]" in line, line
        if command == "train":
            from lconv.nn import MODELS

            rows = out.splitlines()
            start = next(i for i, line in enumerate(rows) if line.startswith("│ --model "))
            end = next((i for i in range(start + 1, len(rows)) if not rows[i].startswith("│    ")), len(rows))
            model_help = " ".join(rows[start:end])  # with its wrapped lines
            assert all(name in model_help for name in MODELS), model_help
        if command in ("train", "repro"):
            assert "LCONV_DATA" in next(line for line in lines if line.startswith("│ --data-dir "))


def test_piped_bench_table_is_not_cut_to_80_columns(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    argv = ["bench", "--sizes", "6", "--batch", "2", "--channels", "3", "-n", "2", "--rank", "2", "--repeats", "1"]
    argv += ["--no-headline", "--memory-size", "0", "--threads", "1", "--out", str(tmp_path / "b.json")]
    proc = subprocess.run([sys.executable, "-m", "lconv.cli", *argv], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    header = next(line for line in lines if "method" in line and "side" in line)
    assert "speed-up vs einsum" in header and "error out / grad" in header and "memory MiB" in header
    assert max(map(len, lines)) > 100 and "…" not in proc.stdout  # rich cuts cells with an ellipsis
    assert sum("│" in line and "e-0" in line for line in lines) == 7  # every method's row, errors included


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
    # 3 rounds on 150 pairs: 0.57 here, where least squares gets 0.12 and the planted generator 1
    assert metrics["cosine"][0] > 0.45 > metrics["baseline_lstsq"]["cosine"][0]
    assert metrics["truth"]["cosine"] == [pytest.approx(1.0)]
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


def _tiny_images(config, data_dir, download):
    """Random 8x8 "images" in place of MNIST: the run itself, without the dataset files."""
    g = torch.Generator().manual_seed(0)
    split = lambda n: (torch.randn(n, 1, 8, 8, generator=g), torch.randint(0, 10, (n,), generator=g))  # noqa: E731
    return (*split(64), torch.zeros(1, 1, 1, 1)), split(16), split(16)  # the training split with its blank pixel


TRAIN = ["train", "--channels", "2", "--generators", "2", "--rank", "2", "--batch-size", "32", "--epochs", "3"]


@pytest.mark.parametrize("stop_at", [2, 1])
def test_ctrl_c_in_train_names_the_run_to_resume_and_exits_130(stop_at, tmp_path, monkeypatch, capsys):
    """Ctrl-C during validation of epoch ``stop_at``: one line with the command that continues the run."""
    train_module = importlib.import_module("lconv.experiments.train")
    monkeypatch.setattr(train_module, "_load_data", _tiny_images)
    evaluate, calls = train_module._evaluate, []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == stop_at:
            raise KeyboardInterrupt
        return evaluate(*args, **kwargs)

    monkeypatch.setattr(train_module, "_evaluate", interrupted)
    folder, data = tmp_path / "run", tmp_path / "data"  # --data-dir: read by nobody here, named in the hint
    assert _run([*TRAIN, "--out", str(folder), "--data-dir", str(data)]) == 130
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert "\n" not in err and "Traceback" not in err and captured.out.strip() == ""
    if stop_at == 1:  # nothing saved yet
        assert err == f"lconv: interrupted before the first epoch was saved; nothing to resume in {folder}"
        return
    command = f"lconv train --resume --out {folder} --data-dir {data}"
    assert err == f"lconv: interrupted; epoch 1 is saved: continue with {command}"
    assert _run(command.split()[1:]) == 0  # the command in the hint finishes the run
    assert json.loads((folder / "metrics.json").read_text())["epochs"] == 3
