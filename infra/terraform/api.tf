# HTTP API: POST /ingest and the shippers' doors (OTLP, Loki, Splunk HEC; tenant API keys, checked by the
# ingest handler: the same code as the local stack)
# and GET /admin/logs (AWS_IAM: SigV4-signed requests only; the handler trusts API Gateway's check).
# The `ANY` routes send every other method to the same handler, which answers the contract's JSON 405
# instead of API Gateway's bare 404.

resource "aws_apigatewayv2_api" "this" {
  name          = local.name
  protocol_type = "HTTP"
  description   = "logpipe ingest and admin API"
}

resource "aws_cloudwatch_log_group" "api_access" {
  #checkov:skip=CKV_AWS_158:Encrypted at rest by CloudWatch Logs' own service key; a customer-managed KMS key (1 USD/month plus a key policy for the logs service) buys key revocation, which these operational logs (no record bodies, no credentials) do not need.
  #checkov:skip=CKV_AWS_338:Retention is the variable function_log_retention_days (default 30): these are API access logs, not the tenants' records, which live in DynamoDB under their own TTL; a year of them is cost without use in a dev deployment.
  name              = "/aws/apigateway/${local.name}"
  retention_in_days = var.function_log_retention_days
}

resource "aws_apigatewayv2_stage" "this" {
  api_id      = aws_apigatewayv2_api.this.id
  name        = "$default"
  auto_deploy = true

  default_route_settings {
    throttling_rate_limit    = var.api_throttling_rate_limit
    throttling_burst_limit   = var.api_throttling_burst_limit
    detailed_metrics_enabled = true
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.api_access.arn
    # No headers are logged: they carry tenant keys and SigV4 signatures.
    format = jsonencode({
      requestId        = "$context.requestId"
      sourceIp         = "$context.identity.sourceIp"
      requestTime      = "$context.requestTime"
      httpMethod       = "$context.httpMethod"
      routeKey         = "$context.routeKey"
      status           = "$context.status"
      protocol         = "$context.protocol"
      responseLength   = "$context.responseLength"
      latencyMs        = "$context.responseLatency"
      integrationError = "$context.integrationErrorMessage"
      iamUser          = "$context.identity.userArn"
    })
  }
}

# --- ingest ---

resource "aws_apigatewayv2_integration" "ingest" {
  api_id                 = aws_apigatewayv2_api.this.id
  integration_type       = "AWS_PROXY"
  integration_uri        = aws_lambda_function.ingest.invoke_arn
  payload_format_version = "2.0"
}

resource "aws_apigatewayv2_route" "ingest" {
  #checkov:skip=CKV_AWS_309:Tenant API keys are checked by the ingest handler itself (the same code as the local stack, one DynamoDB GetItem of the key's hash); an API Gateway authorizer would duplicate that check and add a second Lambda invocation per request.
  api_id             = aws_apigatewayv2_api.this.id
  route_key          = "POST /ingest"
  authorization_type = "NONE"
  target             = "integrations/${aws_apigatewayv2_integration.ingest.id}"
}

resource "aws_apigatewayv2_route" "ingest_other_methods" {
  #checkov:skip=CKV_AWS_309:Same handler as POST /ingest, which answers 405 to every other method before looking at any credential.
  api_id             = aws_apigatewayv2_api.this.id
  route_key          = "ANY /ingest"
  authorization_type = "NONE"
  target             = "integrations/${aws_apigatewayv2_integration.ingest.id}"
}

resource "aws_lambda_permission" "ingest" {
  statement_id  = "AllowApiGatewayIngest"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.ingest.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.this.execution_arn}/*/*/ingest"
}

# --- the other doors of the ingest function: OTLP/HTTP, Loki push, Splunk HEC ---

locals {
  # Every path of INGEST_ROUTES in backend/logpipe_backend/core/routes.py but /ingest (tests/infra checks
  # that the two agree), by a name fit for a Lambda statement id. One ANY route each: the handler answers
  # the protocol's own 405 to a wrong method.
  door_paths = {
    otlp_logs      = "/v1/logs"
    loki_push      = "/loki/api/v1/push"
    hec            = "/services/collector"
    hec_event      = "/services/collector/event"
    hec_event_1_0  = "/services/collector/event/1.0"
    hec_raw        = "/services/collector/raw"
    hec_raw_1_0    = "/services/collector/raw/1.0"
    hec_health     = "/services/collector/health"
    hec_health_1_0 = "/services/collector/health/1.0"
  }
}

resource "aws_apigatewayv2_route" "doors" {
  #checkov:skip=CKV_AWS_309:The same ingest handler as POST /ingest, which checks the tenant key itself (Bearer, Basic or Splunk scheme); an authorizer would duplicate that check.
  for_each           = local.door_paths
  api_id             = aws_apigatewayv2_api.this.id
  route_key          = "ANY ${each.value}"
  authorization_type = "NONE"
  target             = "integrations/${aws_apigatewayv2_integration.ingest.id}"
}

resource "aws_lambda_permission" "doors" {
  for_each      = local.door_paths
  statement_id  = "AllowApiGatewayDoor_${each.key}"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.ingest.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.this.execution_arn}/*/*${each.value}"
}

# --- admin ---

resource "aws_apigatewayv2_integration" "admin" {
  api_id                 = aws_apigatewayv2_api.this.id
  integration_type       = "AWS_PROXY"
  integration_uri        = aws_lambda_function.admin.invoke_arn
  payload_format_version = "2.0"
}

resource "aws_apigatewayv2_route" "admin" {
  api_id             = aws_apigatewayv2_api.this.id
  route_key          = "GET /admin/logs"
  authorization_type = "AWS_IAM"
  target             = "integrations/${aws_apigatewayv2_integration.admin.id}"
}

resource "aws_apigatewayv2_route" "admin_other_methods" {
  api_id             = aws_apigatewayv2_api.this.id
  route_key          = "ANY /admin/logs"
  authorization_type = "AWS_IAM"
  target             = "integrations/${aws_apigatewayv2_integration.admin.id}"
}

# The other read paths of the admin handler (handlers/admin.py PATHS): counts over time, fields.
resource "aws_apigatewayv2_route" "admin_stats" {
  api_id             = aws_apigatewayv2_api.this.id
  route_key          = "GET /admin/stats"
  authorization_type = "AWS_IAM"
  target             = "integrations/${aws_apigatewayv2_integration.admin.id}"
}

resource "aws_apigatewayv2_route" "admin_fields" {
  api_id             = aws_apigatewayv2_api.this.id
  route_key          = "GET /admin/fields"
  authorization_type = "AWS_IAM"
  target             = "integrations/${aws_apigatewayv2_integration.admin.id}"
}

# Every other method reaches the handler too, which answers 405 (as for /admin/logs), after IAM.
resource "aws_apigatewayv2_route" "admin_stats_other_methods" {
  api_id             = aws_apigatewayv2_api.this.id
  route_key          = "ANY /admin/stats"
  authorization_type = "AWS_IAM"
  target             = "integrations/${aws_apigatewayv2_integration.admin.id}"
}

resource "aws_apigatewayv2_route" "admin_fields_other_methods" {
  api_id             = aws_apigatewayv2_api.this.id
  route_key          = "ANY /admin/fields"
  authorization_type = "AWS_IAM"
  target             = "integrations/${aws_apigatewayv2_integration.admin.id}"
}

resource "aws_lambda_permission" "admin" {
  statement_id  = "AllowApiGatewayAdmin"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.admin.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.this.execution_arn}/*/*/admin/*"
}

# --- tenant read keys (issue 15): GET /logs with a tenant's own read key ---
# No authorizer: the tenant_read handler checks the key (one GetItem of its hash), as ingest does, and
# answers for the key's tenant only. Its own function, so the admin function stays reachable only through
# IAM-signed requests (docs/aws.md, "Tenant read keys"). Each read endpoint (handlers/reads.py: logs,
# stats, fields) is a route pair and a permission on the same integration.

resource "aws_apigatewayv2_integration" "tenant_read" {
  api_id                 = aws_apigatewayv2_api.this.id
  integration_type       = "AWS_PROXY"
  integration_uri        = aws_lambda_function.tenant_read.invoke_arn
  payload_format_version = "2.0"
}

resource "aws_apigatewayv2_route" "tenant_read_logs" {
  #checkov:skip=CKV_AWS_309:Tenant read keys are checked by the tenant_read handler itself (the same code as the local stack, one DynamoDB GetItem of the key's hash); an API Gateway authorizer would duplicate that check and add a second Lambda invocation per request.
  api_id             = aws_apigatewayv2_api.this.id
  route_key          = "GET /logs"
  authorization_type = "NONE"
  target             = "integrations/${aws_apigatewayv2_integration.tenant_read.id}"
}

resource "aws_apigatewayv2_route" "tenant_read_logs_other_methods" {
  #checkov:skip=CKV_AWS_309:Same handler as GET /logs, which answers 405 to every other method before looking at any credential.
  api_id             = aws_apigatewayv2_api.this.id
  route_key          = "ANY /logs"
  authorization_type = "NONE"
  target             = "integrations/${aws_apigatewayv2_integration.tenant_read.id}"
}

resource "aws_lambda_permission" "tenant_read_logs" {
  statement_id  = "AllowApiGatewayTenantReadLogs"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.tenant_read.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.this.execution_arn}/*/*/logs"
}

resource "aws_apigatewayv2_route" "tenant_read_stats" {
  #checkov:skip=CKV_AWS_309:Tenant read keys are checked by the tenant_read handler itself, as for GET /logs.
  api_id             = aws_apigatewayv2_api.this.id
  route_key          = "GET /stats"
  authorization_type = "NONE"
  target             = "integrations/${aws_apigatewayv2_integration.tenant_read.id}"
}

resource "aws_apigatewayv2_route" "tenant_read_stats_other_methods" {
  #checkov:skip=CKV_AWS_309:Same handler as GET /stats, which answers 405 to every other method before looking at any credential.
  api_id             = aws_apigatewayv2_api.this.id
  route_key          = "ANY /stats"
  authorization_type = "NONE"
  target             = "integrations/${aws_apigatewayv2_integration.tenant_read.id}"
}

resource "aws_lambda_permission" "tenant_read_stats" {
  statement_id  = "AllowApiGatewayTenantReadStats"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.tenant_read.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.this.execution_arn}/*/*/stats"
}

resource "aws_apigatewayv2_route" "tenant_read_fields" {
  #checkov:skip=CKV_AWS_309:Tenant read keys are checked by the tenant_read handler itself, as for GET /logs.
  api_id             = aws_apigatewayv2_api.this.id
  route_key          = "GET /fields"
  authorization_type = "NONE"
  target             = "integrations/${aws_apigatewayv2_integration.tenant_read.id}"
}

resource "aws_apigatewayv2_route" "tenant_read_fields_other_methods" {
  #checkov:skip=CKV_AWS_309:Same handler as GET /fields, which answers 405 to every other method before looking at any credential.
  api_id             = aws_apigatewayv2_api.this.id
  route_key          = "ANY /fields"
  authorization_type = "NONE"
  target             = "integrations/${aws_apigatewayv2_integration.tenant_read.id}"
}

resource "aws_lambda_permission" "tenant_read_fields" {
  statement_id  = "AllowApiGatewayTenantReadFields"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.tenant_read.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.this.execution_arn}/*/*/fields"
}
