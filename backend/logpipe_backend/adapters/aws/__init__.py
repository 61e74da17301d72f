"""The AWS adapters: SQS queue, DynamoDB store and tenants table."""
