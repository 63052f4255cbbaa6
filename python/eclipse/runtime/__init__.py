"""The daemon (``eclipse run``): one supervisor owning every loop (market data, engine, reconcile, telemetry,
status), the run directory, startup and graceful stop, in four modes that differ only in venue and clock
(live, paper, sim, simulated time)."""
