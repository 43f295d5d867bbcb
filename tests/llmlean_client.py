"""A stand-in for LLMLean's client side, read from cmu-l3/llmlean@13ab390:

- prompts: `LLMlean/API/Prompts.lean` (`makePrompts*`, `makeQedPrompts*`), the same text and interpolations;
- requests: `LLMlean/API/TacticGen.lean` / `ProofGen.lean` (`tacticGenerationOpenAI`, `tacticGenerationOllama`,
  `qedOpenAI`, `qedOllama`, ...) with the structures and defaults of `LLMlean/API/Common.lean`
  (`OpenAIGenerationRequest`, `OllamaGenerationRequest`, `defaultStopTactic`, `defaultStopProof`, temperature
  0.7, the Ollama loop sending temperature 0 when `i == 1`);
- reply parsing: `splitTac`, `splitProof`, `getMarkdownLeanCodeBlocks`, `parseTacticResponseOllamaMarkdown`,
  `extractProofFromMarkdownResponse`, `filterGeneration`.
"""

from __future__ import annotations

from typing import Any

FEWSHOT_EXAMPLES = """Given the Lean 4 tactic state, suggest a next tactic.
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


def make_prompts(kind: str, context: str, state: str, pre: str) -> list[str]:
    """`makePrompts promptKind context state pre`."""
    if kind == "fewshot":
        p1 = FEWSHOT_EXAMPLES + f"Tactic state:\n---\n{state}\n---\nNext tactic:\n---\n{pre}"
        return [p1, context if pre == "" else p1]
    if kind == "instruction":
        return [
            "/- You are proving a theorem in Lean 4.\nYou are given the following information:\n"
            "- The file contents up to the current tactic, inside [CTX]...[/CTX]\n"
            "- The current proof state, inside [STATE]...[/STATE]\n\n"
            "Your task is to generate the next tactic in the proof.\nPut the next tactic inside [TAC]...[/TAC].\n-/\n"
            f"[CTX]\n{context}\n[/CTX]\n[STATE]\n{state}\n[/STATE]\n[TAC]\n{pre}"
        ]
    if kind == "reasoning":
        return [
            "/- You are proving a theorem in Lean 4.\nYou are given the following information:\n"
            "- The file contents up to the current tactic, inside [CTX]...[/CTX]\n"
            "- The current proof state, inside [STATE]...[/STATE]\n\n"
            "Your task is to generate the next tactic in the proof.\nPut the next tactic inside [TAC]...[/TAC].\n"
            "If you find it helpful, you can precede the proof with brief thoughts inside [THOUGHTS]...[/THOUGHTS]\n"
            "In summary, your output should be of the form:\n[THOUGHTS]\n...\n[/THOUGHTS]\n[TAC]\n...\n[/TAC]\n\n"
            f"[CTX]\n{context}\n[/CTX]\n[STATE]\n{state}\n[/STATE]\n[THOUGHTS]\n{pre}"
        ]
    if kind == "markdown":
        p1 = (
            "You are proving a theorem in Lean 4.\nYou are given the following information:\n\n"
            f"The file contents up to the current tactic are as follows:\n\n```lean4\n{context}\n```\n\n"
            f"The current proof state is as follows:\n{state}\n\n"
            "Your task is to generate the next tactic in the proof.\n"
            "Generate this by writing a markdown file with the completed line, including the context of the file "
            "before it\nin a markdown code block.\n\n"
            "If you find it helpful, you can precede the proof with brief thoughts. When you are done, end with "
            "</think>.\n\n"
        )
        return [p1] if pre == "" else [p1 + f"The tactic you generate should start with {pre}"]
    raise ValueError(kind)


def make_qed_prompts(kind: str, context: str, state: str) -> list[str]:
    """`makeQedPrompts promptKind context state`."""
    if kind == "fewshot":
        return [context]
    if kind == "instruction":
        return [
            "/- You are proving a theorem in Lean 4.\nYou are given the following information:\n"
            "- The current file contents up to and including the theorem statement, inside [CTX]...[/CTX]\n\n"
            "Your task is to generate the proof.\nPut the proof inside [PROOF]...[/PROOF]\n-/\n"
            f"[CTX]\n{context}\n[/CTX]\n[PROOF]"
        ]
    if kind == "reasoning":
        return [
            "/- You are proving a theorem in Lean 4.\nYou are given the following information:\n"
            "- The file contents up to the current tactic, inside [CTX]...[/CTX]\n"
            "- The current proof state, inside [STATE]...[/STATE]\n\n"
            "Your task is to generate the rest of the proof.\nPut the generation inside [PROOF]...[/PROOF].\n"
            "If you find it helpful, you can precede the proof with brief thoughts inside [THOUGHTS]...[/THOUGHTS]\n"
            "In summary, your output should be of the form:\n[THOUGHTS]\n...\n[/THOUGHTS]\n[PROOF]\n...\n[/PROOF]\n"
            "Your proof will be checked by combining each line with a ; combinator and checking\n"
            "the resulting combined tactic.\nTherefore, make sure the proof is formatted as one tactic per line,\n"
            "with no additional comments or text.\n-/\n"
            f"[CTX]\n{context}\n[/CTX]\n[STATE]\n{state}\n[/STATE]\n"
        ]
    if kind == "markdown":
        return [
            "You are proving a theorem in Lean 4.\n\nYou are given the following information:\n"
            f"The file contents up to the current tactic are as follows:\n```lean4\n{context}\n```\n"
            f"The current proof state is as follows:\n{state}\nYour task is to generate the proof.\n"
            "Generate this by writing a markdown file with the completed proof, including the context of the file "
            "before it\nin a markdown code block.\n\nIMPORTANT: you must end by writing your full proof in the "
            "format:\n```lean4\n<... your proof here...>\n```\n\nIf you find it helpful, you can precede the proof "
            "with brief thoughts, outside the tactic blocks.\nIMPORTANT: Once you have written a complete proof, "
            "end with </think>.\n"
        ]
    raise ValueError(kind)


STOP_TACTIC = ["[/TAC]"]
STOP_PROOF = ["[/PROOF]", "</think>"]


def openai_request(model: str, prompt: str, n: int, stop: list[str], max_tokens: int = 512) -> dict[str, Any]:
    return {
        "model": model,
        "messages": [{"role": "user", "content": prompt}],
        "n": n,
        "temperature": 0.7,
        "max_tokens": max_tokens,
        "stream": False,
        "stop": stop,
    }


def ollama_requests(model: str, prompt: str, samples: int, stop: list[str], max_tokens: int = 128) -> list[dict]:
    return [
        {
            "model": model,
            "prompt": prompt,
            "options": {"temperature": 0.0 if i == 1 else 0.7, "stop": stop, "num_predict": max_tokens},
            "raw": False,
            "stream": False,
        }
        for i in range(samples)
    ]


def _split_tag(text: str, open_tag: str, close_tag: str) -> str:
    parts = text.split(open_tag)
    text = parts[1] if len(parts) > 1 else text  # `(splitOn open).tailD [text] |>.headD text`
    return text.split(close_tag)[0].strip()


def split_tac(text: str) -> str:
    return _split_tag(text, "[TAC]", "[/TAC]")


def split_proof(text: str) -> str:
    return _split_tag(text, "[PROOF]", "[/PROOF]")


def markdown_blocks(markdown: str) -> list[str]:
    markdown = markdown.replace("```lean\n", "```lean4\n").replace("```tactics\n", "```lean4\n")
    return [part.split("```")[0] for part in markdown.split("```lean4\n")[1:]]


def markdown_tactics(response: str) -> list[str]:
    return [line.strip() for block in markdown_blocks(response) for line in block.split("\n") if line.strip()]


def markdown_proof(context: str, response: str) -> str | None:
    blocks = markdown_blocks(response)
    if not blocks:
        return None
    last = blocks[-1]
    if context and len(parts := last.split(context)) > 1:
        return parts[1].strip()
    lines = [x for x in context.split("\n") if x.strip()]
    if lines and len(parts := last.split(lines[-1])) > 1:
        return parts[1].strip()
    return last.strip()


def keep(s: str) -> bool:
    """`filterGeneration`."""
    return not any(b in s for b in ("sorry", "admit", "▅"))
