"""Pure logic: no I/O, imports nothing of ours outside ``core``."""
