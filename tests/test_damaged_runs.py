"""Run directories damaged the ways real ones get damaged: each gets one line and exit 1.

A damage that keeps a checkpoint's files consistent with its state.json (another run's state
copied in, a key removed) re-seals the checkpoint, as a careless hand repair would.
"""

import hashlib
import json
import shutil

import pytest
from safetensors.torch import load_file, save_file
from typer.testing import CliRunner

from cli.main import app
from models.checkpoint import latest_checkpoint

runner = CliRunner()
TINY = ["--d-model", "16", "--heads", "2", "--layers", "1", "--count", "32", "--no-plots"]


def invoke(*args: str):
    return runner.invoke(app, list(args))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    for name, width in (("run", "16"), ("wide", "32")):
        result = invoke(
            "train", *TINY, "--d-model", width, "--steps", "2", "--out", str(root / name)
        )
        assert result.exit_code == 0, result.output
    return root


def reseal(checkpoint):
    """Record a changed state.safetensors in state.json, as if it had been saved that way."""
    record = json.loads((checkpoint / "state.json").read_text())
    data = (checkpoint / "state.safetensors").read_bytes()
    record["files"]["state.safetensors"] = {
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    (checkpoint / "state.json").write_text(json.dumps(record))


def edit_config(run, change):
    config = json.loads((run / "config.json").read_text())
    change(config)
    (run / "config.json").write_text(json.dumps(config))


def other_width_state(run, runs):
    checkpoint = latest_checkpoint(run)
    shutil.copy(latest_checkpoint(runs / "wide") / "state.safetensors", checkpoint)
    reseal(checkpoint)


def without_rng(run, runs):
    checkpoint = latest_checkpoint(run)
    tensors = load_file(checkpoint / "state.safetensors")
    del tensors["rng.cpu"]
    save_file(tensors, checkpoint / "state.safetensors")
    reseal(checkpoint)


DAMAGES = {
    "config with Infinity": (
        lambda run, runs: (run / "config.json").write_text(
            (run / "config.json").read_text().replace('"d_model": 16', '"d_model": Infinity')
        ),
        "model.d_model must be a whole number, not inf",
    ),
    "config with a string for a number": (
        lambda run, runs: edit_config(run, lambda c: c["model"].update(heads="two")),
        "model.heads must be a whole number, not 'two'",
    ),
    "config with NaN lr": (
        lambda run, runs: edit_config(run, lambda c: c["train"].update(lr=float("nan"))),
        "train.lr must be a finite number, not nan",
    ),
    "config with an unknown setting": (
        lambda run, runs: edit_config(run, lambda c: c["model"].update(colour="red")),
        "model has unknown settings: colour",
    ),
    "config that is a list": (
        lambda run, runs: (run / "config.json").write_text("[1, 2]"),
        "RunConfig must be an object",
    ),
    "state from a run of another width": (
        other_width_state,
        "optimizer.0.exp_avg has shape [9, 32], its parameter [9, 16]",
    ),
    "state without its random-number state": (
        without_rng,
        "its random-number state is missing",
    ),
    "state.safetensors overwritten": (
        lambda run, runs: (latest_checkpoint(run) / "state.safetensors").write_text("oops"),
        "step-0000002 has a damaged state.safetensors",
    ),
    "state.json cut short": (
        lambda run, runs: (latest_checkpoint(run) / "state.json").write_text('{"step": 2, "fi'),
        "step-0000002 lacks a readable state.json",
    ),
    "no checkpoint at all": (
        lambda run, runs: shutil.rmtree(run / "checkpoints"),
        "has no checkpoint yet",
    ),
}


@pytest.mark.parametrize("damage", DAMAGES)
def test_a_damaged_run_is_refused_in_one_line(runs, tmp_path, damage):
    run = tmp_path / "run"
    shutil.copytree(runs / "run", run)
    spoil, message = DAMAGES[damage]
    spoil(run, runs)
    result = invoke("train", "--resume", str(run), "--steps", "4")
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines
    assert "Traceback" not in result.output


def test_a_metrics_line_cut_by_a_kill_is_dropped_on_resume(runs, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(runs / "run", run)
    with (run / "metrics.jsonl").open("a") as handle:
        handle.write('{"step": 3, "lo')  # what a kill in the middle of a write leaves
    result = invoke("train", "--resume", str(run), "--steps", "4", "--eval-every", "2")
    assert result.exit_code == 0, result.output
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").open()]
    assert steps == [2, 4]


def as_format_1(run):
    """Rewrite a run as txdata wrote runs before checkpoint folders and objective options:
    weights and state at the top, `mode` in the config, mlm's `masking` and seq2seq's `leaky`,
    and none of the model options that came later."""
    checkpoint = latest_checkpoint(run)
    for name in ("model.safetensors", "state.safetensors", "state.json"):
        shutil.move(checkpoint / name, run / name)
    shutil.rmtree(run / "checkpoints")
    (run / "txdata-run.json").unlink()
    config = json.loads((run / "config.json").read_text())
    data = config["data"]
    objective, options = data.pop("objective"), data.pop("options")
    data.update(mode=objective, masking=options, leaky=False)
    for later in ("memory", "causal_mask", "attention_scale"):
        del config["model"][later]
    (run / "config.json").write_text(json.dumps({"mode": objective, **config}))


def test_a_run_of_the_format_before_still_predicts_and_resumes(runs, tmp_path):
    run = tmp_path / "old"
    shutil.copytree(runs / "run", run)
    as_format_1(run)
    answer = invoke("predict", "--run", str(run), "--format", "json", "1 [MASK] 1")
    assert answer.exit_code == 0, answer.output
    result = invoke("train", "--resume", str(run), "--steps", "4")
    assert result.exit_code == 0, result.output
    assert latest_checkpoint(run).name == "step-0000004"
