output "ingest_url" {
  description = "POST logs here (Authorization: Bearer <tenant key>)."
  value       = "${aws_apigatewayv2_api.this.api_endpoint}/ingest"
}

output "admin_url" {
  description = "GET one tenant's logs here with a SigV4-signed request (service execute-api)."
  value       = "${aws_apigatewayv2_api.this.api_endpoint}/admin/logs"
}

output "api_endpoint" {
  description = "Base URL of the HTTP API."
  value       = aws_apigatewayv2_api.this.api_endpoint
}

output "queue_url" {
  description = "The ingest queue (LOGPIPE_QUEUE_URL)."
  value       = aws_sqs_queue.this.url
}

output "dlq_url" {
  description = "The dead-letter queue: messages that failed 5 receives."
  value       = aws_sqs_queue.dlq.url
}

output "logs_table_name" {
  description = "The records table (LOGPIPE_TABLE_NAME)."
  value       = aws_dynamodb_table.logs.name
}

output "tenants_table_name" {
  description = "The hashed tenant keys (LOGPIPE_TENANTS_TABLE_NAME)."
  value       = aws_dynamodb_table.tenants.name
}

output "idempotency_table_name" {
  description = "Idempotency-Key claims (LOGPIPE_IDEMPOTENCY_TABLE_NAME)."
  value       = aws_dynamodb_table.idempotency.name
}

output "aws_region" {
  description = "Region of the deployment (for the CLI's AWS_REGION)."
  value       = var.aws_region
}

output "admin_execute_api_arn" {
  description = "Grant execute-api:Invoke on this ARN to the IAM identities that may read logs (GET /admin/logs)."
  value       = "${aws_apigatewayv2_api.this.execution_arn}/*/GET/admin/logs"
}

output "tenant_access_role_arn" {
  description = "The per-tenant role the worker and admin assume under strict_isolation (empty otherwise)."
  value       = join("", aws_iam_role.tenant_access[*].arn)
}

output "worker_log_group_name" {
  description = "The worker's CloudWatch log group: where `logpipe dlq list` looks up a dead letter's last error."
  value       = aws_cloudwatch_log_group.worker.name
}

output "tenant_logs_url" {
  description = "GET a tenant's own records here with its read key (Authorization: Bearer)."
  value       = "${aws_apigatewayv2_api.this.api_endpoint}/logs"
}
