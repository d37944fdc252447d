"""`txdata train` and `txdata predict` from the command line, and how they refuse bad input."""

import json
import shutil

import pytest
from tokenizers import Tokenizer
from typer.testing import CliRunner

from cli.main import app
from models.checkpoint import latest_checkpoint
from tests.cli_errors import one_line_error
from txdata.objectives import OBJECTIVES
from txdata.tokenizer import alternating_tokenizer

runner = CliRunner()
TINY = ["--d-model", "16", "--heads", "2", "--layers", "1", "--count", "64", "--eval-every", "20"]


def invoke(*args: str):
    return runner.invoke(app, list(args))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    for mode in ("seq2seq", "mlm"):
        result = invoke("train", "--mode", mode, *TINY, "--steps", "40", "--out", str(root / mode))
        assert result.exit_code == 0, result.output
    return root


def test_train_reports_evaluations_predictions_and_where_it_saved(runs, tmp_path):
    result = invoke(
        "train", "--mode", "seq2seq", *TINY, "--steps", "20", "--out", str(tmp_path / "r")
    )
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "held-out evaluation" in out and "exact match" in out
    assert "held-out predictions" in out and "prediction" in out
    assert f"run saved: {tmp_path / 'r'}" in out.replace("\n", "")
    config = json.loads((tmp_path / "r" / "config.json").read_text())
    assert (
        config["command"][:3] == ["txdata", "train", "--mode"] or config["command"][0] == "txdata"
    )
    assert config["train"]["steps"] == 20 and config["model"]["d_model"] == 16


def test_predict_decodes_with_a_seq2seq_run(runs):
    result = invoke("predict", "--run", str(runs / "seq2seq"), "1 0 1 0", "--format", "json")
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["mode"] == "seq2seq" and answer["input"] == "1 0 1 0"
    assert set(answer["output"].split()) <= {"0", "1"}


def test_predict_fills_each_mask_with_an_mlm_run(runs):
    result = invoke(
        "predict", "--run", str(runs / "mlm"), "1 [MASK] 1 0 [MASK]", "--format", "json"
    )
    assert result.exit_code == 0, result.output
    fills = json.loads(result.stdout)["fills"]
    assert [fill["position"] for fill in fills] == [2, 5]
    for fill in fills:
        probabilities = [c["probability"] for c in fill["candidates"]]
        assert len(probabilities) == 5 and probabilities == sorted(probabilities, reverse=True)
    table = invoke("predict", "--run", str(runs / "mlm"), "1 [MASK] 1")
    assert table.exit_code == 0 and "#1" in table.stdout and "[MASK]" in table.stdout


def broken_copy(runs, tmp_path, mode="seq2seq"):
    target = tmp_path / "broken"
    shutil.copytree(runs / mode, target)
    return target


def tamper_config(directory, **changes):
    path = directory / "config.json"
    config = json.loads(path.read_text())
    config["model"].update(changes)
    path.write_text(json.dumps(config))


def test_missing_and_incomplete_runs_are_named(runs, tmp_path):
    assert "no run directory at" in one_line_error(
        invoke("predict", "--run", str(tmp_path / "x"), "1")
    )
    broken = broken_copy(runs, tmp_path)
    (latest_checkpoint(broken) / "model.safetensors").unlink()
    message = one_line_error(invoke("predict", "--run", str(broken), "1 0"))
    assert "has no usable checkpoint: step-0000040 lacks model.safetensors" in message


def test_tampered_runs_are_refused(runs, tmp_path):
    broken = broken_copy(runs, tmp_path)
    (broken / "config.json").write_text("{ not json")
    assert "config.json is not valid JSON" in one_line_error(
        invoke("predict", "--run", str(broken), "1")
    )

    broken = broken_copy(runs, tmp_path / "2")
    tamper_config(broken, d_model=32, heads=2)
    message = one_line_error(invoke("predict", "--run", str(broken), "1 0"))
    assert "has shape" in message and "the config expects" in message

    broken = broken_copy(runs, tmp_path / "3")
    (broken / "tokenizer.json").write_text(alternating_tokenizer("a b c").to_str())
    assert "has 10 tokens, but the model was built for 9" in one_line_error(
        invoke("predict", "--run", str(broken), "1 0")
    )

    broken = broken_copy(runs, tmp_path / "4")
    (latest_checkpoint(broken) / "model.safetensors").write_bytes(b"\x00" * 64)
    assert "has a damaged model.safetensors" in one_line_error(
        invoke("predict", "--run", str(broken), "1 0")
    )


def test_predict_input_outside_the_vocabulary_is_named(runs):
    message = one_line_error(invoke("predict", "--run", str(runs / "mlm"), "1 0 7"))
    assert "cannot encode '7'" in message


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--d-model", "30", "--heads", "4"], "d_model 30 is not divisible by 4 heads"),
        (["--positional", "rotary"], "positional must be one of"),
        (["--mode", "clm", "--memory", "pooled"], "memory pooled needs an encoder-decoder"),
    ],
)
def test_bad_train_options_are_refused_before_anything_is_written(tmp_path, args, message):
    result = invoke("train", *args, "--out", str(tmp_path / "run"))
    assert message in one_line_error(result)
    assert not (tmp_path / "run").exists()


MODEL_OPTIONS = [
    ["--positional", "rope"],
    ["--memory", "pooled"],
    ["--no-causal-mask"],
    ["--no-attention-scale"],
]


@pytest.mark.parametrize("option", MODEL_OPTIONS, ids=" ".join)
def test_each_model_option_trains_saves_and_predicts(tmp_path, option):
    """Each option end to end: trained, written in config.json, and read back by predict
    (pooled memory with its attention plot, whose cross-attention has one key: the mean)."""
    run = tmp_path / "run"
    plots = ["--plots"] if option == ["--memory", "pooled"] else ["--no-plots"]
    short = ["--steps", "4", "--eval-every", "4", "--eval-examples", "16", "--batch-size", "16"]
    result = invoke("train", "--mode", "seq2seq", *TINY, *short, *option, *plots, "--out", str(run))
    assert result.exit_code == 0, result.output
    saved = json.loads((run / "config.json").read_text())["model"]
    name = option[0].removeprefix("--").removeprefix("no-").replace("-", "_")
    assert saved[name] == (option[1] if len(option) == 2 else False)
    answer = invoke("predict", "--run", str(run), "1 0 1 0", "--format", "json")
    assert answer.exit_code == 0, answer.output
    assert json.loads(answer.stdout)["input"] == "1 0 1 0"  # 4 steps: its output is noise


def test_train_lists_the_registered_objectives_and_refuses_others(tmp_path):
    result = invoke("train", "--mode", "gpt", "--out", str(tmp_path / "run"))
    assert result.exit_code == 2 and not (tmp_path / "run").exists()
    names = ", ".join(repr(name) for name in OBJECTIVES)  # every registered one, no more
    assert result.stderr.strip() == (
        f"error: Invalid value for '--mode': Value error, 'gpt' is not one of {names}."
    )


def test_non_empty_out_needs_overwrite_and_resume_keeps_its_mode(runs, tmp_path):
    message = one_line_error(invoke("train", "--mode", "mlm", "--out", str(runs / "mlm")))
    assert "is not empty: pass --overwrite" in message
    resumed = broken_copy(runs, tmp_path, "mlm")
    message = one_line_error(invoke("train", "--mode", "seq2seq", "--resume", str(resumed)))
    assert "is a mlm run, not seq2seq" in message


def test_resume_continues_a_saved_run(runs, tmp_path):
    run = broken_copy(runs, tmp_path, "seq2seq")
    result = invoke("train", "--resume", str(run), "--steps", "60")
    assert result.exit_code == 0, result.output
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").open()]
    assert steps == [20, 40, 60]
    assert Tokenizer.from_file(str(run / "tokenizer.json")).get_vocab_size() == 9
