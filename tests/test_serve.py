"""prover.serve through a real HTTP client against a real uvicorn server on 127.0.0.1.

The generator answers from real LeanDojo proofsteps (the recorded tactic for a recorded state), so a
response mixed up between requests of one batch would show.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import pytest

from prover.serve import (
    MAX_INPUT_CHARS,
    GenerationError,
    RequestBatcher,
    create_app,
    is_loopback,
    serve_in_thread,
)
from search.types import Candidate, GenRequest


class RecordedTacticGenerator:
    """Proposes the tactic recorded for a state (and a fallback), sleeping `delay_s` per call like a model."""

    def __init__(self, table: dict[str, str], delay_s: float = 0.0) -> None:
        self.table = table
        self.delay_s = delay_s
        self.batch_sizes: list[int] = []
        self.fail_with: str | None = None
        self._lock = threading.Lock()

    def __call__(self, requests: Sequence[GenRequest], k: int) -> list[list[Candidate]]:
        with self._lock:
            self.batch_sizes.append(len(requests))
        time.sleep(self.delay_s)
        if self.fail_with is not None:
            raise RuntimeError(self.fail_with)
        out = []
        for r in requests:
            cands = [Candidate(self.table[r.state], -0.25)] if r.state in self.table else []
            cands += [Candidate("simp", -1.5), Candidate("rfl", -2.0)]
            out.append([c for c in cands if c.tactic.startswith(r.prefix)][:k])
        return out


@pytest.fixture(scope="module")
def recorded(shared: Path) -> dict[str, str]:
    path = shared / "data" / "proofsteps" / "leandojo_benchmark4_random_test_sample100.jsonl"
    table: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["tactic"] not in ("simp", "rfl"):
            table.setdefault(row["state_before"], row["tactic"])
    return table


@pytest.fixture
def generator(recorded: dict[str, str]) -> RecordedTacticGenerator:
    return RecordedTacticGenerator(recorded, delay_s=0.2)


JSON = {"content-type": "application/json"}


class FakeRetriever:
    def encode(self, texts: Sequence[str]) -> list[list[float]]:
        return [[float(len(t)), float(t.count("⊢"))] for t in texts]


@pytest.fixture
def server(generator: RecordedTacticGenerator) -> Iterator[str]:
    app = create_app(generator, k=3, model_name="recorded", max_batch=16, max_wait_ms=50)
    with serve_in_thread(app) as running:
        yield running.url


def test_concurrent_requests_are_batched_and_answered_each(
    server: str, generator: RecordedTacticGenerator, recorded: dict[str, str]
) -> None:
    states = list(recorded)[:8]

    async def fire() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=server, timeout=30) as client:
            return await asyncio.gather(
                *(client.post("/generate", json={"name": "recorded", "input": s, "prefix": ""}) for s in states)
            )

    responses = asyncio.run(fire())
    for state, resp in zip(states, responses, strict=True):
        assert resp.status_code == 200, resp.text
        outputs = resp.json()["outputs"]
        assert outputs[0] == {"output": recorded[state], "score": -0.25}
        assert [o["output"] for o in outputs[1:]] == ["simp", "rfl"]
    assert sum(generator.batch_sizes) == len(states)
    assert len(generator.batch_sizes) < len(states), generator.batch_sizes
    health = httpx.get(f"{server}/health").json()
    assert health["status"] == "ok" and health["requests"] == len(states)
    assert health["batches"] == len(generator.batch_sizes) and health["largest_batch"] > 1


def test_prefix_no_goals_and_null_prefix(server: str, recorded: dict[str, str]) -> None:
    state = next(s for s, t in recorded.items() if t.startswith("rw"))
    with httpx.Client(base_url=server, timeout=30) as client:
        by_prefix = client.post("/generate", json={"name": "m", "input": state, "prefix": "rw"}).json()
        assert [o["output"] for o in by_prefix["outputs"]] == [recorded[state]]
        assert client.post("/generate", json={"name": "m", "input": "no goals", "prefix": ""}).json() == {"outputs": []}
        # Lean Copilot's own server accepts a null prefix; so do we.
        resp = client.post("/generate", json={"name": "m", "input": "⊢ True", "prefix": None})
        assert resp.status_code == 200 and [o["output"] for o in resp.json()["outputs"]] == ["simp", "rfl"]


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        (b'{"name": "m", "input": ', 400, "invalid JSON"),
        (b"not json at all", 400, "invalid JSON"),
        (json.dumps({"name": "m"}).encode(), 422, "input"),
        (json.dumps({"name": "m", "input": ""}).encode(), 422, "input"),
        (json.dumps({"name": "m", "input": 5}).encode(), 422, "input"),
        (json.dumps({"name": "m", "input": "⊢ True", "temperature": 2}).encode(), 422, "temperature"),
        (json.dumps({"name": "m", "input": "x" * (MAX_INPUT_CHARS + 1)}).encode(), 422, "input"),
        (json.dumps({"name": "m" * 1000, "input": "⊢ True"}).encode(), 422, "name"),
    ],
    ids=[
        "truncated-json",
        "not-json",
        "no-input",
        "empty-input",
        "input-not-str",
        "unknown-field",
        "input-too-long",
        "name-too-long",
    ],
)
def test_bad_requests_get_4xx_with_a_message(server: str, body: bytes, status: int, fragment: str) -> None:
    resp = httpx.post(f"{server}/generate", content=body, headers={"content-type": "application/json"}, timeout=30)
    assert resp.status_code == status, resp.text
    message = resp.json()["error"]
    assert fragment in message and "\n" not in message


@pytest.mark.parametrize(
    ("body", "headers", "status", "fragment"),
    [
        # Bytes that are not UTF-8 (a Latin-1 `é`): the body cannot even be read as text.
        ('{"name": "m", "input": "⊢ é"}'.encode("latin-1", errors="replace"), JSON, 400, "not UTF-8"),
        (b'{"name": "m", "input": "\xff\xfe"}', JSON, 400, "not UTF-8"),
        # Nesting deeper than any request of this API: refused before the JSON parser recurses.
        (b'{"name": "m", "input": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", JSON, 400, "nested"),
        (b"[" * 5000 + b"]" * 5000, JSON, 400, "nested"),
        # Lean Copilot's client sends `Content-Type: application/json` (lean-dojo/LeanCopilot@7d9231b5
        # LeanCopilot/Models/External.lean, `send`); anything else is not this API's request.
        (b'{"name": "m", "input": "x"}', {}, 415, "Content-Type"),
        (b'{"name": "m", "input": "x"}', {"content-type": "text/plain"}, 415, "Content-Type"),
    ],
    ids=["latin-1", "invalid-utf8-bytes", "deep-nesting", "deep-array", "no-content-type", "text-plain"],
)
def test_unreadable_bodies_get_the_error_shape(
    server: str, body: bytes, headers: dict[str, str], status: int, fragment: str
) -> None:
    for path in ("/generate", "/encode"):
        resp = httpx.post(f"{server}{path}", content=body, headers=headers, timeout=30)
        assert resp.status_code == status, resp.text
        assert resp.headers["content-type"] == "application/json"
        assert list(resp.json()) == ["error"]
        message = resp.json()["error"]
        assert fragment in message and "\n" not in message


def test_charset_parameter_is_accepted(server: str) -> None:
    body = json.dumps({"name": "m", "input": "⊢ True"}).encode()
    resp = httpx.post(
        f"{server}/generate", content=body, headers={"content-type": "application/json; charset=utf-8"}, timeout=30
    )
    assert resp.status_code == 200, resp.text


def test_unknown_paths_and_methods_get_the_error_shape(server: str) -> None:
    assert httpx.get(f"{server}/nowhere", timeout=30).json() == {"error": "Not Found"}
    resp = httpx.get(f"{server}/generate", timeout=30)
    assert resp.status_code == 405 and list(resp.json()) == ["error"]
    # A POST where no endpoint takes one is the router's 405/404 whatever its body, never a complaint about the
    # body's Content-Type (the body check is for endpoints that read a body).
    for body, headers in ((b"", {}), (b'{"x": 1}', JSON), (b"\xff", {"content-type": "text/plain"})):
        resp = httpx.post(f"{server}/health", content=body, headers=headers, timeout=30)
        assert resp.status_code == 405 and list(resp.json()) == ["error"], resp.text
        assert "GET" in resp.headers.get("allow", "")
        resp = httpx.post(f"{server}/nowhere", content=body, headers=headers, timeout=30)
        assert resp.status_code == 404 and resp.json() == {"error": "Not Found"}, resp.text


def test_encode_with_a_retriever_that_cannot_load_fails_at_once_every_time(
    generator: RecordedTacticGenerator,
) -> None:
    class UnreachableRetriever:
        calls = 0

        def encode(self, texts: Sequence[str]) -> list[list[float]]:
            UnreachableRetriever.calls += 1
            raise OSError("We couldn't connect to 'https://huggingface.co' to load the files")

    app = create_app(generator, retriever=UnreachableRetriever())
    with serve_in_thread(app) as running:
        for _ in range(3):
            started = time.monotonic()
            resp = httpx.post(f"{running.url}/encode", json={"name": "m", "input": "⊢ b"}, timeout=30)
            assert resp.status_code == 503 and "couldn't connect" in resp.json()["error"]
            assert time.monotonic() - started < 5
    assert UnreachableRetriever.calls == 1  # the failure to load is remembered, not retried per request


def test_oversized_bodies_are_refused_before_parsing(server: str) -> None:
    huge = b'{"name": "m", "input": "' + b"x" * 2_000_000 + b'"}'
    resp = httpx.post(f"{server}/generate", content=huge, headers={"content-type": "application/json"}, timeout=30)
    assert resp.status_code == 413 and "too large" in resp.json()["error"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit is enforced while reading
        yield b'{"name": "m", "input": "'
        for _ in range(40):
            yield b"y" * 50_000
        yield b'"}'

    resp = httpx.post(f"{server}/generate", content=chunks(), headers={"content-type": "application/json"}, timeout=30)
    assert resp.status_code == 413


def test_generator_failure_is_a_500_and_the_server_keeps_serving(
    server: str, generator: RecordedTacticGenerator
) -> None:
    generator.fail_with = "CUDA out of memory"
    resp = httpx.post(f"{server}/generate", json={"name": "m", "input": "⊢ True", "prefix": ""}, timeout=30)
    assert resp.status_code == 500 and "CUDA out of memory" in resp.json()["error"]
    generator.fail_with = None
    resp = httpx.post(f"{server}/generate", json={"name": "m", "input": "⊢ True", "prefix": ""}, timeout=30)
    assert resp.status_code == 200


def test_encode_needs_a_retriever(server: str, generator: RecordedTacticGenerator) -> None:
    resp = httpx.post(f"{server}/encode", json={"name": "m", "input": "⊢ True"}, timeout=30)
    assert resp.status_code == 501 and "retriever" in resp.json()["error"]
    app = create_app(generator, retriever=FakeRetriever())
    with serve_in_thread(app) as running:
        resp = httpx.post(f"{running.url}/encode", json={"name": "m", "input": "a\n⊢ b"}, timeout=30)
        assert resp.status_code == 200 and resp.json() == {"outputs": [5.0, 1.0]}
        assert httpx.get(f"{running.url}/health").json()["retriever"] is True


def test_openapi_docs_are_served(server: str) -> None:
    spec = httpx.get(f"{server}/openapi.json", timeout=30).json()
    assert {"/generate", "/encode", "/health"} <= set(spec["paths"])
    schema = spec["components"]["schemas"]["GenerateRequest"]["properties"]
    assert schema["input"]["maxLength"] == MAX_INPUT_CHARS
    docs = httpx.get(f"{server}/docs", timeout=30)
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


def test_shutdown_finishes_requests_in_flight_then_releases_the_port(generator: RecordedTacticGenerator) -> None:
    generator.delay_s = 0.5
    answers: list[httpx.Response] = []
    serving = serve_in_thread(create_app(generator, k=2))
    running = serving.__enter__()
    client = threading.Thread(
        target=lambda: answers.append(
            httpx.post(f"{running.url}/generate", json={"name": "m", "input": "⊢ True"}, timeout=30)
        )
    )
    client.start()
    deadline = time.monotonic() + 60
    while not generator.batch_sizes and time.monotonic() < deadline:  # wait, however loaded the machine,
        time.sleep(0.01)  # until the request is inside the model call: then shutdown begins
    assert generator.batch_sizes, "the request never reached the generator"
    serving.__exit__(None, None, None)
    client.join(30)
    assert [a.status_code for a in answers] == [200]
    assert [o["output"] for o in answers[0].json()["outputs"]] == ["simp", "rfl"]
    assert not running.thread.is_alive()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{running.url}/health", timeout=5)


def test_batcher_respects_max_batch_and_stop_fails_waiters() -> None:
    sizes: list[int] = []

    def gen(requests: Sequence[GenRequest], k: int) -> list[list[Candidate]]:
        sizes.append(len(requests))
        time.sleep(0.05)
        return [[Candidate(r.state, -1.0)] for r in requests]

    async def scenario() -> None:
        batcher = RequestBatcher(gen, k=1, max_batch=3, max_wait_s=0.05)
        await batcher.start()
        results = await asyncio.gather(*(batcher.submit(GenRequest(state=f"s{i}")) for i in range(7)))
        assert [r[0].tactic for r in results] == [f"s{i}" for i in range(7)]
        assert max(sizes) <= 3 and sum(sizes) == 7
        # Stopping while a batch is in the model and another waits fails both, instead of hanging them.
        in_model = asyncio.ensure_future(batcher.submit(GenRequest(state="in-model")))
        await asyncio.sleep(0.06)
        queued = asyncio.ensure_future(batcher.submit(GenRequest(state="queued")))
        await asyncio.sleep(0)
        await batcher.stop()
        for fut in (in_model, queued):
            with pytest.raises(GenerationError, match="shutting down"):
                await asyncio.wait_for(fut, 1.0)
        with pytest.raises(GenerationError, match="not running"):
            await batcher.submit(GenRequest(state="late"))

        slow_to_fill = RequestBatcher(gen, k=1, max_batch=8, max_wait_s=5.0)
        await slow_to_fill.start()
        collecting = asyncio.ensure_future(slow_to_fill.submit(GenRequest(state="collecting")))
        await asyncio.sleep(0.02)
        await slow_to_fill.stop()
        with pytest.raises(GenerationError, match="shutting down"):
            await asyncio.wait_for(collecting, 1.0)

    asyncio.run(scenario())


def test_loopback_detection() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.4") and not is_loopback("example.org")


@pytest.mark.slow
def test_hf_encoder_retriever_mean_pools_and_ignores_padding(tmp_path: Path) -> None:
    # A tiny randomly initialised ByT5-style encoder built here (no download): the pooling is what is tested.
    transformers = pytest.importorskip("transformers")
    import torch

    from prover.serve import HFEncoderRetriever

    torch.manual_seed(0)
    config = transformers.T5Config(vocab_size=384, d_model=16, d_kv=4, d_ff=32, num_layers=1, num_heads=2)
    transformers.T5EncoderModel(config).save_pretrained(tmp_path)
    transformers.ByT5Tokenizer().save_pretrained(tmp_path)

    retriever = HFEncoderRetriever(str(tmp_path))
    short, long = retriever.encode(["n : ℕ\n⊢ n + 0 = n", "a b : ℝ\nh : a < b\n⊢ a ≤ b ∧ b ≠ a"])
    assert len(short) == 16 and len(long) == 16 and short != long
    [alone] = retriever.encode(["n : ℕ\n⊢ n + 0 = n"])
    assert alone == pytest.approx(short, abs=1e-5)  # padding in a batch does not change a text's vector
