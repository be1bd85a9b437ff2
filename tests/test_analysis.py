import math

import pytest
import torch

from lconv import Grid
from lconv import generators as G
from lconv.analysis import (
    align,
    cosine,
    data_projector,
    grassmann_distance,
    plot_generators,
    plot_history,
    plot_vector_fields,
    principal_angles,
    restrict,
    transform_error,
    vector_field,
)
from lconv.data import image_pairs


def test_cosine_ignores_sign_and_scale():
    a, b = torch.randn(2, 5, 5, generator=torch.Generator().manual_seed(0))
    assert cosine(a, -3 * a) == pytest.approx(1.0)
    assert cosine(a, b) == pytest.approx(cosine(-a, 2 * b))
    assert cosine(a, b) < 0.9
    with pytest.raises(ValueError, match="different sizes"):
        cosine(a, torch.zeros(4, 4))
    with pytest.raises(ValueError, match="NaN"):
        cosine(a, torch.full((5, 5), math.nan))


def test_principal_angles_and_grassmann_distance():
    basis = torch.randn(3, 4, 4, generator=torch.Generator().manual_seed(1))
    mixed = torch.einsum("ij,jab->iab", torch.tensor([[1.0, 2, 0], [0, 1, -1], [3, 0, 1]]), basis)
    assert grassmann_distance(basis, mixed) < 1e-6  # same span, other basis
    e = torch.eye(16).reshape(16, 4, 4)
    assert torch.allclose(principal_angles(e[:2], e[2:4]), torch.full((2,), math.pi / 2, dtype=torch.float64))
    assert grassmann_distance(e[:2], e[2:4]) == pytest.approx(math.pi / 2 * math.sqrt(2))
    assert grassmann_distance(e[:1], e[:3]) < 1e-9  # one span inside the other


def test_align_recovers_each_true_generator_from_a_mixed_basis():
    truth = G.family("se2", Grid((5, 5)))
    mix = torch.tensor([[0.5, 1.0, 0.0], [1.0, -1.0, 2.0], [0.0, 0.3, 1.0]])
    aligned, cos = align(torch.einsum("ij,jab->iab", mix, truth), truth)
    assert aligned.shape == truth.shape
    assert torch.allclose(cos, torch.ones(3, dtype=cos.dtype), atol=1e-5)


def test_transform_error_is_zero_for_the_truth_on_exact_pairs():
    p = image_pairs("rotation", n=20, size=6, images="band-limited", transform="exact", t_range=(0.1, 0.4))
    assert transform_error(p.truth, p.x, p.y, p.t) < 1e-4
    assert transform_error(p.truth, p.x, p.y) < 1e-3  # t fitted per pair
    assert transform_error(torch.zeros_like(p.truth), p.x, p.y, p.t) == pytest.approx(1.0)


def test_vector_field_of_rotation_turns_about_the_centre():
    grid = Grid((9, 9))
    v = vector_field(G.rotation(grid, dtype=torch.float64)[0], grid)
    xy = grid.coordinates()
    inner = xy.abs().max(-1).values <= 2
    radial = (v[inner] * xy[inner]).sum(-1)
    tangential = (v[inner] * torch.stack([-xy[inner, 1], xy[inner, 0]], -1)).sum(-1)
    assert radial.abs().max() < 0.05 * tangential.abs().max()
    assert bool((tangential[xy[inner].norm(dim=-1) > 0] > 0).all())  # turns from +x towards +y


def test_figures_are_written_as_png(tmp_path):
    grid = Grid((5, 5))
    gens = G.family("se2", grid)
    for path in (
        plot_generators(gens, tmp_path / "g.png", truth=gens),
        plot_vector_fields(gens, grid, tmp_path / "f.png", truth=gens),
        plot_history({"loss": [1.0, 0.5, 0.25]}, tmp_path / "sub" / "l.png"),
    ):
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 2000
    assert not list(tmp_path.glob("**/*.tmp"))


def test_data_projector_and_restrict():
    basis = torch.randn(3, 8, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    x = torch.randn(50, 3, dtype=torch.float64) @ basis  # data on a 3-D subspace of R^8
    P = data_projector(x)
    assert round(float(P.trace())) == 3
    assert torch.allclose(P @ P, P, atol=1e-10) and torch.allclose(P @ x.T, x.T, atol=1e-10)
    L = torch.randn(2, 8, 8, dtype=torch.float64)
    assert torch.allclose(restrict(L, P) @ x.T, L @ x.T, atol=1e-9)  # same action on the data


# ---- what the figures show: colour bars, axis labels, values, cosines in titles


def _colour_bars(fig):
    return [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]


def _panels(fig):
    return [ax for ax in fig.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]


def _by_hand_cos(a, b):
    a, b = a.double().flatten(), b.double().flatten()
    return abs(float(a @ b)) / float(a.norm() * b.norm())


def _noisy_so3():
    from lconv.algebra import matrix_algebra

    truth = matrix_algebra("so3", dtype=torch.float64)
    noise = torch.randn(truth.shape, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    return truth - 0.1 * noise, truth  # learned[0] flipped below to check the sign fix


def test_generator_figure_has_colour_bars_labels_values_and_cosines():
    import matplotlib.pyplot as plt

    from lconv.analysis._figures import _generators_figure

    learned, truth = _noisy_so3()
    learned[0] = -learned[0]
    fig = _generators_figure(learned, truth=truth, labels=["x", "y", "z"])
    try:
        assert len(_colour_bars(fig)) == 1  # learned and true on one scale: same colour, same value
        panels = _panels(fig)
        assert len(panels) == 6
        learned_axes, true_axes = panels[:3], panels[3:]
        for i, ax in enumerate(learned_axes):
            title = ax.get_title()
            assert title.startswith(f"learned L{i + 1}")
            assert f"|cos| = {_by_hand_cos(learned[i], truth[i]):.3f}" in title
            image = ax.get_images()[0]
            lo, hi = image.get_clim()
            assert lo == pytest.approx(-hi) and hi > 0  # symmetric about 0
            assert image.get_cmap().name == "RdBu_r"
            assert (lo, hi) == true_axes[i].get_images()[0].get_clim()
            assert [t.get_text() for t in ax.get_xticklabels()] == ["x", "y", "z"]
            assert ax.get_xlabel()
        for i, ax in enumerate(true_axes):
            assert ax.get_title() == f"true L{i + 1}"
            assert ax.get_xlabel()
            assert sorted(t.get_text() for t in ax.texts) == ["-1.00", "1.00"]  # zeros left blank
        assert learned_axes[0].get_ylabel() and true_axes[0].get_ylabel()
        # the flipped generator is drawn with the sign of its true counterpart
        shown = learned_axes[0].get_images()[0].get_array()
        assert float((torch.tensor(shown.data) * truth[0]).sum()) > 0
        expected = [f"{v:.2f}" for v in (-learned[0]).flatten().tolist() if float(f"{v:.2f}") != 0]
        assert sorted(t.get_text() for t in learned_axes[0].texts) == sorted(expected)
    finally:
        plt.close(fig)
    fig = _generators_figure(10 * learned, truth=truth)  # scales far apart: one range per row
    try:
        assert len(_colour_bars(fig)) == 2
        panels = _panels(fig)
        assert panels[0].get_images()[0].get_clim()[1] > 5 * panels[3].get_images()[0].get_clim()[1]
    finally:
        plt.close(fig)


def test_generator_figure_without_truth_large_d_and_wrapping():
    import matplotlib.pyplot as plt

    from lconv.analysis._figures import _generators_figure

    gens = G.family("se2", Grid((5, 5)))  # d = 25: no values in the cells
    fig = _generators_figure(gens)
    try:
        assert len(_colour_bars(fig)) == 1
        for i, ax in enumerate(_panels(fig)):
            assert ax.get_title() == f"learned L{i + 1}" and "cos" not in ax.get_title()
            assert not ax.texts and ax.get_xlabel() == "column j: input x_j"
        assert _panels(fig)[0].get_ylabel() == "row i: output dx_i/dt"
    finally:
        plt.close(fig)
    many = torch.randn(10, 4, 4, generator=torch.Generator().manual_seed(2))
    fig = _generators_figure(many, truth=many)
    try:
        width, height = fig.get_size_inches()
        assert width < 25 and height > 2 * 2.5  # wraps onto a second block of rows
        assert len(_panels(fig)) == 20 and len(_colour_bars(fig)) == 1
        assert all("|cos| = 1.000" in ax.get_title() for ax in _panels(fig) if ax.get_title().startswith("learned"))
    finally:
        plt.close(fig)
    with pytest.raises(ValueError, match="labels"):
        _generators_figure(many, labels=["x", "y"])


def test_vector_field_figure_colours_arrows_by_speed_with_labels_and_cosines():
    import matplotlib.pyplot as plt
    from matplotlib.quiver import Quiver

    from lconv.analysis._figures import _vector_fields_figure

    grid = Grid((7, 7))
    truth = G.family("se2", grid).double()
    learned = truth + 0.05 * torch.randn(truth.shape, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    fig = _vector_fields_figure(learned, grid, truth=truth)
    try:
        assert len(_colour_bars(fig)) == 1
        assert "speed" in _colour_bars(fig)[0].get_ylabel()
        panels = _panels(fig)
        for i, ax in enumerate(panels[:3]):
            assert f"|cos| = {_by_hand_cos(learned[i], truth[i]):.3f}" in ax.get_title()
        for i, ax in enumerate(panels[3:]):
            assert ax.get_title() == f"true L{i + 1}"
        for ax in panels:
            assert ax.get_xlabel() == "x (pixels)"
            arrows = [c for c in ax.collections if isinstance(c, Quiver)]
            assert len(arrows) == 1
            speed = (arrows[0].U ** 2 + arrows[0].V ** 2) ** 0.5
            assert abs(arrows[0].get_array() - speed).max() < 1e-9  # coloured by speed
            assert arrows[0].norm.vmax == pytest.approx(_colour_bars(fig)[0].get_ylim()[1])  # one speed scale
        assert panels[0].get_ylabel().startswith("y (pixels")
    finally:
        plt.close(fig)


def test_history_figure_states_log_scale_and_total_time():
    import matplotlib.pyplot as plt

    from lconv.analysis._figures import _history_figure

    fig = _history_figure({"loss": [1.0, 0.1, 0.01], "seconds": [0.5, 1.0, 12.25]}, title="exp fit")
    try:
        ax = fig.axes[0]
        assert ax.get_yscale() == "log" and "log scale" in ax.get_ylabel()
        assert ax.get_xlabel() == "epoch"
        assert ax.get_title().startswith("exp fit") and "12.2 s in total" in ax.get_title()
    finally:
        plt.close(fig)
    fig = _history_figure({"loss": [0.5, 0.0]})
    try:
        ax = fig.axes[0]
        assert ax.get_yscale() == "linear" and "log" not in ax.get_ylabel()
        assert ax.get_title() == "training loss"
    finally:
        plt.close(fig)


def test_algebra_and_spectrum_figures_are_labelled():
    import matplotlib.pyplot as plt

    from lconv.analysis._figures import _algebra_figure, _spectrum_figure

    _, so3 = _noisy_so3()
    fig = _algebra_figure(so3, names=["Jx", "Jy", "Jz"])
    try:
        bars = _colour_bars(fig)
        assert len(bars) == 2 and {b.get_ylabel() for b in bars} == {"matrix entry", "c_ij^k"}
        table = _panels(fig)[-1]
        assert table.get_title().startswith("structure constants")
        assert sorted(t.get_text() for t in table.texts) == ["-1.00", "1.00", "1.00"]  # so(3): one entry per bracket
        assert [t.get_text() for t in table.get_yticklabels()] == ["[Jx, Jy]", "[Jx, Jz]", "[Jy, Jz]"]
    finally:
        plt.close(fig)
    s = torch.tensor([1e-12, 2e-12, 0.4, 0.7, 0.9])
    fig = _spectrum_figure(s, n_symmetries=2)
    try:
        ax = fig.axes[0]
        assert ax.get_xlabel() == "direction of the search space, ascending residual"
        assert ax.get_ylabel().startswith("residual (0: exact symmetry, ~1: random generator)")
        legend = [t.get_text() for t in ax.get_legend().get_texts()]
        assert "cut: 2 symmetries" in legend and "other directions (3)" in legend
    finally:
        plt.close(fig)


def test_plot_functions_accept_the_new_keywords_and_write_png(tmp_path):
    from lconv.analysis import plot_algebra, plot_spectrum

    learned, truth = _noisy_so3()
    for path in (
        plot_generators(learned, tmp_path / "g.png", truth=truth, labels=["x", "y", "z"], titles=["a", "b", "c"]),
        plot_algebra(truth, tmp_path / "a.png"),
        plot_spectrum(torch.tensor([1e-9, 0.5, 0.8]), tmp_path / "s.png", n_symmetries=1),
    ):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
