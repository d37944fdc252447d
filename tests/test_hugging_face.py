"""Our batches feed Hugging Face models as they are, and mean to them what they mean to us.

Each model is built from a tiny config in code (nothing is downloaded). Its loss on a txdata
batch must equal the cross-entropy recomputed by hand from its logits, with the label
convention of its kind: as they stand for mlm and seq2seq, shifted by one for a causal LM;
for nsp, the masked tokens' loss plus the next-sentence loss, label 0 meaning "B follows A".
"""

import inspect

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


def test_a_sentence_pair_batch_feeds_bert_for_pretraining_and_means_what_it_means_there():
    torch.manual_seed(0)
    data = prepare(DataConfig("nsp", SourceConfig("sample:english"), length=24))
    batch = data.batches(8, seed=0)[0]
    special = SpecialIds.of(data.tokenizer)
    config = bert(data.tokenizer.get_vocab_size(), special).config
    model = transformers.BertForPreTraining(config).eval()
    with torch.no_grad():
        output = model(**batch)
    labels, pairs = batch["labels"], batch["next_sentence_label"]
    tokens = F.cross_entropy(
        output.prediction_logits.flatten(0, 1), labels.flatten(), ignore_index=IGNORE_INDEX
    )
    sentences = F.cross_entropy(output.seq_relationship_logits, pairs)
    assert torch.isfinite(output.loss) and 0 < int(pairs.sum()) < len(pairs)
    assert torch.allclose(output.loss, tokens + sentences, atol=1e-5)
    # Its head reads class 0 as "B continues A", as our positives are labelled.
    documented = inspect.getdoc(transformers.BertForPreTraining.forward)
    assert "0 indicates sequence B is a continuation of sequence A" in documented
    # And BERT's own tokenizer lays out a pair as we do: [CLS] A [SEP] B [SEP], segment ids 0
    # through the first [SEP], 1 after, 0 on padding.
    hf = transformers.BertTokenizer(vocab=data.tokenizer.get_vocab(with_added_tokens=True))
    original = torch.where(labels != IGNORE_INDEX, labels, batch["input_ids"])  # (B, T)
    words = [data.tokenizer.id_to_token(i) for i in original.flatten().tolist()]
    assert not any(w.startswith("##") for w in words), "whole words only, to write them out"
    types = batch["token_type_ids"]
    first = [row[1 : t.index(1) - 1] for row, t in zip(original.tolist(), types.tolist())]
    second = [
        row[t.index(1) : int(n) - 1]
        for row, t, n in zip(original.tolist(), types.tolist(), batch["attention_mask"].sum(1))
    ]
    theirs = hf(
        [" ".join(map(data.tokenizer.id_to_token, ids)) for ids in first],
        [" ".join(map(data.tokenizer.id_to_token, ids)) for ids in second],
        padding=True,
        return_tensors="pt",
    )
    assert torch.equal(theirs["input_ids"], original)
    assert torch.equal(theirs["token_type_ids"], types)
    assert torch.equal(theirs["attention_mask"], batch["attention_mask"])
