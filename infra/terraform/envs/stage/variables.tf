variable "region" {
  description = "AWS region of the lab."
  type        = string
  default     = "eu-west-1"
}

variable "owner" {
  description = "Team or person answerable for the lab (lower-case team id or e-mail)."
  type        = string

  validation {
    condition     = can(regex("^([a-z0-9][a-z0-9._-]{1,62}|[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\\.[A-Za-z]{2,})$", var.owner))
    error_message = "owner must be a lower-case team id (2-63 of a-z 0-9 . _ -) or an e-mail address."
  }
}

variable "cost_center" {
  description = "Cost center, as CC-NNNN (4 to 6 digits)."
  type        = string

  validation {
    condition     = can(regex("^CC-[0-9]{4,6}$", var.cost_center))
    error_message = "cost_center must look like CC-1234 (CC- and 4 to 6 digits)."
  }
}

variable "vpc_id" {
  description = "VPC of the lab subnet."
  type        = string
}

variable "subnet_id" {
  description = "Private subnet with outbound HTTPS (NAT or VPC endpoints)."
  type        = string
}

variable "container_image" {
  description = "roamsim image reference, e.g. registry.example.org/roamsim:0.1.0."
  type        = string
}
