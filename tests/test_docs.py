"""The documentation under docs/: its tutorials run and say what they claim, its links and tables hold.

Each tutorial's python blocks run in order in one namespace, in a temporary folder, as a
reader would paste them; the assertions check the results the text describes. The site
itself is built by ``sphinx-build -W --keep-going -n -b html docs docs/_build/html`` (CI).
"""

import re
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
API_MODULES = [
    "lconv",
    "lconv.grid",
    "lconv.generators",
    "lconv.algebra",
    "lconv.nn",
    "lconv.data",
    "lconv.discovery",
    "lconv.analysis",
    "lconv.physics",
    "lconv.testing",
]


def python_blocks(page: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S)


def run_page(page: Path, folder: Path, monkeypatch) -> dict:
    blocks = python_blocks(page)
    assert blocks, f"{page.name} has no python block"
    monkeypatch.chdir(folder)
    scope: dict = {"__name__": f"docs.{page.stem}"}
    for i, block in enumerate(blocks):
        exec(compile(block, f"{page.relative_to(ROOT)} (python block {i + 1})", "exec"), scope)
    return scope


def test_tutorial_lconv_layer(tmp_path, monkeypatch):
    s = run_page(DOCS / "tutorials" / "lconv-layer.md", tmp_path, monkeypatch)
    assert tuple(s["y"].shape) == (8, 4, 144)
    assert s["shift_error"] < 1e-12  # translations commute with integer shifts
    assert s["turn_error"] > 0.1  # ... but not with a quarter turn
    assert s["rot_error"] < 1e-12  # the rotation generator does
    assert s["losses"][-1] < 1e-6 * s["losses"][0]  # the learned stencils reproduce the teacher
    assert s["learned_shift_error"] < 1e-12


def test_tutorial_your_data(tmp_path, monkeypatch):
    s = run_page(DOCS / "tutorials" / "your-data.md", tmp_path, monkeypatch)
    assert (tmp_path / "pairs.npz").exists()
    assert s["data"].kind == "pairs"
    assert tuple(s["result"].generators.shape) == (3, 3, 3)
    assert s["info"].name == "so(3)" and s["info"].dimension == 3
    assert s["distance"] < 1e-6
    assert tuple(s["out"].shape) == (100, 8, 3)


def test_tutorial_physics(tmp_path, monkeypatch):
    s = run_page(DOCS / "tutorials" / "physics.md", tmp_path, monkeypatch)
    assert torch.isclose(s["theory"].loss(), s["mse"])
    assert set(s["theory"].terms()) == {"mass", "kinetic", "boundary", "gauge", "source", "constant"}
    assert s["robustness_score"](s["layer"], s["robust"], s["target"]).max() < 1e-10
    assert s["robustness_score"](s["layer"], s["x"], s["target"]).min() > 1.0
    assert s["nc"].divergence.abs().max() < 1e-12  # conserved along x
    assert s["nc_y"].divergence.abs().max() > 0.1  # not along y, where the targets vary
    torch.testing.assert_close(s["Ad"], s["R"].T)


def test_tutorial_training(tmp_path, monkeypatch):
    s = run_page(DOCS / "tutorials" / "training.md", tmp_path, monkeypatch)
    table = model_table()
    assert {name: s["counts"][name] for name in s["counts"]} == {name: table[name] for name in s["counts"]}
    assert s["accuracy"] > 0.9


def test_equivariance_page_example_is_invariant(tmp_path, monkeypatch):
    s = run_page(DOCS / "equivariance.md", tmp_path, monkeypatch)
    from lconv import Grid

    turned = s["head"](s["net"](Grid((28, 28)).rot90(s["x"])).mean(-1))
    assert tuple(s["logits"].shape) == (4, 10)
    torch.testing.assert_close(turned, s["logits"], rtol=1e-4, atol=1e-5)


def model_table() -> dict[str, int]:
    text = (DOCS / "classification.md").read_text()
    rows = re.findall(r"^\| `([a-z0-9-]+)` \| .*? \| ([\d,]+)(?: \(.*?\)| trainable)? \|$", text, flags=re.M)
    assert len(rows) >= 5, "docs/classification.md lost its table of SI D models"
    return {name: int(count.replace(",", "")) for name, count in rows}


def test_model_parameter_table_is_the_models():
    from lconv.nn import build_model, param_count

    for name, count in model_table().items():
        assert param_count(build_model(name, (1, 28, 28), 10)) == count, name


def markdown_pages() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*.md") if "_build" not in p.parts)


@pytest.mark.parametrize("page", markdown_pages(), ids=lambda p: str(p.relative_to(DOCS)))
def test_relative_links_resolve(page):
    links = re.findall(r"\]\(((?!https?://|mailto:)[^)#\s]+)(?:#[^)]*)?\)", page.read_text())
    missing = [link for link in links if not (page.parent / link).exists()]
    assert not missing, f"{page.relative_to(ROOT)} links to files that do not exist: {missing}"


def test_results_page_lists_every_result_with_its_command():
    text = (DOCS / "results.md").read_text()
    for result in sorted((DOCS / "results").glob("*.md")):
        row = next((line for line in text.splitlines() if f"(results/{result.name})" in line), None)
        assert row is not None, f"docs/results.md does not link {result.name}"
        assert re.search(r"`(lconv|python) [^`]+`", row), f"docs/results.md gives no command for {result.name}"


def test_api_reference_covers_the_packages():
    index = (DOCS / "api" / "index.md").read_text()
    for module in API_MODULES:
        page = DOCS / "api" / f"{module}.md"
        assert page.exists(), f"no API page for {module}"
        assert f"\n{module}\n" in index, f"docs/api/index.md does not list {module}"


def test_generators_page_lists_every_name():
    import lconv.generators

    text = (DOCS / "api" / "lconv.generators.md").read_text()
    missing = [name for name in lconv.generators.__all__ if f"| `{name}` |" not in text]
    assert not missing, f"docs/api/lconv.generators.md does not list {missing}"
