# Three functions from three zips (`make package`), each with its own role (iam.tf) and log group.
# The handler paths are docs/contract.md §1's; tests/infra checks that each exists in the code and in its zip.

resource "aws_cloudwatch_log_group" "ingest" {
  #checkov:skip=CKV_AWS_158:Encrypted at rest by CloudWatch Logs' own service key; a customer-managed KMS key (1 USD/month plus a key policy for the logs service) buys key revocation, which these operational logs (no record bodies, no credentials) do not need.
  #checkov:skip=CKV_AWS_338:Retention is the variable function_log_retention_days (default 30): these are operational logs of the functions and API, not the tenants' records, which live in DynamoDB under their own TTL; a year of them is cost without use in a dev deployment.
  name              = "/aws/lambda/${local.name}-ingest"
  retention_in_days = var.function_log_retention_days
}

resource "aws_cloudwatch_log_group" "worker" {
  #checkov:skip=CKV_AWS_158:Encrypted at rest by CloudWatch Logs' own service key; a customer-managed KMS key (1 USD/month plus a key policy for the logs service) buys key revocation, which these operational logs (no record bodies, no credentials) do not need.
  #checkov:skip=CKV_AWS_338:Retention is the variable function_log_retention_days (default 30): these are operational logs of the functions and API, not the tenants' records, which live in DynamoDB under their own TTL; a year of them is cost without use in a dev deployment.
  name              = "/aws/lambda/${local.name}-worker"
  retention_in_days = var.function_log_retention_days
}

resource "aws_cloudwatch_log_group" "admin" {
  #checkov:skip=CKV_AWS_158:Encrypted at rest by CloudWatch Logs' own service key; a customer-managed KMS key (1 USD/month plus a key policy for the logs service) buys key revocation, which these operational logs (no record bodies, no credentials) do not need.
  #checkov:skip=CKV_AWS_338:Retention is the variable function_log_retention_days (default 30): these are operational logs of the functions and API, not the tenants' records, which live in DynamoDB under their own TTL; a year of them is cost without use in a dev deployment.
  name              = "/aws/lambda/${local.name}-admin"
  retention_in_days = var.function_log_retention_days
}

resource "aws_lambda_function" "ingest" {
  #checkov:skip=CKV_AWS_116:A Lambda DLQ only catches failed asynchronous invocations; this function is only invoked synchronously (API Gateway, or the SQS event source mapping, whose failures go to the queue's own DLQ via redrive).
  #checkov:skip=CKV_AWS_117:The function reaches only AWS APIs (SQS, DynamoDB, X-Ray, Logs) over TLS with IAM; a VPC would need NAT or five interface endpoints (cost, cold starts) and protect nothing here.
  #checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile in the deploy pipeline; the zip is built reproducibly (same input, same bytes) and pinned by source_code_hash.
  #checkov:skip=CKV_AWS_173:The environment holds only resource names, URLs and numbers, no secrets; Lambda encrypts it at rest with its service key.
  #checkov:skip=CKV_AWS_115:Bounded by the API stage's throttling (api_throttling_rate_limit/burst) instead: a reservation takes concurrency out of the account pool, and an account with the default quota of 10 cannot reserve any.
  function_name    = "${local.name}-ingest"
  description      = "POST /ingest: authenticate the tenant key, normalize, queue"
  role             = aws_iam_role.ingest.arn
  handler          = local.handlers.ingest
  runtime          = var.lambda_runtime
  architectures    = [var.lambda_architecture]
  filename         = var.ingest_lambda_zip
  source_code_hash = filebase64sha256(var.ingest_lambda_zip)
  memory_size      = 512
  timeout          = local.api_function_timeout_seconds

  environment {
    variables = {
      LOGPIPE_QUEUE_URL                = aws_sqs_queue.this.url
      LOGPIPE_TENANTS_TABLE_NAME       = aws_dynamodb_table.tenants.name
      LOGPIPE_IDEMPOTENCY_TABLE_NAME   = aws_dynamodb_table.idempotency.name
      LOGPIPE_MAX_QUEUE_DEPTH          = tostring(var.max_queue_depth)
      LOGPIPE_RATE_LIMIT_RECORDS_PER_S = tostring(var.tenant_rate_limit_records_per_second)
      LOGPIPE_RATE_LIMIT_BURST         = tostring(var.tenant_rate_limit_burst_records)
    }
  }

  tracing_config {
    mode = "Active"
  }

  depends_on = [aws_cloudwatch_log_group.ingest]
}

resource "aws_lambda_function" "worker" {
  #checkov:skip=CKV_AWS_116:A Lambda DLQ only catches failed asynchronous invocations; this function is only invoked synchronously (API Gateway, or the SQS event source mapping, whose failures go to the queue's own DLQ via redrive).
  #checkov:skip=CKV_AWS_117:The function reaches only AWS APIs (SQS, DynamoDB, X-Ray, Logs) over TLS with IAM; a VPC would need NAT or five interface endpoints (cost, cold starts) and protect nothing here.
  #checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile in the deploy pipeline; the zip is built reproducibly (same input, same bytes) and pinned by source_code_hash.
  #checkov:skip=CKV_AWS_173:The environment holds only resource names, URLs and numbers, no secrets; Lambda encrypts it at rest with its service key.
  function_name                  = "${local.name}-worker"
  description                    = "SQS -> redact -> DynamoDB; failed messages reported as batchItemFailures"
  role                           = aws_iam_role.worker.arn
  handler                        = local.handlers.worker
  runtime                        = var.lambda_runtime
  architectures                  = [var.lambda_architecture]
  filename                       = var.worker_lambda_zip
  source_code_hash               = filebase64sha256(var.worker_lambda_zip)
  memory_size                    = 512
  timeout                        = var.worker_timeout_seconds
  reserved_concurrent_executions = var.worker_reserved_concurrency

  environment {
    variables = {
      LOGPIPE_QUEUE_URL               = aws_sqs_queue.this.url
      LOGPIPE_TABLE_NAME              = aws_dynamodb_table.logs.name
      LOGPIPE_TENANTS_TABLE_NAME      = aws_dynamodb_table.tenants.name
      LOGPIPE_SIMULATED_WORK_PER_CHAR = tostring(var.simulated_work_seconds_per_char)
      LOGPIPE_REDACT_PATTERNS         = var.redact_patterns
      LOGPIPE_LOG_RETENTION_DAYS      = tostring(var.log_retention_days)
      LOGPIPE_STRICT_ISOLATION        = var.strict_isolation ? "1" : "0"
      LOGPIPE_TENANT_ACCESS_ROLE_ARN  = join("", aws_iam_role.tenant_access[*].arn)
    }
  }

  tracing_config {
    mode = "Active"
  }

  depends_on = [aws_cloudwatch_log_group.worker]
}

resource "aws_lambda_function" "admin" {
  #checkov:skip=CKV_AWS_116:A Lambda DLQ only catches failed asynchronous invocations; this function is only invoked synchronously (API Gateway, or the SQS event source mapping, whose failures go to the queue's own DLQ via redrive).
  #checkov:skip=CKV_AWS_117:The function reaches only AWS APIs (SQS, DynamoDB, X-Ray, Logs) over TLS with IAM; a VPC would need NAT or five interface endpoints (cost, cold starts) and protect nothing here.
  #checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile in the deploy pipeline; the zip is built reproducibly (same input, same bytes) and pinned by source_code_hash.
  #checkov:skip=CKV_AWS_173:The environment holds only resource names, URLs and numbers, no secrets; Lambda encrypts it at rest with its service key.
  #checkov:skip=CKV_AWS_115:Bounded by the API stage's throttling (api_throttling_rate_limit/burst) instead: a reservation takes concurrency out of the account pool, and an account with the default quota of 10 cannot reserve any.
  function_name    = "${local.name}-admin"
  description      = "GET /admin/logs (IAM-authorized): one tenant's records"
  role             = aws_iam_role.admin.arn
  handler          = local.handlers.admin
  runtime          = var.lambda_runtime
  architectures    = [var.lambda_architecture]
  filename         = var.admin_lambda_zip
  source_code_hash = filebase64sha256(var.admin_lambda_zip)
  memory_size      = 512
  timeout          = local.api_function_timeout_seconds

  environment {
    variables = {
      LOGPIPE_QUEUE_URL              = aws_sqs_queue.this.url
      LOGPIPE_TABLE_NAME             = aws_dynamodb_table.logs.name
      LOGPIPE_ADMIN_AUTH             = "iam"
      LOGPIPE_STRICT_ISOLATION       = var.strict_isolation ? "1" : "0"
      LOGPIPE_TENANT_ACCESS_ROLE_ARN = join("", aws_iam_role.tenant_access[*].arn)
    }
  }

  tracing_config {
    mode = "Active"
  }

  depends_on = [aws_cloudwatch_log_group.admin]
}

resource "aws_lambda_event_source_mapping" "worker" {
  event_source_arn                   = aws_sqs_queue.this.arn
  function_name                      = aws_lambda_function.worker.arn
  batch_size                         = var.worker_batch_size
  maximum_batching_window_in_seconds = var.worker_batching_window_seconds
  # The worker answers {"batchItemFailures": [...]}: only those messages are retried, the rest are deleted.
  function_response_types = ["ReportBatchItemFailures"]

  scaling_config {
    # Not above the reserved concurrency: more pollers than allowed executions would only be throttled.
    maximum_concurrency = var.worker_reserved_concurrency
  }
}

# --- tenant read keys (issue 15): GET /logs with a tenant's read key (docs/aws.md, "Tenant read keys") ---

resource "aws_cloudwatch_log_group" "tenant_read" {
  #checkov:skip=CKV_AWS_158:Encrypted at rest by CloudWatch Logs' own service key; a customer-managed KMS key (1 USD/month plus a key policy for the logs service) buys key revocation, which these operational logs (no record bodies, no credentials) do not need.
  #checkov:skip=CKV_AWS_338:Retention is the variable function_log_retention_days (default 30): these are operational logs of the functions and API, not the tenants' records, which live in DynamoDB under their own TTL; a year of them is cost without use in a dev deployment.
  name              = "/aws/lambda/${local.name}-tenant-read"
  retention_in_days = var.function_log_retention_days
}

resource "aws_lambda_function" "tenant_read" {
  #checkov:skip=CKV_AWS_116:A Lambda DLQ only catches failed asynchronous invocations; this function is only invoked synchronously (API Gateway).
  #checkov:skip=CKV_AWS_117:The function reaches only AWS APIs (DynamoDB, X-Ray, Logs) over TLS with IAM; a VPC would need NAT or interface endpoints (cost, cold starts) and protect nothing here.
  #checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile in the deploy pipeline; the zip is built reproducibly (same input, same bytes) and pinned by source_code_hash.
  #checkov:skip=CKV_AWS_173:The environment holds only resource names, URLs and numbers, no secrets; Lambda encrypts it at rest with its service key.
  #checkov:skip=CKV_AWS_115:Bounded by the API stage's throttling (api_throttling_rate_limit/burst) instead: a reservation takes concurrency out of the account pool, and an account with the default quota of 10 cannot reserve any.
  function_name    = "${local.name}-tenant-read"
  description      = "GET /logs with a tenant's read key (checked here, no IAM): that tenant's records only"
  role             = aws_iam_role.tenant_read.arn
  handler          = local.handlers.tenant_read
  runtime          = var.lambda_runtime
  architectures    = [var.lambda_architecture]
  filename         = var.tenant_read_lambda_zip
  source_code_hash = filebase64sha256(var.tenant_read_lambda_zip)
  memory_size      = 512
  timeout          = local.api_function_timeout_seconds

  environment {
    variables = {
      LOGPIPE_QUEUE_URL              = aws_sqs_queue.this.url
      LOGPIPE_TABLE_NAME             = aws_dynamodb_table.logs.name
      LOGPIPE_TENANTS_TABLE_NAME     = aws_dynamodb_table.tenants.name
      LOGPIPE_STRICT_ISOLATION       = var.strict_isolation ? "1" : "0"
      LOGPIPE_TENANT_ACCESS_ROLE_ARN = join("", aws_iam_role.tenant_access[*].arn)
    }
  }

  tracing_config {
    mode = "Active"
  }

  depends_on = [aws_cloudwatch_log_group.tenant_read]
}
