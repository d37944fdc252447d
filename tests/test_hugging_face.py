"""Our batches feed Hugging Face models as they are, and mean to them what they mean to us.

Each model is built from a tiny config in code (nothing is downloaded). Its loss on a txdata
batch must equal the cross-entropy recomputed by hand from its logits, with the label
convention of its kind: as they stand for mlm and seq2seq, shifted by one for a causal LM.
"""

import pytest
import torch
import torch.nn.functional as F
import transformers

from txdata import DataConfig, SourceConfig, prepare
from txdata.special_tokens import IGNORE_INDEX, SpecialIds

SIZE = {"hidden": 32, "layers": 1, "heads": 2, "ffn": 64, "positions": 64}


def bert(vocab: int, special: SpecialIds):
    config = transformers.BertConfig(
        vocab_size=vocab,
        hidden_size=SIZE["hidden"],
        num_hidden_layers=SIZE["layers"],
        num_attention_heads=SIZE["heads"],
        intermediate_size=SIZE["ffn"],
        max_position_embeddings=SIZE["positions"],
        pad_token_id=special.pad,
    )
    return transformers.BertForMaskedLM(config)


def bart(vocab: int, special: SpecialIds):
    config = transformers.BartConfig(
        vocab_size=vocab,
        d_model=SIZE["hidden"],
        encoder_layers=SIZE["layers"],
        decoder_layers=SIZE["layers"],
        encoder_attention_heads=SIZE["heads"],
        decoder_attention_heads=SIZE["heads"],
        encoder_ffn_dim=SIZE["ffn"],
        decoder_ffn_dim=SIZE["ffn"],
        max_position_embeddings=SIZE["positions"],
        pad_token_id=special.pad,
        bos_token_id=special.bos,
        eos_token_id=special.eos,
        decoder_start_token_id=special.bos,
    )
    return transformers.BartForConditionalGeneration(config)


def gpt2(vocab: int, special: SpecialIds):
    config = transformers.GPT2Config(
        vocab_size=vocab,
        n_embd=SIZE["hidden"],
        n_layer=SIZE["layers"],
        n_head=SIZE["heads"],
        n_positions=SIZE["positions"],
        bos_token_id=special.bos,
        eos_token_id=special.eos,
        pad_token_id=special.pad,
    )
    return transformers.GPT2LMHeadModel(config)


def t5(vocab: int, special: SpecialIds):
    config = transformers.T5Config(
        vocab_size=vocab,
        d_model=SIZE["hidden"],
        num_layers=SIZE["layers"],
        num_decoder_layers=SIZE["layers"],
        num_heads=SIZE["heads"],
        d_ff=SIZE["ffn"],
        d_kv=SIZE["hidden"] // SIZE["heads"],
        pad_token_id=special.pad,
        eos_token_id=special.eos,
        decoder_start_token_id=special.bos,
    )
    return transformers.T5ForConditionalGeneration(config)


# (objective, the HF model of its kind, whether that model shifts the labels inside)
MODELS = [
    ("mlm", bert, False),
    ("span", bert, False),
    ("seq2seq", bart, False),
    ("clm", gpt2, True),
    ("t5", t5, False),
    ("bart", bart, False),
]


@pytest.mark.parametrize(("objective", "build", "shifts"), MODELS, ids=[m[0] for m in MODELS])
def test_a_batch_feeds_the_matching_hugging_face_model_unchanged(objective, build, shifts):
    torch.manual_seed(0)
    data = prepare(DataConfig(objective, SourceConfig("sample:english"), length=24))
    batch = data.batches(8, seed=0)[0]
    model = build(data.tokenizer.get_vocab_size(), SpecialIds.of(data.tokenizer)).eval()
    with torch.no_grad():
        output = model(**batch)  # every key is one the model takes, under its own name
    logits, labels = output.logits, batch["labels"]  # (B, T, V), (B, T)
    if shifts:
        logits, labels = logits[:, :-1], labels[:, 1:]
    by_hand = F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=IGNORE_INDEX)
    assert (labels != IGNORE_INDEX).any()
    assert torch.allclose(output.loss, by_hand, atol=1e-5), (float(output.loss), float(by_hand))
