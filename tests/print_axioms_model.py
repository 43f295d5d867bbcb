"""How Lean answers `#print axioms NAME`, for stand-ins that answer the verifier's checks.

Read from Lean's source, leanprover/lean4:
* `src/Lean/Elab/Print.lean` (02637a033e9d4f8f99001e01925625452fbb77c4): `elabPrintAxioms` resolves the name with
  `realizeGlobalConstWithInfos` and logs, per constant it resolves to, ``'{constName}' depends on axioms: [..]``
  or ``'{constName}' does not depend on any axioms`` (`printAxiomsOf`): the full name, as `Name.toString` writes
  it (a component that is no plain identifier part in `«»`).
* `src/Lean/ResolveName.lean` (00999644a5dcef73215a44bd4098202ea2e2f539): `resolveGlobalName` tries the current
  namespace and each enclosing one first (`resolveUsingNamespace`: `ns ++ id`, else its private form), then the
  exact name with a leading `_root_` removed (`resolveExact`, non-atomic names only, private form too), then
  `id` itself and its private form. Open declarations and aliases are not modelled (the checks open none).
* `src/Lean/Modifiers.lean`: `mkPrivateName env n` is `_private.<main module>.0 ++ n`.

`resolve` and `answer_print_axioms` implement that over a list of constants the test declares (the stand-in
cannot elaborate, so the test says which constants the source declares and what they depend on); the namespace
at the `#print axioms` line is read from the source's `namespace`/`end` lines.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from lean_env.source.lexer import escape_component, name_components

Name = tuple[str, ...]
MAIN_MODULE: Name = ("Check",)


def parse(name: str) -> Name:
    return name_components(name)


def private(name: Name, module: Name = MAIN_MODULE) -> Name:
    return ("_private", *module, "0", *name)


def to_string(name: Name) -> str:
    """`Name.toString` with escaping: numeric components (`0` of a private name) stay bare."""
    return ".".join(p if p.isdigit() else escape_component(p) for p in name)


def resolve(constants: Mapping[Name, Any], namespace: Name, ident: str) -> list[Name]:
    """The constants `#print axioms ident` names, as `resolveGlobalName` finds them (no projections)."""
    wanted = parse(ident)

    def qualified(ns: Name) -> list[Name]:
        full = (*ns, *wanted)
        if full in constants:
            return [full]
        return [private(full)] if private(full) in constants else []

    for k in range(len(namespace), 0, -1):  # resolveUsingNamespace: innermost namespace first
        found = qualified(namespace[:k])
        if found:
            return found
    if len(wanted) > 1:  # resolveExact
        exact = wanted[1:] if wanted[0] == "_root_" else wanted
        if exact in constants:
            return [exact]
        if private(exact) in constants:
            return [private(exact)]
    return [n for n in (private(wanted), wanted) if n in constants]


def namespace_at(source: str, line: int) -> Name:
    """The namespace open at `line` (1-based): `namespace A.B` pushes, `end A.B` pops, sections count as empty."""
    stack: list[Name] = []
    for text in source.split("\n")[: line - 1]:
        if m := re.match(r"\s*(namespace|section)\b\s*(\S*)", text):
            stack.append(parse(m[2]) if m[1] == "namespace" else ())
        elif re.match(r"\s*end\b", text) and stack:
            stack.pop()
    return tuple(p for ns in stack for p in ns)


def axioms_message(line: int, name: Name, axioms: str | None) -> dict[str, Any]:
    shown = to_string(name)
    data = f"'{shown}' does not depend on any axioms" if axioms is None else f"'{shown}' depends on axioms: {axioms}"
    return {"severity": "info", "pos": {"line": line, "column": 0}, "endPos": {"line": line, "column": 6}, "data": data}


def answer_print_axioms(source: str, constants: Mapping[Name, str | None]) -> list[dict[str, Any]]:
    """Lean's info messages for every `#print axioms` line of `source`, given the constants it declares
    (full name -> axiom list text, None for "does not depend on any axioms")."""
    messages = []
    for number, text in enumerate(source.split("\n"), start=1):
        if text.startswith("#print axioms "):
            ident = text.removeprefix("#print axioms ").strip()
            for name in resolve(constants, namespace_at(source, number), ident):
                messages.append(axioms_message(number, name, constants[name]))
    return messages


def printed_name(ident: str) -> str:
    """The name Lean prints for `#print axioms ident` when nothing shadows it: `_root_` dropped, escapes normal."""
    name = parse(ident)
    return to_string(name[1:] if name[:1] == ("_root_",) and len(name) > 1 else name)
