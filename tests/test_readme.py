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
