variable "aws_region" {
  description = "AWS region to deploy into."
  type        = string
}

variable "project" {
  description = "Project name; prefixes every resource name."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9-]{2,30}$", var.project))
    error_message = "project must be 2-30 lowercase letters, digits or dashes (it goes into queue and table names)."
  }
}

variable "env" {
  description = "Environment name (dev, prod, ...); part of every resource name."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9-]{1,12}$", var.env))
    error_message = "env must be 1-12 lowercase letters, digits or dashes."
  }
}

variable "ingest_lambda_zip" {
  description = "Path of the ingest Lambda zip built by `make package` (relative to this directory)."
  type        = string
}

variable "worker_lambda_zip" {
  description = "Path of the worker Lambda zip built by `make package`."
  type        = string
}

variable "admin_lambda_zip" {
  description = "Path of the admin (query) Lambda zip built by `make package`."
  type        = string
}

variable "tenant_read_lambda_zip" {
  description = "Path of the tenant read (GET /logs with a read key) Lambda zip built by `make package`."
  type        = string
}

variable "lambda_runtime" {
  description = "Python runtime of the three functions."
  type        = string
  default     = "python3.13"
}

variable "lambda_architecture" {
  description = "CPU architecture of the functions (arm64 is cheaper). The zips carry native modules built for one architecture: build them with `make package LAMBDA_ARCHITECTURE=<the same>`."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.lambda_architecture)
    error_message = "lambda_architecture must be arm64 or x86_64."
  }
}

variable "worker_reserved_concurrency" {
  description = "Concurrent executions reserved for (and capping) the worker; also the event source mapping's maximum concurrency."
  type        = number
  default     = 2

  validation {
    # The SQS event source mapping's maximum_concurrency must be at least 2.
    condition     = var.worker_reserved_concurrency >= 2
    error_message = "worker_reserved_concurrency must be at least 2."
  }
}

variable "worker_timeout_seconds" {
  description = "Worker Lambda timeout; the queue's visibility timeout is derived from it (6x plus the batching window)."
  type        = number
  default     = 120

  validation {
    condition     = var.worker_timeout_seconds >= 10 && var.worker_timeout_seconds <= 900
    error_message = "worker_timeout_seconds must be between 10 and 900."
  }
}

variable "worker_batch_size" {
  description = "SQS messages per worker invocation (each message packs many records)."
  type        = number
  default     = 10
}

variable "worker_batching_window_seconds" {
  description = "How long the event source mapping gathers messages before invoking the worker."
  type        = number
  default     = 5
}

variable "simulated_work_seconds_per_char" {
  description = "Seconds of simulated CPU work per message character in the worker (LOGPIPE_SIMULATED_WORK_PER_CHAR); 0 disables it."
  type        = number
  default     = 0
}

variable "log_retention_days" {
  description = "Days a stored log record is kept (DynamoDB TTL on expires_at); 0 keeps records forever."
  type        = number
  default     = 30
}

variable "function_log_retention_days" {
  description = "Retention of the functions' and API Gateway's own CloudWatch log groups."
  type        = number
  default     = 30
}

variable "max_queue_depth" {
  description = "Ingest answers 429 when the queue holds this many messages or more (LOGPIPE_MAX_QUEUE_DEPTH); 0 disables."
  type        = number
  default     = 10000
}

variable "tenant_rate_limit_records_per_second" {
  description = "Records per second each tenant may send to one ingest container (LOGPIPE_RATE_LIMIT_RECORDS_PER_S); 0 disables. Each Lambda container keeps its own buckets: the stage throttling bounds the total."
  type        = number
  default     = 50000

  validation {
    condition     = var.tenant_rate_limit_records_per_second >= 0
    error_message = "tenant_rate_limit_records_per_second must be 0 or more."
  }
}

variable "tenant_rate_limit_burst_records" {
  description = "Records a tenant may send at once before the per-second rate applies (LOGPIPE_RATE_LIMIT_BURST)."
  type        = number
  default     = 200000

  validation {
    condition     = var.tenant_rate_limit_burst_records >= 1
    error_message = "tenant_rate_limit_burst_records must be 1 or more."
  }
}

variable "redact_patterns" {
  description = "Extra redaction regexes, newline-separated (LOGPIPE_REDACT_PATTERNS)."
  type        = string
  default     = ""
}

variable "api_throttling_rate_limit" {
  description = "Steady-state requests per second the API stage allows."
  type        = number
  default     = 100
}

variable "api_throttling_burst_limit" {
  description = "Burst of requests the API stage allows."
  type        = number
  default     = 200
}

variable "queue_age_alarm_seconds" {
  description = "Alarm when the oldest message in the queue is older than this."
  type        = number
  default     = 900
}

variable "alarm_actions" {
  description = "ARNs (e.g. SNS topics) notified when an alarm fires."
  type        = list(string)
  default     = []
}

variable "deletion_protection" {
  description = "Protect the DynamoDB tables from deletion (turn on outside throwaway environments)."
  type        = bool
  default     = false
}

variable "strict_isolation" {
  description = "Read and write each tenant's records with STS credentials limited to that tenant's partition (dynamodb:LeadingKeys); the worker and admin roles then have no direct access to the logs table."
  type        = bool
  default     = false
}
