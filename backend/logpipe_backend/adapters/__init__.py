"""Implementations of the ports in ``logpipe_backend.ports``."""
