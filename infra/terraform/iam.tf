# One role per function, each allowing exactly the calls that function makes (tests/infra ties these to the
# code): ingest sends to the queue and reads tenant keys; the worker's event source mapping receives and
# deletes, the worker writes records and re-queues unfinished work; admin only queries.
#
# Record access comes in two modes (var.strict_isolation):
# - default: the worker may BatchWriteItem and admin may Query on the logs table directly (`*_records`).
#   No tenant is known to IAM here: the worker serves every tenant from one role.
# - strict: neither role can touch the logs table. Each assumes the tenant-access role (below) per tenant,
#   with a session policy and a session tag that limit the session to that tenant's partition key
#   (dynamodb:LeadingKeys); see backend/logpipe_backend/adapters/aws/isolation.py.

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

# --- ingest ---

resource "aws_iam_role" "ingest" {
  name               = "${local.name}-ingest"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

data "aws_iam_policy_document" "ingest" {
  statement {
    sid = "Queue"
    # sqs:SendMessage also authorizes SendMessageBatch; GetQueueAttributes reads the depth for backpressure.
    actions   = ["sqs:SendMessage", "sqs:GetQueueAttributes"]
    resources = [aws_sqs_queue.this.arn]
  }

  statement {
    sid       = "TenantKeys"
    actions   = ["dynamodb:GetItem"]
    resources = [aws_dynamodb_table.tenants.arn]

    # Ingest reads only `key#<hash>` items (key -> tenant), never the operator's `tenant#<id>` items.
    condition {
      test     = "ForAllValues:StringLike"
      variable = "dynamodb:LeadingKeys"
      values   = ["key#*"]
    }
  }

  statement {
    sid       = "Idempotency"
    actions   = ["dynamodb:PutItem", "dynamodb:GetItem"]
    resources = [aws_dynamodb_table.idempotency.arn]
  }

  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.ingest.arn}:*"]
  }

  statement {
    sid = "Tracing"
    # X-Ray's segment APIs take no resource-level permissions.
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "ingest" {
  name   = "ingest"
  role   = aws_iam_role.ingest.id
  policy = data.aws_iam_policy_document.ingest.json
}

# --- worker ---

resource "aws_iam_role" "worker" {
  name               = "${local.name}-worker"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

data "aws_iam_policy_document" "worker" {
  statement {
    sid = "QueueEventSource"
    # What the SQS event source mapping needs, made with the function's role.
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
    resources = [aws_sqs_queue.this.arn]
  }

  statement {
    sid = "Requeue"
    # The worker sends the unfinished rest of a message back to its own queue (handlers/worker.py, issue
    # 12); sqs:SendMessage also authorizes SendMessageBatch. The main queue only: never the DLQ.
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.this.arn]
  }

  statement {
    sid       = "TenantRetention"
    actions   = ["dynamodb:GetItem"]
    resources = [aws_dynamodb_table.tenants.arn]

    # Each tenant's own retention (the TTL of its items) is on its `tenant#<id>` item; never a key item.
    condition {
      test     = "ForAllValues:StringLike"
      variable = "dynamodb:LeadingKeys"
      values   = ["tenant#*"]
    }
  }

  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.worker.arn}:*"]
  }

  statement {
    sid       = "Tracing"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "worker" {
  name   = "worker"
  role   = aws_iam_role.worker.id
  policy = data.aws_iam_policy_document.worker.json
}

data "aws_iam_policy_document" "worker_records" {
  statement {
    sid       = "Records"
    actions   = ["dynamodb:BatchWriteItem"]
    resources = [aws_dynamodb_table.logs.arn]
  }
}

resource "aws_iam_role_policy" "worker_records" {
  count = var.strict_isolation ? 0 : 1

  name   = "worker-records"
  role   = aws_iam_role.worker.id
  policy = data.aws_iam_policy_document.worker_records.json
}

# --- admin ---

resource "aws_iam_role" "admin" {
  name               = "${local.name}-admin"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

data "aws_iam_policy_document" "admin" {
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.admin.arn}:*"]
  }

  statement {
    sid       = "Tracing"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "admin" {
  name   = "admin"
  role   = aws_iam_role.admin.id
  policy = data.aws_iam_policy_document.admin.json
}

data "aws_iam_policy_document" "admin_records" {
  statement {
    sid       = "Records"
    actions   = ["dynamodb:Query"]
    resources = [aws_dynamodb_table.logs.arn]
  }
}

resource "aws_iam_role_policy" "admin_records" {
  count = var.strict_isolation ? 0 : 1

  name   = "admin-records"
  role   = aws_iam_role.admin.id
  policy = data.aws_iam_policy_document.admin_records.json
}

# --- strict isolation: the tenant-access role, assumed per tenant by the worker and admin ---

data "aws_iam_policy_document" "tenant_access_trust" {
  statement {
    sid     = "WorkerAdminAndTenantReadOnly"
    actions = ["sts:AssumeRole", "sts:TagSession"]

    principals {
      type        = "AWS"
      identifiers = [aws_iam_role.worker.arn, aws_iam_role.admin.arn, aws_iam_role.tenant_read.arn]
    }

    # Every session carries the tenant it is for; a request without the tag cannot assume the role.
    condition {
      test     = "StringLike"
      variable = "aws:RequestTag/tenant_id"
      values   = ["?*"]
    }

    condition {
      test     = "ForAllValues:StringEquals"
      variable = "aws:TagKeys"
      values   = ["tenant_id"]
    }
  }
}

resource "aws_iam_role" "tenant_access" {
  count = var.strict_isolation ? 1 : 0

  name                 = "${local.name}-tenant-access"
  description          = "Assumed per tenant by the worker and admin; limited to the tagged tenant's partition."
  assume_role_policy   = data.aws_iam_policy_document.tenant_access_trust.json
  max_session_duration = 3600
}

data "aws_iam_policy_document" "tenant_access" {
  statement {
    sid       = "TaggedTenantPartitionOnly"
    actions   = ["dynamodb:BatchWriteItem", "dynamodb:Query"]
    resources = [aws_dynamodb_table.logs.arn]

    # Even a session assumed without the session policy reaches only the partition of its tenant tag.
    condition {
      test     = "ForAllValues:StringEquals"
      variable = "dynamodb:LeadingKeys"
      values   = ["$${aws:PrincipalTag/tenant_id}"]
    }
  }
}

resource "aws_iam_role_policy" "tenant_access" {
  count = var.strict_isolation ? 1 : 0

  name   = "tenant-access"
  role   = aws_iam_role.tenant_access[0].id
  policy = data.aws_iam_policy_document.tenant_access.json
}

data "aws_iam_policy_document" "assume_tenant_access" {
  statement {
    sid       = "AssumeTenantAccess"
    actions   = ["sts:AssumeRole", "sts:TagSession"]
    resources = [join("", aws_iam_role.tenant_access[*].arn)]
  }
}

resource "aws_iam_role_policy" "worker_tenant_access" {
  count = var.strict_isolation ? 1 : 0

  name   = "worker-tenant-access"
  role   = aws_iam_role.worker.id
  policy = data.aws_iam_policy_document.assume_tenant_access.json
}

resource "aws_iam_role_policy" "admin_tenant_access" {
  count = var.strict_isolation ? 1 : 0

  name   = "admin-tenant-access"
  role   = aws_iam_role.admin.id
  policy = data.aws_iam_policy_document.assume_tenant_access.json
}

# --- tenant read keys (issue 15): GET /logs with a tenant's read key ---
# Reads the key's item (tenants table, `key#` items only, as ingest) and queries the logs table: by
# default directly (`tenant_read_records`), under strict isolation through the per-tenant tenant-access
# role, whose sessions reach only the key's tenant's partition (dynamodb:LeadingKeys).

resource "aws_iam_role" "tenant_read" {
  name               = "${local.name}-tenant-read"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

data "aws_iam_policy_document" "tenant_read" {
  statement {
    sid       = "TenantKeys"
    actions   = ["dynamodb:GetItem"]
    resources = [aws_dynamodb_table.tenants.arn]

    condition {
      test     = "ForAllValues:StringLike"
      variable = "dynamodb:LeadingKeys"
      values   = ["key#*"]
    }
  }

  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.tenant_read.arn}:*"]
  }

  statement {
    sid       = "Tracing"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "tenant_read" {
  name   = "tenant-read"
  role   = aws_iam_role.tenant_read.id
  policy = data.aws_iam_policy_document.tenant_read.json
}

data "aws_iam_policy_document" "tenant_read_records" {
  statement {
    sid       = "Records"
    actions   = ["dynamodb:Query"]
    resources = [aws_dynamodb_table.logs.arn]
  }
}

resource "aws_iam_role_policy" "tenant_read_records" {
  count = var.strict_isolation ? 0 : 1

  name   = "tenant-read-records"
  role   = aws_iam_role.tenant_read.id
  policy = data.aws_iam_policy_document.tenant_read_records.json
}

resource "aws_iam_role_policy" "tenant_read_tenant_access" {
  count = var.strict_isolation ? 1 : 0

  name   = "tenant-read-tenant-access"
  role   = aws_iam_role.tenant_read.id
  policy = data.aws_iam_policy_document.assume_tenant_access.json
}
