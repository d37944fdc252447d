"""Training on several processes (`models/distributed.py`): the shares of a batch give the
one-process gradient, and torchrun runs end, fail and resume as one process does."""

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from cli.main import app
from models.distributed import Processes
from models.transformer import ModelConfig, build_model
from tests.cli_errors import one_line_error
from txdata import DataConfig, prepare
from txdata.errors import ConfigError
from txdata.objectives import OBJECTIVES
from txdata.special_tokens import IGNORE_INDEX

TXDATA = str(Path(sys.executable).with_name("txdata"))
SMALL = ["--d-model", "16", "--heads", "2", "--layers", "1", "--dropout", "0", "--no-plots"]


def gradients(model, batch, loss_counts=None) -> dict[str, torch.Tensor]:
    model.zero_grad()
    model(batch, logits=False, loss_counts=loss_counts).loss.backward()
    return {name: p.grad.clone() for name, p in model.named_parameters()}


@pytest.mark.parametrize("mode", list(OBJECTIVES))
@pytest.mark.parametrize("count", [2, 3])
def test_the_mean_of_the_shares_gradients_is_the_whole_batch_gradient(mode, count):
    """What DDP computes (the mean over processes of each share's gradient, with the loss
    divided by `loss_counts`) equals one process's gradient on the whole batch, in float64;
    3 processes share 8 rows unevenly."""
    data = prepare(DataConfig(mode))
    whole = data.batches(batch_size=8, seed=0)[0]
    kind, vocab = data.config.kind, data.tokenizer.get_vocab_size()
    config = ModelConfig(vocab_size=vocab, d_model=16, heads=2, sentence_pairs=kind.sentence_pairs)
    torch.manual_seed(0)
    model = build_model(kind.architecture, config).double()
    expected = gradients(model, whole)
    labelled = int((model.targets(whole["labels"]) != IGNORE_INDEX).sum())
    shares = [Processes(rank, count) for rank in range(count)]
    got = [gradients(model, p.share(whole), p.loss_counts(labelled, rows=8)) for p in shares]
    for name, value in expected.items():
        mean = sum(grads[name] for grads in got) / count
        torch.testing.assert_close(mean, value, rtol=1e-10, atol=1e-12, msg=name)
    if mode == "mlm":  # each share's own mean would weigh its labels unequally
        naive = [gradients(model, p.share(whole)) for p in shares]
        mean = sum(grads["embeddings.tokens.weight"] for grads in naive) / count
        assert not torch.allclose(mean, expected["embeddings.tokens.weight"], atol=1e-6)


def test_shares_cover_the_batch_once_and_every_process_needs_a_row():
    batch = {"input_ids": torch.arange(14).view(7, 2)}
    shares = [Processes(rank, 3).share(batch)["input_ids"] for rank in range(3)]
    assert [len(s) for s in shares] == [3, 2, 2]
    assert torch.equal(torch.cat(shares), batch["input_ids"])
    Processes(0, 3).check_shares(rows=100, batch_size=32)  # batches of 32, 32, 32 and 4
    with pytest.raises(ConfigError, match="smallest batch has 2 examples"):
        Processes(0, 3).check_shares(rows=98, batch_size=32)


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        ({"WORLD_SIZE": "2", "RANK": "x"}, "RANK or LOCAL_RANK"),
        ({"WORLD_SIZE": "2", "RANK": "2"}, "RANK 2 does not lie"),
    ],
)
def test_a_broken_launcher_environment_is_named(monkeypatch, tmp_path, environment, message):
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(app, ["train", "--out", str(tmp_path / "run")])
    assert result.exit_code == 1
    assert message in one_line_error(result)


def test_manual_backprop_is_refused_under_torchrun(monkeypatch, tmp_path):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    result = CliRunner().invoke(
        app, ["train", "--backprop", "manual", "--out", str(tmp_path / "run")]
    )
    assert result.exit_code == 1
    assert "--backprop manual trains in one process" in one_line_error(result)
    assert not (tmp_path / "run").exists()


def torchrun(*args: str, **popen) -> subprocess.Popen:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += ["--nproc-per-node", "2", TXDATA, *args]
    environment = {**os.environ, "OMP_NUM_THREADS": "1", **popen.pop("env", {})}
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment
    )


def finish(process: subprocess.Popen, timeout: float = 120) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def weights(run: Path, step: int) -> dict[str, torch.Tensor]:
    return load_file(run / "checkpoints" / f"step-{step:07d}" / "model.safetensors")


def test_two_processes_train_the_run_one_process_trains(tmp_path):
    """nsp: shares with unequal numbers of masked tokens, and a second, per-row loss."""
    options = ["train", "--mode", "nsp", "--steps", "6", "--eval-every", "3", *SMALL]
    two = tmp_path / "two"
    code, out, err = finish(torchrun(*options, "--batch-size", "8", "--out", str(two)))
    assert code == 0, err[-3000:]
    assert out.count("run saved") == 1  # process 0 alone reports
    one = tmp_path / "one"
    result = CliRunner().invoke(app, [*options, "--batch-size", "16", "--out", str(one)])
    assert result.exit_code == 0, result.output
    assert json.loads((two / "config.json").read_text())["train"]["batch_size"] == 16
    # Measured: 4e-6 apart after 6 steps; per-process mean losses land 7e-4 apart.
    for name, value in weights(one, 6).items():
        torch.testing.assert_close(weights(two, 6)[name], value, rtol=0, atol=5e-5, msg=name)
    evaluations = [
        [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        for run in (one, two)
    ]
    assert [e["step"] for e in evaluations[1]] == [3, 6]
    for alone, shared in zip(*evaluations):
        assert alone.keys() == shared.keys()
        for key, value in alone.items():
            assert shared[key] == pytest.approx(value, abs=1e-4), key
    # A run that process 0 cannot start stops every process, with one line.
    code, out, err = finish(torchrun(*options, "--out", str(two)), timeout=60)
    assert code != 0
    assert err.count("error:") == 1 and "is not empty: pass --overwrite" in err


def process_of(marker: str, rank: int) -> int | None:
    """The pid of the process started with TXDATA_TEST=marker and RANK=rank."""
    for entry in Path("/proc").iterdir():
        try:
            environment = (entry / "environ").read_bytes().split(b"\0")
        except (OSError, ValueError):
            continue
        if f"TXDATA_TEST={marker}".encode() in environment and f"RANK={rank}".encode() in (
            environment
        ):
            return int(entry.name)
    return None


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="finds ranks through /proc")
def test_a_killed_process_stops_the_run_with_one_line_and_its_checkpoint_resumes(tmp_path):
    run, marker = tmp_path / "run", uuid.uuid4().hex
    options = ["train", "--mode", "seq2seq", "--steps", "5000", "--checkpoint-every", "5"]
    job = torchrun(
        *options, "--eval-every", "5000", *SMALL, "--out", str(run), env={"TXDATA_TEST": marker}
    )
    deadline = time.monotonic() + 90
    while not list(run.glob("checkpoints/step-*")) and time.monotonic() < deadline:
        time.sleep(0.2)
    victim = process_of(marker, rank=1)
    assert victim is not None, "no checkpoint, or no process 1, within 90 s"
    os.kill(victim, signal.SIGKILL)
    code, _, err = finish(job, timeout=60)
    assert code != 0
    said = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(said) == 1, err[-3000:]
    assert "process 0 of 2" in said[0] and "another process" in said[0]
    assert f"--resume {run} continues it" in said[0]
    kept = int(said[0].split("checkpoint of step ")[1].split()[0])
    # Resumed by two processes again: each loads the checkpoint, process 0 tidies and writes.
    code, out, err = finish(torchrun("train", "--resume", str(run), "--steps", str(kept + 5)))
    assert code == 0, err[-3000:]
    assert f"step {kept + 5}," in " ".join(out.split())
    assert max(path.name for path in run.glob("checkpoints/step-*")) == f"step-{kept + 5:07d}"


def test_ctrl_c_in_one_process_stops_every_process_after_the_same_step(tmp_path):
    """Ctrl-C reaches process 1 alone: process 0 learns of it at the step's exchange, stops
    after the same step, saves it and says so; nobody waits for a step that never comes."""
    run, marker = tmp_path / "run", uuid.uuid4().hex
    options = ["train", "--mode", "seq2seq", "--steps", "5000", "--checkpoint-every", "5000"]
    job = torchrun(
        *options, "--eval-every", "5000", *SMALL, "--out", str(run), env={"TXDATA_TEST": marker}
    )
    deadline = time.monotonic() + 90
    while not (run / "config.json").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(2)  # some steps in
    victim = process_of(marker, rank=1)
    assert victim is not None, "no process 1 within 90 s"
    os.kill(victim, signal.SIGINT)
    code, out, err = finish(job, timeout=60)
    assert code != 0  # 130 from each process, as `txdata train` exits when interrupted
    assert "run interrupted; resume with --resume" in out, err[-3000:]
    saved = [path.name for path in run.glob("checkpoints/step-*")]
    assert len(saved) == 1
    step = int(saved[0].removeprefix("step-"))
    assert 0 < step < 5000 and f"step {step}," in " ".join(out.split())
