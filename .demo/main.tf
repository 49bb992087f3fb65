terraform {
  required_providers {
    zarf = { source = "zarf-dev/zarf" }
  }
}

provider "zarf" {
  insecure_registries = ["127.0.0.1:43229", "127.0.0.1:44015"] # plain HTTP only for these two local hosts
}

resource "zarf_image_mirror" "app" {
  source = "127.0.0.1:43229/demo/app:1.0"
  target = "127.0.0.1:44015/mirror/app"
}

output "ref" {
  value = zarf_image_mirror.app.ref
}
