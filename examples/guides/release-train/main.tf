terraform {
  required_providers {
    zarf = {
      source = "zarf-dev/zarf"
    }
  }
}

variable "podinfo_window" {
  description = "The podinfo releases to mirror: a semver constraint."
  type        = string
  default     = ">= 6.4.0, < 7"
}

provider "zarf" {}

# Every podinfo release inside the window, pre-releases left out (the constraint names none),
# the three highest.
data "zarf_image_tags" "podinfo" {
  repository = "ghcr.io/stefanprodan/podinfo"
  semver     = var.podinfo_window
  newest     = 3
}

resource "zarf_image_mirror" "podinfo" {
  for_each = toset(data.zarf_image_tags.podinfo.tags)

  source     = "ghcr.io/stefanprodan/podinfo:${each.value}"
  target     = "registry.internal/stefanprodan/podinfo"
  platforms  = ["linux/amd64", "linux/arm64"]
  index_mode = "filter"

  # A release that leaves the selection is destroyed in Terraform, not in the registry: the
  # clusters that still run it keep pulling it.
  keep_remotely = true
}

output "podinfo" {
  description = "Mirrored release => what the mirror holds, with its digest."
  value       = { for tag, m in zarf_image_mirror.podinfo : tag => m.ref }
}
