terraform {
  # Written for current Terraform; only `terraform fmt` (1.0.3) has been run on it here.
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 6.8 is the first release that accepts SQS's 1 MiB max_message_size (the provider used to cap it at 256 KiB).
      version = ">= 6.8, < 7.0"
    }
  }
}

provider "aws" {
  region = var.aws_region

  default_tags {
    tags = {
      Project     = var.project
      Environment = var.env
      ManagedBy   = "terraform"
    }
  }
}
