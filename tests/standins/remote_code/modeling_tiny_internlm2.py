"""InternLM2's module layout in a tiny checkpoint's own modeling code: attention `wqkv` (q, k and v packed)
and `wo`, feed-forward `w1`, `w2`, `w3`, `model_type` "internlm2" (as modeling_internlm2.py and
configuration_internlm2.py shipped with internlm/internlm2_5-step-prover name them). Only the names and
shapes matter here; the forward pass is a plain residual stack, enough for LoRA wrapping and a loss.
(`GenerationMixin` is listed explicitly: transformers 5's PreTrainedModel no longer includes it, which is
one way remote code written for transformers 4 can fail to load under 5.)"""

import torch
from torch import nn
from transformers import GenerationMixin, PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import CausalLMOutput


class TinyInternLM2Config(PretrainedConfig):
    model_type = "internlm2"

    def __init__(self, vocab_size=264, hidden_size=16, intermediate_size=32, num_hidden_layers=1, **kwargs):
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.intermediate_size = intermediate_size
        self.num_hidden_layers = num_hidden_layers
        super().__init__(**kwargs)


class TinyInternLM2Attention(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.wqkv = nn.Linear(config.hidden_size, 3 * config.hidden_size, bias=False)
        self.wo = nn.Linear(config.hidden_size, config.hidden_size, bias=False)

    def forward(self, x):
        q, k, v = self.wqkv(x).chunk(3, dim=-1)
        return self.wo(v)


class TinyInternLM2MLP(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.w1 = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.w3 = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.w2 = nn.Linear(config.intermediate_size, config.hidden_size, bias=False)

    def forward(self, x):
        return self.w2(torch.nn.functional.silu(self.w1(x)) * self.w3(x))


class TinyInternLM2Layer(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.attention = TinyInternLM2Attention(config)
        self.feed_forward = TinyInternLM2MLP(config)

    def forward(self, x):
        x = x + self.attention(x)
        return x + self.feed_forward(x)


class TinyInternLM2ForCausalLM(PreTrainedModel, GenerationMixin):
    config_class = TinyInternLM2Config

    def __init__(self, config):
        super().__init__(config)
        self.tok_embeddings = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = nn.ModuleList(TinyInternLM2Layer(config) for _ in range(config.num_hidden_layers))
        self.output = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()

    def get_input_embeddings(self):
        return self.tok_embeddings

    def set_input_embeddings(self, value):
        self.tok_embeddings = value

    def forward(self, input_ids=None, labels=None, **kwargs):
        x = self.tok_embeddings(input_ids)
        for layer in self.layers:
            x = layer(x)
        logits = self.output(x)
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(logits[:, :-1].flatten(0, 1), labels[:, 1:].flatten(), ignore_index=-100)
        return CausalLMOutput(loss=loss, logits=logits)
