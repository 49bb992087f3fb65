# <target>,<source> (or <target> alone), with target written exactly as in the configuration
# (here without a tag: the tag comes from the source). A different spelling plans a replacement.
terraform import zarf_image_mirror.nginx registry.internal/library/nginx,docker.io/library/nginx:1.27
