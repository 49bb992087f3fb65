# <target>,<source> (or <target> alone), with target written as in the configuration (here
# without a tag: the tag comes from the source). Another spelling of the same repository and tag
# plans an update that copies nothing; another repository or tag plans a replacement.
terraform import zarf_image_mirror.nginx registry.internal/library/nginx,docker.io/library/nginx:1.27
