"""Every prompt template, defined once and shared by generation (prover) and training (train).

A trained checkpoint records its template name, so prompt and model never drift apart.
Literal formats come from ../shared/data/PROMPTS.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from search.types import InformalContext

LLEMMA_FEWSHOT_PREFIX = """Given the Lean 4 tactic state, suggest a next tactic.
Here are some examples:

Tactic state:
---
α : Type u_1
r : α → α → Prop
inst✝¹ : DecidableEq α
inst✝ : IsIrrefl α r
⊢ CutExpand r ≤ InvImage (Finsupp.Lex (rᶜ ⊓ fun x x_1 => x ≠ x_1) fun x x_1 => x < x_1) ↑toFinsupp
---
Next tactic:
---
rintro s t ⟨u, a, hr, he⟩
---

Tactic state:
---
ι : Type u_1
I✝ J✝ : Box ι
x y : ι → ℝ
I J : WithBot (Box ι)
⊢ ↑I = ↑J ↔ I = J
---
Next tactic:
---
simp only [Subset.antisymm_iff, ← le_antisymm_iff, withBotCoe_subset_iff]
---

Tactic state:
---
m n : ℕ
h : Nat.coprime m n
⊢ Nat.gcd m n = 1
---
Next tactic:
---
rw [← h.gcd_eq_one]
---

"""

LLEMMA_QUERY = "Tactic state:\n---\n{state}\n---\nNext tactic:\n---"

# The header DeepSeek-Prover-V1.5 uses for whole-proof prompts.
DEEPSEEK_HEADER = (
    "import Mathlib\nimport Aesop\n\nset_option maxHeartbeats 0\n\nopen BigOperators Real Nat Topology Rat\n\n"
)


def informal_comment(context: InformalContext | None) -> str:
    """DeepSeek-Prover style: informal statement as a doc comment, informal proof as a comment."""
    if context is None or not (context.statement or context.proof):
        return ""
    parts = []
    if context.statement:
        parts.append(f"/-- {context.statement.strip()} -/\n")
    if context.proof:
        parts.append(f"/- {context.proof.strip()} -/\n")
    return "".join(parts)


@dataclass(frozen=True)
class PromptTemplate:
    """A tactic-prediction prompt.

    `prompt` contains `{state}`. The model's completion is `completion_prefix + tactic +
    end_marker`; generation stops at any of `stop` (or at EOS when `end_marker` is empty).
    """

    name: str
    prompt: str
    stop: tuple[str, ...]
    end_marker: str = ""
    completion_prefix: str = ""
    fewshot_prefix: str = ""

    def render(self, state: str, context: InformalContext | None = None) -> str:
        query = self.prompt.replace("{state}", state)
        return self.fewshot_prefix + informal_comment(context) + query

    def render_request(self, state: str, context: InformalContext | None = None, prefix: str = "") -> str:
        """The prompt, continued by a tactic prefix the user typed (Lean Copilot's `prefix`)."""
        text = self.render(state, context)
        return text + self.completion_prefix + prefix if prefix else text

    def completion(self, tactic: str) -> str:
        """The text a model trained with this template should produce after the prompt."""
        return f"{self.completion_prefix}{tactic}{self.end_marker}"

    def extract(self, generated: str) -> str:
        """Cut a raw completion at the first stop string and strip it."""
        text = generated
        if self.completion_prefix and text.startswith(self.completion_prefix):
            text = text[len(self.completion_prefix) :]
        cut = len(text)
        for marker in self.stop:
            pos = text.find(marker)
            if pos != -1:
                cut = min(cut, pos)
        return text[:cut].strip()


TEMPLATES: dict[str, PromptTemplate] = {
    "llemma": PromptTemplate(
        name="llemma",
        fewshot_prefix=LLEMMA_FEWSHOT_PREFIX,
        prompt=LLEMMA_QUERY,
        completion_prefix="\n",
        end_marker="\n---",
        stop=("---",),
    ),
    "proofsteps": PromptTemplate(
        name="proofsteps",
        prompt="[GOAL]\n{state}\n[PROOFSTEP]\n",
        end_marker="\n[GOAL]",
        stop=("[GOAL]", "[PROOFSTEP]"),
    ),
    "bfs": PromptTemplate(name="bfs", prompt="{state}:::", stop=()),
}


def custom_template(
    prompt: str, stop: Sequence[str] = (), end_marker: str = "", name: str = "custom"
) -> PromptTemplate:
    if "{state}" not in prompt:
        raise ValueError("a custom prompt template must contain {state}")
    return PromptTemplate(name=name, prompt=prompt, stop=tuple(stop), end_marker=end_marker)


def get_template(name: str) -> PromptTemplate:
    try:
        return TEMPLATES[name]
    except KeyError:
        known = ", ".join(sorted(TEMPLATES))
        raise ValueError(f"unknown prompt template {name!r} (known: {known}, or a custom template)") from None


@dataclass(frozen=True)
class FewShotExample:
    informal_prefix: str
    formal_statement: str
    formal_proof: str


WHOLE_PROOF_INSTRUCTION = "Complete the following Lean 4 code:\n\n```lean4\n"


def whole_proof_prompt(
    formal_statement: str,
    informal_prefix: str = "",
    header: str = DEEPSEEK_HEADER,
    examples: Iterable[FewShotExample] = (),
) -> str:
    """DeepSeek-Prover-V1.5 whole-proof prompt; `formal_statement` ends with `:= by\\n`.

    The inner code fence is left open so the model continues the proof; generation
    stops at the closing fence.
    """
    shots = "".join(
        f"{WHOLE_PROOF_INSTRUCTION}{header}{ex.informal_prefix}{ex.formal_statement}{ex.formal_proof}\n```\n\n\n"
        for ex in examples
    )
    return f"{shots}{WHOLE_PROOF_INSTRUCTION}{header}{informal_prefix}{formal_statement}"


WHOLE_PROOF_STOP = ("```",)
