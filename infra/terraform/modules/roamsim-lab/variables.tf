# --- Tagging: required, validated; every resource carries owner, env and cost-center.

variable "owner" {
  description = "Team or person answerable for the lab (an e-mail address or a lower-case team id)."
  type        = string

  validation {
    condition     = can(regex("^([a-z0-9][a-z0-9._-]{1,62}|[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\\.[A-Za-z]{2,})$", var.owner))
    error_message = "owner must be a lower-case team id (2-63 of a-z 0-9 . _ -) or an e-mail address."
  }
}

variable "env" {
  description = "Environment: dev, stage or prod."
  type        = string

  validation {
    condition     = contains(["dev", "stage", "prod"], var.env)
    error_message = "env must be one of dev, stage, prod."
  }
}

variable "cost_center" {
  description = "Cost center the lab is billed to, as CC-NNNN (4 to 6 digits)."
  type        = string

  validation {
    condition     = can(regex("^CC-[0-9]{4,6}$", var.cost_center))
    error_message = "cost_center must look like CC-1234 (CC- and 4 to 6 digits)."
  }
}

variable "name" {
  description = "Name prefix of every resource; the environment is appended."
  type        = string
  default     = "roamsim-lab"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,30}$", var.name))
    error_message = "name must be 3-31 characters of a-z, 0-9 and -, starting with a letter."
  }
}

# --- Lab VMs

variable "instance_count" {
  description = "Number of lab VMs; each runs the scenario once at boot and uploads the run."
  type        = number
  default     = 1

  validation {
    condition     = var.instance_count >= 0 && var.instance_count <= 20 && floor(var.instance_count) == var.instance_count
    error_message = "instance_count must be a whole number from 0 to 20."
  }
}

variable "instance_type" {
  description = "EC2 instance type (must support EBS optimization)."
  type        = string
  default     = "m6i.large"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", var.instance_type))
    error_message = "instance_type must look like family.size, e.g. m6i.large."
  }
}

variable "ami_id" {
  description = "AMI of a Debian 12 (or other cloud-init) image; null selects the latest official Debian 12 amd64 AMI."
  type        = string
  default     = null

  validation {
    condition     = var.ami_id == null || can(regex("^ami-[0-9a-f]{8,17}$", var.ami_id))
    error_message = "ami_id must be null or an AMI id (ami-...)."
  }
}

variable "root_volume_size_gb" {
  description = "Size of the encrypted root volume in GiB (holds the image and the run directory)."
  type        = number
  default     = 30

  validation {
    condition     = var.root_volume_size_gb >= 8 && var.root_volume_size_gb <= 1000
    error_message = "root_volume_size_gb must be between 8 and 1000."
  }
}

variable "vpc_id" {
  description = "VPC of the lab subnet (the security group is created there)."
  type        = string
}

variable "subnet_id" {
  description = "Subnet of the lab VMs; it needs outbound HTTPS (NAT or VPC endpoints) to reach the image registry, Debian mirrors and S3."
  type        = string
}

variable "associate_public_ip" {
  description = "Give the VMs a public IP. Off by default: the VMs accept no inbound traffic."
  type        = bool
  default     = false
}

variable "container_image" {
  description = "roamsim container image the VMs pull and run, e.g. registry.example.org/roamsim:0.1.0 (the VM pulls it without credentials)."
  type        = string

  validation {
    condition     = length(trimspace(var.container_image)) > 0 && !can(regex("\\s", var.container_image))
    error_message = "container_image must be a non-empty image reference without spaces."
  }
}

variable "scenario_yaml" {
  description = "Content of the scenario file each VM runs (for example file(\"examples/quickstart.yaml\"))."
  type        = string

  validation {
    condition     = length(var.scenario_yaml) > 0 && length(var.scenario_yaml) <= 8192
    error_message = "scenario_yaml must be 1 to 8192 characters (it travels in the user data, limited to 16 KiB)."
  }
}

variable "run_args" {
  description = "Extra arguments to `roamsim run`, e.g. [\"--seed\", \"7\", \"--scale\", \"0.5\"]."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.run_args : can(regex("^[A-Za-z0-9._:=/,-]+$", a))])
    error_message = "run_args may hold only letters, digits and . _ : = / , - (they are written into a shell-free systemd unit)."
  }
}

# --- S3 run-log buckets

variable "runs_prefix" {
  description = "Key prefix under which the VMs write runs; the instance role may write nowhere else."
  type        = string
  default     = "runs"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9_-]{0,62}(/[a-z0-9][a-z0-9_-]{0,62})*$", var.runs_prefix))
    error_message = "runs_prefix must be path segments of a-z 0-9 _ - separated by /, without leading or trailing /."
  }
}

variable "transition_ia_days" {
  description = "Days after which objects move to STANDARD_IA (S3 requires at least 30)."
  type        = number
  default     = 30

  validation {
    condition     = var.transition_ia_days >= 30
    error_message = "transition_ia_days must be at least 30."
  }
}

variable "transition_glacier_days" {
  description = "Days after which objects move to GLACIER (Flexible Retrieval)."
  type        = number
  default     = 90
}

variable "expiration_days" {
  description = "Days after which objects expire (become noncurrent versions)."
  type        = number
  default     = 365
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which noncurrent object versions are deleted."
  type        = number
  default     = 30

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1
    error_message = "noncurrent_version_expiration_days must be at least 1."
  }
}

variable "access_log_expiration_days" {
  description = "Days S3 server access logs are kept."
  type        = number
  default     = 365

  validation {
    condition     = var.access_log_expiration_days >= 91
    error_message = "access_log_expiration_days must be more than 90 (logs move to GLACIER after 90 days)."
  }
}

variable "kms_deletion_window_days" {
  description = "Waiting period before the KMS key is deleted after it is scheduled for deletion."
  type        = number
  default     = 30

  validation {
    condition     = var.kms_deletion_window_days >= 7 && var.kms_deletion_window_days <= 30
    error_message = "kms_deletion_window_days must be between 7 and 30."
  }
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete non-empty buckets (labs only; keep false where runs matter)."
  type        = bool
  default     = false
}
