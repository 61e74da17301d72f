"""logpipe backend: the handlers, the pure core and the adapters (local SQLite, AWS)."""
