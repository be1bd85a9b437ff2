import math

import pytest
import torch

from lconv.algebra import antisymmetric_space, exp, factorised_space, full_space, kron_space, structure_constants
from lconv.analysis import align, cosine
from lconv.data.regression import kepler_symmetries, two_body_states, two_body_step
from lconv.discovery import fit_pairs


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
