"""Every prompt template, defined once and shared by generation (prover) and training (train).

A trained checkpoint records its template name, so prompt and model never drift apart.
Literal formats come from ../shared/data/PROMPTS.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

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


_FIELD = re.compile(r"\{(state|name|proof_before)\}")

# InternLM's chat turn, as InternLM-Math's step-prover search writes it by hand (`chat_template_to_prompt` in
# minif2f/proofsearch_internLM2.5-StepProver.py): one user message, then the assistant's turn opens.
CHAT_TURN_OPEN = "<|im_start|>user\n"
CHAT_TURN_CLOSE = "<|im_end|>\n<|im_start|>assistant\n"
CHAT_TURN_END = "<|im_end|>"


@dataclass(frozen=True)
class PromptTemplate:
    """A tactic-prediction prompt.

    `prompt` contains `{state}`, and may contain `{name}` (the theorem's name) and `{proof_before}` (the
    tactics from the root to this state, one per line). The model's completion is `completion_prefix +
    tactic + end_marker`; generation stops at any of `stop` (or at EOS when `end_marker` is empty).
    `chat_turn` wraps the whole text as one InternLM chat turn (`CHAT_TURN_OPEN` … `CHAT_TURN_CLOSE`).
    `ranking` orders a state's candidates: `sum` by summed token log-probability, `mean` by the mean
    per token (InternLM's step provers sort by `cumulative_logprob / len(token_ids)`).
    """

    name: str
    prompt: str
    stop: tuple[str, ...]
    end_marker: str = ""
    completion_prefix: str = ""
    fewshot_prefix: str = ""
    echo_marker: str = ""
    chat_turn: bool = False
    ranking: Literal["sum", "mean"] = "sum"

    def render(
        self,
        state: str,
        context: InformalContext | None = None,
        theorem_name: str | None = None,
        proof_before: Sequence[str] = (),
    ) -> str:
        # One pass over the placeholders, so a state or name that happens to contain `{state}` stays literal.
        values = {"state": state, "name": theorem_name or "", "proof_before": "\n".join(proof_before)}
        query = _FIELD.sub(lambda m: values[m.group(1)], self.prompt)
        text = self.fewshot_prefix + informal_comment(context) + query
        return f"{CHAT_TURN_OPEN}{text}{CHAT_TURN_CLOSE}" if self.chat_turn else text

    def render_request(
        self,
        state: str,
        context: InformalContext | None = None,
        prefix: str = "",
        theorem_name: str | None = None,
        proof_before: Sequence[str] = (),
    ) -> str:
        """The prompt, continued by a tactic prefix the user typed (Lean Copilot's `prefix`)."""
        text = self.render(state, context, theorem_name, proof_before)
        return text + self.completion_prefix + prefix if prefix else text

    def completion(self, tactic: str) -> str:
        """The text a model trained with this template should produce after the prompt."""
        return f"{self.completion_prefix}{tactic}{self.end_marker}"

    def rank_key(self, logprob: float, num_tokens: int) -> float:
        """Higher is better: the summed log-probability, or its mean per token (`ranking = "mean"`)."""
        return logprob / max(num_tokens, 1) if self.ranking == "mean" else logprob

    def extract(self, generated: str) -> str:
        """Cut a raw completion at the first stop string and strip it."""
        text = generated
        if self.echo_marker and self.echo_marker in text:
            # A model that echoes its prompt (BFS-Prover: "{state}:::tactic") answers after the marker.
            text = text[text.rfind(self.echo_marker) + len(self.echo_marker) :]
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
    # BFS-Prover V1/V2 (ByteDance-Seed/BFS-Prover-V2-7B model card): the prompt is "{state}:::", the tactic
    # follows and ends at EOS; the card's example decodes prompt and answer together, so text after the
    # last ":::" is the tactic.
    "bfs": PromptTemplate(name="bfs", prompt="{state}:::", stop=(), echo_marker=":::"),
    # InternLM2.5-StepProver (InternLM/InternLM-Math minif2f/proofsearch_internLM2.5-StepProver.py
    # `_prompt_function`, `chat_template_to_prompt`, `generate_vllm`): NAME is the theorem's full name,
    # PROOF_BEFORE the tactics from the root to this state joined by newlines, the whole text one chat turn;
    # the tactic ends at `<|im_end|>` and candidates are ranked by mean token log-probability.
    "internlm-step": PromptTemplate(
        name="internlm-step",
        prompt="---\nNAME: {name}\n\n---\nPROOF_BEFORE: {proof_before}\n\n---\nSTATE_BEFORE: {state}\n\n---\nTACTIC: ",
        stop=(CHAT_TURN_END,),
        end_marker=CHAT_TURN_END,
        chat_turn=True,
        ranking="mean",
    ),
    # InternLM2-StepProver (same repository, minif2f/proofsearch_internLM2-StepProver.py): `DECL name`,
    # `GOAL state`; the answer starts with `PROOFSTEP ` (dropped by its extractor) and ends at `<|im_end|>`.
    "internlm2-step": PromptTemplate(
        name="internlm2-step",
        prompt="DECL {name}\nGOAL {state}\n",
        stop=(CHAT_TURN_END,),
        end_marker=CHAT_TURN_END,
        completion_prefix="PROOFSTEP ",
        chat_turn=True,
        ranking="mean",
    ),
    # ReProver's ByT5 tactic generators (lean-dojo/ReProver@fd6d99c prover/tactic_generator.py, template "%s"):
    # an encoder-decoder whose input is the state itself and whose output is the tactic, ended by EOS.
    "reprover": PromptTemplate(name="reprover", prompt="{state}", stop=()),
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
# DeepSeek-Prover-V1.5's chain-of-thought mode (prover/utils.py `cot_prompt`): the same continuation, asking
# for a comment before each line of code.
COT_INSTRUCTION = (
    "Complete the following Lean 4 code with explanatory comments preceding each line of code:\n\n```lean4\n"
)


def deepseek_informal_prefix(informal_statement: str | None) -> str:
    """The informal statement as DeepSeek-Prover's miniF2F data writes it (`informal_prefix`): `/-- {text}-/`.

    Byte for byte as in deepseek-ai/DeepSeek-Prover-V1.5 datasets/minif2f.jsonl, which Goedel-Prover-V2's
    dataset and the DeepSeek-Prover-V2 card repeat: no space before `-/`, the text as given."""
    return f"/-- {informal_statement}-/\n" if informal_statement else ""


def header_block(header: str) -> str:
    """`header` ending in one blank line, as the upstream datasets' `header` fields do."""
    return header if header.endswith("\n\n") else header.rstrip("\n") + "\n\n"


def whole_proof_prompt(
    formal_statement: str,
    informal_prefix: str = "",
    header: str = DEEPSEEK_HEADER,
    examples: Iterable[FewShotExample] = (),
    instruction: str = WHOLE_PROOF_INSTRUCTION,
) -> str:
    """DeepSeek-Prover-V1.5 whole-proof prompt; `formal_statement` ends with `:= by\\n`.

    The inner code fence is left open so the model continues the proof; generation stops at the closing
    fence. Few-shot examples come first, each closed (`non_cot_few_shot_prompt`/`cot_few_shot_prompt`); an
    example row has no header of its own, so it gets the default one (`LEAN4_DEFAULT_HEADER` upstream).
    """
    shots = "".join(
        f"{instruction}{DEEPSEEK_HEADER}{ex.informal_prefix}{ex.formal_statement}{ex.formal_proof}\n```\n\n\n"
        for ex in examples
    )
    return f"{shots}{instruction}{header}{informal_prefix}{formal_statement}"


WHOLE_PROOF_STOP = ("```",)


# ----------------------------------------------------------------------------- whole-proof templates

PROOF_PLAN_INSTRUCTION = (
    "Before producing the Lean 4 code to formally prove the given theorem, provide a detailed proof plan "
    "outlining the main proof steps and strategies.\n"
    "The plan should highlight key ideas, intermediate lemmas, and proof structures that will guide the "
    "construction of the final formal proof."
)
KIMINA_SYSTEM = "You are an expert in mathematics and Lean 4."


@dataclass(frozen=True)
class WholeProofTemplate:
    """A prompt for models that write a whole proof at once.

    `continuation` (DeepSeek-Prover-V1.5): the prompt ends inside an open ```` ```lean4 ```` fence right
    after `:= by`, the completion is the tactic block and stops at the closing fence; `instruction` opens
    it (non-CoT or CoT). Otherwise the model (chat, usually reasoning first) answers with the whole theorem
    in a ```` ```lean4 ```` block; the last such block holds the proof. `chat` templates give the user
    message (and `system`), which the generator wraps in the tokenizer's own chat template.
    `inline_sorry`: the statement is shown as `:= by sorry` with the closing fence right after it
    (Goedel-Prover-V2's src/utils.py), not `:= by\\n  sorry` and a fence on its own line (DeepSeek-Prover-V2).
    """

    name: str
    continuation: bool
    stop: tuple[str, ...] = ()
    chat: bool = False
    system: str | None = None
    few_shot: bool = False
    instruction: str = WHOLE_PROOF_INSTRUCTION
    inline_sorry: bool = False

    def code(self, statement: str, header: str, informal_statement: str | None = None, sorry: bool = True) -> str:
        """The Lean code shown to the model: header, the informal statement as a doc comment, the theorem."""
        body = " := by\n  sorry" if sorry else " := by\n"
        doc = deepseek_informal_prefix(informal_statement)
        return f"{header_block(header)}{doc}{statement.rstrip()}{body}"

    def user_message(
        self,
        statement: str,
        header: str = DEEPSEEK_HEADER,
        informal_statement: str | None = None,
        informal_proof: str | None = None,
        examples: Iterable[FewShotExample] = (),
    ) -> str:
        """The prompt (continuation templates) or the user message (chat templates) for one theorem.

        `statement` is the declaration up to `:=`. An informal proof, where given, opens the tactic
        block as a comment (continuation) or follows the problem (chat)."""
        if self.continuation:
            formal = f"{statement.rstrip()} := by\n"
            if informal_proof:
                formal += "  /- " + informal_proof.strip().replace("\n", "\n  ") + "\n  -/\n"
            return whole_proof_prompt(
                formal,
                deepseek_informal_prefix(informal_statement),
                header=header_block(header),
                examples=examples if self.few_shot else (),
                instruction=self.instruction,
            )
        if self.name == "kimina":
            # Kimina-Prover model card (AI-MO/Kimina-Prover-72B, "Quick Start"): problem in words, then the
            # formal statement ending at `:= by`, in a lean4 fence.
            problem = (informal_statement or "").strip()
            if informal_proof:
                problem += "\n" + informal_proof.strip()
            code = self.code(statement, header, informal_statement, sorry=False)
            return (
                "Think about and solve the following problem step by step in Lean 4.\n"
                f"# Problem:{problem}\n# Formal statement:\n```lean4\n{code}\n```\n"
            )
        # DeepSeek-Prover-V2 model card ("Quick Start") and Goedel-Prover-V2 (src/utils.py
        # `DeepSeekCoTHandler.prover_inference`): the theorem with `sorry`, then the request for a proof plan.
        extra = f"\n\nInformal proof:\n{informal_proof.strip()}" if informal_proof else ""
        if self.inline_sorry:
            code = (
                f"{header_block(header)}{deepseek_informal_prefix(informal_statement)}{statement.rstrip()} := by sorry"
            )
            return f"Complete the following Lean 4 code:\n\n```lean4\n{code}```{extra}\n\n{PROOF_PLAN_INSTRUCTION}"
        code = self.code(statement, header, informal_statement, sorry=True)
        return f"Complete the following Lean 4 code:\n\n```lean4\n{code}\n```{extra}\n\n{PROOF_PLAN_INSTRUCTION}"

    def messages(self, user: str) -> list[dict[str, str]]:
        """Chat messages for `user` (the output of `user_message`)."""
        system = [{"role": "system", "content": self.system}] if self.system else []
        return [*system, {"role": "user", "content": user}]


WHOLE_TEMPLATES: dict[str, WholeProofTemplate] = {
    # DeepSeek-Prover-V1.5 (deepseek-ai/DeepSeek-Prover-V1.5 prover/utils.py `non_cot_prompt`, `cot_prompt`,
    # `post_process_output`): no chat template, few-shot examples allowed, the answer ends at the first fence.
    "deepseek-v1.5": WholeProofTemplate(name="deepseek-v1.5", continuation=True, stop=("```",), few_shot=True),
    "deepseek-v1.5-cot": WholeProofTemplate(
        name="deepseek-v1.5-cot", continuation=True, stop=("```",), few_shot=True, instruction=COT_INSTRUCTION
    ),
    "deepseek-v2": WholeProofTemplate(name="deepseek-v2", continuation=False, chat=True),
    "goedel-v2": WholeProofTemplate(name="goedel-v2", continuation=False, chat=True, inline_sorry=True),
    "kimina": WholeProofTemplate(name="kimina", continuation=False, chat=True, system=KIMINA_SYSTEM),
}


def get_whole_template(name: str) -> WholeProofTemplate:
    try:
        return WHOLE_TEMPLATES[name]
    except KeyError:
        known = ", ".join(sorted(WHOLE_TEMPLATES))
        raise ValueError(f"unknown whole-proof template {name!r} (known: {known})") from None
