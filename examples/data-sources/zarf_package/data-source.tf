terraform {
  required_providers {
    zarf = {
      source = "zarf-dev/zarf"
    }
  }
}

# A Zarf package carried into the air-gapped site. It is unpacked once into the provider's
# cache_dir and checked against its checksums before anything of it is used.
data "zarf_package" "app" {
  path = "zarf-package-app-amd64-1.0.0.tar.zst"

  # Optional: the package must be signed with this key (zarf.bundle.sig or zarf.yaml.sig).
  # public_key = file("zarf-pkg.pub")
}

output "package" {
  value = "${data.zarf_package.app.name} ${data.zarf_package.app.version} (${data.zarf_package.app.architecture})"
}

# The original references of the package's images, each once, in component order.
output "images" {
  value = data.zarf_package.app.images
}

# Where a Zarf cluster whose registry is registry.internal pulls each image from.
output "cluster_refs" {
  value = { for image in data.zarf_package.app.images : image => provider::zarf::mirror_ref("registry.internal", image) }
}

# Every image of the package, mirrored where a Zarf cluster pulls it, read from the package.
resource "zarf_image_mirror" "app" {
  for_each = toset(data.zarf_package.app.images)
  source   = "zarf-package://${data.zarf_package.app.path}:${each.value}"
  target   = provider::zarf::mirror_ref("registry.internal", each.value)
}

# The images of each component.
output "components" {
  value = { for c in data.zarf_package.app.components : c.name => c.images }
}
