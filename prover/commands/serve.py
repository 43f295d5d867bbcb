"""`prover serve`: Lean Copilot's external model API over HTTP (POST /generate, /encode; docs at /docs), and
LLMLean's OpenAI-compatible (/v1/completions, /v1/chat/completions) and Ollama (/api/generate) endpoints."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

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
    from prover.config import ConfigError, load_config

    overrides: dict[str, dict[str, Any]] = {"generator": generator_overrides(generator, model, template)}
    try:
        cfg = load_config(config, overrides)
    except ConfigError as exc:
        fail(str(exc))
    from prover.generators.seq2seq import apply_device

    try:
        cfg.generator = apply_device(cfg.generator, device, model is not None)
    except ValueError as exc:
        fail(str(exc))
    k = num_tactics if num_tactics is not None else cfg.search.num_tactics
    if k < 1:
        fail("--num-tactics must be at least 1")
    if not 0 < port < 65536:
        fail(f"--port must be in 1..65535, got {port}")
    if max_batch < 1:
        fail("--max-batch must be at least 1")
    if max_wait_ms < 0:
        fail("--max-wait-ms must be >= 0")

    import uvicorn

    from prover.serve import HFEncoderRetriever, bind_socket, create_app, is_loopback

    # Bind before loading the model, so that a busy port or a bad address is a one-line error at once.
    try:
        sock = bind_socket(host, port)
    except OSError as exc:
        fail(f"cannot bind {host}:{port}: {exc.strerror or exc}")
    try:
        if not is_loopback(host):
            err_console.print(
                f"[bold yellow]warning:[/] binding {host}: the server has no authentication and anyone who "
                "can reach this address can use the model",
                highlight=False,
                soft_wrap=True,
            )
        from prover.offline import model_unreachable

        # One line now, not a minute of hub retries (for the retriever: on the first /encode).
        problem = model_unreachable(cfg.generator.kind, cfg.generator.model)
        if problem is None and retriever:
            problem = model_unreachable("hf", retriever)
        if problem is not None:
            fail(problem)
        try:
            from prover.generators import make_generator

            gen = make_generator(cfg.generator)
        except (ValueError, RuntimeError, OSError, ImportError) as exc:
            fail(f"cannot build the {cfg.generator.kind} generator: {exc}")
        app = create_app(
            gen,
            k=k,
            model_name=cfg.generator.model if cfg.generator.kind != "fixed" else "fixed",
            retriever=HFEncoderRetriever(retriever, device=retriever_device) if retriever else None,
            max_batch=max_batch,
            max_wait_ms=max_wait_ms,
        )
        from prover.serve_openai import catalog_for, register_llm_routes, register_premise_routes, served_preset_name

        # LLMLean's OpenAI-compatible and Ollama requests (/v1/..., /api/generate) beside Lean Copilot's.
        register_llm_routes(app, catalog_for(cfg.generator, gen, served_preset_name(cfg.generator)), k_default=k)
        register_premise_routes(app, _premise_service(premises_project, premises_cache, retriever, retriever_device))
        err_console.print(f"serving on http://{host}:{port} (API docs at /docs)", highlight=False, soft_wrap=True)
        server = uvicorn.Server(uvicorn.Config(app, log_level=log_level, lifespan="on"))
        # uvicorn re-raises the Ctrl-C it handled after a graceful shutdown.
        with contextlib.suppress(KeyboardInterrupt):
            server.run(sockets=[sock])
    finally:
        sock.close()
    err_console.print("server stopped", highlight=False)


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
