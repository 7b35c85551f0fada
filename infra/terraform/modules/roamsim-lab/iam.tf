# The lab VMs' role: it may write run objects under s3://<runs bucket>/<runs_prefix>/
# and list that prefix, nothing else in S3 (no s3:* action, no "*" resource).
# `roamsim upload` (src/roamsim/upload.py) also HEADs each key to resume and verify
# checksums (HeadObject needs s3:GetObject) and deletes an older run's manifest.json or
# an object that failed verification (s3:DeleteObject); both only under the prefix.

data "aws_iam_policy_document" "assume_ec2" {
  statement {
    sid     = "Ec2AssumesRole"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "lab" {
  name                 = "${local.name}-vm"
  description          = "roamsim lab VMs: upload runs under s3://${local.runs_bucket_name}/${var.runs_prefix}/ only"
  assume_role_policy   = data.aws_iam_policy_document.assume_ec2.json
  max_session_duration = 3600
  tags                 = local.tags
}

data "aws_iam_policy_document" "lab_upload" {
  statement {
    sid    = "WriteRunsUnderPrefix"
    effect = "Allow"
    actions = [
      "s3:PutObject",
      "s3:AbortMultipartUpload",
      "s3:ListMultipartUploadParts",
      "s3:GetObject",
      "s3:DeleteObject",
    ]
    resources = ["${aws_s3_bucket.runs.arn}/${var.runs_prefix}/*"]
  }

  statement {
    sid       = "ListRunsPrefix"
    effect    = "Allow"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.runs.arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.runs_prefix}/", "${var.runs_prefix}/*"]
    }
  }

  # SSE-KMS: PutObject needs a data key; multipart uploads also decrypt it.
  statement {
    sid       = "UseRunsKeyThroughS3"
    effect    = "Allow"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [aws_kms_key.runs.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${data.aws_region.current.name}.amazonaws.com"]
    }
  }
}

resource "aws_iam_policy" "lab_upload" {
  name        = "${local.name}-upload-runs"
  description = "Write roamsim runs under s3://${local.runs_bucket_name}/${var.runs_prefix}/ only"
  policy      = data.aws_iam_policy_document.lab_upload.json
  tags        = local.tags
}

resource "aws_iam_role_policy_attachment" "lab_upload" {
  role       = aws_iam_role.lab.name
  policy_arn = aws_iam_policy.lab_upload.arn
}

resource "aws_iam_instance_profile" "lab" {
  name = "${local.name}-vm"
  role = aws_iam_role.lab.name
  tags = local.tags
}
