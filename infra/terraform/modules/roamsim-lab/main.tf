data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  # The one tag set: every taggable resource below uses local.tags (or merges into it),
  # and the root configurations also pass it to the provider's default_tags.
  tags = {
    owner         = var.owner
    env           = var.env
    "cost-center" = var.cost_center
    project       = "roamsim"
  }

  name       = "${var.name}-${var.env}"
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  # Bucket names are global: the account id keeps them unique.
  runs_bucket_name        = "${local.name}-runs-${local.account_id}"
  access_logs_bucket_name = "${local.name}-access-logs-${local.account_id}"
}
