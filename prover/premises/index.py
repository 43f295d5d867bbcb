"""The premise index: each module's declarations and their embeddings, cached per Lean version and project
revision, rebuilt only for modules whose declarations changed, resumable after a kill.

Layout under the cache root (default `~/.cache/lean-prover/premises`):

    <lean version>/modules/<module>-<digest>.json   one module's imports and declarations
    <lean version>/modules/<module>-<digest>.npy    their embeddings (rows in declaration order), when built
    <lean version>/<revision>.json                  the revision's manifest: module -> digest

A module's digest hashes its imports and declarations, so an unchanged module (in another revision too) is
found again and never re-embedded; each file is written whole (temporary file, then rename), so a killed
build keeps every module it finished and the next run continues with the others.

Retrieval follows ReProver (retrieval/model.py @fd6d99c): premises are embedded as their serialized code
(`reprover_format.serialize_premise`), the goal as itself, both mean-pooled over the encoder's last hidden
states and normalised; the score is the dot product.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from prover.premises.dump import Declaration, ModuleDump
from prover.premises.reprover_format import PremiseText, serialize_premise

DEFAULT_CACHE = Path("~/.cache/lean-prover/premises")
# ByT5-small's encoder on 2 CPU cores: about 0.4 s per premise (a few hundred bytes each).
CPU_SECONDS_PER_PREMISE_2_CORES = 0.4


class Encoder(Protocol):
    """Embeds texts: one unit-norm vector per text."""

    def encode(self, texts: Sequence[str]) -> list[list[float]]: ...


class PremiseIndexError(ValueError):
    """The index lacks what was asked for (no manifest for the revision, an unknown module): one line."""


def module_digest(dump: ModuleDump) -> str:
    h = hashlib.sha256()
    h.update(json.dumps([dump.module, list(dump.imports)]).encode())
    for d in dump.declarations:
        h.update(json.dumps([d.name, d.type, d.kind]).encode())
    return h.hexdigest()[:16]


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def premise_text(decl: Declaration) -> PremiseText:
    return PremiseText(decl.name, decl.code())


@dataclass(frozen=True)
class BuildPlan:
    """What a build will do: modules to store, to embed, and the premises to embed."""

    modules: int
    to_embed: tuple[str, ...]
    premises_to_embed: int

    def estimate(self, device: str, threads: int) -> str:
        if device.startswith("cuda"):
            return f"embedding {self.premises_to_embed} premises of {len(self.to_embed)} modules on {device}"
        seconds = self.premises_to_embed * CPU_SECONDS_PER_PREMISE_2_CORES * 2 / max(threads, 1)
        return (
            f"embedding {self.premises_to_embed} premises of {len(self.to_embed)} modules: about "
            f"{seconds / 60:.1f} min on {threads} CPU thread(s)"
        )


@dataclass(frozen=True)
class Hit:
    """A retrieved premise and its score (dot product of unit vectors)."""

    declaration: Declaration
    score: float


class PremiseIndex:
    """The cache for one Lean version (see module doc)."""

    def __init__(self, root: Path, lean_version: str) -> None:
        self.root = root.expanduser() / _safe(lean_version)
        self.modules_dir = self.root / "modules"

    def _file(self, module: str, digest: str, suffix: str) -> Path:
        # Module names hold dots, so the suffix is appended (Path.with_suffix would cut the name).
        return self.modules_dir / f"{_safe(module)}-{digest}{suffix}"

    def manifest_path(self, revision: str) -> Path:
        return self.root / f"{_safe(revision)}.json"

    # -- building

    def store(self, revision: str, dumps: Iterable[ModuleDump]) -> dict[str, str]:
        """Store every module's declarations (unchanged ones are already there) and the revision's manifest."""
        manifest: dict[str, str] = {}
        for dump in dumps:
            digest = module_digest(dump)
            manifest[dump.module] = digest
            meta = self._file(dump.module, digest, ".json")
            if not meta.exists():
                payload = {
                    "module": dump.module,
                    "imports": list(dump.imports),
                    "decls": [[d.name, d.type, d.kind] for d in dump.declarations],
                }
                _write_atomic(meta, json.dumps(payload, ensure_ascii=False).encode("utf-8"))
        _write_atomic(self.manifest_path(revision), json.dumps(manifest, indent=1, sort_keys=True).encode())
        return manifest

    def manifest(self, revision: str) -> dict[str, str]:
        path = self.manifest_path(revision)
        if not path.exists():
            raise PremiseIndexError(f"no premise index for revision {revision} (run `prover index` first)")
        data: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
        return data

    def load_module(self, module: str, digest: str) -> ModuleDump:
        meta = json.loads(self._file(module, digest, ".json").read_text(encoding="utf-8"))
        decls = tuple(Declaration(n, t, k, module) for n, t, k in meta["decls"])
        return ModuleDump(module, tuple(meta["imports"]), decls)

    def has_embeddings(self, module: str, digest: str) -> bool:
        return self._file(module, digest, ".npy").exists()

    def plan(self, manifest: dict[str, str], selected: Callable[[str], bool]) -> BuildPlan:
        todo = [m for m, d in sorted(manifest.items()) if selected(m) and not self.has_embeddings(m, d)]
        count = sum(len(self.load_module(m, manifest[m]).declarations) for m in todo)
        return BuildPlan(len(manifest), tuple(todo), count)

    def embed(
        self,
        manifest: dict[str, str],
        plan: BuildPlan,
        encoder: Encoder,
        batch_size: int = 32,
        progress: Callable[[str, int], None] | None = None,
    ) -> int:
        """Embed the planned modules, one file each as soon as it is done; returns premises embedded."""
        import numpy as np

        done = 0
        for module in plan.to_embed:
            dump = self.load_module(module, manifest[module])
            texts = [serialize_premise(premise_text(d)) for d in dump.declarations]
            rows: list[list[float]] = []
            for start in range(0, len(texts), batch_size):
                rows.extend(encoder.encode(texts[start : start + batch_size]))
            array = np.asarray(rows, dtype=np.float32).reshape(len(texts), -1)
            path = self._file(module, manifest[module], ".npy")
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.npy")
            np.save(tmp, array)
            os.replace(tmp, path)
            done += len(texts)
            if progress is not None:
                progress(module, len(texts))
        return done

    # -- querying

    def accessible(self, manifest: dict[str, str], roots: Iterable[str]) -> list[str]:
        """`roots` and every module they import, transitively (from the dump's module graph)."""
        seen: set[str] = set()
        stack = [r for r in roots if r in manifest]
        while stack:
            module = stack.pop()
            if module in seen:
                continue
            seen.add(module)
            stack.extend(i for i in self.load_module(module, manifest[module]).imports if i in manifest)
        return sorted(seen)

    def retrieve(
        self,
        manifest: dict[str, str],
        modules: Iterable[str],
        query: Sequence[float],
        k: int,
        extra: Sequence[tuple[Declaration, Sequence[float]]] = (),
    ) -> tuple[list[Hit], list[str]]:
        """The `k` best premises of `modules` (those with embeddings) and `extra`; also the modules skipped
        because they have no embeddings yet."""
        import numpy as np

        q = np.asarray(query, dtype=np.float32)
        scored: list[tuple[float, Declaration]] = []
        skipped: list[str] = []
        for module in modules:
            digest = manifest[module]
            if not self.has_embeddings(module, digest):
                skipped.append(module)
                continue
            emb = np.load(self._file(module, digest, ".npy"))
            decls = self.load_module(module, digest).declarations
            if len(decls) == 0:
                continue
            scores = emb @ q
            scored.extend((float(s), d) for s, d in zip(scores.tolist(), decls, strict=True))
        scored.extend((float(np.asarray(v, dtype=np.float32) @ q), d) for d, v in extra)
        scored.sort(key=lambda item: -item[0])
        return [Hit(d, s) for s, d in scored[:k]], skipped


class RetrieverEncoder:
    """ReProver's retriever encoder (`kaiyuy/leandojo-lean4-retriever-byt5-small`, or any T5 encoder):
    masked mean of the last hidden states, normalised to unit length (retrieval/model.py `_encode`)."""

    def __init__(self, model: Any, tokenizer: Any, max_length: int = 2048) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.max_length = max_length

    @classmethod
    def from_pretrained(cls, model_id: str, device: str = "cpu") -> RetrieverEncoder:
        from transformers import AutoTokenizer, T5EncoderModel

        from prover.generators.hf import resolve_device
        from prover.generators.seq2seq import configure_torch_threads

        device = resolve_device(device)
        if device == "cpu":
            configure_torch_threads()
        try:
            tokenizer = AutoTokenizer.from_pretrained(model_id)
            model: Any = T5EncoderModel.from_pretrained(model_id)
        except Exception as exc:  # noqa: BLE001 - one line
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise RuntimeError(f"cannot load the retriever {model_id!r}: {first}") from None
        return cls(model.to(device).eval(), tokenizer)

    def encode(self, texts: Sequence[str]) -> list[list[float]]:
        import torch

        device = next(self.model.parameters()).device
        enc = self.tokenizer(
            list(texts), padding="longest", truncation=True, max_length=self.max_length, return_tensors="pt"
        )
        enc = {k: v.to(device) for k, v in enc.items()}
        with torch.inference_mode():
            hidden = self.model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            features = (hidden * mask).sum(dim=1) / mask.sum(dim=1)
            features = torch.nn.functional.normalize(features.float(), dim=1)
        rows: list[list[float]] = features.cpu().tolist()
        return rows
