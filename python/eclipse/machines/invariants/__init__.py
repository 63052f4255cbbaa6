"""The conformance and property checkers of the machines' invariants, registered by name in
:mod:`eclipse.machines.checkers` (the model check's checkers live in :mod:`eclipse.machines.modelcheck`).

Each checker returns the problems it found as readable lines (empty when the invariant holds), so a suite
asserts an empty list and a test of a mutant asserts a non-empty one. Property checkers compare a tracker with
the test's own record of what happened (:class:`~eclipse.machines.invariants.order.OrderVenueRecord`,
:class:`~eclipse.machines.invariants.protection.ProtectionFacts`), updated whatever the machine did with each
event: a fact the machine refuses stays in the record, and the comparison shows it.
"""
