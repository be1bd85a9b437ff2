"""One discovery API: every fit takes every search space, returns one result type, and keeps one call shape."""

import warnings

import pytest
import torch

from lconv.algebra import SearchSpace, block_space, kron_space
from lconv.discovery import (
    DatasetOptions,
    DiscoveryResult,
    PairsOptions,
    RecursiveOptions,
    fit_dataset,
    fit_pairs,
    fit_recursive,
)

ROT = kron_space("so2", 2, dtype=torch.float64)[0]  # both 2-vectors of R^4 turned together
FLOW = SearchSpace.vector_field((4,)).generators(torch.ones(1, 4, dtype=torch.float64))[0]  # a translation of 4 pixels


def _spaces():
    return {
        "full": SearchSpace.full(4),
        "antisymmetric": SearchSpace.antisymmetric(4),
        "span": SearchSpace.span(torch.stack([ROT, torch.eye(4, dtype=torch.float64)])),
        "blocks": SearchSpace.blocks(4, 2),
        "kron": SearchSpace.kron(2, 2),
        "vector-field": SearchSpace.vector_field((4,)),
        "name": "kron:2",
        "matrices": block_space(2, 2, dtype=torch.float64),
    }


def _f(v):
    """Invariant under the turns of (v0, v1) and of (v2, v3), not under every turn of R^4."""
    return v[:, :2].pow(2).sum(-1) + 2 * v[:, 2:].pow(2).sum(-1)


def _pairs(kind: str, n: int = 40, dtype=torch.float64):
    gen = torch.Generator().manual_seed(0)
    L = FLOW if kind == "vector-field" else ROT
    t = torch.rand(n, generator=gen, dtype=torch.float64) - 0.5
    x = torch.randn(n, 4, generator=gen, dtype=torch.float64)
    y = torch.einsum("nij,nj->ni", torch.linalg.matrix_exp(t[:, None, None] * L), x)
    return x.to(dtype), y.to(dtype), t.to(dtype)


def _check_result(r, dtype=torch.float64, device="cpu"):
    assert type(r) is DiscoveryResult
    assert r.generators.shape[1:] == (4, 4)
    for name in ("generators", "t", "residuals", "spectrum", "coefficients", "trivial", "on_data"):
        v = getattr(r, name)
        if v is not None:
            assert v.dtype == dtype and v.device.type == device, name
    assert isinstance(r.config["space"], str)


@pytest.mark.parametrize("name", list(_spaces()))
def test_every_fit_takes_every_space_and_returns_one_result_type(name):
    space = _spaces()[name]
    x, y, t = _pairs(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a space that cannot hold the change says so
        pairs = fit_pairs(x, y, space=space, n_generators=1, options=PairsOptions(epochs=2))
    _check_result(pairs)
    assert pairs.t.shape == (40, 1)
    invariant = fit_dataset(x, _f(x), space=space, n_generators=1, model=_f)
    _check_result(invariant)
    assert invariant.t is None and invariant.coefficients.shape[0] == 1 and invariant.n_symmetries is not None
    recursive = fit_recursive(x, y, t=t, space=space, options=RecursiveOptions(epochs=1, channels=2, steps=1, hidden=4))
    _check_result(recursive)
    assert recursive.t.shape == (40, 1)
    if not isinstance(space, str):  # the generator found lies in the space
        s = SearchSpace.resolve(space, 4)
        for r in (pairs, invariant, recursive):
            inside = s.generators(s.project(r.generators.double()))
            assert torch.allclose(inside, r.generators.double(), atol=1e-6), name


def test_space_names_are_parsed_in_one_place():
    assert SearchSpace.parse("free", 3).kind == "full"
    assert SearchSpace.parse("blocks:2", 6).dim == 12 and SearchSpace.parse("kron:3", 6).dim == 9
    assert SearchSpace.parse("vector-field:2x3", 6).dim == 12
    assert SearchSpace.parse("vector-field", 6, grid=(2, 3)).name == "vector-field:2x3"
    with pytest.raises(ValueError, match="choose one of full, antisymmetric"):
        SearchSpace.parse("curly", 4)
    with pytest.raises(ValueError, match="divides d = 6"):
        SearchSpace.parse("blocks:4", 6)
    with pytest.raises(ValueError, match="holds 3 x 3 generators, the data d = 4"):
        fit_pairs(*_pairs("full")[:2], space=SearchSpace.full(3))


def test_save_and_load_give_the_result_back(tmp_path):
    x, y, _ = _pairs("full")
    for r in (
        fit_pairs(x, y, n_generators="auto", space="antisymmetric"),
        fit_dataset(x, _f(x), n_generators="auto", model=_f),
    ):
        path = r.save(tmp_path / f"{r.method}.npz")
        back = DiscoveryResult.load(path)
        for name in ("generators", "t", "residuals", "spectrum", "coefficients", "trivial", "on_data"):
            a, b = getattr(r, name), getattr(back, name)
            assert (a is None and b is None) or torch.equal(a, b), name
        assert back.config == r.config and back.history == r.history
        assert (back.method, back.n_symmetries, back.count_reason) == (r.method, r.n_symmetries, r.count_reason)
    f32 = fit_pairs(x.float(), y.float(), space="kron:2")
    assert DiscoveryResult.load(f32.save(tmp_path / "f32.npz")).generators.dtype == torch.float32


def test_old_names_of_the_count_raise_one_line_naming_n_generators():
    x, y, t = _pairs("full")
    for old in ("n", "num_generators", "k"):
        with pytest.raises(
            TypeError, match=rf"^fit_pairs: {old}= is now n_generators=; call fit_pairs\(\.\.\., n_generators=2\)$"
        ):
            fit_pairs(x, y, **{old: 2})
        with pytest.raises(TypeError, match="is now n_generators="):
            fit_dataset(x, _f(x), **{old: 2})
        with pytest.raises(TypeError, match="is now n_generators="):
            fit_recursive(x, y, t=t, **{old: 1})
    with pytest.raises(TypeError, match="unexpected keyword argument 'epoch'"):
        fit_pairs(x, y, epoch=3)
    with pytest.raises(TypeError, match=r"unknown option\(s\) \['epoch'\]"):
        fit_pairs(x, y, options={"epoch": 3})


def test_the_calls_before_space_and_options_still_work_and_warn():
    x, y, t = _pairs("full")
    with pytest.warns(DeprecationWarning) as seen:
        old = fit_pairs(x, y, 1, structure="antisymmetric", epochs=2)
    assert sorted(str(w.message).split(":")[1].split()[0] for w in seen) == ["epochs", "pass", "structure="]
    with pytest.warns(DeprecationWarning, match=r"options=PairsOptions\(epochs=2\)"):
        fit_pairs(x, y, epochs=2)
    with pytest.warns(DeprecationWarning, match=r"structure= is now space="):
        fit_pairs(x, y, structure="antisymmetric")
    new = fit_pairs(x, y, space="antisymmetric", options=PairsOptions(epochs=2))
    assert torch.equal(old.generators, new.generators)
    with pytest.warns(DeprecationWarning, match=r"basis= is now space="):
        fit_dataset(x, _f(x), basis=block_space(2, 2), model=_f)
    with pytest.warns(DeprecationWarning, match=r"options=DatasetOptions\(floor=0.2\)"):
        fit_dataset(x, _f(x), floor=0.2, model=_f)
    with pytest.warns(DeprecationWarning) as seen:
        fit_recursive(x, y, t, epochs=1)
    assert any("pass t by keyword" in str(w.message) for w in seen) and len(seen) == 2
    with pytest.raises(TypeError, match=r"call fit_recursive\(x, y, t=angles\)"):
        fit_recursive(x, y)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_results_are_on_the_input_device_in_its_dtype(dtype):
    x, y, t = _pairs("full", dtype=dtype)
    _check_result(fit_pairs(x, y, space="antisymmetric"), dtype)
    _check_result(fit_pairs(x, y, t=t, method="lstsq"), dtype)
    _check_result(fit_dataset(x, _f(x), model=_f, options=DatasetOptions()), dtype)
    _check_result(fit_recursive(x, y, t=t, options=RecursiveOptions(epochs=1, channels=2, steps=1)), dtype)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_results_come_back_to_a_cuda_input():
    x, y, t = (v.cuda() for v in _pairs("full"))
    assert fit_pairs(x, y, space="antisymmetric").generators.is_cuda
    assert not fit_pairs(x.cpu(), y.cpu(), space="antisymmetric", device="cuda").generators.is_cuda
    assert fit_dataset(x, _f(x), model=_f).generators.is_cuda
    assert fit_recursive(x, y, t=t, options=RecursiveOptions(epochs=1)).t.is_cuda


def test_fit_recursive_leaves_the_global_random_state_alone():
    x, y, t = _pairs("full")
    torch.manual_seed(123)
    before = torch.get_rng_state()
    opts = RecursiveOptions(epochs=2, channels=2, steps=2, hidden=4)
    a = fit_recursive(x, y, t=t, seed=5, options=opts)
    assert torch.equal(torch.get_rng_state(), before)
    b = fit_recursive(x, y, t=t, seed=5, options=opts)
    c = fit_recursive(x, y, t=t, seed=6, options=opts)
    assert torch.equal(a.generators, b.generators) and not torch.equal(a.generators, c.generators)
    assert torch.equal(torch.get_rng_state(), before)


def test_names_that_moved_out_of_the_package_still_import_and_say_where():
    import lconv.discovery as discovery

    with pytest.warns(DeprecationWarning, match=r"use lconv.algebra.block_space \(or SearchSpace.blocks"):
        assert discovery.block_space is block_space
    with pytest.warns(DeprecationWarning, match="DiscoveryResult"):
        assert discovery.DatasetResult is DiscoveryResult
