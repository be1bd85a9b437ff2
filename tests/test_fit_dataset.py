import json
import math

import pytest
import torch

from lconv.algebra import (
    SearchSpace,
    antisymmetric_space,
    block_space,
    exp,
    factorised_space,
    full_space,
    kron_space,
    structure_constants,
)
from lconv.analysis import align, cosine, data_projector, grassmann_distance, plot_algebra, plot_spectrum, restrict
from lconv.cli import main
from lconv.data.regression import (
    c7_invariant_regression,
    c7_regression,
    kepler_regression,
    kepler_symmetries,
    liegan_two_body_regression,
    lorentz_regression,
    o5_regression,
    two_body_states,
    two_body_step,
)
from lconv.discovery import (
    DatasetOptions,
    PairsOptions,
    count_symmetries,
    fit_dataset,
    fit_model,
    fit_pairs,
    kernel_sample_cap,
    map_derivatives,
)
from lconv.experiments.dataset import DATASET_EXPERIMENTS, DATASET_TASKS, LIEGAN_SPACE


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
    blocks = block_space()  # LieGAN's mask: block_diag of four 2x2 blocks of ones, 16 unknowns
    assert blocks.shape == (16, 8, 8) and torch.allclose(_gram(blocks), torch.eye(16, dtype=torch.float64))
    assert torch.equal(blocks.abs().sum(0) > 0, torch.block_diag(*[torch.ones(2, 2, dtype=torch.bool)] * 4))
    inside = torch.linalg.lstsq(blocks.reshape(16, -1).T.double(), liegan.reshape(4, -1).T.double()).solution
    assert torch.allclose(blocks.reshape(16, -1).T.double() @ inside, liegan.reshape(4, -1).T.double(), atol=1e-6)
    assert block_space(2, 3).shape == (18, 6, 6)
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
    res = fit_pairs(x, y, space=SearchSpace.kron(2, 2), options=PairsOptions(epochs=3))
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
    compact = fit_dataset(task.x[:60], task.y[:60], model=task.f, space="antisymmetric")
    assert compact.n_symmetries == 10 and grassmann_distance(compact.generators, task.truth) < 1e-6
    assert torch.allclose(compact.generators, -compact.generators.transpose(1, 2))


def test_given_gradients_give_the_same_answer_as_the_callable():
    task = lorentz_regression(120)
    x = task.x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(task.f(x).sum(), x)
    res = fit_dataset(task.x, task.y, n_generators=6, jacobian=grad)
    assert res.method == "given" and grassmann_distance(res.generators, task.truth) < 1e-6


def test_kepler_from_the_exact_map_finds_all_nine_symmetries_and_so8_singles_out_the_rotation():
    task = kepler_regression(60, dt=0.2)
    full = fit_dataset(task.x, task.y, model=task.f)
    assert full.n_symmetries == 9
    assert grassmann_distance(full.generators, kepler_symmetries()) < 1e-6
    assert align(full.generators, task.truth)[1][0] > 0.999999
    compact = fit_dataset(task.x, task.y, model=task.f, space="antisymmetric")
    assert compact.n_symmetries == 1 and cosine(compact.generators[0], task.truth[0]) > 0.999999


# ------------------------------------------------------------------------------ fitted models (samples only)
def test_kepler_in_the_shared_2x2_space_and_in_liegans_16_unknowns_from_samples_only():
    task = kepler_regression(400, dt=0.1)
    model = fit_model(task.x, task.y)
    res = fit_dataset(
        task.x, task.y, n_generators=1, space=SearchSpace.kron(2, 4), model=model
    )  # I_4 (x) A, 4 unknowns
    assert res.method == "kernel" and res.model_error == model.error < 0.3  # a model that predicts nothing: 1
    assert cosine(res.generators[0], task.truth[0]) >= 0.999  # LieGAN 0.9998, Augerino 0.67
    assert res.n_symmetries == 1 and float(res.residuals[0]) < 0.3 < float(res.singular_values[1])
    blocks = fit_dataset(task.x, task.y, n_generators="auto", space="blocks:2", model=model)  # four independent blocks
    assert blocks.n_symmetries == 1 and blocks.n_trivial == 0 and blocks.data_rank == 8
    assert cosine(blocks.generators[0], task.truth[0]) >= 0.999


def test_kernel_model_leaves_out_a_few_corrupted_samples():
    # a trajectory that jumps: six outputs of 400 moved far off; plain leave-one-out picked a kernel
    # that fits nothing (|cos| 0.01 to the rotation) before the selection and the fit were made robust
    task = kepler_regression(400, dt=0.1)
    gen = torch.Generator().manual_seed(1)
    bad = torch.randperm(400, generator=gen)[:6]
    y = task.y.clone()
    y[bad] += 2.0 * torch.randn(6, 8, generator=gen, dtype=torch.float64)
    model = fit_model(task.x, y)
    assert sorted(model.outliers.tolist()) == sorted(bad.tolist()) and "6 outlying samples" in model.description
    assert model.error < 0.3
    res = fit_dataset(task.x, y, n_generators=1, space="kron:2", model=model)
    assert cosine(res.generators[0], task.truth[0]) >= 0.999
    assert not len(fit_model(task.x, task.y).outliers)  # clean data: nothing left out


def test_memory_cap_subsamples_the_kernel_model_and_is_recorded():
    task = kepler_regression(400, dt=0.1)
    cap = kernel_sample_cap(0.005)  # 5 MB: sqrt(5e6 / 56) samples
    assert cap == 298 and kernel_sample_cap(4.0) > 8000
    model = fit_model(task.x, task.y, memory_gb=0.005)
    assert model.n_fit == cap and model.n_total == 400 and "memory cap of 0.005 GB" in model.description
    res = fit_dataset(task.x, task.y, n_generators=1, space="kron:2", options=DatasetOptions(memory_gb=0.005))
    assert res.config["memory_gb"] == 0.005 and res.config["model_samples"] == cap
    assert cosine(res.generators[0], task.truth[0]) >= 0.99
    with pytest.raises(ValueError, match="memory_gb must be a positive number"):
        fit_dataset(task.x, task.y, options=DatasetOptions(memory_gb=0))


def test_lorentz_from_a_few_hundred_samples():
    task = lorentz_regression(520, seed=1)
    model = fit_model(task.x, task.y)
    assert model.kind == "kernel" and model.error < 0.01
    res = fit_dataset(task.x, task.y, n_generators=6, model=model)
    assert res.method == "kernel" and res.n_symmetries == 6
    assert grassmann_distance(res.generators, task.truth) <= 0.05


def test_mlp_model_runs_and_reports_its_error():
    task = lorentz_regression(80)
    model = fit_model(task.x, task.y, "mlp", mlp_steps=30)
    assert model(task.x[:5]).shape == (5,) and math.isfinite(model.error)
    res = fit_dataset(task.x, task.y, n_generators=2, model="mlp", options=DatasetOptions(mlp_steps=30))
    assert res.generators.shape == (2, 8, 8) and res.method == "mlp"


def test_a_model_no_better_than_an_affine_fit_counts_no_symmetry():
    # LieGAN's C7 regression: one continuous symmetry (scaling (x1, x2)). A model that has learned
    # only y ~ c x3 is invariant under the six generators of gl(3) that fix x3, with a clean gap
    task = c7_invariant_regression(600)
    for model in (fit_model(task.x, task.y, "mlp", mlp_steps=150), fit_model(task.x, task.y)):
        assert model.error > 0.8 * model.affine_error and model.affine_error > 0.05
        res = fit_dataset(task.x, task.y, n_generators="auto", model=model)
        assert res.n_symmetries == 0 and res.generators.shape == (0, 3, 3)
        assert "affine fit" in res.count_reason and "would give 6" in res.count_reason
        assert count_symmetries(res.singular_values) == 6  # what the spectrum alone says
    exact = fit_dataset(task.x, task.y, n_generators="auto", model=task.f)  # the map itself: the one true symmetry
    assert exact.n_symmetries == 1 and cosine(exact.generators[0], task.truth[0]) > 0.999999


def test_c7_map_has_the_generators_that_commute_with_it_and_no_others():
    task = c7_regression(200)
    for res in (
        fit_dataset(task.x, task.y, n_generators="auto"),
        fit_dataset(task.x, task.y, n_generators="auto", model=task.f),
    ):
        assert res.n_symmetries == 3 and grassmann_distance(res.generators, task.truth) < 1e-6
    rot = task.f(torch.eye(3, dtype=torch.float64)).T
    assert all(torch.allclose(rot @ g, g @ rot, atol=1e-12) for g in task.truth)


def test_auto_returns_the_counted_generators_and_says_why():
    task = lorentz_regression(200)
    res = fit_dataset(task.x, task.y, n_generators="auto", model=task.f)
    assert res.generators.shape == (6, 8, 8) and res.residuals.shape == (6,)
    assert res.count_reason.startswith("6: residuals") and "lie below the largest gap" in res.count_reason
    assert torch.equal(res.spectrum, res.singular_values)
    ranked = fit_dataset(task.x, task.y, n_generators="all", model=task.f)
    assert ranked.generators.shape == (64, 8, 8) and ranked.n_symmetries == 6
    with pytest.raises(ValueError, match="'auto', 'all' or None"):
        fit_dataset(task.x, task.y, n_generators="some", model=task.f)


def test_count_symmetries_rule():
    s = torch.tensor
    assert count_symmetries(s([1e-15, 2e-15, 0.2, 0.5])) == 2  # clear gap
    assert count_symmetries(s([0.1, 0.12, 0.15, 0.2, 0.3, 0.5])) == 0  # no gap
    assert count_symmetries(s([0.4, 2.0, 2.1])) == 0  # a gap, but above max_residual
    assert count_symmetries(s([0.0, 0.0])) == 2  # everything is a symmetry
    assert count_symmetries(s([0.05, 0.1, 0.2, 0.25, 1.0])) == 4  # largest ratio 4 >= 3
    assert count_symmetries(s([0.05, 0.1, 0.2, 0.25, 1.0]), gap_ratio=5.0) == 0
    # the gap is looked for among small residuals: a larger one between violated values does not hide it
    assert count_symmetries(s([0.001, 0.01, 0.5, 50.0])) == 2


# ------------------------------------------------------------------------------ data on a subspace
def test_liegan_two_body_data_follow_its_protocol():
    task = liegan_two_body_regression(96)  # two trajectories of 50 states, 48 pairs each
    x, y = task.x, task.y
    assert x.shape == y.shape == (96, 8) and len(task.truth) == 1
    # coordinates (q1, p1, q2, p2), body 2 = -body 1
    assert torch.equal(x[:, 4:8], -x[:, 0:4]) and torch.equal(y[:, 4:8], -y[:, 0:4])
    assert torch.equal(x[1:48], y[:47]) and torch.equal(x[49:96], y[48:95])  # consecutive states of a trajectory
    radius = x[:, 0:2].norm(dim=1)
    assert 1.5 <= float(radius.min()) and float(radius.max()) <= 3.0
    assert torch.allclose(radius, y[:, 0:2].norm(dim=1), atol=1e-9)  # circular
    assert torch.allclose(x[:, 2:4].norm(dim=1), 1 / (2 * radius.sqrt()), atol=1e-9)  # speed of a circular orbit
    turn = torch.atan2(y[:, 1], y[:, 0]) - torch.atan2(x[:, 1], x[:, 0])
    omega = torch.remainder(turn, 2 * math.pi) / (20 / 49)
    assert torch.allclose(omega, 1 / (2 * radius.pow(1.5)), rtol=1e-6)  # dt = 20/49, counter-clockwise
    assert torch.allclose(task.f(x), y, atol=1e-10)  # the integrator agrees with the exact circular motion
    assert int(round(float(data_projector(torch.cat([x, y])).trace()))) == 4


def test_generators_that_vanish_on_the_data_are_reported_apart():
    task = liegan_two_body_regression(144)  # three orbits (two would have a symmetry of their own)
    proj = data_projector(torch.cat([task.x, task.y]))
    val, jac = map_derivatives(task.f, task.x)  # the exact map, differentiated once
    full = fit_dataset(task.x, val, n_generators="auto", jacobian=jac)
    assert full.data_rank == 4 and full.n_trivial == 32 and full.trivial.shape == (32, 8, 8)
    assert float((full.trivial.double() @ proj).abs().max()) < 1e-12  # L P = 0
    assert full.singular_values.shape == (32,) and full.n_symmetries == 1  # the quotient, without them
    assert cosine(full.on_data[0], restrict(task.truth, proj)[0]) > 1 - 1e-9
    assert float((full.generators[0].double() @ proj).norm()) > 0.99  # not a trivial one
    compact = fit_dataset(task.x, val, n_generators="auto", jacobian=jac, space="antisymmetric")
    assert compact.n_trivial == 6 and compact.n_symmetries == 1  # so(4) on the complement
    ignored = fit_dataset(
        task.x, val, jacobian=jac, options=DatasetOptions(span_rtol=None)
    )  # as before: trivial ones counted
    assert ignored.n_trivial == 0 and ignored.n_symmetries == 33


def test_liegan_two_body_from_samples_in_its_space_and_in_the_shared_2x2_space():
    task = liegan_two_body_regression(144)
    proj = data_projector(torch.cat([task.x, task.y]))
    model = fit_model(task.x, task.y)
    for basis in (block_space(), factorised_space()):
        res = fit_dataset(task.x, task.y, n_generators="auto", space=basis, model=model)
        assert res.n_symmetries == 1 and res.n_trivial == 0
        assert cosine(res.on_data[0], restrict(task.truth, proj)[0]) >= 0.9999  # LieGAN 0.9998
        assert cosine(res.generators[0], task.truth[0]) >= 0.9999


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
        fit_dataset(x[:3], x[:3], options={"span_rtol": None})
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
    with pytest.raises(ValueError, match=r"holds 5 x 5 generators, the data d = 4"):
        fit_dataset(x, x[:, 0], space=torch.zeros(3, 5, 5))
    with pytest.raises(ValueError, match="n_generators=7 but the search space has dimension 6"):
        fit_dataset(x, x[:, 0], n_generators=7, space="antisymmetric", model=lambda v: v.pow(2).sum(-1))
    with pytest.raises(ValueError, match="need floor >= 0"):
        fit_dataset(x, x[:, 0], options=DatasetOptions(floor=-1.0))
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
    assert metrics["spaces"][LIEGAN_SPACE]["exact"]["cosine"][0] > 0.999999
    assert "LieGAN" in (out / "report.md").read_text()


def test_new_tasks_are_registered_for_discover_and_repro():
    assert {"liegan-2body", "c7", "c7-invariant"} <= set(DATASET_TASKS)
    assert {"liegan-2body", "c7"} <= set(DATASET_EXPERIMENTS)


def test_cli_bad_dataset_options_exit_2_in_one_line(tmp_path, capsys):
    assert _run(["discover", "--task", "lorentz", "--model", "forest", "--n", "40", "--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown model 'forest'" in err[0]
    assert _run(["discover", "--task", "lorentz", "--n", "20", "--out", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "20 samples give 20 constraints for 64 unknowns" in err[0]
    assert not any(tmp_path.iterdir())
