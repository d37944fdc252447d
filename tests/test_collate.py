import subprocess
import sys

import torch
from hypothesis import given
from hypothesis import strategies as st

from txdata.collate import batch_generator, pad_right, shift_right
from txdata.special_tokens import IGNORE_INDEX

rows = st.lists(st.lists(st.integers(0, 50), min_size=1, max_size=12), min_size=1, max_size=6)


@given(rows, st.sampled_from([None, 1, 4, 8]))
def test_pad_right_keeps_each_row_and_pads_on_the_right(sequences, multiple):
    padded, mask = pad_right(sequences, value=-7, multiple_of=multiple)
    longest = max(map(len, sequences))
    assert padded.dtype == mask.dtype == torch.int64
    assert padded.shape[1] >= longest and padded.shape[1] % (multiple or 1) == 0
    assert padded.shape[1] - longest < (multiple or 1)
    for row, sequence in enumerate(sequences):
        assert padded[row, : len(sequence)].tolist() == sequence
        assert (padded[row, len(sequence) :] == -7).all()
        assert mask[row].tolist() == [1] * len(sequence) + [0] * (padded.shape[1] - len(sequence))


@given(st.lists(st.lists(st.integers(7, 50), min_size=1, max_size=10), min_size=1, max_size=5))
def test_shift_right_puts_start_first_and_never_leaves_ignore_index(targets):
    labels, _ = pad_right(targets, IGNORE_INDEX)
    shifted = shift_right(labels, start_id=5, pad_id=0)
    assert (shifted[:, 0] == 5).all()
    real = labels[:, :-1] != IGNORE_INDEX
    assert torch.equal(shifted[:, 1:][real], labels[:, :-1][real])
    assert (shifted != IGNORE_INDEX).all()


def _first_draws(seed: int, epoch: int, index: int) -> list[float]:
    return torch.rand(4, generator=batch_generator(seed, epoch, index)).tolist()


def test_batch_generator_depends_on_seed_epoch_and_index_only():
    assert _first_draws(0, 0, 0) == _first_draws(0, 0, 0)
    variants = [(0, 0, 0), (1, 0, 0), (0, 1, 0), (0, 0, 1)]
    draws = {tuple(_first_draws(*v)) for v in variants}
    assert len(draws) == len(variants)


def test_batch_generator_is_the_same_in_another_process():
    code = "from txdata.collate import batch_generator as g; import torch; "
    code += "print(torch.rand(4, generator=g(0, 3, 7)).tolist())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(_first_draws(0, 3, 7))
