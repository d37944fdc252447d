"""`txdata compare` counts what each objective read and scored; leaky decoders are caught."""

import json
from dataclasses import replace

from typer.testing import CliRunner

from cli.main import app
from models.checkpoint import latest_checkpoint
from models.compare import compare_objectives
from models.run import heldout_split, train_run
from models.run_config import RunConfig, TrainConfig
from models.transformer import ModelConfig
from txdata import DataConfig, Seq2SeqOptions, SourceConfig, prepare
from txdata.batches import Batches

TINY_MODEL = ModelConfig(d_model=16, heads=2, layers=1, d_ff=32)
TINY_TRAIN = TrainConfig(steps=12, batch_size=16, eval_every=6)
DATA = DataConfig(source=SourceConfig(count=40))  # 40 examples: 3 batches, so epochs turn over


def counted_from_batches(mode: str) -> tuple[int, int]:
    """Tokens read and loss-bearing tokens, recounted from the very batches training drew."""
    data = prepare(replace(DATA, objective=mode, options=None))
    train_examples, _, _ = heldout_split(data, TINY_TRAIN.eval_examples)
    read = scored = 0
    per_epoch = len(Batches(train_examples, data.objective.collate, 16, 0))
    for step in range(TINY_TRAIN.steps):
        epoch, index = divmod(step, per_epoch)
        batch = Batches(train_examples, data.objective.collate, 16, 0, epoch)[index]
        read += sum(int(v.sum()) for k, v in batch.items() if k.endswith("attention_mask"))
        scored += int((batch["labels"] != -100).sum())
    return read, scored


def test_compare_counts_equal_the_batches(tmp_path):
    rows = compare_objectives(DATA, TINY_MODEL, TINY_TRAIN, tmp_path / "compare")
    assert [row.objective for row in rows] == ["seq2seq", "mlm"]
    for row in rows:
        assert (row.tokens_read, row.loss_tokens) == counted_from_batches(row.objective)
        assert row.seconds > 0 and 0 <= row.metric <= 1
        assert (latest_checkpoint(row.directory) / "model.safetensors").is_file()
    seq2seq, mlm = rows
    assert seq2seq.loss_share == 0.5  # every target token scored; targets are half of what it reads
    assert 0.05 < mlm.loss_share < 0.25


def test_compare_command_prints_the_table_and_a_reading(tmp_path):
    args = ["compare", "--d-model", "16", "--heads", "2", "--layers", "1", "--count", "40"]
    args += [
        "--steps",
        "6",
        "--batch-size",
        "16",
        "--eval-every",
        "3",
        "--out",
        str(tmp_path / "c"),
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    for text in ("tokens read", "with a loss", "task metric", "tokens/s", "seq2seq", "mlm"):
        assert text in result.stdout
    assert "seq2seq drew" in result.stdout.replace("\n", " ") and "runs saved:" in result.stdout


def test_a_leaky_decoder_scores_teacher_forced_but_fails_free_running(tmp_path):
    data = DataConfig(objective="seq2seq", options=Seq2SeqOptions(labels_as_decoder_input=True))
    config = RunConfig(data, ModelConfig(), TrainConfig(steps=60, eval_every=60))
    result = train_run(config, tmp_path / "leaky")
    assert result.metrics["accuracy"] > 0.99  # it copies the label it is shown
    assert result.metrics["exact_match"] == 0.0  # with nothing to copy, it has learned nothing


def test_show_leaky_feeds_the_labels_themselves():
    out = CliRunner().invoke(
        app, ["show", "--mode", "seq2seq", "--labels-as-decoder-input", "--format", "json"]
    )
    batch = json.loads(out.stdout)["batch"]
    assert batch["decoder_input_ids"] == batch["labels"]


def test_eval_length_evaluates_on_longer_windows(tmp_path):
    config = RunConfig(
        DataConfig(objective="seq2seq"),
        TINY_MODEL,
        replace(TINY_TRAIN, steps=2, eval_length=20),
    )
    result = train_run(config, tmp_path / "long")
    assert "windows of 20 tokens" in result.heldout and "training saw 12-token" in result.heldout
    assert len(result.samples[0]["input"].split()) == 18  # as in training, length - 2 symbols


def test_compare_all_trains_every_objective_on_one_budget(tmp_path):
    result = CliRunner().invoke(
        app,
        ["compare", "--mode", "all", "--steps", "4", "--d-model", "16", "--heads", "2",
         "--count", "32", "--eval-every", "4", "--out", str(tmp_path / "all")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    table = result.stdout
    for name in ("clm", "mlm", "seq2seq"):
        assert (tmp_path / "all" / name / "checkpoints").is_dir()
        assert any(line.startswith(name) for line in table.splitlines()), name
    rows = table.split("same core, same 4 steps")[1].splitlines()
    clm = next(line for line in rows if line.strip().startswith("clm"))
    assert "exact match" in clm and "continuing" in clm
