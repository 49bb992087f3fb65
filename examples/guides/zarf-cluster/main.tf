terraform {
  required_version = ">= 1.8" # provider-defined functions
  required_providers {
    zarf = {
      source = "zarf-dev/zarf"
    }
  }
}

variable "zarf_registry" {
  description = "The Zarf registry as the Zarf agent knows it: 127.0.0.1:31999 for the built-in registry (its NodePort), or the --registry-url given to zarf init."
  type        = string
  default     = "127.0.0.1:31999"
}

variable "zarf_push_password" {
  description = "Password of the registry's push user (zarf tools get-creds registry)."
  type        = string
  sensitive   = true
}

variable "platforms" {
  description = "Platforms of the cluster's nodes."
  type        = list(string)
  default     = ["linux/amd64"]
}

locals {
  # The images exactly as the pod specs (manifests, Helm charts) write them.
  images = [
    "nginx:1.27",
    "ghcr.io/stefanprodan/podinfo:6.4.0",
    "registry.k8s.io/pause:3.10",
  ]
}

provider "zarf" {
  # The built-in registry, reached through a port-forward, speaks plain HTTP.
  insecure_registries = [var.zarf_registry]

  registry_auth {
    address  = var.zarf_registry
    username = "zarf-push"
    password = var.zarf_push_password
  }
}

resource "zarf_image_mirror" "zarf" {
  for_each = toset(local.images)

  source = each.value
  # Where the Zarf agent will point pods that use each.value, for example
  # 127.0.0.1:31999/library/nginx:1.27-zarf-3793515731.
  target = provider::zarf::mirror_ref(var.zarf_registry, each.value)

  # A pod that pins an index digest (name@sha256:…) needs the index bytes unchanged: keep every
  # platform. A pod that uses a tag only needs the tag: copy the cluster's platforms, as a new
  # index that every registry accepts.
  platforms  = strcontains(each.value, "@") ? null : var.platforms
  index_mode = strcontains(each.value, "@") ? "preserve" : "filter"
}

output "zarf_images" {
  description = "Image in the pod spec => what the mirror holds, with its digest."
  value       = { for image, m in zarf_image_mirror.zarf : image => m.ref }
}
