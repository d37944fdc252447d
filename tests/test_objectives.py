"""Every registered objective, held to the invariants every batch must keep.

A new objective is picked up here by registering itself: nothing in this file names one,
except where a test checks that `all` and the `both` alias mean what they say.
"""

import dataclasses
import json

import pytest
import torch

from txdata import DataConfig, SourceConfig, prepare
from txdata.collate import batch_generator
from txdata.errors import ConfigError, UnknownNameError
from txdata.objectives import ARCHITECTURES, OBJECTIVES, objective_names
from txdata.special_tokens import IGNORE_INDEX, SpecialIds
from txdata.typed_json import from_json

NAMES = list(OBJECTIVES)
KEYS = {  # Hugging Face's names, by architecture
    "encoder": {"input_ids", "attention_mask", "labels"},
    "encoder-decoder": {
        "input_ids",
        "attention_mask",
        "decoder_input_ids",
        "decoder_attention_mask",
        "labels",
    },
    "decoder": {"input_ids", "attention_mask", "labels"},
}
SOURCES = [SourceConfig(count=40), SourceConfig("sample:english")]


def first_batch(name, source, seed=0, epoch=0, index=0, size=8):
    data = prepare(DataConfig(name, source, length=24))
    return data, data.batches(size, seed=seed, epoch=epoch)[index]


@pytest.mark.parametrize("name", NAMES)
def test_each_objective_declares_itself(name):
    objective = OBJECTIVES[name]
    assert objective.name == name and objective.summary and objective.architecture in ARCHITECTURES
    assert dataclasses.is_dataclass(objective.Options)
    assert objective.batch_size >= 1 and objective.reserved >= 0
    assert set(objective.columns) <= {"input", "decoder_input", "chosen", "hid", "label", "next"}
    assert objective.__doc__ or objective.__module__, "a docstring with a literal example"
    assert (OBJECTIVES[name].__module__.rsplit(".", 1)[-1]) == name


@pytest.mark.parametrize("source", SOURCES, ids=["alternating", "english"])
@pytest.mark.parametrize("name", NAMES)
def test_batches_have_hugging_face_keys_int64_and_ignore_exactly_what_is_not_scored(name, source):
    data, batch = first_batch(name, source)
    special = SpecialIds.of(data.tokenizer)
    assert KEYS[data.objective.architecture] <= set(batch)
    assert all(value.dtype == torch.int64 for value in batch.values())
    labels = batch["labels"]
    label_mask = batch.get("decoder_attention_mask", batch["attention_mask"])
    assert labels.shape == label_mask.shape
    # Padding never carries a loss, and no label is ever the pad id.
    assert (labels[label_mask == 0] == IGNORE_INDEX).all()
    assert not (labels == special.pad).any()
    # No input holds -100, and no real position holds [PAD]. (A shifted decoder input may
    # carry [EOS] onto its first padded position, as HF's shift does; the mask hides it.)
    for ids, mask in (
        ("input_ids", "attention_mask"),
        ("decoder_input_ids", "decoder_attention_mask"),
    ):
        if ids in batch:
            assert not (batch[ids] == IGNORE_INDEX).any()
            assert not (batch[ids][batch[mask] == 1] == special.pad).any()
    # A scored position is a real one.
    scored = data.objective.loss_positions(batch)
    assert scored.any() and not (scored & (label_mask == 0)).any()


@pytest.mark.parametrize("name", NAMES)
def test_special_and_pad_tokens_are_never_the_answer_to_guess_except_end_of_text(name):
    data, batch = first_batch(name, SourceConfig("sample:english"), size=32)
    special = SpecialIds.of(data.tokenizer)
    labels = batch["labels"][data.objective.loss_positions(batch)]
    allowed_special = {special.eos}  # generating objectives must learn where text ends
    for token in (special.pad, special.cls, special.sep, special.mask, special.bos):
        assert token not in allowed_special and not (labels == token).any(), token


@pytest.mark.parametrize("name", NAMES)
def test_batches_depend_only_on_seed_epoch_and_index(name):
    source = SourceConfig("sample:english")
    data, batch = first_batch(name, source, seed=3, epoch=1, index=2)
    rows = data.examples[data.batches(8, seed=3, epoch=1).order[16:24].tolist()]
    again = data.objective.collate(rows, batch_generator(3, 1, 2))
    assert batch.keys() == again.keys()
    assert all(torch.equal(batch[key], again[key]) for key in batch)


@pytest.mark.parametrize("name", NAMES)
def test_options_round_trip_through_json(name):
    config = DataConfig(name)
    raw = json.loads(json.dumps(dataclasses.asdict(config)))
    assert from_json(DataConfig, raw) == config


def test_an_objective_takes_only_its_own_options():
    mlm_options = OBJECTIVES["mlm"].Options()
    with pytest.raises(ConfigError, match="seq2seq takes"):
        DataConfig("seq2seq", options=mlm_options)
    with pytest.raises(ConfigError, match="unknown settings"):
        from_json(DataConfig, {"objective": "mlm", "options": {"leak": True}})


def test_mode_lists_all_and_the_both_alias():
    assert objective_names("all") == NAMES
    assert objective_names("both") == ["seq2seq", "mlm"]
    assert objective_names("mlm, clm") == ["mlm", "clm"]
    with pytest.raises(UnknownNameError, match="unknown mode 'gpt'"):
        objective_names("mlm,gpt")
    with pytest.raises(ConfigError, match="name each objective once"):
        objective_names("mlm,mlm")


def test_an_objectives_own_special_tokens_join_the_tokenizer_and_are_never_drawn():
    """A stand-in objective with sentinels, as T5's: registered for this test only."""
    from txdata.objectives import register
    from txdata.objectives.mlm import MaskedLM, MaskingConfig

    @register
    class WithSentinels(MaskedLM):
        name = "test-sentinels"

        @classmethod
        def extra_special_tokens(cls, length, options):
            return [f"<extra_id_{i}>" for i in range(3)]

    try:
        options = MaskingConfig(mlm_probability=1.0, mask_probability=0.0, random_probability=1.0)
        data = prepare(DataConfig("test-sentinels", SourceConfig(count=64), options=options))
        sentinels = [data.tokenizer.token_to_id(f"<extra_id_{i}>") for i in range(3)]
        assert sentinels == [9, 10, 11]  # after the 7 specials and the 2 symbols
        batch = data.batches(64, seed=0)[0]  # every token chosen, every one made random
        assert not torch.isin(batch["input_ids"], torch.tensor(sentinels)).any()
    finally:
        OBJECTIVES.pop("test-sentinels")
