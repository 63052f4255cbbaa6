"""The entry path of the execution engine: scanner -> gate -> sizing and leverage -> router request, and the
post-submit partial-fill resolver.

Import from the submodules (``eclipse.execution.entries.gate`` ...): this package file imports nothing,
because the knob registry imports :mod:`eclipse.execution.entries.values` while it is being built.
"""
