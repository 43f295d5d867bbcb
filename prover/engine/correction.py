"""Self-correction prompts: Lean's errors on a failed whole proof, in the format the model was trained on.

Goedel-Prover-V2's pipeline (Goedel-LM/Goedel-Prover-V2 `src/utils.py` @2e9036e: `get_error_str` with
`error_thres=True`, `DeepSeekCoTHandler.generate_correction_prompt`; `src/inference.py` calls them) continues
the chat: the original request, the model's full failed output as the assistant turn, then a user turn naming
the round and listing each error (4 lines before it, its span marked `<error>…</error>` with a multi-line span
cut after 6 lines, the line after it, Lean's message), at most 8 errors. The errors are the compile's messages
of severity error (its `lean_compiler/repl_scheduler.py` keeps those as `errors`). A prompt longer than 3/4 of
the model's context is not sent (`src/inference.py`: `max_length = max_model_len * 3 / 4`).
tests/test_correction.py checks the bytes against that code's own output on recorded REPL errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lean_env.messages import LeanMessage

MAX_ERRORS = 8  # errors shown (`error_thres=True`); the rest are counted
SPAN_LINES = 6  # lines of a multi-line span shown before it is cut
CONTEXT_BEFORE = 4  # lines shown before an error's first line
CONTEXT_FRACTION = 3 / 4  # a prompt over this share of the model's context is not sent


@dataclass(frozen=True)
class ChatTurn:
    role: str
    content: str

    def to_json(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


def _marked(lines: list[str], message: LeanMessage) -> str:
    """The code around one error with its span in `<error>…</error>`.

    Line numbers index `lines` as Goedel's builder does, Python indexing included: a tactic-mode message of the
    REPL sits at line 0 (repl/invalid_tactic), so its line index is -1, the last line, exactly as there."""
    assert message.pos is not None
    first, first_col = message.pos.line - 1, message.pos.column
    if message.end_pos is None:  # no end reported: the span runs to the end of its first line
        last, last_col = first, len(lines[first])
    else:
        last, last_col = message.end_pos.line - 1, message.end_pos.column
    out = [lines[first + k] + "\n" for k in range(-CONTEXT_BEFORE, 0) if first + k >= 0]
    if first == last:
        line = lines[first]
        out.append(f"{line[:first_col]}<error>{line[first_col:last_col]}</error>{line[last_col:]}\n")
    else:
        out.append(f"{lines[first][:first_col]}<error>{lines[first][first_col:]}\n")
        shown = list(range(first + 1, min(last, first + SPAN_LINES)))
        out += [lines[j] + "\n" for j in shown]
        if last > first + SPAN_LINES:
            indent = len(lines[shown[-1]]) - len(lines[shown[-1]].lstrip(" "))
            out.append("\n" + " " * indent + "... --[Truncated]-- ...\n")
        out.append(f"{lines[last][:last_col]}</error>{lines[last][last_col:]}\n")
    if last + 1 < len(lines):
        out.append(lines[last + 1] + "\n")
    return "".join(out)


def error_report(code: str, messages: Sequence[LeanMessage]) -> str:
    """The errors of a compile of `code` as the correction turn lists them (byte-equal to `get_error_str(code,
    errors, error_thres=True)`). Messages of other severities are not errors and are left out."""
    errors = [m for m in messages if m.is_error and m.pos is not None]
    lines = code.split("\n")
    parts = []
    for i, message in enumerate(errors[:MAX_ERRORS], 1):
        parts.append(
            f"\nError {i}:\n\nCorresponding Code:\n```lean4\n{_marked(lines, message)}\n```\n"
            f"\nError Message: {message.data}\n"
        )
    if len(errors) > MAX_ERRORS:
        parts.append(f"\n... [Omitted {len(errors) - MAX_ERRORS} more errors] ...\n")
    return "".join(parts)


def correction_chat(history: Sequence[ChatTurn], failed_output: str, report: str, round_number: int) -> list[ChatTurn]:
    """The chat for correction round `round_number` (1 for the first correction): the earlier turns, the
    model's failed output, and the request naming the failed round with the error report."""
    request = (
        f"The proof (Round {round_number - 1}) is not correct. Following is the compilation error message, "
        f"where we use <error></error> to signal the position of the error.\n\n{report}"
        "\n\nBefore producing the Lean 4 code to formally prove the given theorem, provide a detailed analysis "
        "of the error message."
    )
    return [*history, ChatTurn("assistant", failed_output), ChatTurn("user", request)]


def fits_context(prompt_tokens: int, max_model_len: int) -> bool:
    """Whether a prompt of `prompt_tokens` may be sent to a model of context `max_model_len`."""
    return prompt_tokens <= max_model_len * CONTEXT_FRACTION
