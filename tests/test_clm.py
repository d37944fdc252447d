"""clm: documents packed into full rows, labels that are the inputs, [EOS] kept."""

import datasets
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

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


class Texts:
    """A stand-in for a `Source`: the objective asks it for its documents."""

    def __init__(self, texts):
        self._texts = datasets.Dataset.from_dict({"text": texts})

    def texts(self):
        return self._texts


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
