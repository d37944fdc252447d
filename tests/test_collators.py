"""`Collator`: txdata's batches for another training loop, equal to the ones txdata builds.

A collator's batch k of epoch e must be `Batches(...)[k]` for the same rows, for every
objective, in one process or under DataLoader workers, and a Hugging Face `Trainer` that uses
it trains on txdata's batches.
"""

import functools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from txdata import DataConfig, MaskingConfig, SourceConfig, prepare
from txdata.batches import Batches
from txdata.collate import batch_generator
from txdata.collators import Collator
from txdata.errors import ConfigError
from txdata.objectives import OBJECTIVES


@functools.cache
def prepared(name: str, source: str = "sample:english"):
    return prepare(DataConfig(name, SourceConfig(source), length=24))


def same(first: dict[str, torch.Tensor], second: dict[str, torch.Tensor]) -> bool:
    return first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)


def features_of(batches: Batches, index: int) -> list[dict]:
    """The rows of batch `index`, one dict each, as a DataLoader would hand them over."""
    size = batches.batch_size
    order = batches.order[index * size : (index + 1) * size].tolist()
    return [batches.examples[i] for i in order]


@pytest.mark.parametrize("name", list(OBJECTIVES))
@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**63 - 1), epoch=st.integers(0, 5), size=st.integers(1, 16))
def test_batch_k_of_a_collator_is_batch_k_of_batches(name, seed, epoch, size):
    data = prepared(name)
    batches = data.batches(size, seed=seed, epoch=epoch)
    collator = Collator(data.config, data.tokenizer, seed=seed, epoch=epoch)
    for index in range(3):
        assert collator.index == index
        assert same(collator(features_of(batches, index)), batches[index])
    collator.set_epoch(epoch + 1)  # counted from batch 0 again, with the next epoch's masks
    following = data.batches(size, seed=seed, epoch=epoch + 1)
    assert same(collator(features_of(following, 0)), following[0])


def test_a_generator_of_the_callers_own_is_drawn_on_from_call_to_call():
    data = prepared("mlm")
    batches = data.batches(8, seed=0)
    collator = Collator("mlm", data.tokenizer, generator=torch.Generator().manual_seed(7))
    mine = torch.Generator().manual_seed(7)
    for index in range(2):
        rows = batches.examples[batches.order[index * 8 : (index + 1) * 8].tolist()]
        assert same(collator(features_of(batches, index)), data.objective.collate(rows, mine))


def test_tensors_extra_keys_and_a_transformers_tokenizer_give_the_same_batch():
    transformers = pytest.importorskip("transformers")
    data = prepared("seq2seq")
    batches = data.batches(4, seed=1)
    rows = features_of(batches, 0)
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=data.tokenizer)
    as_tensors = [
        {**{key: torch.tensor(value) for key, value in row.items()}, "note": "ignored"}
        for row in rows
    ]
    assert same(Collator(data.config, fast, seed=1)(as_tensors), batches[0])


def test_features_that_cannot_make_a_batch_are_one_line_errors():
    data = prepare(DataConfig("mlm", options=MaskingConfig(whole_word=True)))
    collator = data.collator()
    rows = [dict(data.examples[0]), dict(data.examples[1])]
    with pytest.raises(ConfigError, match="reads a 'word_ids' column that the features lack"):
        collator([{"input_ids": row["input_ids"]} for row in rows])
    with pytest.raises(ConfigError, match="every feature of a batch needs the same keys"):
        collator([rows[0], {"input_ids": rows[1]["input_ids"]}])
    with pytest.raises(ConfigError, match="at least one feature"):
        collator([])
    with pytest.raises(ConfigError, match="epoch must lie between"):
        collator.set_epoch(-1)


@pytest.mark.parametrize("name", ["mlm", "nsp"])
def test_dataloader_workers_make_the_batches_one_process_makes(name):
    data = prepared(name, "alternating")
    features = [data.examples[i] for i in range(40)]
    expected = Batches(data.examples.select(range(40)), data.objective.collate, 8, 3, 2, False)

    def loaded(workers: int) -> list[dict]:
        collator = data.collator(seed=3)
        collator.set_epoch(2)
        loader = torch.utils.data.DataLoader(
            features, batch_size=8, collate_fn=collator, num_workers=workers
        )
        return list(loader)

    for batches in (loaded(0), loaded(2)):
        assert len(batches) == len(expected) == 5
        assert all(same(batch, expected[k]) for k, batch in enumerate(batches))


def test_a_hugging_face_trainer_trains_bert_on_the_batches_txdata_builds(tmp_path):
    transformers = pytest.importorskip("transformers")
    data = prepared("mlm")
    vocab = data.tokenizer.get_vocab_size()
    config = transformers.BertConfig(
        vocab_size=vocab,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        pad_token_id=0,
    )
    torch.manual_seed(0)
    model = transformers.BertForMaskedLM(config)
    before = model.bert.embeddings.word_embeddings.weight.detach().clone()
    seen: list[tuple[list[dict], dict]] = []
    collator = data.collator(seed=11)

    def recording(features):
        batch = collator(features)
        seen.append(([dict(feature) for feature in features], batch))
        return batch

    arguments = transformers.TrainingArguments(
        output_dir=str(tmp_path),
        max_steps=3,
        per_device_train_batch_size=4,
        learning_rate=1e-2,
        report_to=[],
        use_cpu=True,
        save_strategy="no",
        logging_strategy="no",
        disable_tqdm=True,
        seed=0,
    )
    trainer = transformers.Trainer(
        model=model, args=arguments, train_dataset=data.examples, data_collator=recording
    )
    result = trainer.train()
    assert trainer.state.global_step == 3
    assert len(seen) >= 3  # accelerate's loader fetches one batch ahead
    for k, (features, batch) in enumerate(seen):
        assert set(features[0]) == {"input_ids"}  # the Trainer dropped what BERT does not take
        # txdata's batch k of epoch 0 of these rows, collated afresh
        rows = {"input_ids": [feature["input_ids"] for feature in features]}
        assert same(batch, data.objective.collate(rows, batch_generator(11, 0, k)))
        assert (batch["labels"] != -100).any()
    assert torch.isfinite(torch.tensor(result.training_loss))
    after = model.bert.embeddings.word_embeddings.weight.detach()
    assert not torch.equal(before, after)
