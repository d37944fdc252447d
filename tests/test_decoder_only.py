"""The decoder-only composition: causal, padding-blind, and shifting its labels inside."""

import pytest
import torch
import torch.nn.functional as F

from models.transformer import next_token_labels
from tests.test_model import V, model, pad_columns, random_ids


def causal_batch(b=3, t=8):
    """Labels are the input ids, -100 on padding: the Hugging Face causal-LM convention."""
    ids = random_ids(b, t)
    mask = torch.ones_like(ids)
    mask[1, 5:] = 0
    ids = ids.masked_fill(mask == 0, 0)
    return {"input_ids": ids, "attention_mask": mask, "labels": ids.masked_fill(mask == 0, -100)}


@pytest.mark.parametrize("norm", ["pre", "post"])
@pytest.mark.parametrize("position", [0, 3, 6])
def test_no_position_sees_a_later_token(norm, position):
    m, batch = model("decoder", norm=norm), causal_batch()
    batch["attention_mask"][:] = 1
    before = m(batch).logits
    perturbed = {**batch, "input_ids": batch["input_ids"].clone()}
    later = perturbed["input_ids"][:, position + 1 :]
    perturbed["input_ids"][:, position + 1 :] = (later - 7 + 1) % (V - 7) + 7  # every one moves
    after = m(perturbed).logits
    assert torch.allclose(before[:, : position + 1], after[:, : position + 1], atol=1e-6)
    assert not torch.allclose(before[:, position + 1 :], after[:, position + 1 :], atol=1e-3)


def test_padding_changes_no_real_logit_and_nothing_is_nan():
    m, batch = model("decoder"), causal_batch()
    before = m(batch).logits
    ids, mask = pad_columns(batch["input_ids"], batch["attention_mask"], 4)
    after = m({"input_ids": ids, "attention_mask": mask}).logits
    real = batch["attention_mask"].bool()
    assert torch.allclose(before[real], after[:, :8][real], atol=1e-5)
    # What sits under padding is never read either, and a row of padding alone stays finite.
    noisy = ids.clone()
    noisy[mask == 0] = random_ids(int((mask == 0).sum()), generator_seed=5)
    mask[2] = 0
    logits = m({"input_ids": noisy, "attention_mask": mask}).logits
    assert torch.allclose(logits[:2, :8][real[:2]], before[:2][real[:2]], atol=1e-5)
    assert torch.isfinite(logits).all()


def test_the_loss_scores_each_position_against_the_next_token():
    m, batch = model("decoder"), causal_batch()
    output = m(batch)
    labels = batch["labels"]
    by_hand = F.cross_entropy(
        output.logits[:, :-1].flatten(0, 1), labels[:, 1:].flatten(), ignore_index=-100
    )
    torch.testing.assert_close(output.loss, by_hand, rtol=0, atol=1e-6)
    # The first label is never a target, and a -100 label counts for nothing.
    changed = labels.clone()
    changed[:, 0] = 9
    changed[1, 5:] = -100
    assert torch.equal(m({**batch, "labels": changed}).loss, output.loss)


def test_next_token_labels_shift_left_and_end_ignored():
    labels = torch.tensor([[5, 6, 7, -100], [8, -100, -100, -100]])
    assert next_token_labels(labels).tolist() == [[6, 7, -100, -100], [-100, -100, -100, -100]]


def test_state_dict_names_the_decoder_stack_without_cross_attention():
    names = list(model("decoder").state_dict())
    assert not any(name.startswith("encoder.") or "cross_attention" in name for name in names)
    assert "decoder.blocks.1.self_attention.q.weight" in names
    assert names[0] == "embeddings.tokens.weight" and names[-1] == "head.bias"
