# logpipe on AWS: API Gateway (HTTP API) -> ingest Lambda -> SQS (+ DLQ) -> worker Lambda -> DynamoDB,
# and GET /admin/logs (IAM-signed) -> admin Lambda -> DynamoDB. Files by feature: queue.tf, dynamodb.tf,
# lambda.tf, iam.tf, api.tf, alarms.tf.

locals {
  name = "${var.project}-${var.env}"

  # AWS's rule for an SQS event source: the queue's visibility timeout at least 6x the function timeout (plus
  # the batching window), so a message whose invocation is retried by Lambda is not redelivered meanwhile.
  queue_visibility_timeout_seconds = 6 * var.worker_timeout_seconds + var.worker_batching_window_seconds

  # Ingest and admin answer through API Gateway, whose integration timeout is 30 s.
  api_function_timeout_seconds = 29

  handlers = {
    ingest = "logpipe_backend.lambdas.ingest.handler"
    worker = "logpipe_backend.lambdas.worker.handler"
    admin  = "logpipe_backend.lambdas.admin.handler"
    # Tenant read keys (issue 15): GET /logs with a tenant's own key, checked by the handler.
    tenant_read = "logpipe_backend.lambdas.tenant_read.handler"
  }
}
