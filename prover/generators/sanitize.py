"""Turn raw model completions into single, clean, allowed tactics.

A completion loses its reasoning blocks (`<think>…</think>`, as chain-of-thought provers such as
Kimina-Prover and Goedel-Prover-V2 write them), is cut at the template's stop strings, and when it
holds a fenced code block (```` ```lean4 ````) only the code counts: the last complete block, as
the model cards of those provers say their answer is. It is then reduced to one tactic (the first
line, plus indented continuation lines), stripped of trailing comments and unmatched closing
brackets, and refused when it is truncated (an open bracket, or a last token that needs more:
`have h : x = 2 := by`), garbled, or forbidden by `lean_env.checks.tactic_filter`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable

from lean_env.checks.tactic_filter import check_tactic
from prover.templates import PromptTemplate
from search.types import Candidate

_OPEN = {"(": ")", "[": "]", "{": "}", "⟨": "⟩", "⟦": "⟧", "⦃": "⦄"}
_CLOSE = {v: k for k, v in _OPEN.items()}

_THINK_OPEN = "<think>"
_THINK_CLOSE = "</think>"
_FENCE = re.compile(r"^\s*```\s*([A-Za-z0-9_+-]*)\s*$")


def drop_reasoning(text: str) -> str | None:
    """`text` without its reasoning: everything up to the last `</think>` goes (an R1-style chat template
    opens `<think>` in the prompt, so a completion may hold only the closing tag). None when a reasoning
    block is still open: the token limit cut the model off before it answered."""
    close = text.rfind(_THINK_CLOSE)
    if close != -1:
        text = text[close + len(_THINK_CLOSE) :]
    if _THINK_OPEN in text:
        return None
    return text


def fenced_code(text: str) -> str:
    """The code of `text` when it has Markdown fences, else `text` unchanged.

    The last complete block wins (a chain-of-thought model may draft and then revise); a block left
    open by the token limit counts when no block is complete. A lone untagged fence after some text
    is a closing fence (the prompt opened it, as DeepSeek-Prover-V1.5's does): the text before it.
    """
    lines = text.split("\n")
    fences = [(i, m.group(1)) for i, line in enumerate(lines) if (m := _FENCE.match(line))]
    if not fences:
        return text
    first, lang = fences[0]
    if not lang and len(fences) % 2 == 1 and "\n".join(lines[:first]).strip():
        return "\n".join(lines[:first])
    blocks = [(fences[j][0], fences[j + 1][0]) for j in range(0, len(fences) - 1, 2)]
    if blocks:
        start, end = blocks[-1]
        return "\n".join(lines[start + 1 : end])
    return "\n".join(lines[first + 1 :])


def _strip_fences(text: str) -> str:
    lines = [ln for ln in text.split("\n") if not ln.strip().startswith("```")]
    return "\n".join(lines)


# A tactic whose last token needs something after it was cut off (by the token limit or a stop string
# inside a nested block): `have h : x = 2 := by`, `simp at`, `cases h with`, `use 2,`. Keywords count only
# as whole words after a space (`h.exact` is a name); `*` and `⊢` are left out (`simp at *`, `at h ⊢`).
_NEEDS_MORE_WORDS = (
    "by|with|at|fun|λ|from|using|calc|then|else|do|if|generalizing|exact|apply|refine|refine'|use|show|"
    "have|obtain|rcases|specialize|suffices|let|match|rw|rewrite|simp_rw|induction|cases"
)
_TRUNCATED = re.compile(
    rf"(?:(?:^|\s)(?:{_NEEDS_MORE_WORDS})|:=|=>|,|·|\||←|→|↔|∧|∨|=|≠|≤|≥|<|>|\+|-|/|\^|∘|\$|<\||\|>|:|\.)$"
)


def _truncated(text: str) -> bool:
    return bool(_TRUNCATED.search(text.rstrip()))


def _single_tactic(text: str) -> str:
    """The first non-empty line plus lines that continue it (more indented, or match arms after `with`)."""
    lines = text.split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    if not lines:
        return ""
    first = lines[0]
    base_indent = len(first) - len(first.lstrip())
    kept = [first.strip()]
    arms = first.rstrip().endswith("with")
    for line in lines[1:]:
        if not line.strip():
            break
        indent = len(line) - len(line.lstrip())
        if indent > base_indent or (arms and line.lstrip().startswith("|")):
            kept.append(line.rstrip()[base_indent:] if indent >= base_indent else line.strip())
        else:
            break
    return "\n".join(kept)


def _strip_comment(text: str) -> str:
    out = []
    for line in text.split("\n"):
        pos = line.find("--")
        # `--` inside a string literal is rare in tactics; a trailing comment is junk.
        if pos != -1 and line.count('"', 0, pos) % 2 == 0:
            line = line[:pos]
        out.append(line.rstrip())
    return "\n".join(out).strip()


def _balance(text: str) -> str | None:
    """Cut at the first unmatched closing bracket; None when a bracket is left open (truncated output)."""
    stack: list[str] = []
    in_string = False
    for i, ch in enumerate(text):
        if ch == '"' and (i == 0 or text[i - 1] != "\\"):
            in_string = not in_string
        if in_string:
            continue
        if ch in _OPEN:
            stack.append(ch)
        elif ch in _CLOSE:
            if not stack or stack[-1] != _CLOSE[ch]:
                return text[:i].rstrip() if not stack else None
            stack.pop()
    if stack or in_string:
        return None
    return text


def _garbled(text: str) -> bool:
    # U+FFFD comes from decoding invalid UTF-8; control characters are never Lean syntax.
    return any(ch == "\ufffd" or (ord(ch) < 32 and ch not in "\n\t") or 0x7F <= ord(ch) < 0xA0 for ch in text)


def clean_tactic(raw: str, template: PromptTemplate | None = None) -> str | None:
    """The single tactic in a raw completion, or None when nothing usable is left (no filter applied)."""
    reasoned = drop_reasoning(raw.replace("\r\n", "\n"))
    if reasoned is None:
        return None
    text = template.extract(reasoned) if template is not None else reasoned
    text = text.replace("\t", "  ")
    text = _strip_fences(fenced_code(text))
    text = _single_tactic(text)
    text = _strip_comment(text)
    while text.endswith((";", "<;>")):
        text = text.removesuffix("<;>").removesuffix(";").rstrip()
    if not text or _garbled(text):
        return None
    balanced = _balance(text)
    if balanced is None:
        return None
    balanced = balanced.rstrip().rstrip(";").rstrip()
    while balanced.endswith("<;>"):
        balanced = balanced.removesuffix("<;>").rstrip()
    if not balanced or _truncated(balanced):
        return None
    return balanced


class Sanitizer:
    """Cleans completions and refuses forbidden tactics (through `lean_env.checks.tactic_filter`)."""

    def __init__(self, template: PromptTemplate | None = None, allow_native_decide: bool = False) -> None:
        self.template = template
        self.allow_native_decide = allow_native_decide

    def refusal(self, tactic: str) -> str | None:
        return check_tactic(tactic, allow_native_decide=self.allow_native_decide)

    def __call__(self, raw: str, prefix: str = "") -> str | None:
        """The tactic `raw` stands for (which must start with `prefix`), or None if it is unusable or refused."""
        tactic = clean_tactic(raw, self.template)
        if tactic is None:
            return None
        if prefix and not tactic.startswith(prefix.strip()):
            return None
        if self.refusal(tactic) is not None:
            return None
        return tactic


def sanitize_tactic(
    raw: str, template: PromptTemplate | None = None, prefix: str = "", allow_native_decide: bool = False
) -> str | None:
    """One-shot form of `Sanitizer(template, allow_native_decide)(raw, prefix)`."""
    return Sanitizer(template, allow_native_decide)(raw, prefix)


def best_candidates(
    samples: Iterable[tuple[str, float, int]],
    prefix: str,
    sanitizer: Sanitizer,
    rank: Callable[[Candidate], float],
    k: int,
) -> list[Candidate]:
    """The `k` best distinct tactics of one request's samples, best first by `rank`.

    `samples` are (completion text, summed log-probability, generated tokens); `prefix` is the tactic prefix the
    user typed, which each text must start with (callers whose prompt already held it put it back in front of the
    text first). A sample with a non-finite log-probability (a beam cut off, a NaN) or whose text the sanitiser
    refuses is dropped; of several samples that clean to one tactic, the best-ranked one stands for it. Every
    generator (HF, seq2seq, vLLM) builds its candidates here, so they rank and clean alike.
    """
    best: dict[str, Candidate] = {}
    for text, logprob, num_tokens in samples:
        if not math.isfinite(logprob):
            continue
        tactic = sanitizer(text, prefix)
        if tactic is None:
            continue
        cand = Candidate(tactic=tactic, logprob=logprob, num_tokens=max(num_tokens, 1))
        kept = best.get(tactic)
        if kept is None or rank(cand) > rank(kept):
            best[tactic] = cand
    return sorted(best.values(), key=rank, reverse=True)[:k]
