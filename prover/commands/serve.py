"""`prover serve`: Lean Copilot's external model API over HTTP (POST /generate, /encode; docs at /docs), and
LLMLean's OpenAI-compatible (/v1/completions, /v1/chat/completions) and Ollama (/api/generate) endpoints."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from prover.commands.options import (
    ConfigOption,
    DeviceOption,
    GeneratorOption,
    ModelOption,
    TemplateOption,
    generator_overrides,
)
from prover.console import err_console, fail

if TYPE_CHECKING:
    from prover.config import ProverConfig


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (loopback by default)."),
    port: int = typer.Option(23337, "--port", help="Port (23337 is Lean Copilot's default)."),
    config: ConfigOption = None,
    generator: GeneratorOption = None,
    model: ModelOption = None,
    template: TemplateOption = None,
    device: DeviceOption = None,
    num_tactics: int | None = typer.Option(None, "--num-tactics", "-k", help="Tactics returned per request."),
    max_batch: int = typer.Option(16, "--max-batch", help="Most requests sent to the model in one call."),
    max_wait_ms: float = typer.Option(10.0, "--max-wait-ms", help="How long to gather a batch (milliseconds)."),
    retriever: str | None = typer.Option(None, "--retriever", help="HF encoder model for POST /encode."),
    retriever_device: str = typer.Option("cpu", "--retriever-device", help="Device of the retriever model."),
    premises_project: Path | None = typer.Option(
        None, "--premises-project", help="Serve POST /premises from this project's index (`prover index`)."
    ),
    premises_cache: Path | None = typer.Option(None, "--premises-cache", help="The index's cache folder."),
    log_level: str = typer.Option("info", "--log-level", help="uvicorn log level."),
) -> None:
    """Serve tactic suggestions to Lean Copilot (`suggest_tactics` with an ExternalGenerator)."""
    options = _ServeOptions(
        host, port, max_batch, max_wait_ms, retriever, retriever_device, premises_project, premises_cache, log_level
    )
    cfg, k = _serve_config(options, config, generator, model, template, device, num_tactics)
    from prover.serve import bind_socket

    # Bind before loading the model, so that a busy port or a bad address is a one-line error at once.
    try:
        sock = bind_socket(host, port)
    except OSError as exc:
        fail(f"cannot bind {host}:{port}: {exc.strerror or exc}")
    try:
        _run_server(sock, _build_app(cfg, k, options), options)
    finally:
        sock.close()
    err_console.print("server stopped", highlight=False)


@dataclass(frozen=True)
class _ServeOptions:
    """`serve`'s server and retrieval options, as given."""

    host: str
    port: int
    max_batch: int
    max_wait_ms: float
    retriever: str | None
    retriever_device: str
    premises_project: Path | None
    premises_cache: Path | None
    log_level: str


def _serve_config(
    options: _ServeOptions,
    config: Path | None,
    generator: str | None,
    model: str | None,
    template: str | None,
    device: str | None,
    num_tactics: int | None,
) -> tuple[ProverConfig, int]:
    """The config the server runs with and its tactics per request; one line and exit 2 for a bad option."""
    from prover.config import ConfigError, load_config
    from prover.generators.seq2seq import apply_device

    overrides: dict[str, dict[str, Any]] = {"generator": generator_overrides(generator, model, template)}
    try:
        cfg = load_config(config, overrides)
        cfg.generator = apply_device(cfg.generator, device, model is not None)
    except (ConfigError, ValueError) as exc:
        fail(str(exc))
    k = num_tactics if num_tactics is not None else cfg.search.num_tactics
    problems = (
        (k < 1, "--num-tactics must be at least 1"),
        (not 0 < options.port < 65536, f"--port must be in 1..65535, got {options.port}"),
        (options.max_batch < 1, "--max-batch must be at least 1"),
        (options.max_wait_ms < 0, "--max-wait-ms must be >= 0"),
    )
    for bad, message in problems:
        if bad:
            fail(message)
    return cfg, k


def _build_app(cfg: ProverConfig, k: int, options: _ServeOptions) -> Any:
    """The app with every front end's routes; the model is checked reachable (one line, not a minute of hub
    retries; for the retriever too) and loaded."""
    from prover.generators import make_generator
    from prover.offline import model_unreachable
    from prover.serve import HFEncoderRetriever, create_app, is_loopback
    from prover.serve_openai import catalog_for, register_llm_routes, register_premise_routes, served_preset_name

    if not is_loopback(options.host):
        err_console.print(
            f"[bold yellow]warning:[/] binding {options.host}: the server has no authentication and anyone who "
            "can reach this address can use the model",
            highlight=False,
            soft_wrap=True,
        )
    problem = model_unreachable(cfg.generator.kind, cfg.generator.model)
    if problem is None and options.retriever:
        problem = model_unreachable("hf", options.retriever)
    if problem is not None:
        fail(problem)
    try:
        gen = make_generator(cfg.generator)
    except (ValueError, RuntimeError, OSError, ImportError) as exc:
        fail(f"cannot build the {cfg.generator.kind} generator: {exc}")
    retriever = options.retriever
    app = create_app(
        gen,
        k=k,
        model_name=cfg.generator.model if cfg.generator.kind != "fixed" else "fixed",
        retriever=HFEncoderRetriever(retriever, device=options.retriever_device) if retriever else None,
        max_batch=options.max_batch,
        max_wait_ms=options.max_wait_ms,
    )
    # LLMLean's OpenAI-compatible and Ollama requests (/v1/..., /api/generate) beside Lean Copilot's.
    register_llm_routes(app, catalog_for(cfg.generator, gen, served_preset_name(cfg.generator)), k_default=k)
    premises = _premise_service(options.premises_project, options.premises_cache, retriever, options.retriever_device)
    register_premise_routes(app, premises)
    return app


def _run_server(sock: Any, app: Any, options: _ServeOptions) -> None:
    import uvicorn

    err_console.print(
        f"serving on http://{options.host}:{options.port} (API docs at /docs)", highlight=False, soft_wrap=True
    )
    server = uvicorn.Server(uvicorn.Config(app, log_level=options.log_level, lifespan="on"))
    # uvicorn re-raises the Ctrl-C it handled after a graceful shutdown.
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=[sock])


def _premise_service(project: Path | None, cache: Path | None, retriever: str | None, device: str) -> Any:
    """The /premises backend, or None when no project was given."""
    if project is None:
        return None
    from prover.premises.index import DEFAULT_CACHE, RetrieverEncoder
    from prover.serve_openai import PremiseService

    model = retriever or "kaiyuy/leandojo-lean4-retriever-byt5-small"
    return PremiseService(
        project.expanduser(), cache or DEFAULT_CACHE, lambda: RetrieverEncoder.from_pretrained(model, device=device)
    )
