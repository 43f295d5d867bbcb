"""Replay cassettes: `format` (the on-disk records), `keys` (lookup forms), `store` (an in-memory cassette: read,
write, look up), and builders from published recordings (`build`: proofsteps, `leandojo`, `minif2f`;
`sorry_file` states a cassette's theorems as a .lean file)."""
