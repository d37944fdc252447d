"""seq2seq: encoder input, decoder input shifted right behind [BOS], labels."""

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from txdata import DataConfig, SourceConfig, prepare
from txdata.objectives.seq2seq import Seq2Seq
from txdata.special_tokens import IGNORE_INDEX, SpecialIds
from txdata.tokenizer import alternating_tokenizer

sequences = st.lists(st.integers(7, 30), max_size=12)


@settings(max_examples=200, deadline=None)
@given(
    pairs=st.lists(st.tuples(sequences, sequences), min_size=1, max_size=6),
    multiple=st.sampled_from([None, 8]),
)
def test_decoder_input_is_labels_shifted_right_behind_bos(pairs, multiple):
    tokenizer = alternating_tokenizer(" ".join(map(str, range(24))))
    special = SpecialIds.of(tokenizer)
    objective = Seq2Seq(tokenizer, length=64, pad_to_multiple_of=multiple)
    rows = {
        "input_ids": [[*source, special.eos] for source, _ in pairs],
        "labels": [[*target, special.eos] for _, target in pairs],
    }
    batch = objective.collate(rows)
    labels, decoder_input_ids = batch["labels"], batch["decoder_input_ids"]

    assert special.bos != special.pad
    assert (decoder_input_ids[:, 0] == special.bos).all()
    real = labels[:, :-1] != IGNORE_INDEX
    assert torch.equal(decoder_input_ids[:, 1:][real], labels[:, :-1][real])
    assert labels.shape == decoder_input_ids.shape == batch["decoder_attention_mask"].shape
    # -100 exactly on padding, and never in an input.
    assert torch.equal(labels == IGNORE_INDEX, batch["decoder_attention_mask"] == 0)
    # As in HF's shift_tokens_right, a padded row's [EOS] slides onto its first pad position,
    # which the decoder attention mask hides; every later pad position holds [PAD].
    after_first_pad = (
        batch["decoder_attention_mask"].cumsum(1) < torch.arange(1, labels.shape[1] + 1) - 1
    )
    assert (decoder_input_ids[after_first_pad] == special.pad).all()
    for key in ("input_ids", "decoder_input_ids"):
        assert (batch[key] >= 0).all(), key
    for row, (source, target) in enumerate(pairs):
        assert batch["input_ids"][row, : len(source) + 1].tolist() == [*source, special.eos]
        assert labels[row, : len(target) + 1].tolist() == [*target, special.eos]
        assert batch["attention_mask"][row].sum() == len(source) + 1
    for value in batch.values():
        assert value.dtype == torch.int64


def test_alternating_shift_example_matches_the_docstring():
    data = prepare(DataConfig(objective="seq2seq", length=6))
    batch = data.batches(batch_size=1, seed=0, shuffle=False)[0]
    assert batch["input_ids"].tolist() == [[8, 7, 8, 7, 6]]  # 1 0 1 0 [EOS]
    assert batch["decoder_input_ids"].tolist() == [[5, 7, 8, 7, 8]]  # [BOS] 0 1 0 1
    assert batch["labels"].tolist() == [[7, 8, 7, 8, 6]]  # 0 1 0 1 [EOS]


def test_continue_task_targets_the_next_symbols():
    source = SourceConfig(pattern="1 1 0", task="continue", horizon=3)
    data = prepare(DataConfig(objective="seq2seq", source=source, length=6))
    row = data.examples[1]
    decode = data.tokenizer.decode
    assert decode(row["input_ids"]) == "1 0 1 1"  # window at offset 1, [EOS] skipped
    assert decode(row["labels"]) == "0 1 1"


def test_long_pairs_are_truncated_to_length():
    data = prepare(DataConfig(objective="seq2seq", source=SourceConfig("sample:numbers"), length=5))
    assert max(len(ids) for ids in data.examples["input_ids"]) == 5
    assert all(ids[-1] == SpecialIds.of(data.tokenizer).eos for ids in data.examples["labels"])
