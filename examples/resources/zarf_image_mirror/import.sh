# <target>,<source> (or <target> alone), written as in the configuration.
terraform import zarf_image_mirror.nginx registry.internal/library/nginx:1.27,docker.io/library/nginx:1.27
