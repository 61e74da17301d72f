"""The local stack: SQLite queue, SQLite store, key store, HTTP server and worker loop."""
