"""OpenAI-compatible (`/v1/completions`, `/v1/chat/completions`) and Ollama (`/api/generate`) endpoints, so
LLMLean's `llmstep`/`llmqed` can use this project's presets (prompt handling: `prover.llm_prompts`).

The request's `model` names a preset (`prover.generators.presets.PRESETS`) or the served model's id. Step
presets answer `llmstep` prompts with the top tactics; whole-proof presets answer `llmqed` prompts with
sampled proofs. An unknown `model` gets a 404 whose one line lists the presets.

OpenAI requests carry `n` (choices wanted): the top `n` distinct candidates. LLMLean's Ollama path sends the
same request `numSamples` times instead (temperature 0 on the second, TacticGen.lean), so each identical
request gets the next not-yet-given candidate of one ranked list, the greedy request the best one.
"""

from __future__ import annotations

import asyncio
import collections
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from prover.llm_prompts import ParsedPrompt, PromptKind, PromptNotUnderstood, Task, parse_prompt, proof_reply
from prover.llm_prompts import tactic_reply as render_tactic
from search.types import GenRequest, TacticGenerator

MAX_PROMPT_CHARS = 256 * 1024
MAX_CHOICES = 64
# Identical Ollama requests within this many seconds share one ranked candidate list.
REPEAT_WINDOW_S = 120.0
REPEAT_ENTRIES = 256


class ProofWriter(Protocol):
    """A whole-proof model: `n` proof bodies (tactic blocks) for the theorem at the end of `context`."""

    def __call__(self, parsed: ParsedPrompt, n: int) -> list[str]: ...


class UnknownModel(LookupError):
    """The request's `model` is no preset and not the served model (one line listing the presets)."""


class WrongTask(ValueError):
    """A step preset asked for a whole proof, or a whole-proof preset for a tactic (one line)."""


@dataclass
class ModelCatalog:
    """The models the LLM endpoints can run, by preset name: the served one, and the rest loaded on first use.

    `load_step(preset)` builds a tactic generator, `load_whole(preset)` a proof writer; None means that
    kind cannot be loaded here. Loaded models are kept (one per name)."""

    served_name: str
    served_model: str
    served: TacticGenerator | None
    load_step: Callable[[str], TacticGenerator] | None = None
    load_whole: Callable[[str], ProofWriter] | None = None
    _step: dict[str, TacticGenerator] = field(default_factory=dict)
    _whole: dict[str, ProofWriter] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def preset_of(self, model: str) -> tuple[str, Literal["step", "whole"]]:
        from prover.generators.presets import PRESETS

        if model in (self.served_name, self.served_model) and self.served is not None:
            return self.served_name, "step"
        preset = PRESETS.get(model)
        if preset is None:
            known = ", ".join(sorted(PRESETS))
            raise UnknownModel(f"unknown model {model!r}: name a preset ({known})")
        return preset.name, preset.mode

    def step(self, name: str) -> TacticGenerator:
        with self._lock:
            if name == self.served_name and self.served is not None:
                return self.served
            if name not in self._step:
                if self.load_step is None:
                    raise UnknownModel(f"model {name!r} is not served here (this server runs {self.served_name!r})")
                self._step[name] = self.load_step(name)
            return self._step[name]

    def whole(self, name: str) -> ProofWriter:
        with self._lock:
            if name not in self._whole:
                if self.load_whole is None:
                    raise UnknownModel(f"whole-proof model {name!r} is not served here")
                self._whole[name] = self.load_whole(name)
            return self._whole[name]


# --- request and response models --------------------------------------------------------------------


class ChatMessage(BaseModel):
    role: str
    content: str = Field(..., max_length=MAX_PROMPT_CHARS)


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str
    messages: list[ChatMessage] = Field(..., min_length=1)
    n: int = Field(1, ge=1, le=MAX_CHOICES)
    temperature: float | None = None
    max_tokens: int | None = None
    stop: list[str] | str | None = None
    stream: bool = False


class CompletionRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str
    prompt: str | list[str] = Field(...)
    n: int = Field(1, ge=1, le=MAX_CHOICES)
    temperature: float | None = None
    max_tokens: int | None = None
    stop: list[str] | str | None = None
    stream: bool = False


class OllamaOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")

    temperature: float | None = None
    stop: list[str] | None = None
    num_predict: int | None = None


class OllamaRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str
    prompt: str = Field(..., max_length=MAX_PROMPT_CHARS)
    options: OllamaOptions = Field(default_factory=OllamaOptions)
    raw: bool = False
    stream: bool = False


# --- answering ---------------------------------------------------------------------------------------


def _cut_at_stop(text: str, stop: list[str] | str | None) -> str:
    """OpenAI and Ollama leave the stop sequence (and all after it) out of the reply."""
    stops = [stop] if isinstance(stop, str) else list(stop or [])
    cut = len(text)
    for s in stops:
        if s and (i := text.find(s)) != -1:
            cut = min(cut, i)
    return text[:cut]


@dataclass
class _Repeats:
    """Ranked replies for recent identical requests, and how many non-greedy ones were given out."""

    entries: collections.OrderedDict[tuple[str, str], tuple[float, list[str], int]] = field(
        default_factory=collections.OrderedDict
    )

    def take(self, key: tuple[str, str], replies: list[str], greedy: bool, now: float) -> str:
        entry = self.entries.get(key)
        if entry is None or now - entry[0] > REPEAT_WINDOW_S:
            entry = (now, replies, 0)
        stamp, ranked, given = entry
        if not ranked:
            return ""
        if greedy:
            reply = ranked[0]
        else:
            # Non-greedy requests walk the ranks after the best (which the greedy request gets), then wrap.
            others = ranked[1:] or ranked
            reply = others[given % len(others)]
            given += 1
        self.entries[key] = (stamp, ranked, given)
        self.entries.move_to_end(key)
        while len(self.entries) > REPEAT_ENTRIES:
            self.entries.popitem(last=False)
        return reply


class LLMEndpoints:
    """The answering logic behind the three endpoints, independent of HTTP."""

    def __init__(self, catalog: ModelCatalog, k_default: int = 8) -> None:
        self.catalog = catalog
        self.k_default = k_default
        self._repeats = _Repeats()
        self._gen_locks: dict[int, asyncio.Lock] = {}

    async def _tactics(self, name: str, parsed: ParsedPrompt, n: int) -> list[str]:
        generator = self.catalog.step(name)
        lock = self._gen_locks.setdefault(id(generator), asyncio.Lock())
        request = GenRequest(state=parsed.state, prefix=parsed.prefix)
        async with lock:
            [candidates] = await asyncio.to_thread(generator, [request], n)
        return [c.tactic for c in candidates]

    async def replies(self, model: str, prompt: str, n: int) -> list[str]:
        """Up to `n` distinct reply texts for `prompt` from the model `model` names, best first."""
        name, mode = self.catalog.preset_of(model)
        parsed = parse_prompt(prompt)
        if mode == "step":
            if parsed.task is Task.PROOF:
                if parsed.kind is PromptKind.FEWSHOT and not parsed.state:
                    # LLMLean's few-shot llmstep also sends the bare file as a second prompt: no goal to answer.
                    return []
                raise WrongTask(f"model {model!r} proposes single tactics (llmstep); llmqed needs a whole-proof preset")
            tactics = await self._tactics(name, parsed, max(n, 1))
            return [render_tactic(parsed, t) for t in tactics[:n]]
        if parsed.task is Task.TACTIC:
            raise WrongTask(f"model {model!r} writes whole proofs (llmqed); llmstep needs a step preset")
        writer = self.catalog.whole(name)
        proofs = await asyncio.to_thread(writer, parsed, n)
        unique = list(dict.fromkeys(p for p in proofs if p.strip()))
        return [proof_reply(parsed, p) for p in unique[:n]]

    async def repeated_reply(self, model: str, prompt: str, greedy: bool) -> str:
        """One reply for an Ollama request; identical requests get distinct replies (see module doc)."""
        key = (model, prompt)
        entry = self._repeats.entries.get(key)
        now = time.monotonic()
        if entry is not None and now - entry[0] <= REPEAT_WINDOW_S:
            return self._repeats.take(key, entry[1], greedy, now)
        ranked = await self.replies(model, prompt, self.k_default)
        return self._repeats.take(key, ranked, greedy, now)


def _failure(exc: Exception) -> tuple[int, str]:
    """HTTP status and one-line message for a failure while answering."""
    if isinstance(exc, UnknownModel):
        return 404, str(exc.args[0]) if exc.args else str(exc)
    if isinstance(exc, PromptNotUnderstood | WrongTask):
        return 400, str(exc)
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return 500, f"generation failed: {type(exc).__name__}: {first}"


def _openai_error(status: int, message: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": {"message": message, "type": "invalid_request_error"}})


def _stamp() -> tuple[str, int]:
    """A response's id and creation time (seconds), as OpenAI's responses carry them."""
    return uuid.uuid4().hex[:24], int(time.time())


async def _chat_reply(endpoints: LLMEndpoints, req: ChatRequest) -> Any:
    """OpenAI chat completions: the last user message is the prompt; `n` choices."""
    if req.stream:
        return _openai_error(400, "stream is not supported; send stream: false")
    prompt = next((m.content for m in reversed(req.messages) if m.role == "user"), req.messages[-1].content)
    try:
        texts = await endpoints.replies(req.model, prompt, req.n)
    except Exception as exc:  # noqa: BLE001 - every failure is answered in the API's error shape
        return _openai_error(*_failure(exc))
    ident, created = _stamp()
    return {
        "id": f"chatcmpl-{ident}",
        "object": "chat.completion",
        "created": created,
        "model": req.model,
        "choices": [
            {
                "index": i,
                "message": {"role": "assistant", "content": _cut_at_stop(t, req.stop)},
                "finish_reason": "stop",
            }
            for i, t in enumerate(texts)
        ],
    }


async def _completions_reply(endpoints: LLMEndpoints, req: CompletionRequest) -> Any:
    """OpenAI (legacy) completions: `n` choices per prompt, prompts in order."""
    if req.stream:
        return _openai_error(400, "stream is not supported; send stream: false")
    prompts = [req.prompt] if isinstance(req.prompt, str) else list(req.prompt)
    if not prompts or any(len(p) > MAX_PROMPT_CHARS for p in prompts):
        return _openai_error(400, f"prompt: give 1 or more prompts of at most {MAX_PROMPT_CHARS} characters")
    choices: list[dict[str, Any]] = []
    try:
        for prompt in prompts:
            for text in await endpoints.replies(req.model, prompt, req.n):
                choices.append(
                    {
                        "index": len(choices),
                        "text": _cut_at_stop(text, req.stop),
                        "logprobs": None,
                        "finish_reason": "stop",
                    }
                )
    except Exception as exc:  # noqa: BLE001
        return _openai_error(*_failure(exc))
    ident, created = _stamp()
    return {
        "id": f"cmpl-{ident}",
        "object": "text_completion",
        "created": created,
        "model": req.model,
        "choices": choices,
    }


def register_llm_routes(app: FastAPI, catalog: ModelCatalog, k_default: int = 8) -> LLMEndpoints:
    """Add `/v1/chat/completions`, `/v1/completions`, `/v1/models` and `/api/generate` to `app`."""
    endpoints = LLMEndpoints(catalog, k_default)

    @app.post("/v1/chat/completions")
    async def chat_completions(req: ChatRequest) -> Any:
        """OpenAI chat completions: the last user message is the prompt; `n` choices."""
        return await _chat_reply(endpoints, req)

    @app.post("/v1/completions")
    async def completions(req: CompletionRequest) -> Any:
        """OpenAI (legacy) completions: `n` choices per prompt, prompts in order."""
        return await _completions_reply(endpoints, req)

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        from prover.generators.presets import PRESETS

        names = [catalog.served_name, *sorted(n for n in PRESETS if n != catalog.served_name)]
        return {"object": "list", "data": [{"id": n, "object": "model", "owned_by": "prover"} for n in names]}

    @app.post("/api/generate")
    async def ollama_generate(req: OllamaRequest) -> Any:
        """Ollama's generate (stream: false): one reply; identical requests get distinct replies."""
        if req.stream:
            return JSONResponse(status_code=400, content={"error": "stream is not supported; send stream: false"})
        greedy = req.options.temperature is not None and req.options.temperature == 0
        try:
            text = await endpoints.repeated_reply(req.model, req.prompt, greedy)
        except Exception as exc:  # noqa: BLE001
            status, message = _failure(exc)
            return JSONResponse(status_code=status, content={"error": message})  # Ollama's error shape
        return {
            "model": req.model,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "response": _cut_at_stop(text, req.options.stop),
            "done": True,
            "done_reason": "stop",
        }

    return endpoints


def whole_proof_writer(cfg: Any) -> ProofWriter:
    """A `ProofWriter` over a whole-proof preset's model (`prover.generators.whole_proof`): the theorem is the
    last declaration of LLMLean's file context; proofs are sampled and their tactic blocks extracted."""
    from lean_env.types import Theorem
    from prover.generators.whole_proof import (
        as_completion,
        extract_whole_proof,
        load_whole_proof_model,
        render_prompt,
        whole_proof_request,
    )
    from prover.llm_prompts import statement_from_context

    setup = load_whole_proof_model(cfg)

    def write(parsed: ParsedPrompt, n: int) -> list[str]:
        header, statement = statement_from_context(parsed.context)
        theorem = Theorem(name="", statement=statement, header=header)
        prompt = render_prompt(setup.template, whole_proof_request(theorem, template=setup.template), setup.tokenizer)
        [completions] = setup.model([prompt], n)
        proofs = [extract_whole_proof(as_completion(c).text) for c in completions]
        return [p for p in proofs if p]

    return write


def preset_config(cfg: Any, preset: str) -> Any:
    """`cfg` (a GeneratorConfig) set to run `preset`'s model: its hub id, its template and decoding."""
    from prover.generators.presets import PRESETS
    from prover.generators.seq2seq import SEQ2SEQ_PRESET_MODELS

    source = PRESETS[preset].source
    model = SEQ2SEQ_PRESET_MODELS.get(preset) or source.removeprefix("https://huggingface.co/")
    if model.startswith("http"):
        from prover.config import DEFAULT_MODEL

        model = DEFAULT_MODEL
    return cfg.model_copy(update={"model": model, "template": preset})


def catalog_for(cfg: Any, served: TacticGenerator, served_name: str) -> ModelCatalog:
    """The serve command's catalog: the loaded generator under its preset name, others built on first use."""

    def load_step(preset: str) -> TacticGenerator:
        from prover.generators import make_generator

        return make_generator(preset_config(cfg, preset))

    def load_whole(preset: str) -> ProofWriter:
        return whole_proof_writer(preset_config(cfg, preset))

    return ModelCatalog(served_name, cfg.model, served, load_step, load_whole)


def served_preset_name(cfg: Any) -> str:
    """The preset name the served generator answers to: the preset chosen with `--template` or named by its
    model id, else the model id itself (a local checkpoint is no preset's model)."""
    from prover.generators.presets import PRESETS, preset_for_model

    if cfg.kind == "fixed":
        return "fixed"
    if "template" in cfg.model_fields_set and cfg.template in PRESETS:
        return str(cfg.template)
    preset = preset_for_model(cfg.model)
    return preset.name if preset is not None else str(cfg.model)


__all__: Sequence[str] = ("ModelCatalog", "LLMEndpoints", "register_llm_routes", "catalog_for", "served_preset_name")


# --- premises -----------------------------------------------------------------------------------------


class PremisesRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    file: str = Field(..., min_length=1, max_length=4096, description="The .lean file (on the server's disk).")
    theorem: str = Field(..., min_length=1, max_length=1024)
    line: int | None = Field(None, ge=1, description="Only declarations before this line (default: the theorem's).")
    k: int = Field(10, ge=1, le=1000)
    goal: str | None = Field(None, max_length=64 * 1024, description="Query with this goal instead of the statement.")


@dataclass
class PremiseService:
    """`prover premises` behind HTTP: one project's index, the retriever loaded on first use."""

    project: Path
    cache: Path
    load_encoder: Callable[[], Any]
    _encoder: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def query(self, req: PremisesRequest) -> list[dict[str, Any]]:
        from prover.premises.index import PremiseIndex
        from prover.premises.query import best_premises, file_query, lean_version, project_revision

        with self._lock:
            if self._encoder is None:
                self._encoder = self.load_encoder()
            query = file_query(self.project, Path(req.file), req.theorem, req.line, req.goal)
            index = PremiseIndex(self.cache, lean_version(self.project))
            hits, _skipped = best_premises(index, project_revision(self.project), query, self._encoder, req.k)
        return [
            {"name": h.declaration.name, "module": h.declaration.module, "score": h.score, "code": h.declaration.code()}
            for h in hits
        ]


def register_premise_routes(app: FastAPI, service: PremiseService | None) -> None:
    """`POST /premises`: the premises accessible at a theorem of a file, best first (501 without an index)."""

    @app.post("/premises")
    async def premises(req: PremisesRequest) -> Any:
        """Like `prover premises FILE --theorem T [--line L] -k K`, over the index the server was started with."""
        if service is None:
            return JSONResponse(
                status_code=501, content={"error": "no premise index is configured; start with --premises-project DIR"}
            )
        from prover.premises.index import PremiseIndexError
        from prover.premises.query import PremiseQueryError

        try:
            rows = await asyncio.to_thread(service.query, req)
        except (PremiseQueryError, PremiseIndexError) as exc:
            return JSONResponse(status_code=400, content={"error": str(exc)})
        except Exception as exc:  # noqa: BLE001 - the server keeps serving
            return JSONResponse(status_code=500, content={"error": f"premise retrieval failed: {exc}"})
        return {"theorem": req.theorem, "premises": rows}
