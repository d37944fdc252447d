"""Batches reproduce from (seed, epoch, index): in another process, and under DataLoader workers."""

import hashlib
import subprocess
import sys

import torch

from txdata import DataConfig, MaskingConfig, SourceConfig, prepare

CONFIG = "DataConfig(objective='mlm', source=SourceConfig('sample:english'), length=32)"


def digest(batches) -> str:
    hasher = hashlib.sha256()
    for batch in batches:
        for key in sorted(batch):
            hasher.update(key.encode() + batch[key].numpy().tobytes())
    return hasher.hexdigest()


def english_batches(seed: int, epoch: int = 0):
    data = prepare(DataConfig(objective="mlm", source=SourceConfig("sample:english"), length=32))
    return data.batches(batch_size=16, seed=seed, epoch=epoch)


def test_another_process_builds_byte_identical_batches():
    code = f"""
from txdata import DataConfig, SourceConfig, prepare
from tests.test_batches import digest
data = prepare({CONFIG})
print(digest(data.batches(batch_size=16, seed=0, epoch=0)))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == digest(english_batches(seed=0))


def test_dataloader_workers_yield_the_same_batches_as_one_process():
    batches = english_batches(seed=0)
    loader = torch.utils.data.DataLoader(batches, batch_size=None, num_workers=2)
    assert digest(loader) == digest(batches)


def test_seed_zero_is_a_seed_and_epochs_draw_fresh_masks():
    seed_0 = digest(english_batches(seed=0))
    assert seed_0 == digest(english_batches(seed=0))
    assert seed_0 != digest(english_batches(seed=1))
    assert seed_0 != digest(english_batches(seed=0, epoch=1))


def test_epochs_reorder_examples_but_keep_all_of_them():
    data = prepare(DataConfig(objective="seq2seq", source=SourceConfig(count=50)))
    orders = [data.batches(batch_size=8, seed=3, epoch=e).order.tolist() for e in (0, 1)]
    assert orders[0] != orders[1]
    assert sorted(orders[0]) == sorted(orders[1]) == list(range(50))


def test_whole_word_batches_come_from_wordpiece_word_ids():
    config = DataConfig(
        objective="mlm",
        source=SourceConfig("sample:english"),
        length=64,
        tokenizer="wordpiece",
        vocab_size=300,  # small, so that many words split into several pieces
        options=MaskingConfig(mlm_probability=0.3, whole_word=True),
    )
    data = prepare(config)
    batch = data.batches(batch_size=64, seed=0)[0]
    chosen = batch["labels"] != -100
    original = torch.where(chosen, batch["labels"], batch["input_ids"])
    tokens = [[data.tokenizer.id_to_token(i) for i in row] for row in original.tolist()]
    pieces = 0
    for row in range(chosen.shape[0]):
        for pos in range(2, chosen.shape[1]):  # from 2: a row may begin inside a word
            if tokens[row][pos].startswith("##") and batch["attention_mask"][row, pos]:
                pieces += 1
                assert chosen[row, pos] == chosen[row, pos - 1], "a word was split"
    assert pieces > 50


def test_examples_of_a_file_are_cached_by_datasets_and_reused(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("One two three four.\n\nFive six seven.\n")
    config = DataConfig(objective="mlm", source=SourceConfig(str(path)), tokenizer="char")
    first = prepare(config).examples
    cache_files = [entry["filename"] for entry in first.cache_files]
    assert cache_files and all(name.endswith(".arrow") for name in cache_files)
    assert [entry["filename"] for entry in prepare(config).examples.cache_files] == cache_files
