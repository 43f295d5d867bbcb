"""An in-process byte-level tokenizer: 256 byte tokens plus specials, no merges, no hub access.

Tests, the CPU benchmark and tiny training runs use it with randomly initialised models.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

BOS_TOKEN = "<s>"
EOS_TOKEN = "</s>"
PAD_TOKEN = "<pad>"
SPECIAL_TOKENS = (PAD_TOKEN, BOS_TOKEN, EOS_TOKEN)  # ids 0, 1, 2; bytes follow


def byte_level_tokenizer(add_bos: bool = True) -> PreTrainedTokenizerFast:
    """A fast tokenizer whose tokens are single bytes (ids 3..258), with `<pad>`, `<s>`, `</s>` first.

    Decoding is lossless for any text; `add_bos` prepends `<s>` to every encoded sequence.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    # Byte order (not alphabet order) so token id = byte value + number of specials.
    byte_to_unicode = _bytes_to_unicode()
    vocab = {tok: i for i, tok in enumerate(SPECIAL_TOKENS)}
    for byte in range(256):
        vocab[byte_to_unicode[byte]] = len(SPECIAL_TOKENS) + byte
    assert set(alphabet) == set(byte_to_unicode.values())
    core = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token=None, fuse_unk=False))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    core.decoder = decoders.ByteLevel()
    if add_bos:
        core.post_processor = processors.TemplateProcessing(
            single=f"{BOS_TOKEN} $A", pair=f"{BOS_TOKEN} $A {BOS_TOKEN} $B", special_tokens=[(BOS_TOKEN, 1)]
        )
    factory: Any = PreTrainedTokenizerFast  # untyped in transformers
    tokenizer: PreTrainedTokenizerFast = factory(
        tokenizer_object=core,
        bos_token=BOS_TOKEN,
        eos_token=EOS_TOKEN,
        pad_token=PAD_TOKEN,
        padding_side="left",
    )
    return tokenizer


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character map (the one ByteLevel uses)."""
    printable = (
        list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    )
    chars = list(printable)
    n = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(printable, chars, strict=True)}


def printable_ascii_ids(tokenizer: PreTrainedTokenizerFast) -> list[int]:
    """Ids of the byte tokens for printable ASCII plus newline (useful to steer random models)."""
    keep = [ord("\n"), *range(32, 127)]
    return [len(SPECIAL_TOKENS) + b for b in keep]


def encode_prompt(tokenizer: Any, text: str, max_tokens: int | None = None) -> list[int]:
    """The token ids of one rendered prompt, tokenized once the way the model cards do it.

    A prompt rendered by a chat template that starts with `{{ bos_token }}` (DeepSeek's) already holds its
    BOS as text; tokenizing it with special tokens again would put a second BOS in front (the model cards
    tokenize inside `apply_chat_template`, which adds none). So special tokens are added only when the text
    does not already start with the BOS token. Over `max_tokens`, the prompt keeps its end (where the goal
    and the completion cue are) and its leading BOS.
    """
    bos = getattr(tokenizer, "bos_token", None)
    starts_with_bos = isinstance(bos, str) and bool(bos) and text.startswith(bos)
    ids = [int(i) for i in tokenizer(text, add_special_tokens=not starts_with_bos)["input_ids"]]
    return truncate_left(ids, max_tokens, getattr(tokenizer, "bos_token_id", None))


def truncate_left(ids: list[int], max_tokens: int | None, bos_token_id: int | None = None) -> list[int]:
    """`ids` cut to its last `max_tokens` ids, keeping a leading BOS in front."""
    if max_tokens is None or len(ids) <= max_tokens:
        return ids
    if bos_token_id is not None and ids and ids[0] == bos_token_id and max_tokens > 1:
        return [ids[0], *ids[len(ids) - max_tokens + 1 :]]
    return ids[len(ids) - max_tokens :]
