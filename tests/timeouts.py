"""How long a test waits for work it started before calling it hung: one constant for every such wait.

A test's verdict must not depend on machine load. A CLI run or script that takes seconds on an idle machine took
over 120 s on a loaded 2-core CI runner, so the limit is generous: it only has to tell a hang from slow progress.
"""

from __future__ import annotations

# A subprocess (a `prover` command, a benchmark script, a spawned interactive session, a resumed sweep).
SUBPROCESS_TIMEOUT_S = 900
