"""`attention_masks` shows exactly the masks the model applies, and `txdata masks` draws them."""

import json
import re
import struct

import pytest
import torch
from typer.testing import CliRunner

from cli.main import app
from models.attention import MultiHeadAttention
from models.mask_views import attention_masks
from models.transformer import ModelConfig, build_model
from txdata import DataConfig, SourceConfig, prepare
from txdata.objectives import OBJECTIVES

ARCH = {name: objective.architecture for name, objective in OBJECTIVES.items()}
runner = CliRunner()
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# Ragged rows; encoder row 2 is all padding, the case where `may_attend` lets a query see every key.
RAGGED = {
    "input_ids": torch.tensor([[7, 8, 7, 6, 0], [8, 7, 8, 7, 6], [0, 0, 0, 0, 0]]),
    "attention_mask": torch.tensor([[1, 1, 1, 1, 0], [1, 1, 1, 1, 1], [0, 0, 0, 0, 0]]),
    "decoder_input_ids": torch.tensor([[5, 8, 7, 0], [5, 7, 0, 0], [5, 0, 0, 0]]),
    "decoder_attention_mask": torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0], [1, 0, 0, 0]]),
}
MLM_RAGGED = {
    "input_ids": torch.tensor([[2, 7, 4, 3, 0, 0], [2, 8, 7, 8, 7, 3]]),
    "attention_mask": torch.tensor([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]]),
}


@pytest.fixture
def story(tmp_path):
    """A text source whose sentences differ in length, so a batch has padding."""
    path = tmp_path / "story.txt"
    path.write_text("The cat sat. It was a warm day.\n\nThe dog ran home. Late.\n")
    return ["--source", str(path)]


def model_masks(mode: str, batch: dict[str, torch.Tensor], monkeypatch) -> dict[str, torch.Tensor]:
    """The `allowed` mask each attention of a tiny model receives, as (B, T, L) per name."""
    model = build_model(
        ARCH[mode], ModelConfig(vocab_size=16, d_model=8, heads=2, layers=2, d_ff=8)
    )
    names = {}
    for stack in ("encoder", "decoder"):
        for block in getattr(model, stack).blocks if getattr(model, stack) is not None else []:
            names[block.self_attention] = f"{stack} self-attention"
            if block.cross_attention is not None:
                names[block.cross_attention] = "cross-attention"
    seen: dict[str, list[torch.Tensor]] = {}
    forward = MultiHeadAttention.forward

    def spy(self, x, context, allowed, *rest):  # rest: the cache and rotary angles, if any
        queries = x.shape[1]
        seen.setdefault(names[self], []).append(allowed.expand(-1, -1, queries, -1)[:, 0])
        return forward(self, x, context, allowed, *rest)

    monkeypatch.setattr(MultiHeadAttention, "forward", spy)
    with torch.no_grad():
        model(batch)
    assert all(len(masks) == 2 for masks in seen.values())  # one per layer
    assert all(torch.equal(masks[0], masks[1]) for masks in seen.values())
    return {name: masks[0] for name, masks in seen.items()}


def real_batch(mode: str) -> dict[str, torch.Tensor]:
    config = DataConfig(objective=mode, source=SourceConfig(pattern="1 1 0"), pad_to_multiple_of=16)
    return prepare(config).batches(3, seed=0, shuffle=False)[0]


@pytest.mark.parametrize(
    ("mode", "batch"),
    [
        ("seq2seq", RAGGED),
        ("mlm", MLM_RAGGED),
        ("seq2seq", real_batch("seq2seq")),
        ("mlm", real_batch("mlm")),
        ("clm", real_batch("clm")),
    ],
    ids=["seq2seq-ragged", "mlm-ragged", "seq2seq-collated", "mlm-collated", "clm-collated"],
)
def test_views_equal_the_masks_the_model_applies(mode, batch, monkeypatch):
    views = attention_masks(batch, ARCH[mode])
    applied = model_masks(mode, batch, monkeypatch)
    assert views.keys() == applied.keys()
    for name, view in views.items():
        assert view.dtype == torch.bool
        assert torch.equal(view, applied[name]), name
    expected = {
        "encoder": {"encoder self-attention"},
        "encoder-decoder": {"encoder self-attention", "decoder self-attention", "cross-attention"},
        "decoder": {"decoder self-attention"},
    }
    assert set(views) == expected[ARCH[mode]]


def test_shapes_and_the_fully_padded_row():
    views = attention_masks(RAGGED, "encoder-decoder")
    assert views["encoder self-attention"].shape == (3, 5, 5)
    assert views["decoder self-attention"].shape == (3, 4, 4)
    assert views["cross-attention"].shape == (3, 4, 5)
    # An all-padding row sees everything (as in the model, to keep its softmax finite).
    assert views["encoder self-attention"][2].all() and views["cross-attention"][2].all()


def test_decoder_self_attention_is_causal_over_real_keys():
    causal = attention_masks(RAGGED, "encoder-decoder")["decoder self-attention"]
    for row, real in enumerate(RAGGED["decoder_attention_mask"].bool()):
        n = int(real.sum())
        assert torch.equal(causal[row, :n, :n], torch.ones(n, n, dtype=torch.bool).tril())
        assert not causal[row, :, n:].any()  # pad keys, for every query


def test_cross_attention_never_sees_pad_keys_of_a_row_with_real_keys():
    cross = attention_masks(RAGGED, "encoder-decoder")["cross-attention"]
    for row, real in enumerate(RAGGED["attention_mask"].bool()):
        if real.any():
            assert torch.equal(cross[row], real.expand_as(cross[row]))


def test_table_shows_the_tokens_and_each_rows_allowed_keys(story):
    data = prepare(DataConfig(objective="seq2seq", source=SourceConfig(story[1])))
    batch = data.batches(4, seed=0, shuffle=False)[0]
    assert not batch["attention_mask"].all() and not batch["decoder_attention_mask"].all()
    views = attention_masks(batch, "encoder-decoder")
    for example in range(batch["input_ids"].shape[0]):
        result = runner.invoke(
            app, ["masks", "--mode", "seq2seq", *story, "--example", str(example)]
        )
        assert result.exit_code == 0, result.output
        sections = result.stdout.split("\n\n")
        assert [section.split(":")[0] for section in sections[:3]] == [
            f"seq2seq · {name}" for name in views
        ]
        for section, (name, view) in zip(sections, views.items()):
            side = "decoder_input_ids" if name != "encoder self-attention" else "input_ids"
            queries = [data.tokenizer.id_to_token(i) for i in batch[side][example].tolist()]
            rows = re.findall(r"^ *(\d+) (\S+) +([01])  ([■□· ]+)$", section, re.MULTILINE)
            assert [token for _, token, _, _ in rows] == queries
            allowed = [cells.count("■") + cells.count("□") for _, _, _, cells in rows]
            assert allowed == view[example].sum(dim=1).tolist()
        assert "[PAD]" in result.stdout and "□" in result.stdout  # padded; pad queries marked


def test_json_grids_equal_the_views(story):
    result = runner.invoke(
        app, ["masks", "--mode", "both", *story, "--example", "1", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["example"] == 1
    for mode in ("seq2seq", "mlm"):
        data = prepare(DataConfig(objective=mode, source=SourceConfig(story[1])))
        views = attention_masks(data.batches(4, seed=0, shuffle=False)[0], ARCH[mode])
        grids = [grid for grid in document["masks"] if grid["mode"] == mode]
        assert [grid["name"] for grid in grids] == list(views)
        for grid, view in zip(grids, views.values()):
            assert grid["allowed"] == view[1].int().tolist()


def png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 5_000
    return struct.unpack(">II", data[16:24])


def test_png_is_written(story, tmp_path):
    path = tmp_path / "figures" / "masks.png"
    result = runner.invoke(app, ["masks", *story, "--png", str(path)])
    assert result.exit_code == 0, result.output
    assert f"masks drawn: {path}" in result.stdout.replace("\n", "")
    width, height = png_size(path)
    assert 600 < width < 4000 and 250 < height < 2000 and width > height  # four panels in a row


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--mode", "gpt"], f"unknown mode 'gpt': choose {', '.join(OBJECTIVES)}"),
        (["--example", "4"], "example 4 is not in a batch of 4"),
        (["--count", "2", "--example", "3"], "seq2seq has only 2 examples"),
    ],
)
def test_bad_input_is_one_line(args, message):
    result = runner.invoke(app, ["masks", *args])
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
