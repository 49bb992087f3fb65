terraform {
  required_providers {
    zarf = {
      source = "zarf-dev/zarf"
    }
  }
}

# Read the index behind a tag: its digest, the platforms it lists (attestation entries
# left out), one entry per platform image, and the size a full mirror would copy.
data "zarf_image_index" "nginx" {
  ref = "docker.io/library/nginx:1.27"
}

# Mirror only the Linux platforms the source offers. With index_mode = "filter" the target
# gets a new index listing just those (new digest); the default "preserve" keeps the source's
# index digest, which only some registries accept when platforms are left out.
resource "zarf_image_mirror" "nginx" {
  source     = "docker.io/library/nginx:1.27@${data.zarf_image_index.nginx.digest}"
  target     = "registry.internal/library/nginx:1.27"
  platforms  = [for p in data.zarf_image_index.nginx.platforms : p if startswith(p, "linux/")]
  index_mode = "filter"
}

output "nginx_platforms" {
  value = data.zarf_image_index.nginx.platforms
}

# Bytes of distinct content (blobs and manifests) that mirroring every platform would copy.
output "nginx_full_size" {
  value = data.zarf_image_index.nginx.size
}
