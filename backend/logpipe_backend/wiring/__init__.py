"""Builds each handler's dependencies: settings → adapters → ``ports.*Deps``. The only importer of adapters.

``LOGPIPE_QUEUE_URL`` set → the AWS adapters (``wiring.aws``: SQS, DynamoDB; boto3 clients made once,
``AWS_ENDPOINT_URL`` honoured). Otherwise the SQLite adapters on ``LOGPIPE_DATA_DIR`` (``wiring.local``).
The variables themselves are read by ``logpipe_backend.settings``.

One module per function (``wiring.ingest``, ``wiring.worker``, ``wiring.admin``, ``wiring.tenant_read``),
each importing its adapters inside the function that builds them: a Lambda zip then holds only what its own
function can import (see ``infra/package_lambdas.py``), and the local stack never loads boto3. The Lambda
entry points (``logpipe_backend.lambdas``) and the local runtime call these; handlers never do.
"""
