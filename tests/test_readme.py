import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


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


def test_readme_parameter_counts_are_the_models():
    from lconv.nn import build_model, param_count

    rows = re.findall(r"^\| `([a-z-]+)` \| .*? \| ([\d,]+)(?: \(.*?\)| trainable)? \|$", README.read_text(), flags=re.M)
    assert len(rows) >= 5, "README.md lost its table of SI D models"
    for name, count in rows:
        assert param_count(build_model(name, (1, 28, 28), 10)) == int(count.replace(",", "")), name


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
