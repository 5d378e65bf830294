"""The base layer, under everything else: the registries of names, declared config options,
provenance (commit, device, date), and small io helpers (atomic writes, hashing, process checks,
timing). It imports nothing of the package above it (CONTRIBUTING.md)."""
