# Lab VMs: each boots, installs podman, pulls the roamsim image and runs the scenario
# once (systemd unit roamsim-lab.service written by cloud-init), uploading the run
# to s3://<runs bucket>/<runs_prefix>/<instance id>/ with the instance role's credentials.

data "aws_ami" "debian12" {
  count       = var.ami_id == null ? 1 : 0
  most_recent = true
  owners      = ["136693071363"] # Debian's official AWS account

  filter {
    name   = "name"
    values = ["debian-12-amd64-*"]
  }

  filter {
    name   = "architecture"
    values = ["x86_64"]
  }
}

resource "aws_security_group" "lab" {
  name        = "${local.name}-vm"
  description = "roamsim lab VMs: no inbound traffic; outbound HTTP(S) only"
  vpc_id      = var.vpc_id
  tags        = local.tags
}

resource "aws_vpc_security_group_egress_rule" "https" {
  security_group_id = aws_security_group.lab.id
  description       = "HTTPS to S3, the image registry and Debian mirrors"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
  tags              = local.tags
}

resource "aws_vpc_security_group_egress_rule" "http" {
  security_group_id = aws_security_group.lab.id
  description       = "HTTP to Debian mirrors (apt verifies packages by signature)"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
  cidr_ipv4         = "0.0.0.0/0"
  tags              = local.tags
}

locals {
  user_data = templatefile("${path.module}/templates/cloud-init.yaml.tftpl", {
    container_image = var.container_image
    scenario_yaml   = var.scenario_yaml
    run_args        = join(" ", var.run_args)
    upload_url      = "s3://${aws_s3_bucket.runs.bucket}/${var.runs_prefix}"
    aws_region      = data.aws_region.current.name
  })
}

resource "aws_instance" "lab" {
  count = var.instance_count

  ami                         = var.ami_id != null ? var.ami_id : data.aws_ami.debian12[0].id
  instance_type               = var.instance_type
  subnet_id                   = var.subnet_id
  vpc_security_group_ids      = [aws_security_group.lab.id]
  associate_public_ip_address = var.associate_public_ip
  iam_instance_profile        = aws_iam_instance_profile.lab.name
  ebs_optimized               = true
  monitoring                  = true
  user_data                   = local.user_data
  user_data_replace_on_change = true

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required" # IMDSv2 only
    http_put_response_hop_limit = 1          # the container uses the host network
  }

  root_block_device {
    encrypted             = true
    volume_type           = "gp3"
    volume_size           = var.root_volume_size_gb
    delete_on_termination = true
  }

  volume_tags = merge(local.tags, { Name = "${local.name}-${count.index}" })
  tags        = merge(local.tags, { Name = "${local.name}-${count.index}" })

  depends_on = [aws_iam_role_policy_attachment.lab_upload]
}
