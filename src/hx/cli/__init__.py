"""The ``hx`` command: one module per command group."""
