"""Lambda entry points: event in, response out. The same code serves ``logpipe serve``."""
