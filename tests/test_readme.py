import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def test_readme_fits_in_10_kb():
    assert len(README.read_bytes()) <= 10 * 1024, "README.md grew past 10 KB: move the detail to a page under docs/"


def test_readme_python_example_runs():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "README.md has no python example"
    scope: dict = {}
    exec(blocks[0], scope)
    assert tuple(scope["y"].shape) == (16, 32, 784)


def test_readme_opens_with_the_two_commands():
    lines = README.read_text().splitlines()
    first = "\n".join(lines[:6])
    assert "lconv discover" in first and "# install, run the main job" in first
    assert "python -m pytest" in first and "# install, run the tests" in first


def test_readme_links_resolve():
    links = re.findall(r"\]\(((?!https?://)[^)#\s]+)(?:#[^)]*)?\)", README.read_text())
    assert any(link.startswith("docs/") for link in links), "README.md links to no page of the documentation"
    missing = [link for link in links if not (ROOT / link).exists()]
    assert not missing, f"README.md links to files that do not exist: {missing}"


def test_readme_own_data_example_runs_on_a_file(tmp_path, monkeypatch):
    import torch

    from lconv.algebra import matrix_algebra
    from lconv.data import write_pairs

    block = next(b for b in re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S) if "read_data(" in b)
    gen = torch.Generator().manual_seed(0)
    so3 = matrix_algebra("so3", dtype=torch.float64)
    rot = torch.linalg.matrix_exp(
        torch.einsum("nk,kij->nij", torch.randn(100, 3, generator=gen, dtype=torch.float64), so3)
    )
    x = torch.randn(100, 4, 3, generator=gen, dtype=torch.float64)
    write_pairs(tmp_path / "pairs.npz", x.numpy(), torch.einsum("nij,ncj->nci", rot, x).numpy())
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(block, scope)
    assert tuple(scope["result"].generators.shape) == (3, 3, 3)
    assert scope["augmented"].shape == scope["x"].shape
    assert "so(3)" in block and scope["identify_algebra"](scope["result"].generators).name == "so(3)"


def test_readme_se2_example_is_invariant_to_quarter_turns():
    import torch

    block = next(b for b in re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S) if "SE2Grid" in b)
    scope: dict = {}
    exec(blocks_before(block) + block, scope)
    net, x = scope["net"], torch.randn(3, 1, 28, 28)
    turned = torch.rot90(x, 1, (-2, -1))
    with torch.no_grad():
        a, b = net(x.flatten(2)).mean(-1), net(turned.flatten(2)).mean(-1)
    assert torch.allclose(a, b, atol=1e-4) and not torch.allclose(
        a, net(x.flatten(2)[..., torch.randperm(784)]).mean(-1), atol=1e-3
    )


def blocks_before(block: str) -> str:
    """The README's first python example (imports and the grid) that ``block`` builds on."""
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)[0]
