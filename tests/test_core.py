"""The library apart from the applications: ``import lconv`` needs torch and numpy alone, and every object
has one public home."""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import subprocess
import sys
import textwrap

import lconv

# the packages of the `cli` and `dev` extras; the core must import without any of them
OPTIONAL = ("typer", "rich", "matplotlib", "safetensors", "tensorboard", "scipy")
FIX = 'pip install "lconv[cli]"'

CORE_SCRIPT = textwrap.dedent(
    """
    import importlib, json, pkgutil, sys

    BLOCKED = set(sys.argv[1].split(","))

    class Block:  # as if the optional packages were not installed
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r} (blocked)", name=name)
            return None

    sys.meta_path.insert(0, Block())

    import torch

    import lconv

    def walk(package):  # every module of the library, without importing the applications (cli, experiments)
        for info in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
            if info.name in ("lconv.cli", "lconv.experiments"):
                continue
            module = importlib.import_module(info.name)
            yield info.name
            if info.ispkg:
                yield from walk(module)

    modules = ["lconv", *walk(lconv)]
    from lconv import Grid, LConv, analysis, data, discovery, generators, grid, nn, physics, testing  # noqa: F401

    loaded = sorted(m for m in sys.modules if m.partition(".")[0] in BLOCKED)
    applications = sorted(m for m in sys.modules if m.startswith(("lconv.cli", "lconv.experiments")))

    # a few steps of training: an LConv with learned low-rank generators fits a shift of 1-d signals
    torch.manual_seed(0)
    space = Grid((16,))
    model = torch.nn.Sequential(LConv(1, 4, generators=nn.learned(space, n=2, rank=4)), torch.nn.Tanh(),
                                LConv(4, 1, generators=nn.learned(space, n=2, rank=4)))
    x = torch.randn(64, 1, space.size)
    y = torch.roll(x, 1, -1)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(30):
        loss = torch.nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())

    errors = {}
    try:
        analysis.plot_history({"loss": [1.0, 0.5]}, "unused.png")
    except ImportError as exc:
        errors["figure"] = str(exc)
    try:
        import lconv.cli  # noqa: F401
    except ImportError as exc:
        errors["cli"] = str(exc)
    with data.datasets._progress_bar("file", 10, True) as advance:  # no rich: downloads go on without a bar
        advance(10)
    print(json.dumps(dict(modules=modules, loaded=loaded, applications=applications, losses=losses, errors=errors)))
    """
)


def _run_core(blocked=OPTIONAL) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    out = subprocess.run(
        [sys.executable, "-c", CORE_SCRIPT, ",".join(blocked)], capture_output=True, text=True, env=env, timeout=300
    )
    assert out.returncode == 0, f"the core does not import without {', '.join(blocked)}:\n{out.stderr[-3000:]}"
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_core_imports_and_trains_without_the_optional_packages():
    result = _run_core()
    core = {"lconv." + p for p in ("grid", "algebra", "nn", "discovery", "analysis", "physics", "data", "testing")}
    assert core | {"lconv.generators"} <= set(result["modules"])
    assert result["loaded"] == []
    assert result["applications"] == []  # lint-imports checks the static imports; this, what importing loads
    losses = result["losses"]
    assert losses[-1] < 0.5 * losses[0], losses
    # where an optional package is needed, the error names the fix in one line
    for what in ("figure", "cli"):
        message = result["errors"][what]
        assert FIX in message and "\n" not in message, message


# -- one public home per object -------------------------------------------------------------------------------------


def _public_modules() -> list[str]:
    names = ["lconv"]
    for info in pkgutil.walk_packages(lconv.__path__, "lconv."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return names


def test_every_object_is_exported_from_one_module():
    homes: dict[int, list[str]] = {}
    objects = {}
    for module_name in _public_modules():
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            if isinstance(obj, (str, int, float, bool, type(None))):
                continue  # equal constants may be one interned object
            homes.setdefault(id(obj), []).append(f"{module_name}.{name}")
            objects[id(obj)] = obj
    twice = sorted(paths for paths in homes.values() if len(paths) > 1)
    assert twice == [], "exported from more than one __all__ (keep the home, where it is defined):\n" + "\n".join(
        ", ".join(p) for p in twice
    )


def test_documented_aliases_still_work():
    from lconv import algebra, generators, nn
    from lconv.grid import Grid

    assert lconv.Grid is Grid and lconv.LConv is nn.LConv and lconv.LConvStack is nn.LConvStack
    assert generators.rotation is algebra.rotation and generators.learned is nn.learned
    assert generators.Generators is nn.Generators and generators.exp is algebra.exp
    assert generators.__all__ == []
