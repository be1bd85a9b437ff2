import json
import math
import time

import numpy as np
import pytest
import torch

from lconv.algebra import _classify as C
from lconv.algebra import identify_algebra, known_algebras

# ----------------------------------------------------------------------------- matrix representations


def unit(n, i, j):
    e = torch.zeros(n, n, dtype=torch.float64)
    e[i, j] = 1.0
    return e


def stack(*ms):
    return torch.stack([torch.as_tensor(m, dtype=torch.float64) for m in ms])


def abelian(n):
    return stack(*[unit(n, i, i) for i in range(n)])


def direct_sum(*reps):
    """Generators of a direct sum of algebras, acting block-diagonally."""
    d = sum(r.shape[-1] for r in reps)
    out, o = [], 0
    for r in reps:
        n = r.shape[-1]
        for g in r:
            m = torch.zeros(d, d, dtype=torch.float64)
            m[o : o + n, o : o + n] = g
            out.append(m)
        o += n
    return torch.stack(out)


def affine(linear):
    """``h ⋉ R^n`` as (n+1) x (n+1) affine matrices: the linear parts, then the translations."""
    linear = stack(*linear)
    n = linear.shape[-1]
    out = [torch.nn.functional.pad(a, (0, 1, 0, 1)) for a in linear]
    return torch.stack(out + [unit(n + 1, i, n) for i in range(n)])


def preserving(eta):
    """Basis of {A : A^T eta + eta A = 0}: A = eta X with X antisymmetric."""
    n = len(eta)
    eta = torch.diag(torch.tensor(eta, dtype=torch.float64))
    return stack(*[eta @ (unit(n, i, j) - unit(n, j, i)) for i in range(n) for j in range(i + 1, n)])


SO3 = preserving([1, 1, 1])
SL2 = stack(unit(2, 0, 0) - unit(2, 1, 1), unit(2, 0, 1), unit(2, 1, 0))
AFF1 = stack(unit(2, 0, 0), unit(2, 0, 1))
HEIS = stack(unit(3, 0, 1), unit(3, 1, 2), unit(3, 0, 2))
ROT = [[0.0, -1.0], [1.0, 0.0]]
BOOST = [[0.0, 1.0], [1.0, 0.0]]


def oscillator():
    # 4x4: [[0, (J w)^T, z], [0, theta J, w], [0, 0, 0]] closes: [n, x] = y, [n, y] = -x, [x, y] = 2z
    J = torch.tensor(ROT, dtype=torch.float64)
    out = []
    for theta, w, z in [(1.0, (0.0, 0.0), 0.0), (0.0, (1.0, 0.0), 0.0), (0.0, (0.0, 1.0), 0.0), (0.0, (0.0, 0.0), 1.0)]:
        m = torch.zeros(4, 4, dtype=torch.float64)
        w = torch.tensor(w, dtype=torch.float64)
        m[1:3, 1:3] = theta * J
        m[1:3, 3] = w
        m[0, 1:3] = J @ w
        m[0, 3] = z
        out.append(m)
    return torch.stack(out)


REPS = {
    "R": lambda: abelian(1),
    "abelian R^2": lambda: abelian(2),
    "aff(1)": lambda: AFF1,
    "abelian R^3": lambda: abelian(3),
    "heisenberg": lambda: HEIS,
    "aff(1)+R": lambda: direct_sum(AFF1, abelian(1)),
    "Bianchi IV": lambda: affine([[[1.0, 1.0], [0.0, 1.0]]]),
    "Bianchi V": lambda: affine([torch.eye(2)]),
    "Bianchi VI_0 (e(1,1))": lambda: affine([BOOST]),  # Poincaré 1+1: a boost and two translations
    "se(2)": lambda: affine([ROT]),
    "sl(2,R)": lambda: SL2,
    "so(3)": lambda: SO3,
    "abelian R^4": lambda: abelian(4),
    "aff(1)+R^2": lambda: direct_sum(AFF1, abelian(2)),
    "heisenberg+R": lambda: direct_sum(HEIS, abelian(1)),
    "Bianchi VI_0 (e(1,1))+R": lambda: direct_sum(affine([BOOST]), abelian(1)),
    "se(2)+R": lambda: direct_sum(affine([ROT]), abelian(1)),
    "so(3)+R": lambda: direct_sum(SO3, abelian(1)),
    "gl(2,R)": lambda: stack(*[unit(2, i, j) for i in range(2) for j in range(2)]),
    "aff(1)+aff(1)": lambda: direct_sum(AFF1, AFF1),
    "sim(2)": lambda: affine([ROT, torch.eye(2)]),
    "oscillator": oscillator,
    "filiform n4": lambda: affine([unit(3, 1, 0) + unit(3, 2, 1)]),
    "abelian R^5": lambda: abelian(5),
    "heisenberg(5)": lambda: stack(unit(4, 0, 1), unit(4, 0, 2), unit(4, 1, 3), unit(4, 2, 3), unit(4, 0, 3)),
    "so(3)+R^2": lambda: direct_sum(SO3, abelian(2)),
    "sl(2,R)+R^2": lambda: direct_sum(SL2, abelian(2)),
    "sa(2)": lambda: affine(SL2),
    "abelian R^6": lambda: abelian(6),
    "so(4)": lambda: preserving([1, 1, 1, 1]),
    "so(1,3)": lambda: preserving([-1, 1, 1, 1]),
    "so(2,2)": lambda: preserving([1, 1, -1, -1]),
    "so(3)+sl(2,R)": lambda: direct_sum(SO3, SL2),
    "so(3)+R^3": lambda: direct_sum(SO3, abelian(3)),
    "se(3)": lambda: affine(SO3),
    "iso(2,1)": lambda: affine(preserving([1, 1, -1])),
    "aff(2,R)": lambda: affine([unit(2, i, j) for i in range(2) for j in range(2)]),
}


def mixed(L, seed, scale=None):
    """An invertible, well-conditioned random mix of the generators, at a random scale."""
    g = torch.Generator().manual_seed(seed)
    k = L.shape[0]
    M = torch.eye(k, dtype=torch.float64) + 0.5 * torch.randn(k, k, generator=g, dtype=torch.float64)
    while torch.linalg.cond(M) > 30:
        M = torch.eye(k, dtype=torch.float64) + 0.5 * torch.randn(k, k, generator=g, dtype=torch.float64)
    if scale is None:
        scale = float(10 ** (4 * torch.rand((), generator=g, dtype=torch.float64) - 2))
    return scale * torch.einsum("ab,bij->aij", M, L)


def noisy(L, rel, seed):
    g = torch.Generator().manual_seed(seed)
    N = torch.randn(L.shape, generator=g, dtype=L.dtype)
    return L + rel * N * (L.flatten(1).norm(dim=1) / N.flatten(1).norm(dim=1))[:, None, None]


# ----------------------------------------------------------------------------- the catalogue


def test_every_catalogue_name_has_a_test_representation():
    assert set(known_algebras()) == set(REPS)
    for name, c in known_algebras().items():
        assert c.dtype == torch.float64 and c.shape == (c.shape[0],) * 3
        assert torch.allclose(c, -c.transpose(0, 1))
        # Jacobi identity of the listed constants
        jac = torch.einsum("ijm,mkn->ijkn", c, c)
        assert (jac + jac.permute(1, 2, 0, 3) + jac.permute(2, 0, 1, 3)).abs().max() < 1e-12, name
    assert {n for n in known_algebras(3)} >= {"so(3)", "sl(2,R)", "se(2)", "heisenberg", "Bianchi VI_0 (e(1,1))"}


@pytest.mark.parametrize("name", sorted(REPS))
def test_each_algebra_is_named_exactly_in_any_basis_and_scale(name):
    L = REPS[name]()
    info = identify_algebra(mixed(L, seed=len(name)))
    assert info.name == name, (info.name, info.candidates[:3])
    assert info.dimension == L.shape[0]
    assert info.error < 1e-6
    assert info.closure < 1e-8
    # the reported basis obeys the reported constants, which are the catalogue's
    br = info.basis[:, None] @ info.basis[None, :] - info.basis[None, :] @ info.basis[:, None]
    assert torch.allclose(
        br, torch.einsum("ijm,mab->ijab", info.constants, info.basis), atol=1e-8 * br.abs().max() + 1e-12
    )
    if info.constants.abs().max() > 0 and not name.startswith("abelian"):
        assert torch.allclose(info.constants, known_algebras()[name], atol=1e-6)


@pytest.mark.parametrize("name", sorted(REPS))
def test_each_algebra_is_named_under_one_percent_noise(name):
    L = REPS[name]()
    # noise on the representation, then any basis and scale (which do not change the span)
    info = identify_algebra(mixed(noisy(L, 1e-2, seed=len(name)), seed=3 * len(name)))
    assert info.name == name, (info.name, info.candidates[:3])
    assert info.error < 3e-2
    if 1 < L.shape[0] < L.shape[-1] ** 2:  # (gl(2,R) spans all 2x2 matrices: noise keeps it exact)
        assert info.error > 1e-3


@pytest.mark.parametrize(
    ("rho", "name"),
    [([[1.0, 0.0], [0.0, 0.5]], "Bianchi VI_h (h=0.5)"), ([[0.3, -1.0], [1.0, 0.3]], "Bianchi VII_h (h=0.3)")],
)
def test_bianchi_families_are_named_with_the_fitted_parameter(rho, name):
    info = identify_algebra(mixed(affine([rho]), seed=5))
    assert info.name == name
    assert info.error < 1e-6
    assert info.solvable and not info.nilpotent and info.derived_series == (3, 2, 0)
    # a scaled copy of the same Bianchi type: the parameter does not depend on the scale of e0
    assert identify_algebra(mixed(affine([[[3 * x for x in row] for row in rho]]), seed=6)).name == name


def test_invariants_of_named_algebras():
    so3 = identify_algebra(SO3)
    assert so3.killing_signature == (0, 3, 0) and so3.semisimple and not so3.solvable
    assert so3.derived_series == (3,) and so3.centre_dimension == 0
    sl2 = identify_algebra(SL2)
    assert sl2.killing_signature == (2, 1, 0) and sl2.semisimple
    heis = identify_algebra(HEIS)
    assert heis.nilpotent and heis.solvable and not heis.abelian and heis.centre_dimension == 1
    assert heis.killing_signature == (0, 0, 3) and heis.lower_central_series == (3, 1, 0)
    aff = identify_algebra(AFF1)
    assert aff.solvable and not aff.nilpotent and aff.killing_signature == (1, 0, 1)
    ab = identify_algebra(abelian(4))
    assert ab.abelian and ab.nilpotent and ab.derived_series == (4, 0) and ab.centre_dimension == 4
    assert identify_algebra(preserving([-1, 1, 1, 1])).killing_signature == (3, 3, 0)
    assert identify_algebra(affine(SO3)).killing_signature == (0, 3, 3)


# ----------------------------------------------------------------------------- telling algebras apart


def _error_against(L, name, seed=0):
    """The error of one catalogue candidate, without the invariant prefilter."""
    E = torch.linalg.svd(L.reshape(len(L), -1), full_matrices=False)[2].reshape(L.shape)
    sc = C.structure_constants(E)
    c = sc.constants.numpy()
    chat, inv_hat = C._catalogue()[name]
    rng = np.random.default_rng(seed)
    return C._match(c, C._invariants(c, 0.05), sc.residual, chat, inv_hat, 0.05, rng, 0.05, count=4).error


@pytest.mark.parametrize(
    "group",
    [
        ("so(3)", "sl(2,R)"),
        ("se(2)", "Bianchi VI_0 (e(1,1))"),
        ("so(4)", "so(1,3)", "se(3)"),
        ("so(3)", "se(2)", "heisenberg"),
    ],
)
def test_often_confused_algebras_are_told_apart(group):
    for true in group:
        L = mixed(REPS[true](), seed=11)
        assert identify_algebra(L).name == true
        for other in group:
            if other != true:
                assert _error_against(L, other) > 0.1, (true, other)


def test_contractions_do_not_match():
    # se(2) is a contraction of so(3): rho_f -> 0 along degenerate bases, but the error does not
    assert _error_against(mixed(SO3, seed=2), "se(2)") > 0.1
    assert _error_against(mixed(affine([ROT]), seed=2), "so(3)") > 0.1
    assert _error_against(mixed(affine([torch.eye(2)]), seed=2), "Bianchi IV") > 0.1


def test_random_triple_does_not_close_and_gets_no_name():
    g = torch.Generator().manual_seed(0)
    L = torch.randn(3, 5, 5, generator=g, dtype=torch.float64)
    info = identify_algebra(L)
    assert info.name is None
    assert info.closure > 0.5
    assert info.error > 0.05
    assert [e for _, e in info.candidates] == sorted(e for _, e in info.candidates)


def test_nearly_commuting_noise_is_abelian_with_error_of_the_noise_size():
    L = noisy(abelian(3) + 0.0, 1e-3, seed=1)
    info = identify_algebra(L)
    assert info.name == "abelian R^3" and 1e-5 < info.error < 1e-2 and info.abelian


# ----------------------------------------------------------------------------- invariance and bookkeeping


@pytest.mark.parametrize("scale", [1e-4, -3.0, 1e4])
def test_scale_and_basis_do_not_change_the_name(scale):
    for name in ("so(3)", "sl(2,R)", "se(2)", "so(1,3)"):
        L = REPS[name]()
        a = identify_algebra(scale * L)
        b = identify_algebra(mixed(L, seed=7, scale=scale))
        assert a.name == b.name == name
        assert abs(a.closure - b.closure) < 1e-8


def test_noisy_error_does_not_depend_on_basis_or_scale():
    L = noisy(REPS["se(3)"](), 1e-2, seed=3)
    a = identify_algebra(L)
    b = identify_algebra(mixed(L, seed=8, scale=-250.0))
    assert a.name == b.name == "se(3)"
    assert abs(a.error - b.error) < 1e-3 * a.error and abs(a.closure - b.closure) < 1e-9


def test_dependent_generators_are_dropped():
    L = torch.cat([SO3, (SO3[0] - 2 * SO3[2])[None], 3 * SO3[1:2]])
    info = identify_algebra(L)
    assert info.dimension == 3 and info.name == "so(3)" and info.basis.shape == (3, 3, 3)


def test_float32_input_and_output_dtypes():
    L = mixed(affine(SO3), seed=1).float()
    info = identify_algebra(L)
    assert info.name == "se(3)" and info.error < 1e-4
    assert info.basis.dtype == torch.float32 and info.constants.dtype == torch.float32


@pytest.mark.parametrize("name", ["so(3)", "sl(2,R)", "se(2)", "se(3)", "heisenberg"])
def test_a_larger_representation_gets_the_same_name(name):
    # the tensor square L x 1 + 1 x L: reducible, larger, with other norms per generator
    L = REPS[name]()
    eye = torch.eye(L.shape[-1], dtype=L.dtype)
    square = torch.stack([torch.kron(g, eye) + torch.kron(eye, g) for g in L])
    info = identify_algebra(mixed(square, seed=4))
    assert info.name == name and info.error < 1e-6


def test_same_seed_same_result_and_json():
    L = mixed(noisy(REPS["so(1,3)"](), 1e-2, seed=2), seed=1)
    a, b = identify_algebra(L, seed=3), identify_algebra(L, seed=3)
    assert a.error == b.error and torch.equal(a.basis, b.basis)
    d = json.loads(json.dumps(a.to_dict(), allow_nan=False))
    assert {"name", "dimension", "error", "closure", "killing_signature", "abelian", "solvable", "semisimple"} <= set(d)
    assert d["name"] == "so(1,3)" and d["killing_signature"] == [3, 3, 0]


def test_dimension_above_six_has_invariants_but_no_name():
    sl3 = stack(
        *[unit(3, i, j) for i in range(3) for j in range(3) if i != j],
        unit(3, 0, 0) - unit(3, 1, 1),
        unit(3, 1, 1) - unit(3, 2, 2),
    )
    info = identify_algebra(mixed(sl3, seed=0))
    assert info.dimension == 8 and info.name is None and math.isnan(info.error) and info.candidates == []
    assert info.semisimple and info.killing_signature == (5, 3, 0)
    gl3 = stack(*[unit(3, i, j) for i in range(3) for j in range(3)])
    info = identify_algebra(gl3)
    assert info.name is None and info.centre_dimension == 1 and not info.semisimple
    assert json.loads(json.dumps(info.to_dict(), allow_nan=False))["error"] is None


def test_user_errors():
    with pytest.raises(TypeError, match="torch.as_tensor"):
        identify_algebra(SO3.numpy())
    with pytest.raises(ValueError, match=r"\(k, d, d\)"):
        identify_algebra(SO3[0])
    with pytest.raises(ValueError, match=r"\(k, d, d\)"):
        identify_algebra(torch.zeros(2, 3, 4))
    bad = SO3.clone()
    bad[0, 0, 1] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        identify_algebra(bad)
    with pytest.raises(ValueError, match="all zero"):
        identify_algebra(torch.zeros(2, 3, 3))
    with pytest.raises(ValueError, match="tol"):
        identify_algebra(SO3, tol=0.0)


def test_a_call_is_fast():
    identify_algebra(SO3)
    t = time.perf_counter()
    for name in ("aff(2,R)", "iso(2,1)", "so(2,2)"):
        identify_algebra(mixed(noisy(REPS[name](), 1e-2, seed=1), seed=1))
    assert (time.perf_counter() - t) / 3 < 1.0  # typically 0.05 s; generous for a loaded machine
