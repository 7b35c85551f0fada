# Customer-managed key for the run bucket: rotated yearly; the account administers it,
# and the lab role may only use it through S3 (kms:ViaService) to write run objects.
data "aws_iam_policy_document" "kms" {
  #checkov:skip=CKV_AWS_109:A key policy's Resource "*" is the key itself; only the account and the lab role (through S3) are principals.
  #checkov:skip=CKV_AWS_111:A key policy's Resource "*" is the key itself; only the account and the lab role (through S3) are principals.
  #checkov:skip=CKV_AWS_356:A key policy's Resource "*" is the key itself; only the account and the lab role (through S3) are principals.
  statement {
    sid       = "AccountAdministers"
    effect    = "Allow"
    actions   = ["kms:*"]
    resources = ["*"] # in a key policy "*" means this key

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid       = "LabRoleUsesKeyThroughS3"
    effect    = "Allow"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = ["*"] # in a key policy "*" means this key

    principals {
      type        = "AWS"
      identifiers = [aws_iam_role.lab.arn]
    }

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${data.aws_region.current.name}.amazonaws.com"]
    }
  }
}

data "aws_region" "current" {}

resource "aws_kms_key" "runs" {
  description             = "${local.name}: encrypts roamsim run outputs in ${local.runs_bucket_name}"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_days
  policy                  = data.aws_iam_policy_document.kms.json
  tags                    = local.tags
}

resource "aws_kms_alias" "runs" {
  name          = "alias/${local.name}-runs"
  target_key_id = aws_kms_key.runs.key_id
}
