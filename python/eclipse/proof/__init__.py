"""Proof of the promise: one library of checkers over a whole run's evidence (the journal, the telemetry and
the venue's own state), the deterministic simulation of the whole daemon (seeded venue faults, crash and
restart in simulated time) and the soak run. The chaos catalogue, the kill -9 crash suite, the property tests
and ``eclipse simtest`` all judge a run with :func:`~eclipse.proof.checkers.check_run`.

Layering: this package sits on top of everything (it drives the daemon); nothing below imports it. Its
checkers are registered in the spec checker registry (suite ``run``) and named by the invariants of
``specs/*.toml`` like every other checker.
"""
