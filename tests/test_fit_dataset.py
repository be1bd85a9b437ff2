import json
import math

import pytest
import torch

from lconv.algebra import antisymmetric_space, exp, factorised_space, full_space, kron_space, structure_constants
from lconv.analysis import align, cosine, grassmann_distance, plot_algebra, plot_spectrum
from lconv.cli import main
from lconv.data.regression import (
    kepler_regression,
    kepler_symmetries,
    lorentz_regression,
    o5_regression,
    two_body_states,
    two_body_step,
)
from lconv.discovery import count_symmetries, fit_dataset, fit_model, fit_pairs


def _gram(b):
    flat = b.reshape(len(b), -1).double()
    return flat @ flat.T


# ------------------------------------------------------------------------------ search spaces
def test_search_spaces_have_the_stated_shapes_and_inner_products():
    assert full_space(3).shape == (9, 3, 3) and torch.allclose(_gram(full_space(3)), torch.eye(9, dtype=torch.float64))
    so5 = antisymmetric_space(5)
    assert so5.shape == (10, 5, 5) and torch.allclose(so5, -so5.transpose(1, 2))
    assert torch.allclose(_gram(so5), torch.eye(10, dtype=torch.float64), atol=1e-6)
    assert torch.equal(
        antisymmetric_space(2, dtype=torch.float64)[0] * math.sqrt(2), torch.tensor([[0.0, -1], [1, 0]]).double()
    )
    liegan = factorised_space()  # I_4 (x) A, A any 2x2
    assert liegan.shape == (4, 8, 8)
    a = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    coef = torch.linalg.lstsq(liegan.reshape(4, -1).T, torch.kron(torch.eye(4), a).reshape(-1)).solution
    assert torch.allclose(torch.einsum("m,mij->ij", coef, liegan), torch.kron(torch.eye(4), a), atol=1e-6)
    lorentz = kron_space("so13", 2, dtype=torch.float64)  # keeps the block's structure constants
    c_block = structure_constants(kron_space("so13", 1, dtype=torch.float64)).constants
    assert torch.allclose(structure_constants(lorentz).constants, c_block, atol=1e-10)
    with pytest.raises(ValueError, match="positive int"):
        full_space(0)
    with pytest.raises(ValueError, match=r"block must be \(m, k, k\)"):
        kron_space(torch.zeros(2, 3), 2)


def test_fit_pairs_searches_a_given_basis_with_hidden_parameters():
    # two 2-vectors turned together; the learner may only use I_2 (x) A
    truth = kron_space("so2", 2, dtype=torch.float64)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(40, 3, 4, generator=gen, dtype=torch.float64)
    t = torch.rand(40, 1, generator=gen, dtype=torch.float64) - 0.5
    y = torch.einsum("nab,ncb->nca", exp(truth[0], t[:, 0]), x)
    res = fit_pairs(x, y, 1, basis=factorised_space(2, 2, dtype=torch.float64), epochs=3)
    assert cosine(res.generators[0], truth[0]) > 0.999
    inside = torch.linalg.lstsq(
        factorised_space(2, 2).reshape(4, -1).T.double(), res.generators[0].reshape(-1)
    ).solution
    assert torch.allclose(
        torch.einsum("m,mij->ij", inside, factorised_space(2, 2).double()), res.generators[0], atol=1e-6
    )


# ------------------------------------------------------------------------------ data
def test_two_body_map_conserves_energy_and_commutes_with_its_nine_symmetries():
    x = two_body_states(64, generator=torch.Generator().manual_seed(0))

    def energy(z, m1=1.0, m2=0.5):
        kinetic = z[:, 4:6].pow(2).sum(-1) / (2 * m1) + z[:, 6:8].pow(2).sum(-1) / (2 * m2)
        return kinetic - m1 * m2 / (z[:, 0:2] - z[:, 2:4]).norm(dim=-1)

    y = two_body_step(x, 0.5)
    assert torch.allclose(energy(y), energy(x), atol=1e-9)
    assert torch.allclose(y[:, 4:6] + y[:, 6:8], x[:, 4:6] + x[:, 6:8], atol=1e-12)  # total momentum
    for g in kepler_symmetries():
        m = exp(g, 0.3)
        assert torch.allclose(two_body_step(x @ m.T, 0.5), y @ m.T, atol=1e-10)
    assert align(kepler_symmetries(), kron_space("so2", 4, dtype=torch.float64))[1][0] > 1 - 1e-6  # rotation inside


# ------------------------------------------------------------------------------ exact derivatives
def test_lorentz_algebra_from_the_exact_map():
    task = lorentz_regression(200)
    res = fit_dataset(task.x, task.y, model=task.f)
    assert res.n_symmetries == 6 and res.generators.shape == (6, 8, 8)
    assert grassmann_distance(res.generators, task.truth) < 1e-6
    assert float(res.residuals.max()) < 1e-10 < float(res.singular_values[6])
    assert res.singular_values.shape == (64,) and bool((res.singular_values.diff() >= 0).all())
    aligned, _ = align(res.generators, task.truth)
    c_true = structure_constants(task.truth).constants
    assert float((structure_constants(aligned.double()).constants - c_true).norm() / c_true.norm()) < 0.02


def test_o5_from_the_exact_map_in_the_full_and_the_antisymmetric_space():
    task = o5_regression(150)
    full = fit_dataset(task.x, task.y, model=task.f)
    assert full.n_symmetries == 10 and grassmann_distance(full.generators, task.truth) < 1e-6
    compact = fit_dataset(task.x[:60], task.y[:60], model=task.f, structure="antisymmetric")
    assert compact.n_symmetries == 10 and grassmann_distance(compact.generators, task.truth) < 1e-6
    assert torch.allclose(compact.generators, -compact.generators.transpose(1, 2))


def test_given_gradients_give_the_same_answer_as_the_callable():
    task = lorentz_regression(120)
    x = task.x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(task.f(x).sum(), x)
    res = fit_dataset(task.x, task.y, 6, jacobian=grad)
    assert res.method == "given" and grassmann_distance(res.generators, task.truth) < 1e-6


def test_kepler_from_the_exact_map_finds_all_nine_symmetries_and_so8_singles_out_the_rotation():
    task = kepler_regression(60, dt=0.2)
    full = fit_dataset(task.x, task.y, model=task.f)
    assert full.n_symmetries == 9
    assert grassmann_distance(full.generators, kepler_symmetries()) < 1e-6
    assert align(full.generators, task.truth)[1][0] > 0.999999
    compact = fit_dataset(task.x, task.y, model=task.f, structure="antisymmetric")
    assert compact.n_symmetries == 1 and cosine(compact.generators[0], task.truth[0]) > 0.999999


# ------------------------------------------------------------------------------ fitted models (samples only)
def test_kepler_in_liegans_space_from_samples_only():
    task = kepler_regression(400, dt=0.1)
    res = fit_dataset(task.x, task.y, 1, basis=factorised_space())
    assert res.method == "kernel" and res.model_error is not None
    assert cosine(res.generators[0], task.truth[0]) >= 0.999  # LieGAN 0.9998, Augerino 0.67
    assert res.n_symmetries == 1 and float(res.residuals[0]) < 0.3 < float(res.singular_values[1])


def test_lorentz_from_a_few_hundred_samples():
    task = lorentz_regression(520, seed=1)
    model = fit_model(task.x, task.y)
    assert model.kind == "kernel" and model.error < 0.01
    res = fit_dataset(task.x, task.y, 6, model=model)
    assert res.method == "kernel" and res.n_symmetries == 6
    assert grassmann_distance(res.generators, task.truth) <= 0.05


def test_mlp_model_runs_and_reports_its_error():
    task = lorentz_regression(80)
    model = fit_model(task.x, task.y, "mlp", mlp_steps=30)
    assert model(task.x[:5]).shape == (5,) and math.isfinite(model.error)
    res = fit_dataset(task.x, task.y, 2, model="mlp", mlp_steps=30)
    assert res.generators.shape == (2, 8, 8) and res.method == "mlp"


def test_count_symmetries_rule():
    s = torch.tensor
    assert count_symmetries(s([1e-15, 2e-15, 0.2, 0.5])) == 2  # clear gap
    assert count_symmetries(s([0.1, 0.12, 0.15, 0.2, 0.3, 0.5])) == 0  # no gap
    assert count_symmetries(s([0.4, 2.0, 2.1])) == 0  # a gap, but above max_residual
    assert count_symmetries(s([0.0, 0.0])) == 2  # everything is a symmetry
    assert count_symmetries(s([0.05, 0.1, 0.2, 0.25, 1.0])) == 4  # largest ratio 4 >= 3
    assert count_symmetries(s([0.05, 0.1, 0.2, 0.25, 1.0]), gap_ratio=5.0) == 0


# ------------------------------------------------------------------------------ figures
def test_plot_algebra_and_spectrum_write_pngs(tmp_path):
    p = plot_algebra(kron_space("so13", 1), tmp_path / "a" / "algebra.png", names=["Jx", "Jy", "Jz", "Kx", "Ky", "Kz"])
    assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plot_algebra(kron_space("so2", 4), tmp_path / "one.png").stat().st_size > 0  # one generator: no table
    q = plot_spectrum(torch.tensor([1e-15, 0.2, 0.5]), tmp_path / "s.png", n_symmetries=1)
    assert q.read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="2 names for 6 generators"):
        plot_algebra(kron_space("so13", 1), tmp_path / "b.png", names=["a", "b"])


# ------------------------------------------------------------------------------ bad input
def test_bad_input_is_named_in_one_line():
    x = torch.randn(50, 4, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"y must be \(N,\) = \(50,\) .* or \(N, d\) = \(50, 4\)"):
        fit_dataset(x, torch.randn(50, 3))
    with pytest.raises(ValueError, match=r"10 samples give 10 constraints for 16 unknowns; pass at least 16 samples"):
        fit_dataset(x[:10], x[:10, 0])
    with pytest.raises(ValueError, match=r"3 samples give 12 constraints for 16 unknowns; pass at least 4 samples"):
        fit_dataset(x[:3], x[:3])
    bad = x.clone()
    bad[3, 1] = math.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        fit_dataset(bad, x[:, 0])
    with pytest.raises(ValueError, match="NaN or inf"):
        fit_dataset(x, x[:, 0].clone().fill_(math.inf))
    with pytest.raises(ValueError, match=r"jacobian must be \(50, 4\)"):
        fit_dataset(x, x[:, 0], jacobian=torch.zeros(50, 4, 4))
    with pytest.raises(ValueError, match="unknown model 'forest'"):
        fit_dataset(x, x[:, 0], model="forest")
    with pytest.raises(ValueError, match=r"basis must be \(m, 4, 4\)"):
        fit_dataset(x, x[:, 0], basis=torch.zeros(3, 5, 5))
    with pytest.raises(ValueError, match="n_generators=7 but the search space has dimension 6"):
        fit_dataset(x, x[:, 0], 7, structure="antisymmetric", model=lambda v: v.pow(2).sum(-1))
    with pytest.raises(ValueError, match="need floor >= 0"):
        fit_dataset(x, x[:, 0], floor=-1.0)
    with pytest.raises(ValueError, match="y is missing"):
        fit_dataset(x)
    with pytest.raises(ValueError, match="leaves every sample unchanged"):
        fit_dataset(x, x, model=lambda v: v)  # the identity map: every generator commutes with it
    with pytest.raises(TypeError, match="floating-point"):
        fit_dataset(x.long(), x[:, 0])
    with pytest.raises(ValueError, match=r"x must be \(N, d\)"):
        fit_dataset(x[:, :, None], x[:, 0])


def _run(argv):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    return exc.value.code


def test_cli_kepler_writes_the_run_folder_and_prints_the_peers(tmp_path, capsys):
    out = tmp_path / "kepler"
    assert _run(["discover", "--task", "kepler", "--n", "120", "--dt", "0.1", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "LieGAN" in printed and "0.9998" in printed and "Augerino" in printed and "0.6700" in printed
    assert {p.name for p in out.iterdir()} == {"config.json", "metrics.json", "generators.npy", "report.md", "figures"}
    assert {p.name for p in (out / "figures").iterdir()} == {"algebra.png", "spectrum.png"}
    metrics = json.loads((out / "metrics.json").read_text())
    exact = metrics["spaces"]["gl(8)"]["exact"]
    assert exact["n_symmetries"] == 9 and exact["grassmann_to_all_symmetries"] < 1e-6
    assert metrics["spaces"]["I_4 (x) A"]["exact"]["cosine"][0] > 0.999999
    assert "LieGAN" in (out / "report.md").read_text()


def test_cli_bad_dataset_options_exit_2_in_one_line(tmp_path, capsys):
    assert _run(["discover", "--task", "lorentz", "--model", "forest", "--n", "40", "--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown model 'forest'" in err[0]
    assert _run(["discover", "--task", "lorentz", "--n", "20", "--out", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "20 samples give 20 constraints for 64 unknowns" in err[0]
    assert not any(tmp_path.iterdir())
