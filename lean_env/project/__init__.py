"""Lean project set-up and the Lean side of the doctor.

`repl_versions`: Lean versions and the REPL revision built for each. `lake_project`: the Lake project `prover setup`
makes (plan, steps, run). `repl_patch`: the patches applied to the REPL before it is built. `probes`: the Lean-side
rows of `prover doctor` (`Probe`, `DoctorReport`, `run_doctor`). `tools`: finding and running `git`/`lake`/`lean`.
"""
