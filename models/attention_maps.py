"""What a trained model attends to: the softmax weights of every head, layer and attention.

Dimension legend:
    H heads   T query positions   L key positions

A seq2seq model reads `tokens [EOS]` and then its own greedy answer behind `[BOS]`, so the maps
show where it looks while producing that answer. An mlm model reads `[CLS] tokens [SEP]`.

>>> maps = attention_maps(load_run(Path("runs/s2s")), "1 0 1 0")
>>> maps.decoder_tokens
['[BOS]', '0', '1', '0', '1']
>>> maps.weights["cross-attention"].shape  # (layers, H, T, L) over `1 0 1 0 [EOS]`
torch.Size([2, 4, 5, 5])
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from models.attention import MultiHeadAttention
from models.checkpoint import LoadedRun
from models.decode import greedy_decode
from models.predict import encode_known
from models.transformer import Transformer
from txdata.special_tokens import SpecialIds


@dataclass
class AttentionMaps:
    mode: str
    encoder_tokens: list[str]
    decoder_tokens: list[str]  # empty for mlm
    weights: dict[str, torch.Tensor]  # name -> (layers, H, T, L), names as in `mask_views`

    def tokens(self, name: str) -> tuple[list[str], list[str]]:
        """(query tokens, key tokens) of one attention."""
        queries = self.encoder_tokens if name == "encoder self-attention" else self.decoder_tokens
        keys = self.decoder_tokens if name == "decoder self-attention" else self.encoder_tokens
        return queries, keys


@torch.no_grad()
def attention_maps(run: LoadedRun, text: str) -> AttentionMaps:
    """Run the model on `text` once with every attention keeping its weights."""
    model, tokenizer = run.model, run.tokenizer
    model.eval()
    special = SpecialIds.of(tokenizer)
    known, length = encode_known(tokenizer, text), run.config.data.length
    device = next(model.parameters()).device
    if run.config.mode == "seq2seq":
        source = torch.tensor([[*known[: length - 1], special.eos]], device=device)  # (1, S)
        answer = greedy_decode(
            model, source, torch.ones_like(source), special.bos, special.eos, length
        )[0]
        # The decoder reads [BOS] and each token it produced before the last: one query row per
        # generation step, exactly the teacher-forced `decoder_input_ids` of a correct answer.
        read = answer[:-1] if answer and answer[-1] == special.eos else answer
        target = torch.tensor([[special.bos, *read]], device=device)  # (1, T)
    else:
        source = torch.tensor([[special.cls, *known[: length - 2], special.sep]], device=device)
        target = None
    attentions = _named_attentions(model)
    for module in (m for modules in attentions.values() for m in modules):
        module.keep_weights = True
    try:
        memory = model.encode(source, torch.ones_like(source))
        if target is not None:
            model.decode(target, None, memory, torch.ones_like(source))
        weights = {
            name: torch.stack([m.weights[0] for m in modules]).cpu()  # (layers, H, T, L)
            for name, modules in attentions.items()
        }
    finally:
        for module in (m for modules in attentions.values() for m in modules):
            module.keep_weights, module.weights = False, None
    return AttentionMaps(
        run.config.mode,
        [tokenizer.id_to_token(i) for i in source[0].tolist()],
        [] if target is None else [tokenizer.id_to_token(i) for i in target[0].tolist()],
        weights,
    )


def _named_attentions(model: Transformer) -> dict[str, list[MultiHeadAttention]]:
    """Each attention's modules, one per layer, under the names `mask_views` gives them."""
    named = {}
    if model.encoder is not None:
        named["encoder self-attention"] = [block.self_attention for block in model.encoder.blocks]
    if model.decoder is not None:
        named["decoder self-attention"] = [block.self_attention for block in model.decoder.blocks]
    if model.architecture == "encoder-decoder":
        named["cross-attention"] = [block.cross_attention for block in model.decoder.blocks]
    return named
