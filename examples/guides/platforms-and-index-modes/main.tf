# What does the source offer, and how big is it?
data "zarf_image_index" "nginx" {
  ref = "docker.io/library/nginx:1.27"
}

output "nginx_platforms" {
  value = data.zarf_image_index.nginx.platforms # for example ["linux/amd64", "linux/arm64/v8", …]
}

output "nginx_full_size" {
  value = data.zarf_image_index.nginx.size # bytes a mirror of every platform copies
}

locals {
  # The cluster's platforms that the source offers (a wanted os/arch matches its variants too,
  # as platforms does): a platform the source lacks would fail the plan.
  wanted    = ["linux/amd64", "linux/arm64"]
  platforms = [for p in data.zarf_image_index.nginx.platforms : p if anytrue([for w in local.wanted : startswith("${p}/", "${w}/")])]
}

# Preserve (default): the index digest is kept. With platforms set the index is sparse; the
# target must accept that (distribution v3 with validation.manifests.indexes.platforms: none).
resource "zarf_image_mirror" "nginx_sparse" {
  source    = "docker.io/library/nginx:1.27"
  target    = "registry.internal/library/nginx"
  platforms = local.platforms
}

# Filter: a new index listing only the selected platforms, accepted everywhere; new digest.
resource "zarf_image_mirror" "nginx_filtered" {
  source     = "docker.io/library/nginx:1.27"
  target     = "registry.internal/library/nginx:1.27-slim"
  platforms  = local.platforms
  index_mode = "filter"
  max_bytes  = 500 * 1024 * 1024
}
