# Records: one partition per tenant (hash tenant_id), sorted by arrival (range log_id, a ULID), so a query
# reads one tenant's key range and can never return another tenant's record. `attributes` is stored as a
# JSON string (DynamoDB maps nest only 32 levels; records may nest 64).
resource "aws_dynamodb_table" "logs" {
  #checkov:skip=CKV_AWS_119:Encrypted at rest with the AWS-managed DynamoDB key (server_side_encryption enabled); a customer-managed key adds cost and key-policy surface without a requirement for customer-controlled revocation here.
  name                        = "${local.name}-logs"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "tenant_id"
  range_key                   = "log_id"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "tenant_id"
    type = "S"
  }

  attribute {
    name = "log_id"
    type = "S"
  }

  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled = true
  }
}

# Tenants: `key#<sha256 of the API key>` -> tenant_id (read by ingest), `tenant#<id>` -> key hash (operator).
resource "aws_dynamodb_table" "tenants" {
  #checkov:skip=CKV_AWS_119:Encrypted at rest with the AWS-managed DynamoDB key (server_side_encryption enabled); a customer-managed key adds cost and key-policy surface without a requirement for customer-controlled revocation here.
  name                        = "${local.name}-tenants"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "pk"
    type = "S"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled = true
  }
}

# Idempotency-Key claims, 24 h. A table of its own so that the ingest role may write claims without being
# able to write API keys.
resource "aws_dynamodb_table" "idempotency" {
  #checkov:skip=CKV_AWS_119:Encrypted at rest with the AWS-managed DynamoDB key (server_side_encryption enabled); a customer-managed key adds cost and key-policy surface without a requirement for customer-controlled revocation here.
  name                        = "${local.name}-idempotency"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "pk"
    type = "S"
  }

  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled = true
  }
}
