import subprocess
import sys

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
