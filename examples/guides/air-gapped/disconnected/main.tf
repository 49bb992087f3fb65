# Second hop, on the disconnected side: push the images from the carried layout into the
# internal registry, where the Zarf agent points pods (provider::zarf::mirror_ref).
terraform {
  required_version = ">= 1.8" # provider-defined functions
  required_providers {
    zarf = {
      source = "zarf-dev/zarf"
    }
  }
}

variable "images" {
  description = "The same list as on the connected side."
  type        = list(string)
  default = [
    "docker.io/library/nginx:1.27",
    "ghcr.io/stefanprodan/podinfo:6.4.0",
  ]
}

variable "layout_dir" {
  description = "Where the carried layout is on this side."
  type        = string
  default     = "./transfer/images"
}

variable "registry" {
  description = "The internal registry (for a Zarf cluster, the registry in Zarf's state)."
  type        = string
  default     = "127.0.0.1:31999"
}

variable "insecure_registries" {
  description = "Registries that speak plain HTTP (a Zarf built-in registry through its NodePort)."
  type        = list(string)
  default     = ["127.0.0.1:31999"]
}

provider "zarf" {
  insecure_registries = var.insecure_registries
}

resource "zarf_image_mirror" "internal" {
  count = length(var.images)

  # Found by the entry's ref, or by its original reference (org.opencontainers.image.base.name)
  # in a layout that Zarf wrote.
  source = "oci-layout://${var.layout_dir}:${var.images[count.index]}"
  target = provider::zarf::mirror_ref(var.registry, var.images[count.index])
}

output "refs" {
  description = "Image => reference in the internal registry, with the unchanged digest."
  value       = { for i, m in zarf_image_mirror.internal : var.images[i] => m.ref }
}
