terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "= 5.100.0"
    }
  }

  # State stays local in this example. For a shared lab, use an S3 backend with
  # encryption and locking, e.g.:
  # backend "s3" {
  #   bucket       = "<state bucket>"
  #   key          = "roamsim-lab/stage/terraform.tfstate"
  #   region       = "eu-west-1"
  #   encrypt      = true
  #   use_lockfile = true
  # }
  backend "local" {
    path = "terraform.tfstate"
  }
}
