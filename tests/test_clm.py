"""clm: documents packed into full rows, labels that are the inputs, [EOS] kept."""

import json

import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cli.main import app
from tests.stand_ins import Texts
from txdata import CausalLMOptions, DataConfig, SourceConfig, prepare
from txdata.objectives.clm import CausalLM
from txdata.special_tokens import IGNORE_INDEX, SpecialIds
from txdata.tokenizer import alternating_tokenizer

TOKENIZER = alternating_tokenizer(" ".join(f"w{i}" for i in range(20)))
SPECIAL = SpecialIds.of(TOKENIZER)
documents = st.lists(
    st.lists(st.sampled_from([f"w{i}" for i in range(20)]), min_size=1, max_size=30),
    min_size=1,
    max_size=8,
)


@settings(max_examples=100, deadline=None)
@given(docs=documents, length=st.integers(2, 17))
def test_packing_cuts_the_corpus_into_full_rows_and_loses_nothing(docs, length):
    objective = CausalLM(TOKENIZER, length)
    rows = objective.examples(Texts([" ".join(doc) for doc in docs]))["input_ids"]
    assert all(len(row) == length for row in rows[:-1]) and 1 <= len(rows[-1]) <= length
    expected = [TOKENIZER.token_to_id(w) for doc in docs for w in [*doc, "[EOS]"]]
    assert [token for row in rows for token in row] == expected


@settings(max_examples=100, deadline=None)
@given(docs=documents, length=st.integers(2, 17))
def test_unpacked_rows_are_one_document_each_cut_to_length(docs, length):
    objective = CausalLM(TOKENIZER, length, CausalLMOptions(pack=False))
    rows = objective.examples(Texts([" ".join(doc) for doc in docs]))["input_ids"]
    assert len(rows) == len(docs)
    for row, doc in zip(rows, docs):
        assert row == [TOKENIZER.token_to_id(w) for w in [*doc, "[EOS]"]][:length]


@settings(max_examples=100, deadline=None)
@given(docs=documents, multiple=st.sampled_from([None, 8]))
def test_labels_are_the_inputs_with_ignore_on_padding_and_eos_kept(docs, multiple):
    objective = CausalLM(TOKENIZER, 64, CausalLMOptions(pack=False), multiple)
    rows = objective.examples(Texts([" ".join(doc) for doc in docs]))
    batch = objective.collate(rows[:])
    real = batch["attention_mask"] == 1
    assert torch.equal(batch["labels"][real], batch["input_ids"][real])
    assert (batch["labels"][~real] == IGNORE_INDEX).all()
    assert (batch["input_ids"][~real] == SPECIAL.pad).all()
    # Every row ends in [EOS], and [EOS] keeps its label: the model learns where text stops.
    # (Hugging Face's collator drops it when pad equals EOS; here they differ.)
    last = batch["attention_mask"].sum(dim=1) - 1  # (B,)
    ends = batch["labels"][torch.arange(len(docs)), last]
    assert SPECIAL.pad != SPECIAL.eos and (ends == SPECIAL.eos).all()


def test_loss_positions_are_shifted_one_to_the_left():
    batch = CausalLM(TOKENIZER, 8).collate({"input_ids": [[9, 10, 6], [9, 6]]})
    assert CausalLM.loss_positions(batch).tolist() == [[True, True, False], [True, False, False]]


def test_each_alternating_window_is_a_row_ending_in_eos():
    data = prepare(DataConfig("clm", SourceConfig(count=16), length=8))
    rows = data.examples["input_ids"]
    assert len(rows) == 16 and all(len(row) == 8 and row[-1] == SPECIAL.eos for row in rows)


def test_show_prints_the_token_each_position_is_scored_on():
    result = CliRunner().invoke(
        app, ["show", "--mode", "clm", "--batch-size", "1", "--length", "5"]
    )
    assert result.exit_code == 0, result.output
    rows = [line.split() for line in result.stdout.splitlines()[2:7]]
    # pos, input, attn, label, scored on: each position is scored on the next label
    assert [row[1] for row in rows] == ["1", "0", "1", "0", "[EOS]"]
    assert [row[4] for row in rows] == ["0", "1", "0", "[EOS]", "-"]
    assert "loss on 4 of 5 tokens read (80 %)" in result.stdout


def test_a_trained_clm_run_continues_a_prompt_and_stops_at_eos(tmp_path):
    runner = CliRunner()
    run = str(tmp_path / "clm")
    trained = runner.invoke(
        app, ["train", "--mode", "clm", "--steps", "150", "--no-plots", "--out", run]
    )
    assert trained.exit_code == 0, trained.output
    assert "exact match 100.0% continuing held-out text freely" in " ".join(trained.stdout.split())
    answer = runner.invoke(app, ["predict", "--run", run, "--format", "json", "1 0 1"])
    assert answer.exit_code == 0, answer.output
    # The windows it learned hold 11 symbols, then [EOS]: 8 more symbols, and it stops.
    assert answer.stdout and json.loads(answer.stdout)["output"] == "0 1 0 1 0 1 0 1"
