aws_region = "us-east-1"
project    = "serverless-log-pipeline"
env        = "dev"

# Built by `make package` (paths relative to infra/terraform).
ingest_lambda_zip      = "../../build/lambda/ingest.zip"
worker_lambda_zip      = "../../build/lambda/worker.zip"
admin_lambda_zip       = "../../build/lambda/admin.zip"
tenant_read_lambda_zip = "../../build/lambda/tenant_read.zip"

worker_reserved_concurrency     = 2
simulated_work_seconds_per_char = 0.05
