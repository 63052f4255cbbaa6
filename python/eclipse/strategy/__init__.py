"""Strategy layer: the Rust scorer wrapped with Python gates (sessions, staleness, loss cooldown) and the
near-miss audit. Import the submodules directly (``eclipse.strategy.engine`` ...)."""
