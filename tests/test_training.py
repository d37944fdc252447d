"""Training runs: convergence, exact resume, checkpoints that survive NaN and Ctrl-C, and
run directories that refuse to be overwritten or misread."""

import json
import os
import signal
from dataclasses import replace

import pytest
import torch
from safetensors import safe_open

import models.transformer
from models.checkpoint import latest_checkpoint, load_run
from models.run import train_run
from models.run_config import RunConfig, TrainConfig
from models.train import Callbacks
from models.transformer import ModelConfig
from txdata import DataConfig, SourceConfig
from txdata.errors import RunError, TrainingError

TINY_MODEL = ModelConfig(d_model=16, heads=2, layers=1, d_ff=32, dropout=0.1)
TINY_TRAIN = TrainConfig(steps=40, batch_size=16, eval_every=20, checkpoint_every=1000)


def tiny(mode: str, **train) -> RunConfig:
    data = DataConfig(objective=mode, source=SourceConfig(count=64))
    return RunConfig(data, TINY_MODEL, replace(TINY_TRAIN, **train))


def weights(directory):
    return load_run(directory).model.state_dict()


class InterruptAt(Callbacks):
    """Presses Ctrl-C (a real SIGINT) once step `at` has finished."""

    def __init__(self, at: int) -> None:
        self.at = at

    def on_step(self, step, loss, lr, tokens_per_second):
        if step == self.at:
            os.kill(os.getpid(), signal.SIGINT)


@pytest.mark.parametrize(
    ("mode", "backprop"), [("seq2seq", "autograd"), ("mlm", "autograd"), ("clm", "manual")]
)
def test_interrupted_and_resumed_run_equals_a_straight_run(tmp_path, mode, backprop):
    """Also with the hand-written backward and AdamW: their dropout masks come from torch's
    generator, whose state the checkpoint keeps, and their moments are saved like torch's."""
    config = tiny(mode, steps=100, eval_every=50, backprop=backprop)
    straight = train_run(config, tmp_path / "straight")
    halted = train_run(config, tmp_path / "halted", callbacks=InterruptAt(50))
    assert halted.interrupted and halted.step == 50
    assert load_run(tmp_path / "halted").step == 50
    resumed = train_run(config, tmp_path / "halted", resume=True)
    assert resumed.step == 100
    for name, tensor in weights(tmp_path / "straight").items():
        assert torch.equal(tensor, weights(tmp_path / "halted")[name]), name
    assert resumed.metrics == straight.metrics
    lines = (tmp_path / "halted" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [50, 100]


def test_run_directory_holds_config_weights_tokenizer_metrics_and_state(tmp_path):
    train_run(tiny("seq2seq", checkpoint_every=10), tmp_path / "run")
    files = {path.name for path in (tmp_path / "run").iterdir()}
    assert files == {
        "txdata-run.json",
        "config.json",
        "tokenizer.json",
        "metrics.jsonl",
        "checkpoints",
    }
    # The newest two checkpoints are kept, each a folder of its own.
    folders = sorted(path.name for path in (tmp_path / "run" / "checkpoints").iterdir())
    assert folders == ["step-0000030", "step-0000040"]
    checkpoint = tmp_path / "run" / "checkpoints" / "step-0000040"
    assert {path.name for path in checkpoint.iterdir()} == {
        "model.safetensors",
        "state.safetensors",
        "state.json",
    }
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert set(config) == {"data", "model", "train", "command"}
    assert config["model"]["vocab_size"] == 9 and config["data"]["objective"] == "seq2seq"
    metrics = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").open()]
    assert [m["step"] for m in metrics] == [20, 40]
    assert {"loss", "perplexity", "accuracy", "exact_match"} <= set(metrics[-1])


def test_a_run_is_never_overwritten_unless_asked(tmp_path):
    train_run(tiny("mlm", steps=2), tmp_path / "run")
    with pytest.raises(RunError, match="is not empty: pass --overwrite"):
        train_run(tiny("mlm"), tmp_path / "run")
    assert load_run(tmp_path / "run").step == 2
    train_run(tiny("mlm", steps=4), tmp_path / "run", overwrite=True)
    assert load_run(tmp_path / "run").step == 4
    assert [path.name for path in tmp_path.iterdir()] == ["run"]  # no staging folder left


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    real_loss, calls = models.transformer.LMHead.loss, {"n": 0}

    def loss_that_turns_nan(*args, **kwargs):  # training asks the head for its loss only
        calls["n"] += 1
        loss = real_loss(*args, **kwargs)
        return loss * float("nan") if calls["n"] > 5 else loss

    monkeypatch.setattr(models.transformer.LMHead, "loss", loss_that_turns_nan)
    config = tiny("mlm", steps=10, checkpoint_every=2, eval_every=100)
    with pytest.raises(TrainingError, match=r"loss became nan at step 6; .* step 4 is kept"):
        train_run(config, tmp_path / "run")
    checkpoint = latest_checkpoint(tmp_path / "run")
    with safe_open(str(checkpoint / "model.safetensors"), "pt") as saved:
        assert saved.metadata()["step"] == "4"
    assert json.loads((checkpoint / "state.json").read_text())["step"] == 4


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda_is_refused(tmp_path):
    config = tiny("mlm", device="cuda")
    with pytest.raises(TrainingError, match="CUDA is not available"):
        train_run(config, tmp_path / "run")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("mode", ["seq2seq", "mlm"])
def test_defaults_reach_100_percent_on_the_alternating_sequence(tmp_path, mode):
    """The defaults of `txdata train`, checked by steps (not by time)."""
    config = RunConfig(DataConfig(objective=mode), ModelConfig())  # the objective's batch size
    result = train_run(config, tmp_path / "run")
    assert result.metrics["accuracy"] == 1.0
    if mode == "seq2seq":
        assert result.metrics["exact_match"] == 1.0
        assert all(sample["correct"] for sample in result.samples)
