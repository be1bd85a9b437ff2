"""The ``lconv`` command line.

Exit status: 0 on success; 2 for a user error (a bad option, a bad or missing file), one
line ``lconv: error: ...`` on stderr and never a traceback; 1 for a bug in lconv, with its
traceback; 130 after Ctrl-C (``lconv train`` names the run to continue with ``--resume``).
"""

from __future__ import annotations

import math
import sys

import torch

try:
    import typer
    from rich.console import Console
    from rich.table import Table
except ImportError as exc:  # the core install: torch and numpy only
    raise ImportError(
        f'the lconv command needs the cli extra ({exc.name} is missing): pip install "lconv[cli]"'
    ) from exc

from . import __version__, testing
from .algebra import exp, exp_approx, rotation, translation
from .grid import Grid
from .nn import MODELS, LConv, learned

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Lie algebra convolution (L-conv) and automatic symmetry discovery.",
)
console = Console()
if not console.is_terminal:  # piped or redirected: tables are read in files, not cut to 80 columns
    console = Console(width=140)


def _version(value: bool) -> None:
    if value:
        console.print(f"lconv {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Lie algebra convolution (L-conv) and automatic symmetry discovery."""


def _cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a * b).sum() / (a.norm() * b.norm()))


@app.command()
def demo(
    size: int = typer.Option(20, min=4, max=64, help="Points of the 1-D grid for the shift table (paper: 20)."),
    image: int = typer.Option(16, min=8, max=48, help="Side of the square image for the equivariance checks."),
    seed: int = typer.Option(0, help="Random seed of the layers and inputs."),
) -> None:
    """Show the generators at work: finite shifts from the SWI generator, and equivariant L-conv layers."""
    torch.manual_seed(seed)
    grid = Grid(size)
    T = translation(grid, dtype=torch.float64)[0]
    shift = grid.action_matrix(lambda f: grid.shift(f, 2))
    table = Table(title=f"Shift by 2 pixels on {size} periodic points (paper Fig. 6)")
    table.add_column("approximation")
    table.add_column("cosine with the exact shift", justify="right")
    table.add_column("paper (d = 20)", justify="right")
    paper = {8: "0.77", 16: "0.93"}
    for k in (4, 8, 16, 32):
        table.add_row(f"(I + 2T/{k})^{k}", f"{_cosine(exp_approx(T, 2.0, k), shift):.4f}", paper.get(k, ""))
    table.add_row("exp(2T)", f"{_cosine(exp(T, 2.0), shift):.6f}", "")
    console.print(table)

    img = Grid((image, image))
    x = torch.randn(4, 1, img.size, dtype=torch.float64)
    rot = rotation(img, dtype=torch.float64)
    rows = [
        ("translation", "shift by (3, -2)", translation(img), lambda f: img.shift(f, (3, -2))),
        ("rotation", "exp(0.5 L_rot)", rot, exp(rot[0], 0.5)),
        ("rotation", "quarter turn", rot, img.rot90),
        ("learned, rank 4 (untrained)", "quarter turn", learned(img, n=2, rank=4), img.rot90),
    ]
    table = Table(title=f"Equivariance error of one L-conv layer (1 -> 8 channels) on {image}x{image} random images")
    for col in ("generators", "transformation", "relative error"):
        table.add_column(col, justify="right" if col == "relative error" else "left")
    for name, what, gens, act in rows:
        layer = LConv(1, 8, generators=gens).double()
        table.add_row(name, what, f"{testing.equivariance_error(layer, x, act):.2e}")
    console.print(table)
    console.print(
        "A layer is equivariant to every transformation that commutes with its generators; "
        "random generators are not, until they are learned."
    )


@app.command()
def discover(
    task: str = typer.Option(
        "rotation",
        help="Planted symmetry: rotation, translation, scaling, se2, sim2 (images); so3, sl2, so13, gl2 (vectors); "
        "kepler, liegan-2body, c7, c7-invariant, o5, lorentz (one dataset, no pairs).",
    ),
    size: int = typer.Option(7, min=3, max=64, help="Images are SIZE x SIZE pixels."),
    t_min: float = typer.Option(0.0, help="Smallest group parameter (e.g. angle in radians)."),
    t_max: float = typer.Option(math.pi / 8, help="Largest group parameter; with --param fixed, the one value used."),
    param: str = typer.Option(
        "random", help="'random': uniform in [t-min, t-max) per pair; 'fixed': t-max for every pair."
    ),
    known_t: bool = typer.Option(False, "--known-t/--unknown-t", help="Give the learner the parameters of each pair."),
    images: str = typer.Option("uniform", help="'uniform' random pixels (the paper) or 'band-limited'."),
    transform: str = typer.Option(
        "grid_sample", help="'grid_sample' (the paper's protocol) or 'exact' (exp(t L_true))."
    ),
    method: str = typer.Option(
        "exp", help="'exp' (finite transformations), 'lstsq' (first order) or 'lconv' (the paper's SI C.2)."
    ),
    structure: str = typer.Option(
        None,
        help="Search space: 'free', 'antisymmetric' or 'vector-field' (flows on the image grid); default by task: "
        "vector-field for images, antisymmetric for so3, else free.",
    ),
    generators: str = typer.Option(
        None,
        "--generators",
        "-k",
        help="Number of generators to learn, or 'auto' (estimated from the data) \\[default: as many as planted; "
        "auto with --data].",
    ),  # fmt: skip
    n: int = typer.Option(
        None,
        min=10,
        help="Number of pairs \\[default: 2000]; samples for kepler (600), liegan-2body (2000), c7 (600), "
        "c7-invariant (2000), o5 (3000), lorentz (600).",
    ),
    epochs: int = typer.Option(30, min=1, help="Training rounds (exp) or passes (lconv)."),
    seed: int = typer.Option(0, help="Seed of the data and the fit."),
    device: str = typer.Option("cpu", help="torch device, e.g. cpu or cuda."),
    out: str = typer.Option(
        None, help="Run folder (must not exist or be empty); default runs/discover-TASK-TIMESTAMP."
    ),
    dt: float = typer.Option(0.1, help="kepler: the time step of the map (liegan-2body keeps LieGAN's 20/49)."),
    model: str = typer.Option(
        "kernel",
        help="Maps (kepler, o5, lorentz, --data with an invariant or equivariant y): the model fitted to "
        "the samples, kernel or mlp.",
    ),  # fmt: skip
    data: str = typer.Option(
        None,
        help="Your own data instead of a planted task: FILE.npz (arrays x, y, optional t), x.npy with "
        "--target y.npy, or FILE.csv with --x-columns/--y-columns.",
    ),  # fmt: skip
    target: str = typer.Option(None, help="--data x.npy: the .npy file of y."),
    x_columns: str = typer.Option(None, help="--data FILE.csv: the columns of x, e.g. 0:3, 0,1,2 or header names."),
    y_columns: str = typer.Option(None, help="--data FILE.csv: the columns of y."),
    kind: str = typer.Option(
        None,
        help="--data: pairs (y = g x), invariant (y = f(x), one number) or equivariant (y = F(x) moved like "
        "x) \\[default: detected from the shapes].",
    ),  # fmt: skip
    space: str = typer.Option(
        None,
        help="--data: search space full, antisymmetric, blocks:B (independent BxB blocks), kron:B "
        "(I (x) A) or vector-field (with --image-shape) \\[default: vector-field for images, else full].",
    ),  # fmt: skip
    image_shape: str = typer.Option(None, help="--data: samples are images of this shape, e.g. 8,8."),
) -> None:
    """Discover a planted symmetry and compare it with the truth (the main job), or find the symmetries of your
    own data with --data."""
    from .experiments import discover as run

    k = _generators_option(generators)
    with _fit_progress(epochs) as progress:
        if data is not None:
            from .experiments.datafile import discover_file

            shape = None if image_shape is None else tuple(_numbers("--image-shape", image_shape, int, "8,8"))
            folder, metrics = discover_file(
                data, target=target, x_columns=x_columns, y_columns=y_columns, kind=kind, space=space,
                image_shape=shape, n_generators="auto" if k is None else k, model=model, epochs=epochs, seed=seed,
                out=out, progress=progress,
            )  # fmt: skip
        else:
            for name, value in (("--target", target), ("--x-columns", x_columns), ("--y-columns", y_columns),
                                ("--kind", kind), ("--space", space), ("--image-shape", image_shape)):  # fmt: skip
                if value is not None:
                    raise ValueError(f"{name} goes with --data FILE; planted tasks take --structure")
            folder, metrics = run(
                task=task, size=size, t_min=t_min, t_max=t_max, param=param, known_t=known_t, images=images,
                transform=transform, method=method, structure=structure, n_generators=k, n=n, epochs=epochs,
                seed=seed, device=device, out=out, progress=progress, dt=dt, model=model,
            )  # fmt: skip
    if data is not None:
        _print_file(metrics, folder)
        return
    if "spaces" in metrics:  # one dataset, no pairs
        _print_dataset(task, metrics, folder)
        return
    table = Table(title=f"lconv discover: {task} ({metrics['method']}, beside least squares and the truth)")
    for col in ("measure", metrics["method"], "least squares", "true generators"):
        table.add_column(col, justify="left" if col == "measure" else "right")
    base, truth = metrics["baseline_lstsq"], metrics["truth"]
    fmt = lambda v: ", ".join(f"{x:.3f}" for x in v) if isinstance(v, list) else f"{v:.3f}"  # noqa: E731
    for label, key in (
        ("|cos| with the truth", "cosine"),
        ("Grassmann distance", "grassmann_distance"),
        ("|cos| on the data's span", "cosine_on_data"),
        ("Grassmann distance on it", "grassmann_distance_on_data"),
        ("held-out error", "heldout_error"),
        ("structure constants error", "structure_constants_error"),
    ):
        if key in metrics:
            table.add_row(label, fmt(metrics[key]), fmt(base[key]), fmt(truth[key]))
    console.print(table)
    from .experiments.datafile import algebra_text

    console.print(f"algebra found: {algebra_text(metrics['algebra'])}")
    console.print("errors are measured alike in the three columns: the true generators' is what the symmetry itself "
                  "scores on these pairs (a lower one fits how the pairs were made, not the symmetry)")  # fmt: skip
    console.print(f"fit: {metrics['epochs_run']} rounds in {metrics['fit_seconds']:.1f} s; run folder: {folder}")


def _generators_option(text: str | None) -> int | str | None:
    if text is None or text == "auto":
        return text
    if text.isdigit() and int(text) >= 1:
        return int(text)
    raise ValueError(f"-k/--generators: give a positive number or 'auto', got {text!r}")


class _fit_progress:
    """A progress bar on a terminal; one plain line per round otherwise (batch jobs, logs)."""

    def __init__(self, total: int):
        self.total, self.bar, self.start = total, None, 0.0

    def __enter__(self):
        import time

        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.start = time.perf_counter()
        if console.is_terminal:
            self.bar = Progress(
                TextColumn("[bold]fitting[/bold]"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                TextColumn("loss {task.fields[loss]}"), TimeElapsedColumn(), console=console, transient=True,
            )  # fmt: skip
            self.bar.start()
            self.job = self.bar.add_task("fit", total=self.total, loss="-")
        return self

    def __call__(self, epoch: int, total: int, loss: float) -> None:
        import time

        if self.bar is not None:
            self.bar.update(self.job, completed=epoch, loss=f"{loss:.3g}")
        else:
            print(f"round {epoch}/{total}: loss {loss:.4g} ({time.perf_counter() - self.start:.1f} s)", flush=True)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()


def _print_file(metrics: dict, folder) -> None:
    from .experiments.datafile import algebra_text, evidence_label

    alg = metrics["algebra"]
    table = Table(title=f"lconv discover --data: {metrics['samples']} samples, {metrics['kind']}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("generators found", str(metrics["n_generators"]))
    table.add_row("algebra", algebra_text(alg))
    table.add_row("Killing form signature (+, -, 0)", str(tuple(alg["killing_signature"])))
    if metrics.get("residuals") is not None:
        table.add_row(evidence_label(metrics), ", ".join(f"{r:.3g}" for r in metrics["residuals"]))
    if "heldout_error" in metrics:
        table.add_row(f"held-out error ({metrics['heldout_pairs']} pairs; doing nothing: 1)",
                      f"{metrics['heldout_error']:.4f}")  # fmt: skip
    if metrics.get("model_error") is not None:
        table.add_row("relative error of the fitted model", f"{metrics['model_error']:.4f}")
    console.print(table)
    console.print(f"fit: {metrics['fit_seconds']:.1f} s; run folder: {folder} (generators.npy, symmetries.npz)")


def _print_dataset(task: str, metrics: dict, folder) -> None:
    from .experiments.dataset import fmt_value as f4
    from .experiments.dataset import summary_rows

    table = Table(title=f"lconv discover: {task} ({metrics['data']})")
    for col in ("method", "measure", "ours", "peers", "target"):
        table.add_column(col, justify="left" if col in ("method", "measure") else "right")
    for r in summary_rows(task, metrics):
        table.add_row(r["method"], r["measure"], f4(r["ours"]), f4(r["paper"]), r["target"])
    console.print(table)
    console.print(f"model: {metrics['model']}, relative held-out error {metrics['model_error']:.4f}")
    console.print(f"run folder: {folder}")


@app.command()
def train(
    dataset: str = typer.Option(None, help="mnist, fashion-mnist, cifar10 or cifar100 \\[default: mnist]."),
    variant: str = typer.Option(None, help="default, rotated or rotated-scrambled \\[default: default]."),
    model: str = typer.Option(
        None,
        help=f"{', '.join(MODELS[:-1])} or {MODELS[-1]} \\[default: lconv].",
    ),
    layers: int = typer.Option(None, min=1, help="Hidden layers \\[default: 1]."),
    channels: int = typer.Option(
        None, min=1, help="Channels (filters) per hidden layer \\[default: 8 L-conv/FC, 32 CNN]."
    ),
    generators: int = typer.Option(None, min=1, help="L-conv/FC: generators per layer \\[default: 8]."),
    rank: int = typer.Option(None, min=1, help="L-conv/FC: rank of each generator \\[default: 10]."),
    shared: bool = typer.Option(
        None, "--shared/--no-shared", help="L-conv: all layers share one set of generators \\[default: no]."
    ),
    kernel: int = typer.Option(None, min=1, help="CNN: kernel size \\[default: 5]."),
    padding: str = typer.Option(None, help="CNN: valid or same \\[default: valid]."),
    pool: bool = typer.Option(None, "--pool/--no-pool", help="CNN: 2x2 max-pooling after each layer \\[default: no]."),
    epochs: int = typer.Option(None, min=1, help="Epochs \\[default: 12]; may be raised with --resume."),
    train_size: int = typer.Option(None, min=2, help="Training images used, validation included \\[default: all]."),
    val_fraction: float = typer.Option(None, help="Share of them held out for validation \\[default: 0.1]."),
    batch_size: int = typer.Option(None, min=1, help="Global batch size \\[default: 128]."),
    lr: float = typer.Option(None, help="Peak learning rate of AdamW (warm-up, then cosine) \\[default: 2e-3]."),
    weight_decay: float = typer.Option(None, help="AdamW weight decay \\[default: 0.1]."),
    label_smoothing: float = typer.Option(None, help="Label smoothing of the cross-entropy \\[default: 0.1]."),
    augment_rotation: float = typer.Option(
        None,
        help="Turn every training image by a fresh random angle in [-A, A] degrees each epoch \\[default: 0, off].",
    ),
    seed: int = typer.Option(None, help="Seed of the variant, the split, the weights and the batches \\[default: 0]."),
    data_dir: str = typer.Option(
        None, help="Dataset folder \\[default: the folder in the environment variable LCONV_DATA]."
    ),
    download: bool = typer.Option(False, "--download", help="Fetch missing dataset files from their publishers."),
    precision: str = typer.Option(
        None, help="fp32, tf32 (CUDA) or bf16 (autocast forward pass) \\[default: fp32]; see lconv bench --precision."
    ),
    device: str = typer.Option("cpu", help="cpu, cuda, cuda:N or auto."),
    out: str = typer.Option(None, help="Run folder (new or empty; with --resume the run to continue)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out from its last checkpoint."),
) -> None:
    """Train an SI D image classifier (L-conv or a baseline) and measure it on the official test set.

    Runs unchanged under torchrun for several processes, e.g.
    torchrun --nproc_per_node 4 -m lconv.cli train --dataset mnist --device cuda
    """
    import os

    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from .experiments.train import train as run

    options = dict(
        dataset=dataset, variant=variant, model=model, layers=layers, channels=channels, generators=generators,
        rank=rank, shared=shared, kernel=kernel, padding=padding, pool=pool, epochs=epochs, train_size=train_size,
        val_fraction=val_fraction, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
        label_smoothing=label_smoothing, augment_rotation=augment_rotation, seed=seed, precision=precision,
    )  # fmt: skip
    quiet = int(os.environ.get("RANK", "0")) != 0
    bar = Progress(
        TextColumn("[bold]{task.description}[/bold]"), BarColumn(), TextColumn("{task.completed}/{task.total} batches"),
        TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=True, disable=quiet,
    )  # fmt: skip
    jobs: dict[str, int] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if not jobs:
            bar.start()  # only once training runs: an early error leaves the terminal untouched
        if stage not in jobs:
            jobs[stage] = bar.add_task(stage, total=total)
        bar.update(jobs[stage], completed=done)

    try:
        try:
            folder, metrics = run(
                out=out, resume=resume, data_dir=data_dir, download=download, device=device, progress=progress,
                **options,
            )  # fmt: skip
        finally:
            if jobs:
                bar.stop()
    except KeyboardInterrupt as exc:  # Ctrl-C: where the run stands and how to continue it, then 130
        if not quiet:
            again = {"--data-dir": data_dir, "--device": None if device == "cpu" else device}  # what resuming needs too
            print(_interrupted_line(exc, {k: v for k, v in again.items() if v is not None}), file=sys.stderr)
        raise typer.Exit(130) from None
    if quiet:
        return
    table = Table(title=f"lconv train: {folder.name}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key in ("test_accuracy", "val_accuracy", "best_epoch", "param_count", "epoch_seconds", "processes"):
        v = metrics[key]
        table.add_row(key, f"{v:.4f}" if isinstance(v, float) else str(v))
    console.print(table)
    console.print(f"run folder: {folder}")


def _interrupted_line(exc: KeyboardInterrupt, options: dict[str, str]) -> str:
    import shlex

    from .experiments.train import TrainingInterrupted

    if not isinstance(exc, TrainingInterrupted):  # before the run folder was chosen
        return "lconv: interrupted"
    folder = shlex.quote(str(exc.folder))
    if exc.epoch == 0:
        return f"lconv: interrupted before the first epoch was saved; nothing to resume in {folder}"
    command = " ".join(["lconv train --resume --out", folder, *(f"{k} {shlex.quote(v)}" for k, v in options.items())])
    return f"lconv: interrupted; epoch {exc.epoch} is saved: continue with {command}"


@app.command()
def repro(
    name: str = typer.Argument(
        ...,
        help="Experiment: c1, c2, c3, c3-large (SI C), d-table (SI D); kepler, liegan-2body, c7, o5, lorentz "
        "(one dataset).",
    ),
    seed: int = typer.Option(0, help="Seed of the data and the fits."),
    out: str = typer.Option(None, help="Run folder (must not exist or be empty); default runs/repro-NAME-TIMESTAMP."),
    table: str = typer.Option(None, help="Also write the markdown table to this file."),
    datasets: str = typer.Option("mnist,fashion-mnist", help="d-table: comma-separated datasets."),
    variants: str = typer.Option("default,rotated,rotated-scrambled", help="d-table: comma-separated variants."),
    models: str = typer.Option("lconv,cnn,fc,fc-shallow,lconv-random", help="d-table: comma-separated models."),
    epochs: int = typer.Option(10, min=1, help="d-table: epochs per run."),
    train_size: int = typer.Option(None, min=2, help="d-table: training images per run \\[default: all]."),
    channels: int = typer.Option(None, min=1, help="d-table: channels per hidden layer \\[default: each model's]."),
    generators: int = typer.Option(None, min=1, help="d-table: L-conv generators \\[default: 8]."),
    rank: int = typer.Option(None, min=1, help="d-table: rank of each generator \\[default: 10]."),
    augment_rotation: float = typer.Option(
        None, help="d-table: turn every training image by a random angle in [-A, A] degrees each epoch \\[default: 0]."
    ),
    lrs: str = typer.Option(
        None, help="d-table: comma-separated learning rates; each cell keeps the best on validation \\[default: 2e-3]."
    ),
    seeds: str = typer.Option(
        None, help="d-table: comma-separated seeds; accuracies are mean ± std over them \\[default: --seed]."
    ),
    data_dir: str = typer.Option(
        None, help="d-table: dataset folder \\[default: the folder in the environment variable LCONV_DATA]."
    ),
    download: bool = typer.Option(False, "--download", help="d-table: fetch missing dataset files."),
    device: str = typer.Option("cpu", help="d-table: cpu, cuda or auto."),
    resume: bool = typer.Option(
        False,
        "--resume",
        help="d-table: continue the table in --out (its runs from their checkpoints; new cells trained).",
    ),
) -> None:
    """Reproduce an experiment of the paper and print its numbers beside ours."""
    from .experiments import repro as run

    if resume and name != "d-table":
        raise ValueError(f"--resume continues a d-table; {name} runs in one go: drop --resume")
    if name == "d-table":
        from .experiments.dtable import d_table

        split = lambda v: tuple(p.strip() for p in v.split(",") if p.strip())  # noqa: E731
        grid = None if lrs is None else tuple(_numbers("--lrs", lrs, float, "1e-3,2e-3,4e-3"))
        seed_list = (seed,) if seeds is None else tuple(_numbers("--seeds", seeds, int, "0,1,2"))
        with console.status("running d-table") as status:
            folder, rows = d_table(
                datasets=split(datasets), variants=split(variants), models=split(models), epochs=epochs,
                train_size=train_size, seeds=seed_list, lrs=grid, out=out, table=table, data_dir=data_dir,
                download=download, device=device, channels=channels, generators=generators, rank=rank,
                augment_rotation=augment_rotation, resume=resume, progress=lambda cell: status.update(f"d-table: {cell} done"),
            )  # fmt: skip
        t = Table(title="lconv repro d-table: test accuracy (SI D)")
        for col in ("dataset", "variant", "model", "test acc", "paper", "params", "lr", "s/epoch"):
            t.add_column(col, justify="left" if col in ("dataset", "variant", "model") else "right")
        for r in rows:
            paper = "" if r["paper"] is None else f"{r['paper']:.4f}"
            test = f"{r['test_accuracy']:.4f}" + (f" ± {r['test_std']:.4f}" if len(seed_list) > 1 else "")
            t.add_row(r["dataset"], r["variant"], r["model"], test, paper,
                      f"{r['param_count']:,}", f"{r['lr']:g}", f"{r['epoch_seconds']:.1f}")  # fmt: skip
        console.print(t)
        console.print(f"run folder: {folder}")
        return
    with console.status(f"running {name}") as status:
        folder, rows = run(
            name, seed=seed, out=out, table=table, progress=lambda label: status.update(f"{name}: {label} done")
        )
    f = lambda v: "" if v is None else f"{v:.3f}"  # noqa: E731
    if any("measure" in r for r in rows):  # one-dataset experiments
        from .experiments.dataset import fmt_value as f

        for experiment in dict.fromkeys(r["experiment"] for r in rows):
            t = Table(title=f"lconv repro {name}: {experiment}")
            for col in ("method", "measure", "ours", "peers", "target"):
                t.add_column(col, justify="left" if col in ("method", "measure") else "right")
            for r in rows:
                if r["experiment"] == experiment:
                    t.add_row(r["method"], r["measure"], f(r["ours"]), f(r["paper"]), r["target"])
            console.print(t)
        console.print(f"run folder: {folder}")
        return
    for experiment in dict.fromkeys(r["experiment"] for r in rows):
        t = Table(title=f"lconv repro {name}: {experiment}")
        for col in ("method", "|cos| ours", "paper", "target", "held-out error"):
            t.add_column(col, justify="left" if col == "method" else "right")
        for r in rows:
            if r["experiment"] == experiment:
                t.add_row(r["method"], f(r["ours"]), f(r["paper"]), r["target"], f(r.get("heldout_error")))
        console.print(t)
    console.print(f"run folder: {folder}")


def _numbers(option: str, text: str, kind: type = int, example: str = "28,64") -> list:
    try:
        return [kind(v) for v in text.split(",") if v.strip()]
    except ValueError:
        what = "integers" if kind is int else "numbers"
        raise ValueError(f"{option}: expected comma-separated {what} such as {example}, got {text!r}") from None


@app.command()
def bench(
    ctx: typer.Context,
    sizes: str = typer.Option("28,64,128,256,512", help="Image sides, comma-separated (d = side^2)."),
    batch: str = typer.Option("2", help="Batch sizes, comma-separated."),
    channels: str = typer.Option("32", help="Channels in = out, comma-separated."),
    generators: str = typer.Option("8", "--generators", "-n", help="Numbers of generators, comma-separated."),
    kinds: str = typer.Option("dense,low-rank,local,stencil", help="Parametrisations, comma-separated."),
    rank: int = typer.Option(8, min=1, help="Rank of the low-rank generators."),
    radius: int = typer.Option(1, min=1, help="Neighbourhood radius of local and stencil generators (3x3 for 1)."),
    repeats: int = typer.Option(3, min=1, help="Timed steps per layer; the median is reported."),
    warmup: int = typer.Option(1, min=1, help="Untimed steps before timing (the first measures memory)."),
    headline: bool = typer.Option(
        True, "--headline/--no-headline", help="Also time the headline case: 28x28, batch 128, 32 channels, n = 8."
    ),
    memory_size: int = typer.Option(
        512, min=0, help="Side at which the largest batch within --memory-gib is found (0: skip)."
    ),
    memory_gib: float = typer.Option(8.0, min=0.01, help="Memory budget for --memory-size, GiB."),
    dense_max_gib: float = typer.Option(
        1.0, min=0.0, help="Run dense generators and the reference only if n d^2 floats fit."
    ),
    input_grad: bool = typer.Option(True, "--input-grad/--no-input-grad", help="Also compute the input's gradient."),
    compile: bool = typer.Option(False, "--compile/--no-compile", help="Wrap the L-conv layers in torch.compile."),
    quick: bool = typer.Option(
        False, "--quick", help="A smoke run: 16x16 and 28x28, small layers, 2 repeats (options given still apply)."
    ),
    precision: str = typer.Option(
        "fp32", help="fp32 (TF32 off), tf32 (CUDA) or bf16 (autocast); the error against float64 is reported."
    ),
    baseline_precision: str = typer.Option(
        None, help="Precision of the einsum reference and Conv2d \\[default: --precision], e.g. fp32 with bf16."
    ),
    device: str = typer.Option("cpu", help="torch device, e.g. cpu or cuda."),
    threads: int = typer.Option(None, min=1, help="torch.set_num_threads for the run (default: torch's)."),
    seed: int = typer.Option(0, help="Seed of the layers and inputs."),
    out: str = typer.Option(
        None, help="FILE.json (the plot goes beside it) or a run folder; default runs/bench-DEVICE-TIMESTAMP."
    ),
) -> None:
    """Time and memory of one L-conv training step per parametrisation, against the dense einsum and Conv2d 3x3."""
    from .experiments import bench as run
    from .experiments.bench import QUICK, format_error, headline_lines, precision_text

    options = dict(
        sizes=_numbers("--sizes", sizes), batch=_numbers("--batch", batch), channels=_numbers("--channels", channels),
        generators=_numbers("--generators", generators), kinds=[k.strip() for k in kinds.split(",") if k.strip()],
        rank=rank, radius=radius, repeats=repeats, warmup=warmup, headline=headline, memory_size=memory_size,
        memory_budget_gib=memory_gib, dense_max_gib=dense_max_gib, input_grad=input_grad, compile=compile,
        precision=precision, baseline_precision=baseline_precision, device=device, threads=threads, seed=seed,
        out=out,
    )  # fmt: skip
    if quick:  # defaults of the smoke run, except where an option was given
        given = {k for k in QUICK if getattr(ctx.get_parameter_source(k), "name", "") == "COMMANDLINE"}
        options.update({k: v for k, v in QUICK.items() if k not in given})
    with console.status("benchmarking") as status:
        path, res = run(**options, progress=lambda label: status.update(f"benchmarking: {label} done"))
    m = res["machine"]
    table = Table(
        title=f"lconv bench: one training step, {m['processor']}, {m['torch_threads']} threads, "
        f"{res['config']['device']}, {precision_text(res['config'])}, median of {res['config']['repeats']}"
    )
    columns = ("side", "batch", "c", "n", "method", "time ms", "speed-up vs einsum", "time / Conv2d", "memory MiB")
    for col in (*columns, "error out / grad"):
        table.add_column(col, justify="left" if col == "method" else "right")
    for r in res["results"]:
        head = [str(r["size"]), str(r["batch"]), str(r["channels"]), str(r["generators"]), r["method"]]
        if r["time_s"] is None:
            table.add_row(*head, "-", "-", "-", "-", "-")
            continue
        sp = r["speedup_vs_reference"]
        table.add_row(
            *head, f"{1e3 * r['time_s']:.1f}", "-" if sp is None else f"{sp:.2f}x", f"{r['time_vs_conv2d']:.2f}",
            f"{r['memory_bytes'] / 2**20:.1f}", format_error(r),
        )  # fmt: skip
    console.print(table)
    skipped = {r["skipped"] for r in res["results"] if r["time_s"] is None}
    for note in sorted(skipped):
        console.print(f"[dim]-: {note}[/dim]")
    console.print(f"memory: {res['memory_measure']}")
    h = res.get("headline")
    if h:
        for line in headline_lines(h):
            console.print(f"headline {line}")
    lb = res.get("largest_batch")
    if lb:
        for kind, v in lb["kinds"].items():
            if "largest_batch" in v:
                console.print(
                    f"{lb['size']}x{lb['size']} {kind}, {lb['channels']} channels, n = {lb['generators']}: "
                    f"{v['bytes_batch_1'] / 2**20:.0f} MiB at batch 1, +{v['bytes_per_sample'] / 2**20:.0f} MiB per "
                    f"sample: largest batch in {lb['budget_gib']:g} GiB = {v['largest_batch']}"
                )
            else:
                side = v["largest_side_for_generators_and_gradients"]
                console.print(
                    f"{lb['size']}x{lb['size']} dense: generators alone {v['generator_bytes'] / 2**30:.0f} GiB; "
                    f"largest side whose generators and gradients fit in {lb['budget_gib']:g} GiB: {side}x{side}"
                )
    console.print(f"wrote {path} ({res['seconds']:.0f} s)")


def _warning_line(message, category, filename, lineno, line=None) -> str:
    return f"lconv: warning: {str(message).splitlines()[0]}\n"


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``lconv`` console script.

    What is a user error: options click rejects, the ``ValueError`` of lconv's checks of
    options and files, and ``OSError`` (missing files, failed downloads). A ``TypeError``
    is not: the command line hands lconv strings and numbers that its checks turn into
    ``ValueError``, so a ``TypeError`` (lconv's own type checks included) means the code
    called something wrongly. Like any other exception it is reported as a bug.
    """
    import traceback
    import warnings

    click_error, help_error = _click_errors()
    before, warnings.formatwarning = warnings.formatwarning, _warning_line  # one line, not the source line
    try:
        code = app(args=argv, prog_name="lconv", standalone_mode=False)  # Exit(n) comes back as n
    except help_error as exc:  # bare `lconv`: the help, as click prints it
        exc.show()
        code = exc.exit_code
    except click_error as exc:  # unknown command or option, a value out of range, ...
        see = f" (see {exc.ctx.command_path} --help)" if getattr(exc, "ctx", None) is not None else ""
        _error_line(exc.format_message() + see)
        code = exc.exit_code
    except typer.Abort:  # end of input at a prompt
        _error_line("aborted")
        code = 1
    except (ValueError, OSError) as exc:  # OSError: missing files, failed downloads
        _error_line(str(exc) or type(exc).__name__)
        code = 2
    except Exception:
        traceback.print_exc()
        print("lconv: internal error (exit status 1): a bug in lconv, unless a file was edited by hand; please "
              "report it with the traceback above", file=sys.stderr)  # fmt: skip
        code = 1
    finally:
        warnings.formatwarning = before
    sys.exit(code if isinstance(code, int) else 0)


def _click_errors() -> tuple[type, type | tuple]:
    """Click's ``ClickException`` and ``NoArgsIsHelpError`` (click >= 8.2), found through typer, which
    re-exports click's classes (older releases) or those of its own copy of click (newer ones)."""
    base = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")
    return base, getattr(sys.modules[base.__module__], "NoArgsIsHelpError", ())


def _error_line(message: str) -> None:
    print(f"lconv: error: {message.strip().splitlines()[0] if message.strip() else 'failed'}", file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    main()
