"""The local process world of ``logpipe serve``: the HTTP server, the supervisor, the worker loop.

Runtime reaches the SQLite adapters only through ``logpipe_backend.wiring.local``."""
