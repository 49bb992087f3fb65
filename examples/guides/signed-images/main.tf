terraform {
  required_providers {
    zarf = {
      source = "zarf-dev/zarf"
    }
  }
}

variable "cosign_public_key_file" {
  description = "The publisher's public key, as `cosign public-key` prints it (PEM)."
  type        = string
}

variable "trusted_root_file" {
  description = "An offline copy of Sigstore's trusted_root.json."
  type        = string
}

provider "zarf" {
  # Keyless certificates and transparency-log entries are checked against this root, offline.
  sigstore_trusted_root = file(var.trusted_root_file)
}

# Signed with a key and without a transparency log (cosign sign --key cosign.key
# --tlog-upload=false): the key alone decides.
resource "zarf_image_mirror" "internal_tool" {
  source = "registry.example.com/acme/internal-tool:2.3.0"
  target = "registry.internal/acme/internal-tool"

  verify {
    public_keys      = [file(var.cosign_public_key_file)]
    transparency_log = false
  }
}

# Signed keyless by a GitHub Actions release workflow, with a SLSA provenance attestation. The
# signatures travel along (referrers = true), so the cluster's admission policy verifies again
# at the target.
resource "zarf_image_mirror" "app" {
  source    = "ghcr.io/acme/app:1.4.2"
  target    = "registry.internal/acme/app"
  referrers = true

  verify {
    keyless {
      issuer         = "https://token.actions.githubusercontent.com"
      subject_regexp = "^https://github\\.com/acme/app/\\.github/workflows/release\\.yml@refs/tags/v"
    }
    attestation_types = ["https://slsa.dev/provenance/v1"]
  }
}

# Who signed what was copied: ["keyless https://token.actions.githubusercontent.com https://github.com/acme/app/…"].
output "app_verified_by" {
  value = zarf_image_mirror.app.verified_by
}
