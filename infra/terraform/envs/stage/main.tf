# stage: two lab VMs, each running the one-million-roamer example (examples/scale-1m.yaml)
# with the same seed: their runs must agree (same scenario, seed and roamsim version
# give the same records), and each run's wall time is checked against ADR-003's SLO.
locals {
  env = "stage"
  tags = {
    owner         = var.owner
    env           = local.env
    "cost-center" = var.cost_center
    project       = "roamsim"
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = local.tags
  }
}

module "lab" {
  source = "../../modules/roamsim-lab"

  owner       = var.owner
  env         = local.env
  cost_center = var.cost_center

  vpc_id          = var.vpc_id
  subnet_id       = var.subnet_id
  container_image = var.container_image
  scenario_yaml   = file("${path.root}/../../../../examples/scale-1m.yaml")

  instance_count          = 2
  instance_type           = "m6i.xlarge"
  transition_ia_days      = 30
  transition_glacier_days = 90
  expiration_days         = 365
  force_destroy           = false
}

output "runs_url" {
  value = module.lab.runs_url
}

output "instance_ids" {
  value = module.lab.instance_ids
}
