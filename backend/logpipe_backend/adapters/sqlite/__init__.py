"""The SQLite adapters of the local stack: queue (SQS semantics), store, key store, and their upkeep
(retention, purge, backup) on one data dir."""
