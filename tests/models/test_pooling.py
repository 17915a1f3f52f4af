"""Pooling heads: exact values on hand-written tensors, padding, degenerate rows, dtypes, gradients,
and a contract every registered head must meet."""

from __future__ import annotations

import pytest
import torch

from embedlab.models.pooling import (
    FirstToken,
    LastToken,
    LatentAttention,
    Mean,
    MeanMLP,
    MultiLayerTrainable,
    PoolingInputs,
    ScalarMix,
    TrainableLastLayer,
    WeightedMean,
)
from embedlab.registry import pooling_heads

# Two texts of 3 and 2 tokens, D = 2, the last token of each row is distinctive.
ROW0 = [[1.0, 0.0], [2.0, 0.0], [3.0, 6.0]]
ROW1 = [[0.0, 4.0], [8.0, 2.0]]
PAD = [9.0, 9.0]  # pad states hold garbage, to be sure nothing reads them


def batch(side: str = "right", pool_mask=None, is_causal: bool = True, layers: int = 1) -> PoolingInputs:
    if side == "right":
        states = torch.tensor([ROW0, ROW1 + [PAD]])
        mask = torch.tensor([[1, 1, 1], [1, 1, 0]])
    else:
        states = torch.tensor([ROW0, [PAD] + ROW1])
        mask = torch.tensor([[1, 1, 1], [0, 1, 1]])
    pool = mask.bool() if pool_mask is None else pool_mask
    hidden = tuple(states * (i + 1) for i in range(layers + 1)) if layers > 1 else (states,)
    return PoolingInputs(hidden, mask, pool, is_causal)


@pytest.mark.parametrize("side", ["left", "right"])
def test_last_token_exact(side):
    out = LastToken(2)(batch(side))
    assert torch.equal(out, torch.tensor([[3.0, 6.0], [8.0, 2.0]]))


@pytest.mark.parametrize("side", ["left", "right"])
def test_mean_exact(side):
    out = Mean(2)(batch(side))
    assert torch.allclose(out, torch.tensor([[2.0, 2.0], [4.0, 3.0]]))


@pytest.mark.parametrize("side", ["left", "right"])
def test_weighted_mean_exact(side):
    out = WeightedMean(2)(batch(side))
    # row 0: weights 1, 2, 3 -> (1 + 4 + 9) / 6, (0 + 0 + 18) / 6; row 1: weights 1, 2 -> (0 + 16) / 3, (4 + 4) / 3
    expected = torch.tensor([[14 / 6, 3.0], [16 / 3, 8 / 3]])
    assert torch.allclose(out, expected)


@pytest.mark.parametrize("side", ["left", "right"])
def test_first_token_exact(side):
    out = FirstToken(2)(batch(side))
    assert torch.equal(out, torch.tensor([[1.0, 0.0], [0.0, 4.0]]))


def test_instruction_tokens_are_excluded_by_pool_mask():
    pool = torch.tensor([[False, True, True], [False, True, False]])  # first token of each is instruction
    inputs = batch("right", pool_mask=pool)
    assert torch.allclose(Mean(2)(inputs), torch.tensor([[2.5, 3.0], [8.0, 2.0]]))
    assert torch.equal(FirstToken(2)(inputs), torch.tensor([[2.0, 0.0], [8.0, 2.0]]))
    assert torch.equal(LastToken(2)(inputs), torch.tensor([[3.0, 6.0], [8.0, 2.0]]))  # EOS is never instruction


def test_layers_auto_reduce_follows_attention():
    causal = batch("left", is_causal=True, layers=3)
    bidir = batch("left", is_causal=False, layers=3)
    assert causal.layers().shape == (2, 3, 2)
    # layer l (1-based) holds states * (l + 1): EOS under causal, mean under bidirectional
    assert torch.equal(causal.layers()[:, 1], torch.tensor([[9.0, 18.0], [24.0, 6.0]]))
    assert torch.allclose(bidir.layers()[:, 1], torch.tensor([[6.0, 6.0], [12.0, 9.0]]))


def all_padding_inputs(head_needs_layers: bool) -> PoolingInputs:
    states = torch.randn(2, 3, 8)
    mask = torch.tensor([[1, 1, 0], [0, 0, 0]])
    hidden = (states, states * 2, states * 3) if head_needs_layers else (states,)
    return PoolingInputs(hidden, mask, mask.bool(), is_causal=False)


def build(cls, hidden_size: int = 8):
    head = cls(hidden_size)
    head.connect(num_layers=2)
    return head


HEADS = sorted(pooling_heads().items())


def test_registry_lists_every_head():
    assert set(pooling_heads()) == {
        "FirstToken",
        "LastToken",
        "LatentAttention",
        "Mean",
        "MeanMLP",
        "MultiLayerTrainable",
        "ScalarMix",
        "TrainableLastLayer",
        "WeightedMean",
    }


@pytest.mark.parametrize("name,cls", HEADS)
def test_contract_shape_and_appended_padding(name, cls):
    torch.manual_seed(0)
    head = build(cls).eval()
    states = torch.randn(3, 5, 8)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 0, 0, 0, 0]])
    hidden = (states * 0.5, states) if head.needs_all_layers else (states,)
    hidden = hidden if not head.needs_all_layers else (states * 0.1, states * 0.5, states)
    out = head(PoolingInputs(hidden, mask, mask.bool(), is_causal=False))
    assert out.shape == (3, head.output_size)
    # Appending 4 pad positions with garbage states must not change anything.
    padded = tuple(torch.cat([h, torch.full((3, 4, 8), 7.0)], 1) for h in hidden)
    padded_mask = torch.cat([mask, torch.zeros(3, 4, dtype=mask.dtype)], 1)
    out_padded = head(PoolingInputs(padded, padded_mask, padded_mask.bool(), is_causal=False))
    assert torch.allclose(out, out_padded, atol=1e-5)


@pytest.mark.parametrize("name,cls", HEADS)
def test_all_padding_row_is_finite(name, cls):
    torch.manual_seed(0)
    head = build(cls)
    out = head(all_padding_inputs(head.needs_all_layers))
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name,cls", HEADS)
def test_gradients_flow_to_states_and_parameters(name, cls):
    torch.manual_seed(0)
    head = build(cls)
    if isinstance(head, MeanMLP):  # its residual branch starts closed (down = 0, as LoRA's B): open it
        torch.nn.init.normal_(head.down.weight, std=0.1)
    states = torch.randn(2, 4, 8, requires_grad=True)
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]])
    hidden = (states, states * 2, states * 3) if head.needs_all_layers else (states,)
    head(PoolingInputs(hidden, mask, mask.bool(), is_causal=False)).pow(2).sum().backward()
    assert states.grad is not None and states.grad.abs().sum() > 0
    for pname, parameter in head.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, pname


@pytest.mark.parametrize("name,cls", HEADS)
def test_bfloat16(name, cls):
    torch.manual_seed(0)
    head = build(cls)
    states = torch.randn(2, 4, 8)
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]])
    hidden = (states, states * 2, states * 3) if head.needs_all_layers else (states,)
    reference = head(PoolingInputs(hidden, mask, mask.bool(), is_causal=False))
    head_bf16 = head.to(torch.bfloat16)
    low = head_bf16(PoolingInputs(tuple(h.bfloat16() for h in hidden), mask, mask.bool(), is_causal=False))
    assert low.dtype == torch.bfloat16
    assert torch.allclose(low.float(), reference, atol=0.1 * reference.abs().max().item() + 1e-2)


def test_paper_preset_at_mistral_width_matches_the_released_pooler():
    # the released pooler (768 latents, 32 heads x 2048) has about 1.278 B parameters at d = 4096;
    # the meta device builds the head without allocating its 5 GB.
    with torch.device("meta"):
        last = TrainableLastLayer(4096, preset="paper")
        multi = MultiLayerTrainable(4096, num_layers=32, preset="paper")
    assert round(last.num_parameters / 1e9, 3) == 1.278
    assert multi.num_parameters - last.num_parameters == 32 * 4096


def test_small_paper_preset_counts_exactly():
    d, m, h, dh = 16, 768, 32, 2048
    head = TrainableLastLayer(d, preset="paper")
    inner = h * dh
    expected = m * d + d * inner + d * 2 * inner + inner * d + (d * 8 * d + 8 * d) + (4 * d * d + d) + 3 * 2 * d
    assert head.num_parameters == expected
    multi = MultiLayerTrainable(d, num_layers=5, preset="paper")
    assert multi.num_parameters == expected + 5 * d


def test_scalar_mix_is_parameter_light_and_uniform_at_init():
    head = ScalarMix(2, num_layers=3)
    assert head.num_parameters == 3 + 1
    inputs = batch("right", is_causal=False, layers=3)
    # uniform weights: mean over layers of (l + 1) * mean-state = 3 * mean-state
    assert torch.allclose(head(inputs), 3 * Mean(2)(batch("right", is_causal=False)))


def test_trainable_last_layer_paper_faithful_inputs():
    torch.manual_seed(0)
    head = TrainableLastLayer(2, num_latents=4, num_heads=1, head_dim=2, paper_faithful=True).eval()
    causal = batch("left", is_causal=True)
    eos_only = PoolingInputs((LastToken(2)(causal).unsqueeze(1),), torch.ones(2, 1), torch.ones(2, 1).bool(), True)
    assert torch.allclose(head(causal), head.resampler(eos_only.last))
    # Bidirectional, faithful: the pad position (garbage 9, 9) is a key, so the output differs from masked.
    bidir = batch("left", is_causal=False)
    masked = TrainableLastLayer(2, num_latents=4, num_heads=1, head_dim=2).eval()
    masked.load_state_dict(head.state_dict())
    assert not torch.allclose(head(bidir), masked(bidir))


def test_latent_attention_defaults_follow_nv_embed():
    head = LatentAttention(64)
    assert head.latents.shape == (512, 64)
    assert head.attention.num_heads == 8
    assert head.attention.head_dim == 64  # NV-Embed's cross_dim_head = hidden size
    assert head.attention.to_q.weight.shape == (8 * 64, 64)


def latent_attention_count(d: int, r: int, h: int, dh: int) -> int:
    inner = h * dh
    attention = d * inner + d * 2 * inner + inner * d + 2 * 2 * d  # to_q, to_kv, to_out, two LayerNorms
    feed_forward = 2 * d + (d * 8 * d + 8 * d) + (4 * d * d + d)  # LayerNorm, GEGLU in, out
    return r * d + attention + feed_forward


def test_latent_attention_parameter_count_matches_nv_embed():
    d = 16
    assert LatentAttention(d).num_parameters == latent_attention_count(d, 512, 8, d)
    assert LatentAttention(d, head_dim="split").num_parameters == latent_attention_count(d, 512, 8, d // 8)
    assert LatentAttention(d, num_latents=4, num_heads=2, head_dim=3).num_parameters == latent_attention_count(
        d, 4, 2, 3
    )
    with torch.device("meta"):  # NV-Embed-v2 at d = 4096: inner width 8 x 4096, no allocation
        nv_embed = LatentAttention(4096)
    assert nv_embed.num_parameters == latent_attention_count(4096, 512, 8, 4096) == 740_356_096
    with pytest.raises(ValueError, match="'full', 'split' or a positive int"):
        LatentAttention(d, head_dim="wide")


def test_weighted_mean_weights_start_at_the_first_pooled_token():
    # One row, D = 1: BOS (state 100) and an instruction token (50) are not pooled; the text is 1, 2, 3.
    states = torch.tensor([[[100.0], [50.0], [1.0], [2.0], [3.0]]])  # [1, 5, 1]
    pool = torch.tensor([[False, False, True, True, True]])
    out = WeightedMean(1)(PoolingInputs((states,), torch.ones(1, 5), pool, True))
    assert torch.allclose(out, torch.tensor([[(1 * 1 + 2 * 2 + 3 * 3) / 6]]))  # SGPT weights 1, 2, 3
    # Left padding and a longer prefix give the same weights.
    padded = torch.tensor([[[9.0], [100.0], [50.0], [50.0], [1.0], [2.0], [3.0]]])  # [1, 7, 1]
    mask = torch.tensor([[0, 1, 1, 1, 1, 1, 1]])
    pool = torch.tensor([[False, False, False, False, True, True, True]])
    assert torch.allclose(WeightedMean(1)(PoolingInputs((padded,), mask, pool, True)), out)


def test_weighted_mean_of_a_text_is_the_same_with_and_without_an_instruction():
    from embedlab.models.tokenization import TextTokenizer
    from tests.models.test_tokenization import bos_tokenizer

    tokenizer = TextTokenizer(bos_tokenizer())
    outs = []
    for instruction in (None, "Q: "):
        features = tokenizer(["xyz"], instructions=instruction)
        states = features["input_ids"].float().unsqueeze(-1)  # [1, T, 1], each token's state is its id
        inputs = PoolingInputs((states,), features["attention_mask"], features["pool_mask"], True)
        outs.append(WeightedMean(1)(inputs))
    x, y, z, eos = tokenizer(["xyz"])["input_ids"][0, 1:].tolist()
    expected = torch.tensor([[(1 * x + 2 * y + 3 * z + 4 * eos) / 10]])  # BOS has no weight
    assert torch.allclose(outs[0], expected) and torch.allclose(outs[1], expected)


@pytest.mark.parametrize("side", ["left", "right"])
def test_first_token_is_the_texts_first_token_and_sees_the_prefix(side):
    from embedlab.models.tokenization import TextTokenizer
    from tests.conftest import tiny_backbone
    from tests.models.test_tokenization import bos_tokenizer

    backbone = tiny_backbone().eval()
    tokenizer = TextTokenizer(bos_tokenizer(), padding_side=side)
    head = FirstToken(backbone.hidden_size)

    def pool(texts, instruction=None):
        features = tokenizer(texts, instructions=instruction)
        with torch.no_grad():
            states = backbone(features["input_ids"], features["attention_mask"]).last_hidden_state  # [B, T, D]
        return states, features, head(PoolingInputs((states,), features["attention_mask"], features["pool_mask"], True))

    texts = ["xyz", "xab", "qyz long"]
    states, features, out = pool(texts)
    first = (features["attention_mask"].cumsum(dim=1) == 2).int().argmax(dim=1)  # [B], the token after BOS
    assert torch.equal(out, states[torch.arange(3), first])
    assert torch.allclose(out[0], out[1], atol=1e-6)  # causal: same BOS and first byte, rest unseen
    assert not torch.allclose(out[0], out[2], atol=1e-3)  # never BOS's state, which every text shares
    _, _, a = pool(["xyz"], "A: ")
    _, _, b = pool(["xyz"], "B: ")
    assert not torch.allclose(a, b, atol=1e-3)  # the first text token has seen the instruction
    assert not torch.allclose(a, out[:1], atol=1e-3)


def test_paper_faithful_multi_layer_mean_keeps_bos():
    from embedlab.models.tokenization import TextTokenizer
    from tests.models.test_tokenization import bos_tokenizer

    features = TextTokenizer(bos_tokenizer())(["xy"])  # BOS, x, y, EOS
    ids = features["input_ids"].float().unsqueeze(-1)  # [1, 4, 1]
    inputs = PoolingInputs((ids, ids, 2 * ids), features["attention_mask"], features["pool_mask"], False)
    bos, x, y, eos = features["input_ids"][0].tolist()
    assert inputs.layers("mean")[0, :, 0].tolist() == pytest.approx([(x + y + eos) / 3, 2 * (x + y + eos) / 3])
    released = inputs.layers("mean", use_attention_mask=True)  # [1, L, 1], the released Model 5 mean
    assert released[0, :, 0].tolist() == pytest.approx([(bos + x + y + eos) / 4, 2 * (bos + x + y + eos) / 4])
    torch.manual_seed(0)
    head = MultiLayerTrainable(1, num_layers=2, num_latents=2, num_heads=1, head_dim=1, paper_faithful=True).eval()
    expected = head.resampler(released + head.layer_embedding.weight)
    assert torch.allclose(head(inputs), expected)


def test_multi_layer_head_refuses_a_wrong_layer_count():
    head = MultiLayerTrainable(8, num_layers=3)
    with pytest.raises(ValueError, match="3 layers"):
        head.connect(4)
