"""The ``logpipe`` command line.

Tenants' tools (send, tail, query, config) and operators' (serve, tenants, dlq).
"""
