"""``lconv train``: the image classifiers of SI D on MNIST, Fashion-MNIST and CIFAR.

One function, :func:`train`, runs a whole experiment into a run folder:

- ``config.json`` (the resolved options), ``log.csv`` (one row per epoch) and TensorBoard
  events in ``tensorboard/``;
- ``checkpoint.safetensors`` after every epoch (weights, Adam state, the epoch and the
  log), ``best.safetensors`` (the weights with the best validation accuracy);
- ``metrics.json`` (``test_accuracy`` of the best-validation weights on the official
  test set, ``val_accuracy``, ``param_count``, ``epoch_seconds``, ...), ``report.md`` and
  ``figures/curves.png`` at the end.

Reproducibility: the initial weights come from ``seed``, the order of the training
images in epoch ``e`` and, with ``augment_rotation``, their random turns from ``(seed, e)``
and the learning rate from the step count, so a
run killed after any epoch and continued with ``resume=True`` ends with exactly the
weights of an uninterrupted run (on the same device and thread count).

Several processes: launched by ``torchrun``, every process trains on its share of each
global batch of ``batch_size`` images inside ``DistributedDataParallel`` (gloo on CPU,
NCCL on CUDA), the loss normalised so that the gradient is the one of the global batch;
process 0 writes the files. The command does not change beyond the launcher.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .. import __version__
from .._io import write_bytes, write_json, write_text
from ..data import DATASETS
from ..nn import GRAPH_MODELS, MODELS, build_model, model_options, param_count
from ._precision import autocast_dtype, check_precision, precision_mode
from .discover import run_folder_path

__all__ = ["DEFAULTS", "TrainingInterrupted", "train", "load_checkpoint"]

#: Options of :func:`train` and their defaults (``None`` in a call means "default, or the saved value on resume";
#: the model's options left at ``None`` take the model's own defaults, :data:`lconv.nn.MODEL_DEFAULTS`).
DEFAULTS: dict = dict(
    dataset="mnist",
    variant="default",
    model="lconv",
    layers=None,
    channels=None,
    generators=None,
    rank=None,
    shared=None,
    kernel=None,
    padding=None,
    pool=None,
    epochs=12,
    train_size=None,
    val_fraction=0.1,
    batch_size=128,
    lr=2e-3,
    weight_decay=0.1,
    label_smoothing=0.1,
    warmup=0.05,
    augment_rotation=0.0,
    seed=0,
    precision="fp32",
)
# options that may differ between a run and its resumption
_FREE_ON_RESUME = ("epochs",)
LOG_COLUMNS = ("epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr", "seconds")


def _distributed(device: str) -> tuple[int, int, torch.device]:
    """``(rank, world_size, device)``; joins the process group when launched by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if world == 1:
        return 0, 1, torch.device(device)
    import torch.distributed as dist

    local = int(os.environ.get("LOCAL_RANK", "0"))
    dev = torch.device(f"cuda:{local}") if device.startswith("cuda") else torch.device("cpu")
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    # L-conv's W_i are read through a permuted view, so their gradients have other strides than DDP's buckets:
    # harmless, only slower by one copy
    warnings.filterwarnings("ignore", message="Grad strides do not match bucket view strides")
    return dist.get_rank(), dist.get_world_size(), dev


def _all_sum(values: list[float], world: int, device) -> list[float]:
    if world == 1:
        return values
    import torch.distributed as dist

    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


def check_lr(lr: float) -> None:
    """Raise a one-line error unless ``lr`` is a positive, finite learning rate."""
    if not (lr > 0 and math.isfinite(lr)):
        raise ValueError(f"lr must be a positive number, got {lr}")


def _learning_rate(step: int, total: int, lr: float, warmup: float) -> float:
    """Linear warm-up over the first ``warmup`` fraction of the steps, then cosine decay to zero."""
    w = max(1, round(warmup * total))
    if step < w:
        return lr * (step + 1) / w
    return 0.5 * lr * (1 + math.cos(math.pi * (step - w) / max(1, total - w)))


# -- checkpoints -------------------------------------------------------------------------------------------------------


def _save_checkpoint(path: Path, model: nn.Module, optimizer: torch.optim.Optimizer | None, meta: dict) -> None:
    from safetensors.torch import save

    tensors, aliases, seen = {}, {}, {}
    for k, v in model.state_dict().items():
        if v.data_ptr() in seen:  # a parameter shared by several layers is stored once
            aliases[k] = seen[v.data_ptr()]
            continue
        seen[v.data_ptr()] = k
        tensors[f"model.{k}"] = v.detach().cpu().contiguous()
    groups = []
    if optimizer is not None:
        state = optimizer.state_dict()
        for idx, s in state["state"].items():
            for key, v in s.items():
                tensors[f"optim.{idx}.{key}"] = torch.as_tensor(v).detach().cpu().contiguous()
        groups = state["param_groups"]
    meta = dict(meta, param_groups=groups, aliases=aliases)
    write_bytes(path, save(tensors, metadata={"lconv": json.dumps(meta)}))


def load_checkpoint(path: str | Path) -> tuple[dict[str, Tensor], dict[str, Tensor], dict]:
    """``(model_state, optimizer_tensors, meta)`` of a checkpoint written by :func:`train`.

    Checkpoints are safetensors files (no pickle): tensors named ``model.*`` and
    ``optim.<param>.<key>``, and the epoch, the log and the optimizer's settings as JSON
    metadata under the key ``lconv``. A tensor shared by several layers is stored once;
    ``model_state`` names it under each of its names again.
    """
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} not found; start the run without --resume")
    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = json.loads((fh.metadata() or {})["lconv"])
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    except (SafetensorError, KeyError, ValueError, OSError) as exc:
        raise ValueError(f"checkpoint {path} is unreadable ({exc}); delete the run folder and start again") from None
    model = {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}
    model.update({alias: model[name] for alias, name in meta.get("aliases", {}).items()})
    optim = {k[6:]: v for k, v in tensors.items() if k.startswith("optim.")}
    return model, optim, meta


def _optimizer_state(optim: dict[str, Tensor], groups: list) -> dict:
    state: dict = {}
    for name, v in optim.items():
        idx, key = name.split(".", 1)
        state.setdefault(int(idx), {})[key] = v
    return {"state": state, "param_groups": groups}


# -- data ----------------------------------------------------------------------------------------------------------------


def _load_data(config: dict, data_dir, download: bool):
    from ..data import load_dataset, split_validation

    name, variant, seed = config["dataset"], config["variant"], config["seed"]
    x, y = load_dataset(name, "train", variant=variant, seed=seed, data_dir=data_dir, download=download)
    x_test, y_test = load_dataset(name, "test", variant=variant, seed=seed, data_dir=data_dir, download=download)
    n = len(x) if config["train_size"] is None else config["train_size"]
    if not 2 <= n <= len(x):
        raise ValueError(f"train_size must be between 2 and {len(x)} for {name}, got {n}")
    chosen = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:n]
    train_idx, val_idx = split_validation(n, config["val_fraction"], seed=seed)
    x_train, x_val = x[chosen[train_idx]], x[chosen[val_idx]]
    # standardise every channel with the statistics of the training images
    mean = x_train.mean(dim=(0, 2, 3), keepdim=True)
    std = x_train.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-6)
    norm = lambda v: (v - mean) / std  # noqa: E731
    train = (norm(x_train), y[chosen[train_idx]], norm(torch.zeros_like(mean)))  # the last: a blank pixel's value
    return train, (norm(x_val), y[chosen[val_idx]]), (norm(x_test), y_test)


def _turned(x: Tensor, angles: Tensor, blank: Tensor) -> Tensor:
    """The standardised images ``x`` turned by ``angles`` (degrees), the corners filled with blank pixels."""
    from ..data import rotate_images

    return rotate_images(x - blank, angles) + blank


TOPOLOGY_FILE = "topology.npz"


def _topology(folder: Path, x: Tensor, resume: bool, rank: int):
    """The pixel graph of the :data:`~lconv.nn.GRAPH_MODELS`: fitted on the training images ``x``
    (never the validation or test images, never the permutation) and kept in ``folder/topology.npz``, which a
    resumed run reads back."""
    from ..analysis import load_topology, save_topology
    from ..discovery import fit_topology

    path = folder / TOPOLOGY_FILE
    if resume and path.is_file():
        return load_topology(path)
    if len(x) < 50:
        raise ValueError(
            f"the model fits the pixel graph on the training images, and {len(x)} are too few: raise --train-size "
            "(the 28 x 28 lattice needs about 2,000)"
        )
    # one value per pixel and image: the channels' mean (the graph is on pixels; channels share it)
    topology = fit_topology(x.mean(1).flatten(1), shape=tuple(x.shape[2:]))
    if rank == 0:
        save_topology(topology, path)
    return topology


def _discovery_metrics(topology, config: dict, shape: tuple[int, int]) -> dict:
    """How well the graph matches the true pixel lattice, for the report only (the model never sees the truth):
    the permutation of ``rotated-scrambled``, the identity for the other variants."""
    from ..analysis import edge_recovery, grid_edges, lattice_recovery
    from ..data import pixel_permutation

    d = shape[0] * shape[1]
    if config["variant"] == "rotated-scrambled":
        perm = pixel_permutation(d, seed=config["seed"])
    else:
        perm = torch.arange(d)
    vary = torch.ones(d, dtype=torch.bool)
    vary[topology.constant] = False
    edges = edge_recovery(topology.edges, grid_edges(shape, perm), nodes=vary)
    lattice = None
    if topology.order is not None:
        lattice = float(lattice_recovery(topology.order, perm, shape, nodes=vary)["fraction"])
    return dict(
        topology_edge_recall=edges["recall"], topology_edge_precision=edges["precision"],
        topology_lattice_found=topology.order is not None, topology_lattice_fraction=lattice,
        topology_graph=topology.graph, topology_edges=int(len(topology.edges)),
        topology_constant_pixels=int(len(topology.constant)), topology_images=int(topology.num_samples),
        topology_seconds=float(topology.seconds.get("total", 0.0)),
    )  # fmt: skip


def _autocast(device: torch.device, amp: torch.dtype | None):
    return torch.autocast(device.type, dtype=amp, enabled=amp is not None)


def _evaluate(
    model: nn.Module, x: Tensor, y: Tensor, batch: int, rank: int, world: int, device, amp=None
) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` on ``(x, y)``, split across processes."""
    model.eval()
    loss = correct = 0.0
    shard = torch.arange(rank, len(x), world)
    with torch.no_grad():
        for i in range(0, len(shard), batch):
            b = shard[i : i + batch]
            with _autocast(device, amp):
                logits = model(x[b].to(device)).float()
            target = y[b].to(device)
            loss += float(F.cross_entropy(logits, target, reduction="sum"))
            correct += float((logits.argmax(1) == target).sum())
    loss, correct = _all_sum([loss, correct], world, device)
    return loss / max(1, len(x)), correct / max(1, len(x))


# -- the run -------------------------------------------------------------------------------------------------------------


def _resolve(options: dict, out, resume: bool) -> tuple[dict, Path]:
    unknown = set(options) - set(DEFAULTS)
    if unknown:
        raise TypeError(f"train: unknown options {', '.join(sorted(unknown))}")
    given = {k: v for k, v in options.items() if v is not None}
    if resume:
        if out is None:
            raise ValueError("--resume needs the run folder of the run to continue: pass --out FOLDER")
        folder = Path(out)
        cfg_path = folder / "config.json"
        if not cfg_path.is_file():
            raise FileNotFoundError(
                f"{cfg_path} not found; --resume continues a run that lconv train started in {folder}"
            )
        saved = json.loads(cfg_path.read_text())
        clash = [k for k, v in given.items() if k not in _FREE_ON_RESUME and saved.get(k) != v]
        if clash:
            raise ValueError(
                f"--resume: {', '.join(f'{k}={given[k]!r} (saved {saved.get(k)!r})' for k in clash)} "
                "differ from the saved run; drop these options or start a new run"
            )
        config = {k: saved.get(k, v) for k, v in DEFAULTS.items()}
        config.update({k: v for k, v in given.items() if k in _FREE_ON_RESUME})
    else:
        config = dict(DEFAULTS, **given)
        folder = None
    if config["model"] not in MODELS:
        raise ValueError(f"unknown model {config['model']!r}; choose one of {', '.join(MODELS)}")
    keys = ("layers", "channels", "rank", "shared", "kernel", "padding", "pool")
    resolved = model_options(config["model"], n_generators=config["generators"], **{k: config[k] for k in keys})
    config.update({k: resolved[k] for k in keys}, generators=resolved["n_generators"])
    for key in ("epochs", "batch_size", "layers", "channels", "generators", "rank", "kernel"):
        if not isinstance(config[key], int) or config[key] < 1:
            raise ValueError(f"{key} must be a positive integer, got {config[key]!r}")
    if not 0 < config["val_fraction"] < 1:
        raise ValueError(f"val_fraction must be in (0, 1), got {config['val_fraction']}")
    check_lr(config["lr"])
    if not (0 <= config["augment_rotation"] <= 180):
        raise ValueError(
            f"augment_rotation must be an angle in degrees between 0 and 180, got {config['augment_rotation']}"
        )
    if config["augment_rotation"] and config["variant"] == "rotated-scrambled":
        raise ValueError(
            "augment_rotation turns images on their grid, but rotated-scrambled images are not on one; "
            "drop augment_rotation or choose another variant"
        )
    if folder is None:
        name = f"{config['dataset']}-{config['variant']}-{config['model']}"
        folder = run_folder_path("train", name, out)
    return config, folder


def train(
    *,
    out: str | Path | None = None,
    resume: bool = False,
    data_dir: str | Path | None = None,
    download: bool = False,
    device: str = "cpu",
    progress: Callable[[str, int, int], None] | None = None,
    **options,
) -> tuple[Path, dict]:
    """Train one SI D model and write its run folder (see the module docstring).

    Args:
        out: run folder; must be new or empty, unless ``resume``.
        resume: continue the run in ``out`` from its last checkpoint; options left as
            ``None`` take their saved values, ``epochs`` may be raised, others must agree.
        data_dir: where the datasets are (else ``LCONV_DATA``).
        download: fetch missing dataset files from their publishers (checksummed).
        device: ``cpu``, ``cuda``, ``cuda:1`` or ``auto``.
        progress: called as ``progress(stage, done, total)`` with stage ``"epoch k/E"``.
        **options: any of :data:`DEFAULTS` (dataset, variant, model, layers, channels,
            generators, rank, kernel, padding, pool, epochs, train_size, val_fraction,
            batch_size, lr, weight_decay, label_smoothing, warmup, augment_rotation, seed,
            precision). ``augment_rotation``: an angle ``A`` in degrees; every epoch turns
            each training image about its centre by a fresh angle uniform in ``[-A, A]``
            (bilinear, corners filled with blank pixels; validation and test images are
            not turned). Only for images on their grid, not ``rotated-scrambled``.
            ``precision``: ``fp32``, ``tf32`` (CUDA) or ``bf16`` (autocast forward
            pass; parameters and optimiser in float32), see ``lconv bench --precision``
            for the error each costs in one layer.

    Returns:
        ``(run folder, metrics)``.

    Raises:
        TrainingInterrupted: on Ctrl-C (a ``KeyboardInterrupt``), naming the run folder and
            the last epoch saved.
    """
    config, folder = _resolve(options, out, resume)
    rank, world, dev = _distributed(device)
    check_precision(config["precision"], dev, where="train")
    try:
        with precision_mode(config["precision"], dev):
            return _run(config, folder, rank, world, dev, resume=resume, data_dir=data_dir, download=download,
                        progress=progress)  # fmt: skip
    except KeyboardInterrupt as exc:
        raise TrainingInterrupted(folder, _saved_epoch(folder / "checkpoint.safetensors")) from exc


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`train`: the run ``folder`` and the last ``epoch`` saved in its checkpoint
    (0: none yet), from which ``train(out=folder, resume=True)`` continues."""

    def __init__(self, folder: Path, epoch: int):
        super().__init__(f"training interrupted; run folder {folder}, last checkpoint after epoch {epoch}")
        self.folder, self.epoch = folder, epoch


def _saved_epoch(path: Path) -> int:
    """The epoch of a checkpoint, read from its header alone; 0 when there is none or it is unreadable."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as fh:
            return int(json.loads((fh.metadata() or {})["lconv"])["epoch"])
    except Exception:
        return 0


def _run(config: dict, folder: Path, rank: int, world: int, dev: torch.device, *, resume, data_dir, download, progress):
    amp = autocast_dtype(config["precision"])
    if config["batch_size"] < world:
        raise ValueError(f"batch_size {config['batch_size']} is smaller than the {world} processes; raise it")
    (x, y, blank), (x_val, y_val), (x_test, y_test) = _load_data(config, data_dir, download)
    num_classes = DATASETS[config["dataset"]].num_classes

    extra, discovery = {}, {}
    if config["model"] in GRAPH_MODELS:  # the pixels' graph, from the training images alone
        topology = _topology(folder, x, resume, rank)
        extra["graph"] = topology
        discovery = _discovery_metrics(topology, config, tuple(x.shape[2:]))

    torch.manual_seed(config["seed"])
    model = build_model(
        config["model"], tuple(x.shape[1:]), num_classes, channels=config["channels"], layers=config["layers"],
        n_generators=config["generators"], rank=config["rank"], shared=config["shared"], kernel=config["kernel"],
        padding=config["padding"], pool=config["pool"], **extra,
    ).to(dev)  # fmt: skip
    n_params = param_count(model)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=config["lr"], weight_decay=config["weight_decay"])
    log: list[dict] = []
    best = {"val_accuracy": -1.0, "epoch": 0}
    start_epoch = 0
    if resume:
        state, optim, meta = load_checkpoint(folder / "checkpoint.safetensors")
        model.load_state_dict(state)
        optimizer.load_state_dict(_optimizer_state(optim, meta["param_groups"]))
        log, best, start_epoch = meta["log"], meta["best"], meta["epoch"]
    if rank == 0:
        write_json(folder / "config.json", dict(config, lconv_version=__version__))
    net = model
    if world > 1:
        net = nn.parallel.DistributedDataParallel(model, device_ids=[dev.index] if dev.type == "cuda" else None)

    steps_per_epoch = math.ceil(len(x) / config["batch_size"])
    total_steps = steps_per_epoch * config["epochs"]
    writer = _tensorboard(folder) if rank == 0 else None
    for epoch in range(start_epoch, config["epochs"]):
        started = time.perf_counter()
        net.train()
        batches = torch.Generator().manual_seed(config["seed"] * 100003 + epoch)
        order = torch.randperm(len(x), generator=batches)
        turn = config["augment_rotation"]
        angles = turn * (2 * torch.rand(len(x), generator=batches, dtype=torch.float64) - 1) if turn else None
        loss_sum = correct = 0.0
        for step in range(steps_per_epoch):
            batch = order[step * config["batch_size"] : (step + 1) * config["batch_size"]]
            mine = batch.tensor_split(world)[rank]
            lr = _learning_rate(epoch * steps_per_epoch + step, total_steps, config["lr"], config["warmup"])
            for group in optimizer.param_groups:
                group["lr"] = lr
            inputs = x[mine] if angles is None else _turned(x[mine], angles[mine], blank)
            with _autocast(dev, amp):
                logits = net(inputs.to(dev)).float()
            target = y[mine].to(dev)
            loss = F.cross_entropy(logits, target, reduction="sum", label_smoothing=config["label_smoothing"])
            optimizer.zero_grad(set_to_none=True)
            (loss * world / len(batch)).backward()  # DDP averages over processes: the global batch's mean
            optimizer.step()
            loss_sum += float(loss.detach())
            correct += float((logits.argmax(1) == target).sum())
            if progress is not None and rank == 0:
                progress(f"epoch {epoch + 1}/{config['epochs']}", step + 1, steps_per_epoch)
        loss_sum, correct = _all_sum([loss_sum, correct], world, dev)
        val_loss, val_acc = _evaluate(model, x_val, y_val, 1024, rank, world, dev, amp)
        row = dict(epoch=epoch + 1, train_loss=loss_sum / len(x), train_accuracy=correct / len(x), val_loss=val_loss,
                   val_accuracy=val_acc, lr=lr, seconds=time.perf_counter() - started)  # fmt: skip
        log.append(row)
        if rank == 0:
            if val_acc > best["val_accuracy"]:
                best = {"val_accuracy": val_acc, "epoch": epoch + 1}
                _save_checkpoint(folder / "best.safetensors", model, None, dict(epoch=epoch + 1))
            _save_checkpoint(folder / "checkpoint.safetensors", model, optimizer,
                             dict(epoch=epoch + 1, log=log, best=best, config=config))  # fmt: skip
            write_text(folder / "log.csv", _csv(log))
            if writer is not None:
                for key in LOG_COLUMNS[1:]:
                    writer.add_scalar(key, row[key], epoch + 1)
                writer.flush()
    if writer is not None:
        writer.close()

    # the weights chosen on the validation set, measured once on the official test set
    if world > 1:
        import torch.distributed as dist

        dist.barrier()  # process 0 has written best.safetensors
    model.load_state_dict(load_checkpoint(folder / "best.safetensors")[0])
    test_loss, test_acc = _evaluate(model, x_test, y_test, 1024, rank, world, dev, amp)
    epoch_seconds = [r["seconds"] for r in log]
    metrics = dict(
        test_accuracy=test_acc, test_loss=test_loss, val_accuracy=best["val_accuracy"], best_epoch=best["epoch"],
        param_count=n_params, epoch_seconds=sum(epoch_seconds) / len(epoch_seconds), epoch_seconds_all=epoch_seconds,
        train_loss=log[-1]["train_loss"], train_accuracy=log[-1]["train_accuracy"], epochs=len(log),
        train_images=len(x), val_images=len(x_val), test_images=len(x_test), processes=world, device=str(dev),
        precision=config["precision"], lr=config["lr"], **discovery,
    )  # fmt: skip
    if rank == 0:
        write_json(folder / "metrics.json", metrics)
        figure = _plot(log, folder / "figures" / "curves.png")
        write_text(folder / "report.md", _report(config, metrics, figure))
    if world > 1:
        import torch.distributed as dist

        dist.barrier()
        dist.destroy_process_group()
    return folder, metrics


def _csv(log: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=LOG_COLUMNS, lineterminator="\n")
    w.writeheader()
    for row in log:
        w.writerow({k: (f"{row[k]:.6g}" if isinstance(row[k], float) else row[k]) for k in LOG_COLUMNS})
    return buf.getvalue()


def _tensorboard(folder: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # pragma: no cover - tensorboard is a dependency; tolerate its absence
        return None
    return SummaryWriter(str(folder / "tensorboard"))


def _plot(log: list[dict], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [r["epoch"] for r in log]
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.4))
    a.plot(epochs, [r["train_loss"] for r in log], label="train")
    a.plot(epochs, [r["val_loss"] for r in log], label="validation")
    a.set(xlabel="epoch", ylabel="cross-entropy", yscale="log")
    b.plot(epochs, [r["train_accuracy"] for r in log], label="train")
    b.plot(epochs, [r["val_accuracy"] for r in log], label="validation")
    b.set(xlabel="epoch", ylabel="accuracy")
    for ax in (a, b):
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    write_bytes(path, buf.getvalue())
    return path


def _report(config: dict, metrics: dict, figure: Path) -> str:
    lines = [
        f"# lconv train: {config['model']} on {config['dataset']} ({config['variant']})",
        "",
        "| metric | value |",
        "|---|---|",
    ]
    for key in ("test_accuracy", "val_accuracy", "best_epoch", "param_count", "epoch_seconds", "epochs", "processes"):
        v = metrics[key]
        lines.append(f"| {key} | {v:.4f} |" if isinstance(v, float) else f"| {key} | {v} |")
    if "topology_edge_recall" in metrics:  # lconv-graph: how well the pixel graph was found
        for key in ("topology_edge_recall", "topology_edge_precision", "topology_lattice_fraction", "topology_seconds"):
            v = metrics[key]
            lines.append(f"| {key} | {v:.4f} |" if isinstance(v, float) else f"| {key} | {v} |")
    lines += ["", f"![curves](figures/{figure.name})", "", "Options: `" + json.dumps(config, sort_keys=True) + "`", ""]
    return "\n".join(lines)
