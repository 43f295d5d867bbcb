"""The `scripted` generator: whole-proof model outputs played back from a JSONL, each verified like any other.

Two keyings, one per line (a file may hold both):

- another system's published outputs: `{"theorem": NAME, "sample": I, "output": TEXT}`: sample I of a
  theorem, its prompt not compared (`prover sweep --generator scripted --outputs outputs.jsonl` re-verifies
  them: attempt I of a problem is sample I);
- this project's recorded runs: `{"theorem": NAME, "round": R, "prompt_sha256": HEX, "output": TEXT}`: the
  reply to exactly that conversation in round R (`prompt_hash`: SHA-256 of the chat turns as JSON); a prompt
  that was not recorded is an error, never a guess.

`"tokens"` (optional) is the output's generated-token count, for the cost accounting.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from prover.engine.correction import ChatTurn
from prover.engine.strategies import Sample
from prover.engine.target import ProofTarget


class ScriptedOutputError(ValueError):
    """The outputs file cannot be read, or holds no output for what was asked."""


def prompt_hash(turns: Sequence[ChatTurn]) -> str:
    blob = json.dumps([t.to_json() for t in turns], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ScriptedOutputs:
    path: str
    samples: dict[str, dict[int, Sample]]
    replies: dict[tuple[str, int, str], list[Sample]]

    @classmethod
    def load(cls, path: str | Path) -> ScriptedOutputs:
        p = Path(path).expanduser()
        try:
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ScriptedOutputError(f"cannot read the scripted outputs {p}: {exc}") from None
        samples: dict[str, dict[int, Sample]] = {}
        replies: dict[tuple[str, int, str], list[Sample]] = {}
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                name, output = str(row["theorem"]), row["output"]
                if not isinstance(output, str):
                    raise TypeError("output is not a string")
                sample = Sample(output, int(row.get("tokens", 0)))
                if "sample" in row:
                    samples.setdefault(name, {})[int(row["sample"])] = sample
                else:
                    key = (name, int(row["round"]), str(row["prompt_sha256"]))
                    replies.setdefault(key, []).append(sample)
            except (ValueError, KeyError, TypeError) as exc:
                raise ScriptedOutputError(
                    f"{p}:{number}: not a scripted output line ({type(exc).__name__}: {exc}); "
                    'expected {"theorem", "sample", "output"} or {"theorem", "round", "prompt_sha256", "output"}'
                ) from None
        return cls(str(p), samples, replies)

    def sample(self, theorem: str, index: int) -> Sample:
        try:
            return self.samples[theorem][index]
        except KeyError:
            raise ScriptedOutputError(f"{self.path} has no sample {index} of {theorem}") from None


@dataclass(frozen=True)
class ScriptedSampler:
    """The engine's whole-proof and chat sampler over scripted outputs; `first` is the first sample index
    (a sweep's attempt number)."""

    outputs: ScriptedOutputs
    first: int = 0

    def __call__(self, target: ProofTarget, n: int) -> list[Sample]:
        return [self.outputs.sample(target.theorem.name, self.first + i) for i in range(n)]

    def opening(self, target: ProofTarget) -> list[ChatTurn]:
        return [ChatTurn("user", target.prompt or f"{target.theorem.statement.rstrip()} := by sorry")]

    def chat(self, target: ProofTarget, turns: Sequence[ChatTurn], round_number: int, n: int) -> list[Sample]:
        key = (target.theorem.name, round_number, prompt_hash(turns))
        recorded = self.outputs.replies.get(key)
        if recorded is None and round_number == 0 and target.theorem.name in self.outputs.samples:
            return self(target, n)  # published samples: round 0 only, prompt not compared
        if recorded is None:
            raise ScriptedOutputError(
                f"{self.outputs.path} has no output for {target.theorem.name} in round {round_number} "
                f"with this prompt (sha256 {key[2][:12]}…): an unrecorded prompt is never guessed"
            )
        return recorded[:n]

    def prompt_tokens(self, turns: Sequence[ChatTurn]) -> int:
        return 0  # no tokenizer: the context rule does not apply to played-back outputs

    def extract(self, completion: str, theorem_name: str) -> str | None:
        from prover.generators.whole_proof import extract_whole_proof

        return extract_whole_proof(completion, theorem_name, continuation=False)
