terraform {
  required_providers {
    zarf = {
      source = "zarf-dev/zarf"
    }
  }
}

locals {
  # Zarf's in-cluster registry (default NodePort).
  zarf_registry = "127.0.0.1:31999"
}

# Mirror nginx to the exact reference the Zarf agent will rewrite "nginx:1.27" to:
# 127.0.0.1:31999/library/nginx:1.27-zarf-3793515731
resource "zarf_image_mirror" "nginx" {
  source = "nginx:1.27"
  target = provider::zarf::mirror_ref(local.zarf_registry, "nginx:1.27")
}

output "nginx_mirror_ref" {
  value = provider::zarf::mirror_ref("127.0.0.1:31999", "nginx:1.27")
}
