/-
Premise dump, sent to the Lean REPL by `prover index` (prover/premises/dump.py) after the project's imports.

`#premise_modules` answers one info message: a JSON array of every imported module's name.
`#premise_dump M` answers one info message: a JSON object
  {"module": "M", "imports": ["A", ...], "decls": [{"name": "...", "type": "...", "kind": "theorem"}, ...]}
with the module's direct imports and its declarations (internal, private and unsafe ones left out; types
pretty-printed as the user would read them). One module per command keeps each REPL answer far below the
client's 64 MiB line limit, even for Mathlib's largest modules.
-/
open Lean Elab Command Meta

private def premiseKind : ConstantInfo → String
  | .thmInfo _ => "theorem"
  | .defnInfo _ => "def"
  | .axiomInfo _ => "axiom"
  | .inductInfo _ => "inductive"
  | .ctorInfo _ => "constructor"
  | .recInfo _ => "recursor"
  | .opaqueInfo _ => "opaque"
  | .quotInfo _ => "quot"

elab "#premise_modules" : command => do
  let names := (← getEnv).header.moduleNames.map (fun n => toJson n.toString)
  logInfo m!"{(Json.arr names).compress}"

elab "#premise_dump " mod:ident : command => do
  let env ← getEnv
  let target := mod.getId
  let mut found := false
  for (name, data) in env.header.moduleNames.zip env.header.moduleData do
    if name != target then continue
    found := true
    let imports := data.imports.map (fun i => toJson i.module.toString)
    let mut decls : Array Json := #[]
    for declName in data.constNames do
      if declName.isInternal || isPrivateName declName then continue
      let some info := env.find? declName | continue
      if info.isUnsafe then continue
      let type ← liftTermElabM do
        let fmt ← ppExpr info.type
        pure (toString fmt)
      decls := decls.push (Json.mkObj [("name", toJson declName.toString), ("type", toJson type),
        ("kind", toJson (premiseKind info))])
    let answer := Json.mkObj [("module", toJson target.toString), ("imports", Json.arr imports),
      ("decls", Json.arr decls)]
    logInfo m!"{answer.compress}"
  unless found do
    throwError "premise dump: module {target} is not imported"
