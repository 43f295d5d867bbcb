"""train: examples are tokenised the way generation sees them, with a Llama-style (SentencePiece) tokenizer.

The tokenizer is built in-process from the `tokenizers` library the way transformers builds Llama's:
a byte-fallback BPE under `Metaspace(replacement="▁", prepend_scheme="first", split=False)` and a
Replace/ByteFallback/Fuse/Strip decoder (transformers v5.24.0 src/transformers/models/llama/
tokenization_llama.py, `LlamaTokenizer.__init__`; `prepend_scheme="first"` is what `_get_prepend_scheme`
in tokenization_utils_base.py picks for non-legacy Llama tokenizers). Such a tokenizer prepends "▁"
(Llama 2's id 29871) to the first piece of every text it encodes on its own.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

pytest.importorskip("tokenizers")
pytest.importorskip("transformers")

from prover.templates import get_template  # noqa: E402
from train.data import ProofStep  # noqa: E402
from train.formatting import IGNORE_INDEX, completion_ids, tokenize_step  # noqa: E402

STEPS = [
    ProofStep(state="x : ℕ\nh : x = 2\n⊢ x + x = 4", tactic="subst h\nnorm_num"),
    ProofStep(state="a b : ℝ\n⊢ a * b = b * a", tactic="ring"),
    ProofStep(state="n : ℕ\n⊢ n + 0 = n", tactic="simp"),
    ProofStep(state="p q : Prop\nhp : p\n⊢ p ∨ q", tactic="exact Or.inl hp"),
]


def llama_style_tokenizer() -> Any:
    """A small SentencePiece-like BPE with byte fallback, trained on the steps rendered with both templates."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    core = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    core.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=False)
    texts = []
    for name in ("llemma", "proofsteps"):
        template = get_template(name)
        texts += [template.render(s.state) + template.completion(s.tactic) for s in STEPS]
    # Newlines stay out of the alphabet so they go through byte fallback (<0x0A>), as in Llama's vocabulary.
    trainer = trainers.BpeTrainer(vocab_size=700, special_tokens=specials, show_progress=False)
    core.train_from_iterator([t.replace("\n", " ") for t in texts] * 4, trainer=trainer)
    # Rebuild from the learned vocabulary so the byte pieces are ordinary vocabulary (as in Llama's), not
    # added special tokens that decoding would skip.
    learned = json.loads(core.to_str())["model"]
    pairs = [m.split(" ") if isinstance(m, str) else m for m in learned["merges"]]
    merges = [(first, second) for first, second in pairs]
    core = Tokenizer(models.BPE(vocab=learned["vocab"], merges=merges, byte_fallback=True, fuse_unk=True))
    core.add_special_tokens(["<unk>", "<s>", "</s>"])
    core.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=False)
    core.decoder = decoders.Sequence(
        [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(content=" ", left=1)]
    )
    core.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", core.token_to_id("<s>"))]
    )
    factory: Any = PreTrainedTokenizerFast
    return factory(tokenizer_object=core, bos_token="<s>", eos_token="</s>", unk_token="<unk>")


@pytest.fixture(scope="module")
def tok() -> Any:
    return llama_style_tokenizer()


def test_the_stand_in_behaves_like_llama(tok: Any) -> None:
    """Encoded on its own, a text starting with a newline gets a lone "▁" first, as Llama's 29871."""
    space = tok.convert_tokens_to_ids("▁")
    alone = tok("\nsimp", add_special_tokens=False)["input_ids"]
    assert alone[0] == space and tok.convert_ids_to_tokens(alone[1]) == "<0x0A>"
    joint = tok.convert_ids_to_tokens(tok("Next tactic:\n---\nsimp", add_special_tokens=False)["input_ids"])
    assert "<0x0A>" in joint and "▁" not in joint[1:]  # only the text's start gets the prefix


@pytest.mark.parametrize("template_name", ["llemma", "proofsteps"])
def test_completion_is_tokenised_as_generation_continues_the_prompt(tok: Any, template_name: str) -> None:
    template = get_template(template_name)
    space = tok.convert_tokens_to_ids("▁")
    for step in STEPS:
        prompt, completion = template.render(step.state), template.completion(step.tactic)
        ex = tokenize_step(step, template, tok, max_length=1024)
        assert ex is not None
        generator_prompt = tok(prompt)["input_ids"]  # exactly what HFGenerator feeds the model
        n = len(generator_prompt)
        assert ex.input_ids[:n] == generator_prompt
        assert ex.labels[:n] == [IGNORE_INDEX] * n
        target = ex.labels[n:]
        # Today's bug: the separately tokenised completion starts with a lone "▁" inference never makes.
        assert target[0] != space
        assert target == tok(prompt + completion)["input_ids"][n:] + [tok.eos_token_id]
        assert tok.decode(ex.input_ids, skip_special_tokens=True) == prompt + completion


def test_a_seam_merge_keeps_the_completion_text(tok: Any) -> None:
    """When the tokenizer merges across the seam, the completion starts at the first token past the prompt."""
    prompt, completion = "⊢ a * b = b * a ri", "ng"
    prompt_ids, tail = completion_ids(tok, prompt, completion)
    joint = tok(prompt + completion)["input_ids"]
    assert prompt_ids + tail == joint
    assert "ng" in tok.decode(tail)


def test_truncated_states_keep_the_same_completion_ids(tok: Any) -> None:
    template = get_template("llemma")
    long_step = ProofStep(state="h : " + " ∧ ".join(f"x{i} = {i}" for i in range(60)) + "\n⊢ True", tactic="trivial")
    full = tokenize_step(long_step, template, tok, max_length=4096)
    cut = tokenize_step(long_step, template, tok, max_length=len(template.render("")) + 40)
    assert full is not None and cut is not None
    n_full, n_cut = full.labels.count(IGNORE_INDEX), cut.labels.count(IGNORE_INDEX)
    assert full.labels[n_full:] == cut.labels[n_cut:]
    assert len(cut) <= len(template.render("")) + 40
