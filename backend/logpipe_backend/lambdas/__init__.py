"""The Lambda entry points, one module per function: Terraform's
``handler = "logpipe_backend.lambdas.<function>.handler"``.

Each imports its handler and its wiring, builds the dependencies once per process (cold start) and calls
``handle``: the handlers never import the wiring, so neither knows the other's imports, and each function's
zip holds only what its own module reaches (``infra/package_lambdas.py``).
"""
