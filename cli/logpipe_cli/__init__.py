"""The ``logpipe`` command line: tenants' tools (send, tail, query, config) and operators' (serve, tenants, dlq)."""
