resource "aws_sqs_queue" "this" {
  name = "${local.name}-ingest"

  # Ingest packs many records per message up to 1 MiB (core/envelope.py); set explicitly rather than relying
  # on the service default.
  max_message_size           = 1048576
  visibility_timeout_seconds = local.queue_visibility_timeout_seconds
  message_retention_seconds  = 345600 # 4 days
  receive_wait_time_seconds  = 20
  sqs_managed_sse_enabled    = true

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq.arn
    # A message that fails 5 receives (a poison message) moves to the DLQ; the rest of its batch is stored.
    maxReceiveCount = 5
  })
}

resource "aws_sqs_queue" "dlq" {
  name = "${local.name}-ingest-dlq"

  max_message_size = 1048576
  # Longer than the queue's retention: SQS keeps a message's original enqueue time when it moves it to the
  # DLQ, so an equal retention could expire it almost at once.
  message_retention_seconds = 1209600 # 14 days, the maximum
  sqs_managed_sse_enabled   = true
}

resource "aws_sqs_queue_redrive_allow_policy" "dlq" {
  queue_url = aws_sqs_queue.dlq.id

  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.this.arn]
  })
}
