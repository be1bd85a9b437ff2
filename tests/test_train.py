"""``lconv train``: the run folder, checkpoints, exact resumption, seeds, torchrun, bad input."""

from __future__ import annotations

import csv
import json
import os
import struct
import subprocess
import sys

import pytest
import torch
from helpers import SHARED, needs_shared
from safetensors.torch import load_file

from lconv.cli import main
from lconv.experiments.train import load_checkpoint, train

pytestmark = needs_shared

# a tiny model on a slice of MNIST: a few seconds per run
TINY = dict(model="lconv", channels=2, generators=2, rank=2, train_size=640, batch_size=64, epochs=3, seed=0)


def run(out, **options):
    return train(out=out, data_dir=SHARED, **dict(TINY, **options))


def weights(folder):
    return load_file(str(folder / "checkpoint.safetensors"))


def test_run_folder_and_metrics(tmp_path):
    folder, m = run(tmp_path / "run")
    names = {p.name for p in folder.iterdir()}
    assert {
        "config.json",
        "metrics.json",
        "log.csv",
        "checkpoint.safetensors",
        "best.safetensors",
        "report.md",
    } <= names
    assert (folder / "figures" / "curves.png").stat().st_size > 1000
    saved = json.loads((folder / "metrics.json").read_text())
    for key in ("test_accuracy", "val_accuracy", "param_count", "epoch_seconds"):
        assert saved[key] == pytest.approx(m[key])
    assert m["train_images"] == 576 and m["val_images"] == 64 and m["test_images"] == 10_000
    assert m["test_accuracy"] > 0.3  # ten classes: chance is 0.1
    rows = list(csv.DictReader((folder / "log.csv").read_text().splitlines()))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert float(rows[-1]["train_loss"]) < float(rows[0]["train_loss"])
    assert max(float(r["val_accuracy"]) for r in rows) == pytest.approx(m["val_accuracy"], abs=1e-6)
    config = json.loads((folder / "config.json").read_text())
    assert config["channels"] == 2 and config["lr"] == 2e-3  # given, and the default
    assert all(v is not None for k, v in config.items() if k != "train_size" or TINY[k] is None)  # all resolved
    # TensorBoard got one point per epoch
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder / "tensorboard"))
    events.Reload()
    assert [e.step for e in events.Scalars("val_accuracy")] == [1, 2, 3]


def test_checkpoint_is_safetensors_not_pickle(tmp_path):
    folder, _ = run(tmp_path / "run", epochs=1)
    raw = (folder / "checkpoint.safetensors").read_bytes()
    (size,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + size])  # safetensors: a JSON header, then raw tensor bytes
    assert "model.head.weight" in header and "optim.0.exp_avg" in header
    state, optim, meta = load_checkpoint(folder / "checkpoint.safetensors")
    assert meta["epoch"] == 1 and len(meta["log"]) == 1
    assert state["head.weight"].shape == (10, 2 * 784)


def test_resume_after_a_kill_ends_where_an_uninterrupted_run_ends(tmp_path):
    whole, m_whole = run(tmp_path / "whole")

    def kill(stage, done, total):
        if stage.startswith("epoch 3/") and done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(out=tmp_path / "killed", data_dir=SHARED, progress=kill, **TINY)
    assert load_checkpoint(tmp_path / "killed" / "checkpoint.safetensors")[2]["epoch"] == 2
    resumed, m_resumed = train(out=tmp_path / "killed", resume=True, data_dir=SHARED)
    a, b = weights(whole), weights(resumed)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert m_resumed["test_accuracy"] == m_whole["test_accuracy"]
    assert (tmp_path / "killed" / "log.csv").read_text().count("\n") == 4  # header and three epochs, no repeats


def test_same_seed_same_numbers_other_seed_other_numbers(tmp_path):
    _, a = run(tmp_path / "a", epochs=1)
    _, b = run(tmp_path / "b", epochs=1)
    _, c = run(tmp_path / "c", epochs=1, seed=1)
    assert a["test_loss"] == b["test_loss"] and a["train_loss"] == b["train_loss"]
    assert a["test_loss"] != c["test_loss"]


def test_rotation_augmentation_turns_images_about_the_centre_with_blank_corners():
    from lconv.experiments.train import _turned

    x = torch.randn(3, 2, 8, 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    blank = torch.tensor([-0.4, 0.7], dtype=torch.float64).reshape(1, 2, 1, 1)
    quarter = _turned(x, torch.full((3,), 90.0, dtype=torch.float64), blank)
    assert torch.allclose(quarter, torch.rot90(x, 1, dims=(-2, -1)), atol=1e-12)
    assert torch.allclose(_turned(x, torch.zeros(3, dtype=torch.float64), blank), x, atol=1e-12)
    empty = blank.expand(2, 2, 8, 8)
    turned = _turned(empty, torch.tensor([30.0, -45.0], dtype=torch.float64), blank)
    assert torch.allclose(turned, empty, atol=1e-12)  # corners are filled with blank pixels, not with zeros
    odd = _turned(x, torch.tensor([0.0, 45.0, -45.0], dtype=torch.float64), blank)
    assert not torch.allclose(odd[1], x[1]) and not torch.allclose(odd[1], odd[2])


def test_rotation_augmentation_is_saved_reproducible_and_resumes_exactly(tmp_path):
    _, plain = run(tmp_path / "plain", epochs=1)
    folder, a = run(tmp_path / "a", epochs=1, augment_rotation=45)
    _, b = run(tmp_path / "b", epochs=1, augment_rotation=45)
    assert a["train_loss"] == b["train_loss"] and a["train_loss"] != plain["train_loss"]
    assert json.loads((folder / "config.json").read_text())["augment_rotation"] == 45
    with pytest.raises(ValueError, match="augment_rotation=0 .*differ from the saved run"):
        train(out=folder, resume=True, data_dir=SHARED, augment_rotation=0)
    # the angles of an epoch depend on (seed, epoch) alone: a resumed run ends where an uninterrupted one does
    _, whole = run(tmp_path / "whole", epochs=2, augment_rotation=45)

    def kill(stage, done, total):
        if stage.startswith("epoch 2/") and done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "killed", epochs=2, augment_rotation=45, progress=kill)
    _, resumed = train(out=tmp_path / "killed", resume=True, data_dir=SHARED)
    assert resumed["test_loss"] == whole["test_loss"] and resumed["train_loss"] == whole["train_loss"]


def test_resume_may_extend_epochs_but_not_change_the_run(tmp_path):
    folder, _ = run(tmp_path / "run", epochs=1)
    with pytest.raises(ValueError, match="lr=0.5 .*differ from the saved run"):
        train(out=folder, resume=True, data_dir=SHARED, lr=0.5)
    _, m = train(out=folder, resume=True, data_dir=SHARED, epochs=2)
    assert m["epochs"] == 2


def test_shared_generators_are_saved_once_and_resume_exactly(tmp_path):
    options = dict(layers=2, shared=True, epochs=2)
    whole, _ = run(tmp_path / "whole", **options)
    header = json.loads(
        (whole / "checkpoint.safetensors").read_bytes()[8:][
            : struct.unpack("<Q", (whole / "checkpoint.safetensors").read_bytes()[:8])[0]
        ]
    )
    assert "model.layers.0.generators.U" in header and "model.layers.1.generators.U" not in header
    state, _, _ = load_checkpoint(whole / "checkpoint.safetensors")
    assert torch.equal(state["layers.1.generators.U"], state["layers.0.generators.U"])

    def kill(stage, done, total):
        if stage.startswith("epoch 2/"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(out=tmp_path / "killed", data_dir=SHARED, progress=kill, **dict(TINY, **options))
    resumed, _ = train(out=tmp_path / "killed", resume=True, data_dir=SHARED)
    a, b = weights(whole), weights(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_bf16_autocast_trains_as_well_as_fp32(tmp_path):
    """bf16 autocast (on the CPU here): float32 weights, a different run, the same accuracy within noise."""
    _, a = run(tmp_path / "fp32", epochs=2)
    folder, b = run(tmp_path / "bf16", epochs=2, precision="bf16")
    assert b["precision"] == "bf16" and json.loads((folder / "config.json").read_text())["precision"] == "bf16"
    assert b["test_loss"] != a["test_loss"]  # bf16 really ran
    assert abs(b["test_accuracy"] - a["test_accuracy"]) < 0.03 and b["test_accuracy"] > 0.5
    assert all(t.dtype == torch.float32 for t in weights(folder).values())


def test_frozen_generators_stay_put(tmp_path):
    folder, _ = run(tmp_path / "run", model="lconv-random", epochs=1)
    state, _, _ = load_checkpoint(folder / "checkpoint.safetensors")
    torch.manual_seed(TINY["seed"])
    from lconv.nn import build_model

    fresh = build_model("lconv-random", (1, 28, 28), 10, channels=2, n_generators=2, rank=2).state_dict()
    assert torch.equal(state["layers.0.generators.U"], fresh["layers.0.generators.U"])
    assert not torch.equal(state["head.weight"], fresh["head.weight"])


def test_cli_errors_are_one_line_and_touch_nothing(tmp_path, capsys):
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    cases = [
        (["train", "--model", "resnet", "--out", str(tmp_path / "x")], "unknown model 'resnet'"),
        (["train", "--out", str(busy), "--data-dir", str(SHARED)], "already exists and is not empty"),
        (["train", "--resume", "--out", str(tmp_path / "none")], "config.json not found"),
        (["train", "--dataset", "svhn", "--out", str(tmp_path / "y")], "svhn"),
        (["train", "--data-dir", str(tmp_path / "empty"), "--out", str(tmp_path / "z")], "--download"),
        (["train", "--precision", "tf32", "--out", str(tmp_path / "w")], "tf32 is a CUDA mode"),
        (["train", "--precision", "fp8", "--out", str(tmp_path / "w")], "unknown precision fp8"),
        (["train", "--augment-rotation", "200", "--out", str(tmp_path / "w")], "between 0 and 180, got 200"),
        (["train", "--augment-rotation", "nan", "--out", str(tmp_path / "w")], "between 0 and 180, got nan"),
        (
            ["train", "--variant", "rotated-scrambled", "--augment-rotation", "30", "--out", str(tmp_path / "w")],
            "rotated-scrambled images are not on one",
        ),
    ]
    for argv, message in cases:
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2
        captured = capsys.readouterr()
        err = captured.err.strip()
        assert err.startswith("lconv: error:") and message in err and "\n" not in err
        assert captured.out.strip() == ""  # no stray output from the progress bar
    assert [p.name for p in busy.iterdir()] == ["keep.txt"] and (busy / "keep.txt").read_text() == "mine"
    assert not any((tmp_path / name).exists() for name in "xywz")


def test_torchrun_two_processes_match_one(tmp_path):
    # DDP with gloo on 2 CPU processes: each takes half of every global batch; same loss as 1 process
    argv = ["train", "--train-size", "640", "--batch-size", "64", "--epochs", "1", "--channels", "2",
            "--generators", "2", "--rank", "2", "--data-dir", str(SHARED)]  # fmt: skip
    env = dict(os.environ, OMP_NUM_THREADS="1")
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    subprocess.run([*launcher, "-m", "lconv.cli", *argv, "--out", str(tmp_path / "ddp")], env=env, check=True,
                   capture_output=True, timeout=300)  # fmt: skip
    with pytest.raises(SystemExit) as done:
        main([*argv, "--out", str(tmp_path / "one")])
    assert done.value.code == 0
    one = list(csv.DictReader((tmp_path / "one" / "log.csv").read_text().splitlines()))[0]
    ddp = list(csv.DictReader((tmp_path / "ddp" / "log.csv").read_text().splitlines()))[0]
    assert float(ddp["train_loss"]) == pytest.approx(float(one["train_loss"]), rel=1e-4)
    assert json.loads((tmp_path / "ddp" / "metrics.json").read_text())["processes"] == 2
    a, b = weights(tmp_path / "one"), weights(tmp_path / "ddp")
    for k in a:
        if k.startswith("model."):
            torch.testing.assert_close(b[k], a[k], rtol=1e-4, atol=1e-5)


def test_repro_d_table_writes_table_json_and_chart(tmp_path, capsys):
    out, table = tmp_path / "dtable", tmp_path / "table.md"
    argv = ["repro", "d-table", "--datasets", "mnist", "--variants", "rotated-scrambled", "--models", "lconv,cnn",
            "--epochs", "1", "--train-size", "256", "--channels", "2", "--generators", "2", "--rank", "2",
            "--data-dir", str(SHARED), "--out", str(out), "--table", str(table)]  # fmt: skip
    with pytest.raises(SystemExit) as done:
        main(argv)
    assert done.value.code == 0
    rows = json.loads((out / "results.json").read_text())["rows"]
    assert [(r["model"], r["paper"]) for r in rows] == [("lconv", 0.9445), ("cnn", 0.9259)]
    for r in rows:
        run_metrics = json.loads((out / "runs" / f"mnist-rotated-scrambled-{r['model']}" / "metrics.json").read_text())
        assert r["test_accuracy"] == run_metrics["test_accuracy"] and r["param_count"] == run_metrics["param_count"]
    md = table.read_text()
    assert md == (out / "table.md").read_text() and "--models lconv,cnn" in md and "| 0.9445 |" in md
    assert (out / "figures" / "d-table.png").stat().st_size > 1000

    # --resume: the finished cells are measured again, not retrained; a new model is trained beside them
    runs = out / "runs"
    before = {p: p.read_bytes() for p in runs.rglob("*.safetensors")}
    with pytest.raises(SystemExit) as done:
        main([*argv[:7], "lconv,cnn,fc", *argv[8:], "--resume"])
    assert done.value.code == 0
    again = json.loads((out / "results.json").read_text())["rows"]
    assert [r["model"] for r in again] == ["lconv", "cnn", "fc"]
    assert [r["test_accuracy"] for r in again[:2]] == [r["test_accuracy"] for r in rows]
    assert {p: p.read_bytes() for p in before} == before and (
        runs / "mnist-rotated-scrambled-fc" / "best.safetensors"
    ).is_file()
    assert "--models lconv,cnn,fc" in table.read_text()
    capsys.readouterr()
    with pytest.raises(SystemExit) as done:
        main(["repro", "d-table", "--resume", "--out", str(tmp_path / "nothing")])
    assert done.value.code == 2 and "--resume continues a d-table" in capsys.readouterr().err


def test_repro_d_table_keeps_the_learning_rate_best_on_validation(tmp_path):
    out = tmp_path / "dtable"
    argv = ["repro", "d-table", "--datasets", "mnist", "--variants", "rotated-scrambled", "--models", "lconv,fc",
            "--epochs", "1", "--train-size", "256", "--channels", "2", "--generators", "2", "--rank", "2",
            "--lrs", "1e-4,3e-2", "--data-dir", str(SHARED), "--out", str(out)]  # fmt: skip
    with pytest.raises(SystemExit) as done:
        main(argv)
    assert done.value.code == 0
    rows = json.loads((out / "results.json").read_text())["rows"]
    for r in rows:
        runs = [json.loads((out / "runs" / f"mnist-rotated-scrambled-{r['model']}-lr{lr}" / "metrics.json").read_text())
                for lr in ("0.0001", "0.03")]  # fmt: skip
        assert [g["lr"] for g in r["grid"]] == [m["lr"] for m in runs] == [1e-4, 3e-2]
        best = max(runs, key=lambda m: m["val_accuracy"])
        keys = ("lr", "test_accuracy", "val_accuracy")
        assert [r[k] for k in keys] == [best[k] for k in keys]
    md = (out / "table.md").read_text()
    assert "--lrs 0.0001,0.03" in md and "| lr |" in md and f"| {rows[0]['lr']:g} |" in md
    assert all(f"**{r['val_accuracy']:.4f}**" in md for r in rows)  # the kept run, in bold in the grid


def test_repro_d_table_averages_over_seeds_and_picks_the_lr_on_mean_validation(tmp_path):
    out = tmp_path / "dtable"
    argv = ["repro", "d-table", "--datasets", "mnist", "--variants", "rotated-scrambled", "--models", "lconv",
            "--epochs", "1", "--train-size", "256", "--channels", "2", "--generators", "2", "--rank", "2",
            "--lrs", "1e-4,3e-2", "--seeds", "0,3", "--data-dir", str(SHARED), "--out", str(out)]  # fmt: skip
    with pytest.raises(SystemExit) as done:
        main(argv)
    assert done.value.code == 0
    (row,) = json.loads((out / "results.json").read_text())["rows"]
    runs = {(lr, seed): json.loads((out / "runs" / f"mnist-rotated-scrambled-lconv-lr{lr}-seed{seed}" / "metrics.json")
                                   .read_text()) for lr in ("0.0001", "0.03") for seed in (0, 3)}  # fmt: skip
    assert len({m["test_accuracy"] for m in runs.values()}) > 1  # the seeds really differ
    mean_val = {lr: (runs[lr, 0]["val_accuracy"] + runs[lr, 3]["val_accuracy"]) / 2 for lr in ("0.0001", "0.03")}
    best = max(mean_val, key=mean_val.get)
    tests = [runs[best, 0]["test_accuracy"], runs[best, 3]["test_accuracy"]]
    assert row["lr"] == float(best) and row["seeds"] == [0, 3]
    assert row["val_accuracy"] == pytest.approx(mean_val[best])
    assert row["test_accuracy"] == pytest.approx(sum(tests) / 2)
    assert row["test_std"] == pytest.approx(abs(tests[0] - tests[1]) / 2**0.5)
    assert [r["test_accuracy"] for r in row["runs"]] == tests
    md = (out / "table.md").read_text()
    assert "--seeds 0,3" in md and f"{row['test_accuracy']:.4f} ± {row['test_std']:.4f}" in md


def test_d_table_rejects_repeated_or_negative_seeds(tmp_path):
    from lconv.experiments.dtable import d_table

    for seeds in [(0, 0), (), (-1,)]:
        with pytest.raises(ValueError, match="seeds must be distinct non-negative ints"):
            d_table(seeds=seeds, out=tmp_path / "t")
    assert not (tmp_path / "t").exists()


@pytest.mark.parametrize(
    "option, text, what",
    [("--lrs", "1e-3,x", "numbers"), ("--lrs", "2e-3,,abc", "numbers"), ("--seeds", "0,1.5", "integers")],
)
def test_repro_d_table_rejects_a_malformed_grid(option, text, what, capsys):
    with pytest.raises(SystemExit) as done:
        main(["repro", "d-table", option, text, "--data-dir", str(SHARED)])
    assert done.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"lconv: error: {option}: expected comma-separated {what}") and len(err.splitlines()) == 1


def test_d_table_rejects_nonpositive_learning_rates(tmp_path):
    from lconv.experiments.dtable import d_table

    with pytest.raises(ValueError, match="lr must be a positive number, got 0.0"):
        d_table(lrs=(2e-3, 0.0), out=tmp_path / "t")
    with pytest.raises(ValueError, match="at least one learning rate"):
        d_table(lrs=(), out=tmp_path / "t")
    with pytest.raises(ValueError, match="either lr or lrs"):
        d_table(lrs=(2e-3,), lr=1e-3, out=tmp_path / "t")
    assert not (tmp_path / "t").exists()


def test_repro_d_table_passes_rotation_augmentation_to_every_run_and_names_it(tmp_path):
    out = tmp_path / "dtable"
    argv = ["repro", "d-table", "--datasets", "mnist", "--variants", "rotated", "--models", "lconv", "--epochs", "1",
            "--train-size", "256", "--channels", "2", "--generators", "2", "--rank", "2", "--augment-rotation", "30",
            "--data-dir", str(SHARED), "--out", str(out)]  # fmt: skip
    with pytest.raises(SystemExit) as done:
        main(argv)
    assert done.value.code == 0
    assert json.loads((out / "runs" / "mnist-rotated-lconv" / "config.json").read_text())["augment_rotation"] == 30
    assert "--augment-rotation 30.0" in (out / "table.md").read_text()
