"""The sweep's generator actor takes conversations for `--strategy correct`: each is rendered by the model
tokenizer's own chat template (`apply_chat_template(..., tokenize=False, add_generation_prompt=True)`, as
transformers' tokenizers do at run time) and joins the batch like a plain prompt; the prover actor's chat sampler
opens with the model template's turns and sends every round's conversation whole. Stand-ins: a tokenizer that
renders turns as `<|role|>content` and counts characters, a model that answers each rendered prompt."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from benchmarks.sweep.actors import GeneratorServer
from benchmarks.sweep.attempt import ChatCompleterSampler
from lean_env.types import Theorem
from prover.engine import ProofTarget
from prover.engine.correction import ChatTurn
from prover.generators.whole_proof import WholeProofCompleter, WholeProofSetup
from prover.templates import KIMINA_SYSTEM, get_whole_template


class ChatTokenizer:
    def __init__(self) -> None:
        self.rendered: list[list[dict[str, str]]] = []

    def apply_chat_template(self, messages: list[dict[str, str]], tokenize: bool, add_generation_prompt: bool) -> str:
        assert not tokenize and add_generation_prompt
        self.rendered.append(messages)
        return "".join(f"<|{m['role']}|>{m['content']}" for m in messages) + "<|assistant|>"

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        return [ord(c) for c in text]


class EchoModel:
    def __call__(self, prompts: Sequence[str], n: int) -> list[list[str]]:
        return [[f"reply to {len(p)} characters"] * n for p in prompts]


def _completer() -> tuple[WholeProofCompleter, ChatTokenizer]:
    tokenizer = ChatTokenizer()
    setup: Any = WholeProofSetup(EchoModel(), get_whole_template("kimina"), tokenizer)
    return WholeProofCompleter(setup), tokenizer


def test_the_generator_actor_renders_each_conversation_with_the_tokenizers_chat_template() -> None:
    completer, tokenizer = _completer()
    server = GeneratorServer(None, lambda: completer, max_batch=8, max_wait_ms=1.0)
    conversation = [{"role": "user", "content": "prove it"}, {"role": "assistant", "content": "no"}]
    longer = [*conversation, {"role": "user", "content": "error: try again"}]
    replies = asyncio.run(server.chat([conversation, longer]))
    rendered = [
        "<|user|>prove it<|assistant|>no<|assistant|>",
        "<|user|>prove it<|assistant|>no<|user|>error: try again<|assistant|>",
    ]
    assert [r.text if not isinstance(r, str) else r for r in replies] == [
        f"reply to {len(r)} characters" for r in rendered
    ]
    assert tokenizer.rendered == [conversation, longer]
    assert server.batch_sizes() == [2]  # both conversations in one model call
    assert server.prompt_tokens(longer) == len(rendered[1])


class DirectChat:
    """The prover actor's view of the generator actor (`ActorCompleter`), without Ray."""

    def __init__(self, completer: WholeProofCompleter) -> None:
        self.completer = completer
        self.sent: list[list[dict[str, str]]] = []

    def chat(self, conversations: Sequence[list[dict[str, str]]]) -> list[Any]:
        self.sent.extend(conversations)
        return list(self.completer.chat(conversations))

    def prompt_tokens(self, conversation: list[dict[str, str]]) -> int:
        return self.completer.prompt_tokens(conversation)


def test_the_chat_sampler_opens_with_the_models_turns_and_sends_the_whole_conversation() -> None:
    completer, _ = _completer()
    client = DirectChat(completer)
    sampler = ChatCompleterSampler(client, "kimina")
    target = ProofTarget("t", Theorem("t", "theorem t : True"), prompt="the request")
    opening = sampler.opening(target)
    assert opening == [ChatTurn(m["role"], m["content"]) for m in get_whole_template("kimina").messages("the request")]
    assert opening[0] == ChatTurn("system", KIMINA_SYSTEM)
    turns = [*opening, ChatTurn("assistant", "first try"), ChatTurn("user", "the errors")]
    samples = sampler.chat(target, turns, 1, 2)
    assert len(samples) == 2 and client.sent == [[t.to_json() for t in turns]] * 2
    assert sampler.prompt_tokens(turns) == completer.prompt_tokens([t.to_json() for t in turns]) > 0
