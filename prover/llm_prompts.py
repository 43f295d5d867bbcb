"""LLMLean's prompts read back, and answers written so LLMLean's own parsers recover the tactic or proof.

LLMLean (cmu-l3/llmlean@13ab390) builds the whole prompt in Lean (`LLMlean/API/Prompts.lean`) and sends it to
an OpenAI-compatible chat endpoint or to Ollama's `/api/generate` (`LLMlean/API/TacticGen.lean`,
`ProofGen.lean`). Four prompt kinds exist (`fewshot`, `instruction`, `reasoning`, `markdown`), each for a
next tactic (`llmstep`: `makePrompts`) and for a whole proof (`llmqed`: `makeQedPrompts`). This module
recovers the proof state, the typed tactic prefix and the file context from each, and renders a tactic or a
proof in the form that kind's parser reads:

- next tactic, kinds other than markdown: LLMLean keeps `prefix ++ splitTac(reply)` (`splitTac`: the text
  after the first `[TAC]`, up to `[/TAC]`, trimmed), so the reply is the rest of the tactic after the prefix,
  behind `[/THOUGHTS]\n[TAC]\n` for the reasoning kind (whose prompt ends inside `[THOUGHTS]`);
- next tactic, markdown (Ollama): every non-empty line of every ```` ```lean4 ```` block is one tactic
  (`parseTacticResponseOllamaMarkdown`), so the reply is one block holding the whole tactic;
- whole proof: `splitProof` (after `[PROOF]`, up to `[/PROOF]`, trimmed) for fewshot/instruction/reasoning,
  and for markdown the last lean4 block (`extractProofFromMarkdownResponse`).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass


class PromptKind(enum.StrEnum):
    """LLMLean's `PromptKind` (LLMlean/Config.lean), named as its `LLMLEAN_PROMPT` setting spells them."""

    FEWSHOT = "fewshot"
    INSTRUCTION = "instruction"
    REASONING = "reasoning"
    MARKDOWN = "markdown"
    PLAIN = "plain"  # not LLMLean's: the prompt is a pretty-printed goal itself


class Task(enum.StrEnum):
    TACTIC = "tactic"  # llmstep
    PROOF = "proof"  # llmqed


class PromptNotUnderstood(ValueError):
    """The prompt holds no proof state this server can find (one line)."""


@dataclass(frozen=True)
class ParsedPrompt:
    """What a prompt asks for: the task, the prompt kind, the proof state (may be empty for a whole proof
    asked from the file alone), the tactic prefix the user typed, and the file contents before it."""

    task: Task
    kind: PromptKind
    state: str
    prefix: str = ""
    context: str = ""


def _between(text: str, start: str, end: str) -> str | None:
    """The text between the last `start` and the first `end` after it; None when either is missing."""
    i = text.rfind(start)
    if i == -1:
        return None
    j = text.find(end, i + len(start))
    if j == -1:
        return None
    return text[i + len(start) : j]


def _first_block(text: str) -> str:
    """The first lean4 block's text (the markdown kinds put the file contents there, before any example)."""
    i = text.find("```lean4\n")
    if i == -1:
        return ""
    j = text.find("\n```", i + len("```lean4\n"))
    return text[i + len("```lean4\n") : j] if j != -1 else ""


_FEWSHOT_STATE = "Tactic state:\n---\n"
_FEWSHOT_NEXT = "\n---\nNext tactic:\n---\n"
_MARKDOWN_STATE = "The current proof state is as follows:\n"
_MARKDOWN_STEP_TASK = "\n\nYour task is to generate the next tactic in the proof."
_MARKDOWN_QED_TASK = "\nYour task is to generate the proof."
_MARKDOWN_PREFIX = "The tactic you generate should start with "
_DECL = re.compile(r"^(?:@\[[^\]]*\]\s*)?(?:(?:private|protected|noncomputable)\s+)*(theorem|lemma|example)\b", re.M)


def parse_prompt(prompt: str) -> ParsedPrompt:
    """Read an LLMLean prompt (any kind, llmstep or llmqed), or a bare goal containing `⊢`.

    Raises PromptNotUnderstood when neither is found (e.g. few-shot's second prompt, which is the file
    contents alone when no prefix was typed: there is no goal in it)."""
    text = prompt.replace("\r\n", "\n")
    context = _between(text, "[CTX]\n", "\n[/CTX]") or _first_block(text)
    parsed = _parse_tagged(text, context) or _parse_fewshot_step(text) or _parse_markdown(text, context)
    if parsed is not None:
        return parsed
    if "⊢" in text:
        return ParsedPrompt(Task.TACTIC, PromptKind.PLAIN, text.strip("\n"), "", "")
    if _DECL.search(text):
        # Few-shot llmqed sends the file itself, ending at the theorem's statement.
        return ParsedPrompt(Task.PROOF, PromptKind.FEWSHOT, "", "", text)
    raise PromptNotUnderstood("no proof state in the prompt (neither an LLMLean prompt nor a goal with ⊢)")


def _parse_tagged(text: str, context: str) -> ParsedPrompt | None:
    """The instruction and reasoning prompts, marked with `[STATE]`, `[TAC]`, `[PROOF]`, `[THOUGHTS]`; else None."""
    if "[TAC]" in text and "[STATE]\n" in text:
        state = _between(text, "[STATE]\n", "\n[/STATE]")
        if state is not None:
            tail = text[text.rfind("\n[/STATE]\n") + len("\n[/STATE]\n") :]
            if tail.startswith("[TAC]\n"):
                return ParsedPrompt(Task.TACTIC, PromptKind.INSTRUCTION, state, tail[len("[TAC]\n") :], context)
            if tail.startswith("[THOUGHTS]\n"):
                return ParsedPrompt(Task.TACTIC, PromptKind.REASONING, state, tail[len("[THOUGHTS]\n") :], context)
    if "[PROOF]" in text and "[CTX]\n" in text:
        state = _between(text, "[STATE]\n", "\n[/STATE]") or ""
        kind = PromptKind.REASONING if "[THOUGHTS]" in text else PromptKind.INSTRUCTION
        return ParsedPrompt(Task.PROOF, kind, state, "", context)
    return None


def _parse_fewshot_step(text: str) -> ParsedPrompt | None:
    """The few-shot next-tactic prompt (`Tactic state:` ... `Next tactic:`), the typed prefix last; else None."""
    if _FEWSHOT_NEXT not in text or _FEWSHOT_STATE not in text:
        return None
    head, _, prefix = text.rpartition(_FEWSHOT_NEXT)
    state = head[head.rfind(_FEWSHOT_STATE) + len(_FEWSHOT_STATE) :]
    return ParsedPrompt(Task.TACTIC, PromptKind.FEWSHOT, state, prefix, "")


def _parse_markdown(text: str, context: str) -> ParsedPrompt | None:
    """The markdown prompts (`The current proof state is as follows:`), next tactic or whole proof; else None."""
    if _MARKDOWN_STATE not in text:
        return None
    if _MARKDOWN_STEP_TASK in text:
        state = _between(text, _MARKDOWN_STATE, _MARKDOWN_STEP_TASK) or ""
        prefix = ""
        marker = text.rfind(_MARKDOWN_PREFIX)
        if marker != -1 and marker > text.rfind("</think>."):
            prefix = text[marker + len(_MARKDOWN_PREFIX) :]
        return ParsedPrompt(Task.TACTIC, PromptKind.MARKDOWN, state, prefix, context)
    if _MARKDOWN_QED_TASK in text:
        state = _between(text, _MARKDOWN_STATE, _MARKDOWN_QED_TASK) or ""
        return ParsedPrompt(Task.PROOF, PromptKind.MARKDOWN, state, "", context)
    return None


def tactic_reply(parsed: ParsedPrompt, tactic: str) -> str:
    """The reply text from which the prompt kind's LLMLean parser recovers exactly `tactic`
    (which starts with `parsed.prefix`)."""
    rest = tactic[len(parsed.prefix) :] if tactic.startswith(parsed.prefix) else tactic
    if parsed.kind is PromptKind.MARKDOWN:
        return f"```lean4\n{tactic}\n```"
    if parsed.kind is PromptKind.REASONING:
        return f"[/THOUGHTS]\n[TAC]\n{rest}"
    if parsed.kind is PromptKind.PLAIN:
        return tactic
    return rest


def proof_reply(parsed: ParsedPrompt, proof: str) -> str:
    """The reply text from which LLMLean's proof parser for the prompt kind recovers `proof`."""
    if parsed.kind is PromptKind.MARKDOWN:
        return f"```lean4\n{proof}\n```"
    if parsed.kind is PromptKind.REASONING:
        return f"[/THOUGHTS]\n[PROOF]\n{proof}"
    return proof


def statement_from_context(context: str) -> tuple[str, str]:
    """(header, statement) of the last theorem in `context` (LLMLean's file contents up to and including the
    statement): the text before it, and the declaration without its trailing `:=`/`:= by`."""
    matches = list(_DECL.finditer(context))
    if not matches:
        raise PromptNotUnderstood("no theorem statement at the end of the file context")
    start = matches[-1].start()
    statement = re.sub(r"\s*:=\s*(by)?\s*$", "", context[start:].rstrip())
    return context[:start].rstrip("\n"), statement
