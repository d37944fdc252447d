"""What a trained model attends to: the softmax weights of every head, layer and attention.

Dimension legend:
    H heads   T query positions   L key positions

An encoder-decoder reads the input and then its own greedy answer behind `[BOS]`, and a
decoder-only model its prompt and its own continuation, so the maps show where each looks
while producing that answer. An encoder reads its input once, as its objective frames it.

Example (on a trained run)::

    maps = attention_maps(load_run(Path("runs/s2s")), "1 0 1 0")
    maps.decoder_tokens
    # ['[BOS]', '0', '1', '0', '1']
    maps.weights["cross-attention"].shape  # (layers, H, T, L) over `1 0 1 0 [EOS]`
    # torch.Size([2, 4, 5, 5])
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from models.attention import MultiHeadAttention
from models.checkpoint import LoadedRun
from models.decode import greedy_continue, greedy_decode
from models.predict import encode_known
from models.transformer import Transformer
from txdata.special_tokens import SpecialIds


@dataclass
class AttentionMaps:
    mode: str
    encoder_tokens: list[str]  # empty for a decoder-only model
    decoder_tokens: list[str]  # empty for an encoder-only model
    weights: dict[str, torch.Tensor]  # name -> (layers, H, T, L), names as in `mask_views`
    pooled: bool = False  # cross-attention reads one mean of the encoder's output (L = 1)

    def tokens(self, name: str) -> tuple[list[str], list[str]]:
        """(query tokens, key tokens) of one attention."""
        queries = self.encoder_tokens if name == "encoder self-attention" else self.decoder_tokens
        keys = self.decoder_tokens if name == "decoder self-attention" else self.encoder_tokens
        if name == "cross-attention" and self.pooled:
            keys = ["mean"]
        return queries, keys


@torch.no_grad()
def attention_maps(run: LoadedRun, text: str) -> AttentionMaps:
    """Run the model on `text` once with every attention keeping its weights."""
    model, tokenizer = run.model, run.tokenizer
    model.eval()
    special = SpecialIds.of(tokenizer)
    objective = run.config.data.build(tokenizer)
    device = next(model.parameters()).device
    frame = objective.frame(encode_known(tokenizer, text))
    ids = frame["input_ids"].to(device)  # (1, S): what the model reads first
    source, target = (ids, None) if model.architecture != "decoder" else (None, ids)
    length = run.config.data.length
    if model.architecture == "encoder-decoder":
        answer = greedy_decode(model, ids, torch.ones_like(ids), special.bos, special.eos, length)
        # The decoder reads [BOS] and each token it produced before the last: one query row per
        # generation step, exactly the teacher-forced `decoder_input_ids` of a correct answer.
        target = torch.tensor([[special.bos, *_read_back(answer[0], special.eos)]], device=device)
    elif model.architecture == "decoder" and ids.shape[1] < length:
        more = greedy_continue(model, ids, torch.ones_like(ids), special.eos, length - ids.shape[1])
        target = torch.tensor(
            [[*ids[0].tolist(), *_read_back(more[0], special.eos)]], device=device
        )
    attentions = _named_attentions(model)
    for module in (m for modules in attentions.values() for m in modules):
        module.keep_weights = True
    try:
        types = frame.get("token_type_ids")  # the segments of a sentence pair
        types = None if types is None else types.to(device)
        if target is None:
            model.encode(source, torch.ones_like(source), types)
        elif source is None:
            model.decode(target)
        else:
            model.decode(target, None, *model.memory(source, torch.ones_like(source)))
        weights = {
            name: torch.stack([m.weights[0] for m in modules]).cpu()  # (layers, H, T, L)
            for name, modules in attentions.items()
        }
    finally:
        for module in (m for modules in attentions.values() for m in modules):
            module.keep_weights, module.weights = False, None
    return AttentionMaps(
        objective.name,
        [] if source is None else [tokenizer.id_to_token(i) for i in source[0].tolist()],
        [] if target is None else [tokenizer.id_to_token(i) for i in target[0].tolist()],
        weights,
        pooled=model.config.memory == "pooled",
    )


def _read_back(generated: list[int], eos_id: int) -> list[int]:
    """The generated tokens the decoder read back: all but a final [EOS], which it only wrote."""
    return generated[:-1] if generated and generated[-1] == eos_id else generated


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
