"""The HTTP API (FastAPI): app factory, auth, problem+json, one router module per component."""
