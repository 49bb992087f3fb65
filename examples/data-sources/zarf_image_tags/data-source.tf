# The three newest podinfo releases from 6.4.0 on, below 7 (pre-releases such as 6.5.0-rc.1
# are left out: the constraint names none).
data "zarf_image_tags" "podinfo" {
  repository = "ghcr.io/stefanprodan/podinfo"
  semver     = ">= 6.4.0, < 7"
  newest     = 3
}

# One mirror per selected tag: a new release inside the window is a planned create, a release
# that leaves it a planned destroy (keep_remotely leaves its content in the registry).
resource "zarf_image_mirror" "podinfo" {
  for_each = toset(data.zarf_image_tags.podinfo.tags)

  source        = "ghcr.io/stefanprodan/podinfo:${each.value}"
  target        = "registry.internal/stefanprodan/podinfo"
  keep_remotely = true
}

# Tags chosen by RE2 patterns: nginx's Alpine builds of 1.27, without the perl, otel and slim
# variants (1.27.4-alpine-perl, ...).
data "zarf_image_tags" "nginx_alpine" {
  repository = "nginx" # docker.io/library/nginx
  include    = ["^1\\.27\\.\\d+-alpine"]
  exclude    = ["-perl$", "-otel$", "-slim$"]
}

output "podinfo_tags" {
  value = data.zarf_image_tags.podinfo.tags # e.g. ["6.9.2", "6.9.3", "6.10.0"]
}
