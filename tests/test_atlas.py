"""The atlas: what each objective's model reads and is scored on, for every registered one."""

import json
import re

import pytest
from typer.testing import CliRunner

from cli.main import app
from txdata import DataConfig, SourceConfig, prepare
from txdata.atlas import panel
from txdata.objectives import OBJECTIVES
from txdata.special_tokens import IGNORE_INDEX

NAMES = list(OBJECTIVES)


@pytest.mark.parametrize("source", [SourceConfig(count=20), SourceConfig("sample:english")])
@pytest.mark.parametrize("name", NAMES)
def test_a_panel_shows_the_real_tokens_read_and_every_scored_position_with_its_target(name, source):
    data = prepare(DataConfig(name, source, length=24))
    batch = data.batches(4, seed=3, shuffle=False)[0]
    token = data.tokenizer.id_to_token
    for row in range(4):
        found = panel(data.objective, batch, data.tokenizer, row)
        # Each stack reads its real tokens: padding never shows.
        ids, mask = batch["input_ids"][row], batch["attention_mask"][row]
        first = "decoder" if data.objective.architecture == "decoder" else "encoder"
        assert found.reads[first] == [token(i) for i in ids[mask == 1].tolist()]
        assert all("[PAD]" not in tokens for tokens in found.reads.values())
        # As many scored positions as the loss counts, each with the target the loss uses.
        labels = batch["labels"][row]
        assert found.scored == int(data.objective.loss_positions(batch)[row].sum())
        if data.objective.architecture == "decoder":
            # A decoder alone is scored on the next token it reads: never on its own.
            assert found.targets[:-1] == found.reads["decoder"][1:] and found.targets[-1] is None
        elif data.objective.architecture == "encoder-decoder":
            # The decoder reads [BOS] and then the targets before its own position.
            assert found.reads["decoder"] == ["[BOS]", *found.targets[:-1]]
            assert found.targets == [token(i) for i in labels[labels != IGNORE_INDEX].tolist()]
        else:
            assert found.targets == [
                None if i == IGNORE_INDEX else token(i) for i in labels[mask == 1].tolist()
            ]


def test_show_all_prints_a_grid_and_a_summary_line_for_every_objective():
    result = CliRunner().invoke(app, ["show", "--mode", "all"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    for name in NAMES:
        assert sum(line.startswith(f"{name} ") for line in lines) == 2, name  # grid, summary
    # Every grid ends in the row of targets, and the widest fits the 100 columns of a pipe.
    assert sum(bool(re.match(r"\S*\s{2,}scored on ", line)) for line in lines) == len(NAMES)
    assert max(map(len, lines)) <= 100


def test_a_long_row_goes_on_in_a_second_grid_rather_than_being_cut():
    result = CliRunner().invoke(app, ["show", "--mode", "clm,mlm", "--length", "80"])
    assert result.exit_code == 0, result.output
    assert "…" not in result.stdout.replace("…    ", "")  # no cell cut short: "…" only as a name
    assert result.stdout.count("[SEP]") == 1 and result.stdout.count("[EOS]") == 2


def test_show_all_as_json_holds_each_objectives_batch_and_panel():
    result = CliRunner().invoke(app, ["show", "--mode", "all", "--format", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert set(document["atlas"]) == set(NAMES)
    for name in NAMES:
        assert document["atlas"][name]["name"] == name
        assert set(document[name]) == {"batch", "tokens"}


def test_show_all_draws_the_atlas_to_a_png(tmp_path):
    path = tmp_path / "atlas.png"
    result = CliRunner().invoke(app, ["show", "--mode", "all", "--png", str(path)])
    assert result.exit_code == 0, result.output
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "atlas saved" in result.stdout and "scored on" in result.stdout
