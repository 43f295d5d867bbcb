"""An HTTP server speaking Lean Copilot's external model API, so Lean users can call our models.

`POST /generate {"name", "input", "prefix"}` -> `{"outputs": [{"output", "score"}]}` (Lean Copilot's
`suggest_tactics` with an `ExternalGenerator`); `POST /encode {"name", "input"}` -> `{"outputs": [float]}`
when a retriever is configured (501 otherwise); `GET /health`; OpenAPI at `/docs` and `/openapi.json`.

Concurrent `/generate` requests are collected by `RequestBatcher` for a few milliseconds and sent to
the generator as one batch, in a worker thread so the event loop keeps accepting requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Router

from search.types import Candidate, GenRequest, TacticGenerator

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 23337  # Lean Copilot's default for external models
MAX_INPUT_CHARS = 64 * 1024
MAX_NAME_CHARS = 256
MAX_PREFIX_CHARS = 1024
# UTF-8 and JSON escapes can take up to 6 bytes per character of `input`.
MAX_BODY_BYTES = 6 * (MAX_INPUT_CHARS + MAX_NAME_CHARS + MAX_PREFIX_CHARS) + 4096

NO_GOALS = "no goals"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


# --- request and response models (Lean Copilot's field names) -------------------------------------


class GenerateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field("", max_length=MAX_NAME_CHARS, description="Model name chosen in Lean (informational).")
    input: str = Field(
        ...,
        min_length=1,
        max_length=MAX_INPUT_CHARS,
        description="Pretty-printed goals separated by blank lines, or `no goals`.",
    )
    prefix: str | None = Field(
        None, max_length=MAX_PREFIX_CHARS, description="Every returned tactic starts with this text."
    )


class Generation(BaseModel):
    output: str
    score: float


class GenerateResponse(BaseModel):
    outputs: list[Generation]


class EncodeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field("", max_length=MAX_NAME_CHARS)
    input: str = Field(..., min_length=1, max_length=MAX_INPUT_CHARS)


class EncodeResponse(BaseModel):
    outputs: list[float]


class ErrorResponse(BaseModel):
    error: str


# --- retrieval ------------------------------------------------------------------------------------


@runtime_checkable
class Retriever(Protocol):
    """Embeds texts (goals or premises) for premise retrieval: one vector per text."""

    def encode(self, texts: Sequence[str]) -> list[list[float]]: ...


class HFEncoderRetriever:
    """A Hugging Face encoder (e.g. ReProver's `kaiyuy/leandojo-lean4-retriever-byt5-small`), mean-pooled.

    The model loads on first use, so `prover serve --help` and startup stay fast.
    """

    def __init__(self, model_id: str, device: str = "cpu", max_length: int = 2048) -> None:
        self.model_id = model_id
        self.device = device
        self.max_length = max_length
        self._lock = threading.Lock()
        self._loaded: tuple[Any, Any] | None = None

    def _load(self) -> tuple[Any, Any]:
        if self._loaded is None:
            from transformers import AutoConfig, AutoModel, AutoTokenizer, T5EncoderModel

            tokenizer = AutoTokenizer.from_pretrained(self.model_id)
            config = AutoConfig.from_pretrained(self.model_id)
            model_cls = T5EncoderModel if getattr(config, "model_type", "") in ("t5", "mt5", "byt5") else AutoModel
            model: Any = model_cls.from_pretrained(self.model_id)
            model = model.to(self.device).eval()
            self._loaded = (tokenizer, model)
        return self._loaded

    def encode(self, texts: Sequence[str]) -> list[list[float]]:
        import torch

        with self._lock:
            tokenizer, model = self._load()
            batch = tokenizer(
                list(texts), return_tensors="pt", padding=True, truncation=True, max_length=self.max_length
            ).to(self.device)
            with torch.inference_mode():
                hidden = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).last_hidden_state
            mask = batch.attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
            return [row.tolist() for row in pooled.float().cpu()]


# --- batching -------------------------------------------------------------------------------------


class GenerationError(RuntimeError):
    """The generator failed for a batch; every request in it gets this error."""


@dataclass(frozen=True)
class BatcherStats:
    requests: int
    batches: int
    largest_batch: int


class RequestBatcher:
    """Collects concurrent requests for up to `max_wait_s` or `max_batch` requests, then makes one generator call.

    The generator runs in a worker thread, one batch at a time; requests arriving meanwhile form the
    next batch, so under load batches grow by themselves.
    """

    def __init__(self, generator: TacticGenerator, k: int, *, max_batch: int = 16, max_wait_s: float = 0.01) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        if max_wait_s < 0:
            raise ValueError("max_wait_s must be >= 0")
        self._generator = generator
        self.k = k
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self._queue: asyncio.Queue[tuple[GenRequest, asyncio.Future[list[Candidate]]]] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._outstanding: set[asyncio.Future[list[Candidate]]] = set()
        self._requests = 0
        self._batches = 0
        self._largest = 0

    @property
    def stats(self) -> BatcherStats:
        return BatcherStats(self._requests, self._batches, self._largest)

    async def start(self) -> None:
        if self._worker is None:
            self._queue = asyncio.Queue()
            self._worker = asyncio.create_task(self._run(), name="generate-batcher")

    async def stop(self) -> None:
        """Stop the worker; requests still waiting fail with GenerationError."""
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
        # Queued, being collected into a batch, or inside the model call: all fail rather than hang.
        for fut in list(self._outstanding):
            if not fut.done():
                fut.set_exception(GenerationError("the server is shutting down"))
        self._outstanding.clear()
        self._queue = None

    async def submit(self, request: GenRequest) -> list[Candidate]:
        if self._queue is None or self._worker is None:
            raise GenerationError("the batcher is not running")
        future: asyncio.Future[list[Candidate]] = asyncio.get_running_loop().create_future()
        self._outstanding.add(future)
        future.add_done_callback(self._outstanding.discard)
        await self._queue.put((request, future))
        return await future

    async def _collect(self) -> list[tuple[GenRequest, asyncio.Future[list[Candidate]]]]:
        assert self._queue is not None
        batch = [await self._queue.get()]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.max_wait_s
        while len(batch) < self.max_batch:
            remaining = deadline - loop.time()
            if remaining <= 0:
                # Whatever is already queued still joins the batch.
                while len(batch) < self.max_batch and not self._queue.empty():
                    batch.append(self._queue.get_nowait())
                break
            try:
                batch.append(await asyncio.wait_for(self._queue.get(), remaining))
            except TimeoutError:
                break
        return batch

    async def _run(self) -> None:
        while True:
            batch = await self._collect()
            live = [(req, fut) for req, fut in batch if not fut.done()]
            if not live:
                continue
            requests = [req for req, _ in live]
            self._batches += 1
            self._requests += len(live)
            self._largest = max(self._largest, len(live))
            try:
                results = await asyncio.to_thread(self._generator, requests, self.k)
                if len(results) != len(requests):
                    raise GenerationError(f"the generator returned {len(results)} answers for {len(requests)} requests")
            except Exception as exc:  # the generator's failure is every waiting request's failure
                error = exc if isinstance(exc, GenerationError) else GenerationError(f"{type(exc).__name__}: {exc}")
                for _, fut in live:
                    if not fut.done():
                        fut.set_exception(error)
                continue
            for (_, fut), candidates in zip(live, results, strict=True):
                if not fut.done():
                    fut.set_result(candidates)


# --- the app --------------------------------------------------------------------------------------


class BodySizeLimit:
    """Refuse request bodies over `max_bytes` with 413 before anything parses them, and a POST body no endpoint can
    read (`_body_problem`) when the request is for an endpoint that takes one: `router`'s routes decide (a POST to
    `/health` or an unknown path gets the router's own 405/404, never a complaint about its body)."""

    def __init__(self, app: ASGIApp, max_bytes: int, router: Router | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.router = router

    def _takes_body(self, scope: Scope) -> bool:
        if self.router is None:
            return True
        return any(route.matches(scope)[0] is Match.FULL for route in self.router.routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problem = self._declared_length_problem(scope)
        if problem is not None:
            await _send_json(send, *problem)
            return
        body = await self._read_body(receive, send)
        if body is None:
            return
        if scope.get("method") == "POST" and self._takes_body(scope):
            problem = _body_problem(scope, body)
            if problem is not None:
                await _send_json(send, *problem)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _too_large(self) -> str:
        return f"request body too large (limit {self.max_bytes} bytes)"

    def _declared_length_problem(self, scope: Scope) -> tuple[int, dict[str, Any]] | None:
        """(status, {"error": ...}) when a Content-Length header is not a number (400) or over the limit (413)."""
        for key, value in scope.get("headers", []):
            if key == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    return 400, {"error": "invalid Content-Length header"}
                if declared > self.max_bytes:
                    return 413, {"error": self._too_large()}
        return None

    async def _read_body(self, receive: Receive, send: Send) -> bytes | None:
        """The whole body (it may be chunked) read up to the limit; None when the client left or it was over the
        limit (then 413 has been answered)."""
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            body = message.get("body", b"")
            size += len(body)
            if size > self.max_bytes:
                await _send_json(send, 413, {"error": self._too_large()})
                return None
            chunks.append(body)
            more = bool(message.get("more_body", False))
        return b"".join(chunks)


# Every request of this API is a flat object of strings; nesting past this is refused before a JSON parser
# recurses into it (Python's recursion limit would turn it into a bare 400 without the error shape).
MAX_JSON_DEPTH = 64


def _body_problem(scope: Scope, body: bytes) -> tuple[int, dict[str, Any]] | None:
    """(status, {"error": ...}) for a POST body no endpoint can read: not declared JSON (415), not UTF-8 or
    nested past MAX_JSON_DEPTH (400). Malformed JSON and wrong fields are the endpoints' own 400/422."""
    content_type = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"content-type"), None)
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media != "application/json":
        got = f"got {content_type!r}" if content_type else "none was sent"
        return 415, {"error": f"Content-Type must be application/json ({got})"}
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return 400, {
            "error": f"invalid JSON: the body is not UTF-8 (byte 0x{body[exc.start]:02x} at offset {exc.start})"
        }
    # Counting first keeps the scan off ordinary requests (a goal rarely holds 64 brackets).
    depth = _json_depth(text) if text.count("[") + text.count("{") > MAX_JSON_DEPTH else 0
    if depth > MAX_JSON_DEPTH:
        return 400, {"error": f"invalid JSON: nested {depth} levels deep (at most {MAX_JSON_DEPTH})"}
    return None


def _json_depth(text: str) -> int:
    """The deepest bracket nesting of a JSON text, brackets inside strings not counted (linear, no recursion)."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


async def _send_json(send: Send, status: int, payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _validation_message(exc: RequestValidationError) -> tuple[int, str]:
    errors = exc.errors()
    if not errors:
        return 422, "invalid request"
    first = errors[0]
    if first.get("type") == "json_invalid":
        ctx = first.get("ctx") or {}
        return 400, f"invalid JSON: {ctx.get('error', first.get('msg', 'cannot parse the body'))}"
    loc = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "body"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return 422, f"{loc}: {first.get('msg', 'invalid')}{more}"


async def _generate_reply(batcher: RequestBatcher, req: GenerateRequest) -> GenerateResponse | JSONResponse:
    """`/generate`: top-k tactics for the goals in `input`, best first; each starts with `prefix`."""
    prefix = req.prefix or ""
    if req.input.strip() == NO_GOALS:
        return GenerateResponse(outputs=[])
    try:
        candidates = await batcher.submit(GenRequest(state=req.input, prefix=prefix))
    except GenerationError as exc:
        return JSONResponse(status_code=500, content={"error": f"generation failed: {exc}"})
    from prover.suggest import suggestions_from_candidates

    kept = suggestions_from_candidates(candidates, batcher.k, prefix)
    return GenerateResponse(outputs=[Generation(output=s.tactic, score=s.score) for s in kept])


async def _encode_reply(
    retriever: Retriever | None, unusable: list[str], req: EncodeRequest
) -> EncodeResponse | JSONResponse:
    """`/encode`: the retriever's embedding of `input`; `unusable` remembers why the retriever cannot load."""
    if retriever is None:
        return JSONResponse(
            status_code=501,
            content={"error": "no retriever is configured; start the server with --retriever MODEL"},
        )
    if unusable:
        return JSONResponse(status_code=503, content={"error": unusable[0]})
    try:
        [vector] = await asyncio.to_thread(retriever.encode, [req.input])
    except OSError as exc:
        # The model cannot be loaded (not cached, hub unreachable, no such checkpoint): every later request
        # would wait for the same failure, so it is remembered and answered at once.
        unusable.append(f"the retriever cannot be loaded: {' '.join(str(exc).split())}")
        return JSONResponse(status_code=503, content={"error": unusable[0]})
    except Exception as exc:
        return JSONResponse(status_code=500, content={"error": f"encoding failed: {type(exc).__name__}: {exc}"})
    return EncodeResponse(outputs=vector)


def create_app(
    generator: TacticGenerator,
    *,
    k: int = 8,
    model_name: str = "",
    retriever: Retriever | None = None,
    max_batch: int = 16,
    max_wait_ms: float = 10.0,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> FastAPI:
    """The FastAPI app. The batcher starts and stops with the app's lifespan."""
    batcher = RequestBatcher(generator, k, max_batch=max_batch, max_wait_s=max_wait_ms / 1000.0)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await batcher.start()
        try:
            yield
        finally:
            await batcher.stop()

    app = FastAPI(
        title="prover: Lean Copilot external model API",
        description=(
            "Tactic suggestions for Lean Copilot's `suggest_tactics` (register an `ExternalGenerator` "
            "pointing at this host and port)."
        ),
        version="1",
        lifespan=lifespan,
    )
    app.state.batcher = batcher
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes, router=app.router)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        # Unknown paths (404), wrong methods (405) and any other HTTP error: the same {"error": …} shape.
        return JSONResponse(status_code=exc.status_code, content={"error": str(exc.detail)}, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        status, message = _validation_message(exc)
        return JSONResponse(status_code=status, content={"error": message})

    @app.post(
        "/generate",
        response_model=GenerateResponse,
        responses={400: {"model": ErrorResponse}, 422: {"model": ErrorResponse}, 500: {"model": ErrorResponse}},
    )
    async def generate(req: GenerateRequest) -> GenerateResponse | JSONResponse:
        """Top-k tactics for the goals in `input`, best first; each starts with `prefix`."""
        return await _generate_reply(batcher, req)

    unusable: list[str] = []  # why the retriever cannot load, once it failed to

    @app.post(
        "/encode",
        response_model=EncodeResponse,
        responses={
            422: {"model": ErrorResponse},
            501: {"model": ErrorResponse},
            500: {"model": ErrorResponse},
            503: {"model": ErrorResponse},
        },
    )
    async def encode(req: EncodeRequest) -> EncodeResponse | JSONResponse:
        """The retriever's embedding of `input` (501 unless the server was started with a retriever)."""
        return await _encode_reply(retriever, unusable, req)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        stats = batcher.stats
        return {
            "status": "ok",
            "model": model_name,
            "k": batcher.k,
            "retriever": retriever is not None,
            "requests": stats.requests,
            "batches": stats.batches,
            "largest_batch": stats.largest_batch,
        }

    return app


# --- running --------------------------------------------------------------------------------------


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening-ready TCP socket on `host:port` (a name such as `localhost` is resolved first)."""
    family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


@dataclass
class RunningServer:
    """A uvicorn server running in a background thread (for tests and benchmarks)."""

    url: str
    server: Any
    thread: threading.Thread

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)
        if self.thread.is_alive():
            raise RuntimeError("the server did not shut down in time")


@contextlib.contextmanager
def serve_in_thread(
    app: FastAPI, host: str = DEFAULT_HOST, port: int = 0, timeout: float = 20.0
) -> Iterator[RunningServer]:
    """Run `app` with uvicorn on `host:port` (0 = a free port) until the block exits.

    Public API for embedding the server in another program (a notebook, a test): `prover serve` itself
    runs uvicorn in the foreground."""
    import uvicorn

    sock = bind_socket(host, port)
    bound_port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="uvicorn")
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError("the server failed to start")
        time.sleep(0.01)
    running = RunningServer(url=f"http://{host}:{bound_port}", server=server, thread=thread)
    try:
        yield running
    finally:
        running.stop()
        sock.close()
