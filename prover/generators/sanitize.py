"""Turn raw model completions into single, clean, allowed tactics.

A completion is cut at the template's stop strings, reduced to one tactic (the first line,
plus indented continuation lines), stripped of trailing comments and unmatched closing
brackets, and refused when it is truncated, garbled or forbidden by `lean_env.tactic_filter`.
"""

from __future__ import annotations

from collections.abc import Callable

from prover.templates import PromptTemplate

_OPEN = {"(": ")", "[": "]", "{": "}", "⟨": "⟩", "⟦": "⟧", "⦃": "⦄"}
_CLOSE = {v: k for k, v in _OPEN.items()}

# Used only until `lean_env.tactic_filter` is importable; the verifier re-checks every proof anyway.
_FALLBACK_FORBIDDEN = ("sorry", "admit", "native_decide", "run_tac", "#eval", "set_option")


def _fallback_check(tactic: str, allow_native_decide: bool = False) -> str | None:
    for word in _FALLBACK_FORBIDDEN:
        if word == "native_decide" and allow_native_decide:
            continue
        if word in tactic:
            return f"forbidden: {word}"
    return None


def _load_filter() -> Callable[..., str | None]:
    try:
        from lean_env.tactic_filter import check_tactic
    except ImportError:
        return _fallback_check
    return check_tactic


def _strip_fences(text: str) -> str:
    lines = [ln for ln in text.split("\n") if not ln.strip().startswith("```")]
    return "\n".join(lines)


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
    text = template.extract(raw) if template is not None else raw
    text = text.replace("\r\n", "\n").replace("\t", "  ")
    text = _strip_fences(text)
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
    return balanced or None


class Sanitizer:
    """Cleans completions and refuses forbidden tactics (through `lean_env.tactic_filter`)."""

    def __init__(self, template: PromptTemplate | None = None, allow_native_decide: bool = False) -> None:
        self.template = template
        self.allow_native_decide = allow_native_decide
        self._check: Callable[..., str | None] | None = None

    def refusal(self, tactic: str) -> str | None:
        if self._check is None:
            self._check = _load_filter()
        return self._check(tactic, allow_native_decide=self.allow_native_decide)

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
