"""Verification tools: the explorer (model checker), the linearizability
checker and the catalogue of seeded bugs (mutants)."""
