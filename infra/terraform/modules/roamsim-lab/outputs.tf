output "instance_ids" {
  description = "Ids of the lab VMs."
  value       = aws_instance.lab[*].id
}

output "private_ips" {
  description = "Private IP addresses of the lab VMs."
  value       = aws_instance.lab[*].private_ip
}

output "runs_bucket" {
  description = "Bucket the VMs upload runs to."
  value       = aws_s3_bucket.runs.bucket
}

output "runs_url" {
  description = "Where runs land: <runs_url>/<instance id>/."
  value       = "s3://${aws_s3_bucket.runs.bucket}/${var.runs_prefix}"
}

output "access_logs_bucket" {
  description = "Bucket receiving the S3 server access logs of the runs bucket."
  value       = aws_s3_bucket.access_logs.bucket
}

output "kms_key_arn" {
  description = "KMS key encrypting the runs bucket."
  value       = aws_kms_key.runs.arn
}

output "instance_role_arn" {
  description = "IAM role of the lab VMs."
  value       = aws_iam_role.lab.arn
}
