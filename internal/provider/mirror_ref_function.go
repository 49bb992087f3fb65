package provider

import (
	"context"
	"errors"

	"github.com/hashicorp/terraform-plugin-framework/function"

	"github.com/zarf-dev/terraform-provider-zarf/internal/zarf"
)

var _ function.Function = (*mirrorRefFunction)(nil)

// mirrorRefFunction is provider::zarf::mirror_ref(registry, image).
type mirrorRefFunction struct{}

// NewMirrorRefFunction returns the mirror_ref function.
func NewMirrorRefFunction() function.Function {
	return &mirrorRefFunction{}
}

// Argument positions, as used by function.NewArgumentFuncError.
const (
	mirrorRefArgRegistry int64 = 0
	mirrorRefArgImage    int64 = 1
)

func (f *mirrorRefFunction) Metadata(_ context.Context, _ function.MetadataRequest, resp *function.MetadataResponse) {
	resp.Name = "mirror_ref"
}

func (f *mirrorRefFunction) Definition(_ context.Context, _ function.DefinitionRequest, resp *function.DefinitionResponse) {
	resp.Definition = function.Definition{
		Summary: "Reference that Zarf's agent rewrites an image to",
		Description: "Returns the reference that the Zarf agent rewrites image to for a Zarf registry at registry " +
			"(Zarf's ImageTransformHost), so a mirror can be placed where Zarf clusters will pull from. " +
			"The image is parsed as Docker does (nginx is docker.io/library/nginx:latest). If registry starts " +
			"with the image's host, image is returned unchanged. An image with a digest becomes " +
			"<registry>/<path>@<digest> (any tag is dropped); otherwise <registry>/<path>:<tag>-zarf-<crc32>, " +
			"where <crc32> is the CRC-32 (IEEE) of the normalised name without tag or digest, in unsigned decimal.",
		MarkdownDescription: "Returns the reference that the Zarf agent rewrites `image` to for a Zarf registry at " +
			"`registry` (Zarf's `ImageTransformHost`), so a mirror can be placed where Zarf clusters will pull from.\n\n" +
			"- `image` is parsed as Docker does: `nginx` is host `docker.io`, path `library/nginx`, tag `latest`.\n" +
			"- If `registry` starts with the image's host, `image` is returned unchanged.\n" +
			"- With a digest: `<registry>/<path>@<digest>` (any tag is dropped).\n" +
			"- Otherwise: `<registry>/<path>:<tag>-zarf-<crc32>`, where `<crc32>` is the CRC-32 (IEEE) of the " +
			"normalised name without tag or digest (for example `docker.io/library/nginx`), in unsigned decimal.\n\n" +
			"For example, `provider::zarf::mirror_ref(\"127.0.0.1:31999\", \"nginx\")` is " +
			"`127.0.0.1:31999/library/nginx:latest-zarf-3793515731`.",
		Parameters: []function.Parameter{
			function.StringParameter{
				Name:        "registry",
				Description: "Address of the Zarf registry, host[:port] with an optional path, for example 127.0.0.1:31999.",
				MarkdownDescription: "Address of the Zarf registry: `host[:port]` with an optional path, " +
					"for example `127.0.0.1:31999` (Zarf's default NodePort registry). No scheme.",
			},
			function.StringParameter{
				Name:        "image",
				Description: "Image reference as written in a pod spec, for example nginx:1.27 or ghcr.io/stefanprodan/podinfo:6.4.0.",
				MarkdownDescription: "Image reference as written in a pod spec, for example `nginx:1.27`, " +
					"`ghcr.io/stefanprodan/podinfo:6.4.0` or `name@sha256:…`. No scheme such as `oci://`.",
			},
		},
		Return: function.StringReturn{},
	}
}

func (f *mirrorRefFunction) Run(ctx context.Context, req function.RunRequest, resp *function.RunResponse) {
	var registry, image string
	resp.Error = function.ConcatFuncErrors(resp.Error, req.Arguments.Get(ctx, &registry, &image))
	if resp.Error != nil {
		return
	}

	ref, err := zarf.MirrorRef(registry, image)
	if err != nil {
		resp.Error = function.ConcatFuncErrors(resp.Error, mirrorRefFuncError(err))
		return
	}
	resp.Error = function.ConcatFuncErrors(resp.Error, resp.Result.Set(ctx, ref))
}

// mirrorRefFuncError turns an error of zarf.MirrorRef into a function error that points at the
// argument at fault.
func mirrorRefFuncError(err error) *function.FuncError {
	var argErr *zarf.ArgumentError
	if errors.As(err, &argErr) {
		switch argErr.Argument {
		case zarf.ArgRegistry:
			return function.NewArgumentFuncError(mirrorRefArgRegistry, err.Error())
		case zarf.ArgImage:
			return function.NewArgumentFuncError(mirrorRefArgImage, err.Error())
		}
	}
	return function.NewFuncError(err.Error())
}
