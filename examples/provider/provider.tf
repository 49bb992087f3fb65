terraform {
  required_providers {
    zarf = {
      source = "zarf-dev/zarf"
    }
  }
}

# Keep secrets out of the configuration: set TF_VAR_registry_password in the environment
# (or read the password from a secret store with a data source).
variable "registry_password" {
  description = "Password or token of the ci user at registry.internal."
  type        = string
  sensitive   = true
}

variable "ca_file" {
  description = "PEM file with the CA certificate(s) that signed the internal registries' certificates."
  type        = string
}

provider "zarf" {
  # Plain HTTP, or TLS without certificate verification, only for these hosts (here a local
  # test registry). Every other registry is reached over verified HTTPS, localhost included.
  insecure_registries = ["127.0.0.1:5000"]

  # Extra trusted CA certificates (PEM), added to the system's. Concatenate several
  # certificates in one file when registries have different CAs.
  ca_pem = file(var.ca_file)

  # Blobs and manifests transferred at once, per mirror.
  jobs = 4

  # Retries per request on 408, 429, 5xx answers and dropped connections.
  max_retries = 5

  # Where Zarf packages (data "zarf_package") are unpacked, once per archive digest. Terraform
  # does not expand ~: pathexpand does. Defaults to terraform-provider-zarf/packages under the
  # user's cache directory.
  cache_dir = pathexpand("~/.cache/zarf-packages")

  # Credentials for one registry; any number of blocks, one per registry. Registries without
  # a block get credentials from the Docker config (DOCKER_CONFIG, ~/.docker/config.json,
  # credential helpers), or none.
  registry_auth {
    address  = "registry.internal"
    username = "ci"
    password = var.registry_password
  }
}
