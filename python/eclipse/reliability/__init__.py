"""The reliability loop: venue evidence -> reconcile -> belief debt -> posture -> guard knobs on entries.

It owns the running reconcile (:mod:`.loop`, an instance of the compiled ``specs/reconcile.toml`` machine),
the belief debt and posture of the daemon (``specs/posture.toml``), the entry guards (:mod:`.guards`: kill
switch, data quality, adaptive, anomaly, breach cooldown), the provider the entry gate reads
(:mod:`.provider`) and the reliability KPIs (:mod:`.kpis`). Exits and protection are never blocked here.
"""
