# Every platform of nginx:1.27, index bytes unchanged: the target's index digest equals the
# source's, so manifests that pin nginx@sha256:<index digest> work against the internal
# registry. Without a tag in target, the source's tag (1.27) is used.
resource "zarf_image_mirror" "nginx" {
  source = "docker.io/library/nginx:1.27"
  target = "registry.internal/library/nginx"
}

# Two platforms as a new index that lists only them ("filter"): accepted by every registry, but
# the index digest differs from the source's (it is known at plan time). The plan fails if the
# content to copy is larger than max_bytes.
resource "zarf_image_mirror" "podinfo" {
  source     = "ghcr.io/stefanprodan/podinfo:6.4.0"
  target     = "registry.internal/podinfo:6.4.0-slim"
  platforms  = ["linux/amd64", "linux/arm64"]
  index_mode = "filter"
  max_bytes  = 200 * 1024 * 1024
}

# What a Kubernetes manifest should use: repository, tag and digest.
output "nginx_image" {
  value = zarf_image_mirror.nginx.ref # registry.internal/library/nginx:1.27@sha256:…
}

# Copied only when signed with the publisher's key (cosign sign --key cosign.key
# --tlog-upload=false); nothing is copied otherwise. verified_by names the key. See the guide
# "Mirror only signed images" for keyless identities and attestations.
variable "acme_public_key" {
  description = "The publisher's cosign public key (PEM)."
  type        = string
}

resource "zarf_image_mirror" "signed" {
  source = "ghcr.io/acme/app:1.4.2"
  target = "registry.internal/acme/app"

  verify {
    public_keys      = [var.acme_public_key]
    transparency_log = false
  }
}
