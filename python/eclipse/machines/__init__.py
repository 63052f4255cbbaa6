"""State machines of the execution layer, declared in ``specs/`` and as python-statemachine classes, run as
compiled tables (see :mod:`eclipse.machines.table`)."""
