"""Speed of discovery on a quiet and on a busy machine, beside torch's own thread setting.

    python benchmarks/discover.py                 # all tasks, about a minute on 2 cores
    python benchmarks/discover.py --tasks rotation,so3 --markdown docs/results/discover-speed.md

Each task's pairs are those of ``lconv discover --task TASK`` (2000 pairs, seed 0), plus
Haar-random rotations of R^3 (1000 pairs, one vector or a 5-point cloud per pair) and
sl(2,R) acting on R^3 (its adjoint action, which keeps a Minkowski form; 1000 pairs,
one vector each, hidden parameters ``t ~ N(0, 1)``), these three with
``n_generators="auto"``. Each fit is timed three ways in one run: ``threads="auto"`` on
a quiet machine, the same while another process keeps one core busy, and (the
baseline) torch's default thread count while that process is busy. The Grassmann
distance to the planted algebra, the number of generators found and the algebra's name
are printed beside the times.

The checkout's ``src/`` comes first on the path, so this measures the code next to it.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import torch  # noqa: E402

from lconv import analysis  # noqa: E402
from lconv.algebra import SearchSpace, identify_algebra, matrix_algebra  # noqa: E402
from lconv.data import image_pairs, vector_pairs  # noqa: E402
from lconv.discovery import PairsOptions, fit_pairs  # noqa: E402

TASKS = ("rotation", "so3", "sl2", "so13", "haar-so3", "haar-so3-cloud", "sl2-r3")


def haar_rotations(n: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    q, r = torch.linalg.qr(torch.randn(n, 3, 3, generator=gen, dtype=torch.float64))
    q = q * torch.sign(torch.diagonal(r, dim1=1, dim2=2))[:, None, :]
    q[torch.linalg.det(q) < 0, :, 0] *= -1
    return q


def problem(task: str, seed: int = 0):
    """``(x, y, truth, fit_pairs keywords)`` for a task."""
    if task == "rotation":  # the default of lconv discover
        p = image_pairs("rotation", n=2000, size=7, seed=seed)
        return p.x, p.y, p.truth, dict(n_generators=1, space=SearchSpace.vector_field(p.grid))
    if task in ("so3", "sl2", "so13"):
        p = vector_pairs(task, n=2000, t_range=(0.0, torch.pi / 8), seed=seed)
        space = dict(space="antisymmetric") if task == "so3" else {}
        return p.x, p.y, p.truth, dict(n_generators=len(p.truth), **space)
    if task == "sl2-r3":
        truth = adjoint(matrix_algebra("sl2", dtype=torch.float64))
        gen = torch.Generator().manual_seed(seed)
        t = torch.randn(1000, 3, generator=gen, dtype=torch.float64)
        x = torch.randn(1000, 3, generator=gen, dtype=torch.float64)
        y = torch.einsum("nij,nj->ni", torch.linalg.matrix_exp(torch.einsum("nk,kij->nij", t, truth)), x)
        return x.float(), y.float(), truth.float(), dict(n_generators="auto")
    points = 5 if task == "haar-so3-cloud" else 1
    rot = haar_rotations(1000, seed)
    x = torch.randn(1000, points, 3, generator=torch.Generator().manual_seed(seed + 1), dtype=torch.float64)
    y = torch.einsum("nij,ncj->nci", rot, x)
    if points == 1:
        x, y = x[:, 0], y[:, 0]
    return x.float(), y.float(), matrix_algebra("so3"), dict(n_generators="auto")


def adjoint(basis: torch.Tensor) -> torch.Tensor:
    """``ad(A_i)``: the algebra acting on itself, ``[A_i, A_j] = sum_k ad(A_i)[k, j] A_k``, ``(k, k, k)``."""
    flat = basis.reshape(len(basis), -1).T
    return torch.stack(
        [torch.linalg.lstsq(flat, (a @ basis - basis @ a).reshape(len(basis), -1).T).solution for a in basis]
    )


def timed(x, y, keywords, threads):
    start = time.perf_counter()
    res = fit_pairs(x, y, options=PairsOptions(threads=threads), **keywords)
    return time.perf_counter() - start, res


def busy():
    """A process that keeps one core busy until it is killed."""
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--markdown", help="also write the table to this markdown file")
    args = parser.parse_args(argv)
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    for t in tasks:
        if t not in TASKS:
            parser.error(f"unknown task {t!r}; choose from {', '.join(TASKS)}")
    default_threads = torch.get_num_threads()
    fit_pairs(*problem("so3")[:2], n_generators=3, options=PairsOptions(epochs=1))  # warm-up: lazy imports, first calls
    rows = []
    for task in tasks:
        x, y, truth, keywords = problem(task)
        quiet, res = timed(x, y, keywords, "auto")
        hog = busy()
        try:
            time.sleep(0.5)
            loaded, _ = timed(x, y, keywords, "auto")
            baseline, _ = timed(x, y, keywords, default_threads)
        finally:
            hog.kill()
            hog.wait()
        info = identify_algebra(res.generators.double())
        name = f"{info.name} ({info.error:.1e})" if info.name else None
        rows.append((task, len(res.generators), analysis.grassmann_distance(res.generators, truth), name,
                     res.config["threads"], quiet, loaded, baseline))  # fmt: skip
        print(f"{task}: {quiet:.1f} s quiet, {loaded:.1f} s busy, {baseline:.1f} s busy with {default_threads} "
              f"threads", flush=True)  # fmt: skip
    head = ("| task | generators | Grassmann distance | algebra (fit error) | threads | quiet s | busy s | busy / quiet "
            f"| busy, {default_threads} threads s |")  # fmt: skip
    lines = [head, "|---|---|---|---|---|---|---|---|---|"]
    for task, k, dist, name, threads, quiet, loaded, baseline in rows:
        lines.append(f"| {task} | {k} | {dist:.2e} | {name or '-'} | {threads} | {quiet:.2f} | {loaded:.2f} | "
                     f"{loaded / quiet:.2f} | {baseline:.2f} |")  # fmt: skip
    table = "\n".join(lines)
    print(table)
    if args.markdown:
        text = (f"# Discovery speed, quiet and busy\n\n`python benchmarks/discover.py --markdown {args.markdown}` "
                f"on {torch.get_num_threads()} cores (torch {torch.__version__}); busy: another process keeps one "
                "core busy. Fit time only (no data making, figures or imports).\n\n" + table + "\n")  # fmt: skip
        Path(args.markdown).write_text(text)


if __name__ == "__main__":
    main()
