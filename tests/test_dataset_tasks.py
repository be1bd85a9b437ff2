"""Slow checks of the one-dataset tasks end to end, and of the kernel model's memory cap (run with -m slow)."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from lconv.cli import main
from lconv.experiments.dataset import LIEGAN_SPACE

pytestmark = pytest.mark.slow


def _run(argv):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    return exc.value.code


def test_cli_liegan_two_body_lists_trivial_generators_apart(tmp_path, capsys):
    out = tmp_path / "liegan"
    assert _run(["discover", "--task", "liegan-2body", "--n", "144", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "LieGAN" in printed and "0.9998" in printed and "vanishing on the data" in printed
    spaces = json.loads((out / "metrics.json").read_text())["spaces"]
    for name in (LIEGAN_SPACE, "I_4 (x) A"):
        fitted = spaces[name]["fitted"]
        assert fitted["n_trivial"] == 0 and fitted["n_symmetries"] == 1 and fitted["false_symmetries"] == 0
        assert fitted["cosine_on_data"][0] >= 0.9999
    assert spaces["gl(8)"]["fitted"]["n_trivial"] == 32 and spaces["so(8)"]["fitted"]["n_trivial"] == 6
    assert spaces["gl(8)"]["fitted"]["data_rank"] == 4
    assert "L P = 0" in (out / "report.md").read_text()


def test_cli_c7_invariant_reports_no_false_symmetry_with_either_model(tmp_path):
    for model in ("kernel", "mlp"):
        out = tmp_path / model
        assert _run(["discover", "--task", "c7-invariant", "--n", "600", "--model", model, "--out", str(out)]) == 0
        fitted = json.loads((out / "metrics.json").read_text())["spaces"]["gl(3)"]["fitted"]
        assert fitted["false_symmetries"] == 0 and fitted["n_symmetries"] <= 1


def test_kernel_model_stays_within_its_memory_cap():
    # peak resident memory of fitting the kernel model on 4000 samples under a 0.3 GB cap (about 0.18 GB used)
    script = textwrap.dedent(
        """
        import resource, torch
        from lconv.discovery import fit_model, kernel_sample_cap
        x = torch.randn(4000, 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
        y = x.pow(2).sum(1)
        fit_model(x[:50], y[:50])  # load what every fit loads
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        model = fit_model(x, y, max_samples=10**6, memory_gb=0.3)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(model.n_fit, kernel_sample_cap(0.3), (peak - base) * 1024)
        """
    )
    env = dict(os.environ, OMP_NUM_THREADS="1")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env)
    n_fit, cap, grown = (float(v) for v in done.stdout.split())
    assert n_fit == cap < 4000
    assert grown < 0.3e9
