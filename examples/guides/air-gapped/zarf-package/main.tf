# On the disconnected side: carry the Zarf package, and mirror every image of it into the
# internal registry at the names the Zarf agent will pull (provider::zarf::mirror_ref).
terraform {
  required_version = ">= 1.8" # provider-defined functions
  required_providers {
    zarf = {
      source = "zarf-dev/zarf"
    }
  }
}

variable "package" {
  description = "The carried package: a .tar.zst, a .tar, or the .part000 of a split package."
  type        = string
  default     = "zarf-package-app-amd64-1.0.0.tar.zst"
}

variable "public_key" {
  description = "PEM public key the package must be signed with (file(\"zarf-pkg.pub\")); null accepts an unsigned package."
  type        = string
  default     = null
}

variable "registry" {
  description = "The internal registry (for a Zarf cluster, the registry in Zarf's state)."
  type        = string
  default     = "127.0.0.1:31999"
}

provider "zarf" {
  insecure_registries = [var.registry] # a Zarf built-in registry speaks plain HTTP through its NodePort

  # Where packages are unpacked, once per archive digest, and shared by every run
  # (default: terraform-provider-zarf/packages under the user's cache directory).
  # cache_dir = "/var/cache/terraform-provider-zarf"
}

# Unpacked and checked (checksums, aggregate checksum, signature) before anything of it is used.
data "zarf_package" "app" {
  path       = var.package
  public_key = var.public_key
}

# One mirror per image of the package, read from the package, bytes unchanged.
resource "zarf_image_mirror" "app" {
  for_each = toset(data.zarf_package.app.images)
  source   = "zarf-package://${data.zarf_package.app.path}:${each.value}"
  target   = provider::zarf::mirror_ref(var.registry, each.value)
}

# What the cluster pulls, pinned by digest: the same digests as at the image's origin.
output "mirrors" {
  value = { for image, m in zarf_image_mirror.app : image => m.ref }
}
