"""One router module per component; ``core`` is shared by all."""
