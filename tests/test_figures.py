"""`txdata attention` and `txdata plot` draw what a run learned; bad runs get one line."""

import shutil
import struct

import pytest
import torch
from typer.testing import CliRunner

from cli.figures import plot_attention, plot_metrics
from cli.main import app
from models.attention import MultiHeadAttention
from models.attention_maps import attention_maps
from models.checkpoint import load_run
from tests.cli_errors import one_line_error

runner = CliRunner()
TINY = ["--d-model", "16", "--heads", "2", "--layers", "1", "--count", "64"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def invoke(*args: str):
    return runner.invoke(app, list(args))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    for mode in ("seq2seq", "mlm"):
        result = invoke(
            "train", "--mode", mode, *TINY, "--steps", "20", "--eval-every", "10",
            "--out", str(root / mode),
        )  # fmt: skip
        assert result.exit_code == 0, result.output
    return root


def png_size(path) -> tuple[int, int]:
    """(width, height) from the IHDR chunk, after checking the file is a PNG of some substance."""
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 5_000
    return struct.unpack(">II", data[16:24])


def test_seq2seq_maps_cover_every_attention_while_the_model_answers(runs):
    maps = attention_maps(load_run(runs / "seq2seq"), "1 0 1 0")
    assert maps.encoder_tokens == ["1", "0", "1", "0", "[EOS]"]
    assert maps.decoder_tokens[0] == "[BOS]" and "[EOS]" not in maps.decoder_tokens
    queries = len(maps.decoder_tokens)
    assert maps.weights["encoder self-attention"].shape == (1, 2, 5, 5)  # (layers, H, T, L)
    assert maps.weights["decoder self-attention"].shape == (1, 2, queries, queries)
    assert maps.weights["cross-attention"].shape == (1, 2, queries, 5)
    for weights in maps.weights.values():
        assert torch.allclose(weights.sum(dim=-1), torch.ones(weights.shape[:-1]), atol=1e-5)
    future = ~torch.ones(queries, queries, dtype=torch.bool).tril()
    assert not maps.weights["decoder self-attention"][..., future].any()  # causal
    run = load_run(runs / "seq2seq")
    attention_maps(run, "1 0")
    modules = [m for m in run.model.modules() if isinstance(m, MultiHeadAttention)]
    assert not any(m.keep_weights or m.weights is not None for m in modules)  # reset


def test_mlm_maps_have_only_the_encoder(runs):
    maps = attention_maps(load_run(runs / "mlm"), "1 [MASK] 1")
    assert maps.encoder_tokens == ["[CLS]", "1", "[MASK]", "1", "[SEP]"]
    assert maps.decoder_tokens == [] and list(maps.weights) == ["encoder self-attention"]


@pytest.mark.parametrize(("mode", "text"), [("seq2seq", "1 0 1 0 1 0"), ("mlm", "1 0 [MASK] 0")])
def test_attention_writes_a_png_grid(runs, tmp_path, mode, text):
    run = tmp_path / mode
    shutil.copytree(runs / mode, run)
    result = invoke("attention", "--run", str(run), text)
    assert result.exit_code == 0, result.output
    assert f"attention maps drawn: {run / 'attention.png'}" in result.stdout.replace("\n", "")
    width, height = png_size(run / "attention.png")
    # Two heads across; three attentions down for seq2seq, one for mlm.
    assert 400 < width < 3000
    assert (height > width) if mode == "seq2seq" else (150 < height < width)


def test_plot_writes_curves(runs, tmp_path):
    result = invoke("plot", "--run", str(runs / "mlm"), "--png", str(tmp_path / "c.png"))
    assert result.exit_code == 0, result.output
    assert f"curves drawn: {tmp_path / 'c.png'}" in result.stdout.replace("\n", "")
    width, height = png_size(tmp_path / "c.png")
    assert 800 < width < 2000 and 300 < height < width  # two panels side by side


def test_library_functions_return_the_path_written(runs, tmp_path):
    assert plot_metrics(runs / "seq2seq", tmp_path / "a.png") == tmp_path / "a.png"
    assert plot_attention(runs / "seq2seq", "1 0", tmp_path / "b.png") == tmp_path / "b.png"
    assert {p.name for p in tmp_path.iterdir()} == {"a.png", "b.png"}  # no temporary left


def test_missing_run_and_missing_or_empty_metrics_are_one_line(runs, tmp_path):
    missing = str(tmp_path / "nothing")
    assert "no run directory at" in one_line_error(invoke("plot", "--run", missing))
    assert "no run directory at" in one_line_error(invoke("attention", "--run", missing, "1"))
    run = tmp_path / "run"
    shutil.copytree(runs / "seq2seq", run)
    for figure in ("curves.png", "attention.png"):  # txdata train drew these; start without
        (run / figure).unlink()
    (run / "metrics.jsonl").unlink()
    assert "has no metrics.jsonl" in one_line_error(invoke("plot", "--run", str(run)))
    (run / "metrics.jsonl").write_text("")
    assert "metrics.jsonl is empty" in one_line_error(invoke("plot", "--run", str(run)))
    shutil.rmtree(run / "checkpoints")
    message = one_line_error(invoke("attention", "--run", str(run), "1 0"))
    assert "has no checkpoint yet" in message
    assert not (run / "curves.png").exists() and not (run / "attention.png").exists()


def test_input_outside_the_vocabulary_is_named(runs):
    message = one_line_error(invoke("attention", "--run", str(runs / "seq2seq"), "1 0 7"))
    assert "cannot encode '7'" in message
