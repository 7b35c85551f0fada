# dev: one small lab VM running the quickstart scenario; runs kept 90 days.
locals {
  env = "dev"
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
  scenario_yaml   = file("${path.root}/../../../../examples/quickstart.yaml")

  instance_count          = 1
  instance_type           = "m6i.large"
  transition_ia_days      = 30
  transition_glacier_days = 60
  expiration_days         = 90
  force_destroy           = true # dev runs are disposable
}

output "runs_url" {
  value = module.lab.runs_url
}

output "instance_ids" {
  value = module.lab.instance_ids
}
