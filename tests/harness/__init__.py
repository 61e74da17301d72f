"""What tests and benches share: the launcher of a real `logpipe serve` (out of the product package)."""
