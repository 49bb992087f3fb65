# First hop, on the connected side: copy the images into an OCI image layout directory (the
# format of a Zarf package's images/ folder), with every manifest's bytes unchanged.
terraform {
  required_providers {
    zarf = {
      source = "zarf-dev/zarf"
    }
  }
}

variable "images" {
  description = "The images, exactly as the pod specs write them."
  type        = list(string)
  default = [
    "docker.io/library/nginx:1.27",
    "ghcr.io/stefanprodan/podinfo:6.4.0",
  ]
}

variable "layout_dir" {
  description = "The OCI image layout to carry across (created if missing). No ':' or '@' in the path."
  type        = string
  default     = "./transfer/images"
}

variable "insecure_registries" {
  description = "Source registries that speak plain HTTP."
  type        = list(string)
  default     = []
}

provider "zarf" {
  insecure_registries = var.insecure_registries
}

resource "zarf_image_mirror" "package" {
  count = length(var.images)

  source = var.images[count.index]
  # The entry's ref is the full image reference, so images with the same tag do not replace
  # each other; the entry also records it as org.opencontainers.image.base.name.
  target = "oci-layout://${var.layout_dir}:${var.images[count.index]}"
  # Every platform and the index bytes unchanged (preserve): the internal registry serves the
  # digests that pod specs pin.
}

output "digests" {
  description = "Image => index digest; the disconnected side ends with the same digests."
  value       = { for i, m in zarf_image_mirror.package : var.images[i] => m.digest }
}
