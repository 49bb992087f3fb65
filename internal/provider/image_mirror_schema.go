package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/zarf-dev/terraform-provider-zarf/internal/mirror"
	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
)

func (r *imageMirrorResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Copies an image index (or a single image manifest), with the platforms you select, " +
			"into a target registry. In `preserve` mode the target gets the source's index bytes unchanged, so " +
			"`image@sha256:<index digest>` references keep working. The digests are kept in state; plan shows " +
			"what will be copied and warns about large mirrors; refresh turns drift at the target or a moved " +
			"source tag into a planned change.",
		Attributes: map[string]schema.Attribute{
			"source": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "Image to mirror: `repo:tag`, `repo@sha256:…` or `repo:tag@sha256:…`. Docker Hub " +
					"short names normalise as Docker does (`nginx` is `index.docker.io/library/nginx:latest`). A " +
					"digest pins the source; a tag is followed, so a moved tag is a planned update. An OCI image " +
					"layout directory (a Zarf package's `images/` folder) is `oci-layout://<path>:<ref>` or " +
					"`oci-layout://<path>@sha256:…`: `<ref>` matches an `index.json` entry by its " +
					"`org.opencontainers.image.ref.name`, or by its original image reference " +
					"(`org.opencontainers.image.base.name`, e.g. `oci-layout://images:docker.io/library/nginx:1.27`). " +
					"The path contains neither `:` nor `@`, a Windows drive letter (`C:\\images` or `C:/images`) aside. " +
					"A Zarf package archive is `zarf-package://<archive>:<original image reference>` or " +
					"`zarf-package://<archive>@sha256:…`, the archive ending with `.tar.zst`, `.tar` or `.part000` (of a " +
					"split package), e.g. `zarf-package://${data.zarf_package.app.path}:nginx:1.27`: the archive is " +
					"unpacked and checked once per archive digest into the provider's `cache_dir`, the image is read from " +
					"its `images/` by its original reference, bytes unchanged, and a new package at the same path whose " +
					"image differs is a planned update. See the guide *Air-gapped mirroring in two hops*. " +
					"`terraform validate` checks the syntax.",
				Validators: []validator.String{validReference(store.RoleSource, "source")},
			},
			"target": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "Target repository, optionally with `:tag` or `@sha256:…`. Without a tag the " +
					"source's tag is used; a digest-only source and a tagless target push by digest alone. A " +
					"target digest must equal the digest that will be pushed. Changing it replaces the mirror, unless the new " +
					"value names the same repository and tag (`repo` and `repo:<source tag>`, `nginx` and " +
					"`docker.io/library/nginx`: an update that copies nothing). It must not be the source itself. " +
					"Or an OCI image layout directory, `oci-layout://<path>[:<ref>]`, created if missing: the " +
					"manifests are stored with their exact bytes and listed in `index.json` under the ref (default: " +
					"the source's tag) with the source reference as `org.opencontainers.image.base.name`; writing a " +
					"ref again replaces its entry, several mirrors may share one layout, and destroy removes only the " +
					"mirror's entry and the blobs no other entry uses.",
				PlanModifiers: []planmodifier.String{replaceWhenDestinationMoves},
				Validators:    []validator.String{validReference(store.RoleTarget, "target"), targetIsNotSource{}},
			},
			"platforms": schema.SetAttribute{
				ElementType: types.StringType,
				Optional:    true,
				MarkdownDescription: "Platforms to copy, as `os/arch[/variant]` (`linux/amd64`, `linux/arm/v7`). " +
					"Without a variant a platform matches every variant; `linux/arm64` and `linux/arm64/v8` match " +
					"each other. A platform the source does not list is a plan-time error. Omitted: every platform.",
				Validators: []validator.Set{setvalidator.SizeAtLeast(1), setvalidator.ValueStringsAre(validPlatform)},
			},
			"index_mode": schema.StringAttribute{
				Optional: true,
				Computed: true,
				Default:  stringdefault.StaticString(string(mirror.ModePreserve)),
				MarkdownDescription: "`preserve` (default): the target gets the source's index bytes unchanged, so " +
					"its digest equals the source's; with `platforms` set the index is *sparse* (some children " +
					"absent), which only some registries accept. `filter`: the target gets a new, deterministic " +
					"index listing only the selected entries (a new digest, known at plan time).",
				Validators: []validator.String{stringvalidator.OneOf(string(mirror.ModePreserve), string(mirror.ModeFilter))},
			},
			"attestations": schema.BoolAttribute{
				Optional: true,
				Computed: true,
				Default:  booldefault.StaticBool(true),
				MarkdownDescription: "Keep BuildKit attestation entries (`unknown/unknown`, annotation " +
					"`vnd.docker.reference.type = attestation-manifest`) of the images that are kept. Default `true`.",
			},
			"max_bytes": schema.Int64Attribute{
				Optional:            true,
				MarkdownDescription: "Plan fails when the content to copy is larger than this many bytes.",
				Validators:          []validator.Int64{int64validator.AtLeast(1)},
			},
			"referrers": schema.BoolAttribute{
				Optional: true,
				Computed: true,
				Default:  booldefault.StaticBool(false),
				MarkdownDescription: "Also copy what refers to the copied manifests: OCI 1.1 referrers (found through the " +
					"referrers API, else the `sha256-<hex>` fallback tag) and cosign's `sha256-<hex>.sig`, `.att` and " +
					"`.sbom` tags, with everything they reference. Looked for are the referrers of each copied " +
					"manifest that the target gets unchanged, so in `filter` mode not those of the new index. At the " +
					"target, OCI referrers are listed by the referrers API where it exists, else merged into the " +
					"fallback tag (other entries are kept); cosign tags are copied as tags. In an OCI image layout, " +
					"each referrer is an `index.json` entry of its own (cosign tags under their tag name), so the next " +
					"hop finds it. `copied_referrers` lists " +
					"them. Default `false`. See the guide *Signatures and attestations*.",
			},
			"keep_remotely": schema.BoolAttribute{
				Optional: true,
				Computed: true,
				Default:  booldefault.StaticBool(false),
				MarkdownDescription: "On destroy, leave the target content in place. Otherwise the manifest the " +
					"mirror pushed is deleted, or only the mirror's tag when another tag of the repository points at " +
					"the same manifest (another mirror of the same image keeps its content); a registry that does not " +
					"allow deletes gives a warning, not an error. Destroy never deletes what another mirror of the same " +
					"Terraform run holds or is about to write, nor the source, nor a manifest of the source's own " +
					"repository: it leaves them with a warning. Default `false`.",
			},
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "`<target repository>@<digest>` (`oci-layout://<path>@<digest>` for a layout).",
			},
			"source_digest": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "Digest the source resolved to (known at plan time when the source is reachable).",
			},
			"digest": schema.StringAttribute{
				Computed: true,
				MarkdownDescription: "Digest of what the target holds: equal to `source_digest` in `preserve` mode; " +
					"the new index's digest in `filter` mode.",
			},
			"ref": schema.StringAttribute{
				Computed: true,
				MarkdownDescription: "`<target repository>[:<tag>]@<digest>`: the reference a Kubernetes manifest should use " +
					"(`oci-layout://<path>@<digest>` for a layout target).",
			},
			"manifests": schema.ListNestedAttribute{
				Computed: true,
				MarkdownDescription: "The copied image manifests that have a platform, in index order (attestation " +
					"manifests are not listed; `size` counts them).",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"platform":   schema.StringAttribute{Computed: true, MarkdownDescription: "`os/arch[/variant]`."},
					"digest":     schema.StringAttribute{Computed: true, MarkdownDescription: "Digest of the image manifest."},
					"media_type": schema.StringAttribute{Computed: true, MarkdownDescription: "Media type of the image manifest."},
					"size":       schema.Int64Attribute{Computed: true, MarkdownDescription: "Size of the image manifest in bytes."},
				}},
			},
			"copied_referrers": schema.ListNestedAttribute{
				Computed: true,
				MarkdownDescription: "With `referrers = true`, what refers to the copied manifests and is copied with them " +
					"(known at plan time): signatures, attestations, SBOMs. The design calls this list `referrers`; it is " +
					"named `copied_referrers` because `referrers` is the argument that turns the copy on. `size` does " +
					"not count them. Empty without `referrers`. Refresh checks each one at the target (HEAD): one that " +
					"is gone is a planned update that copies it again, and planning proposes an update when new ones " +
					"appeared at the source.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"digest": schema.StringAttribute{Computed: true, MarkdownDescription: "Digest of the referrer's manifest."},
					"artifact_type": schema.StringAttribute{Computed: true, MarkdownDescription: "The manifest's `artifactType`, " +
						"else its config media type (as the referrers API reports it); for a cosign tag whose manifest " +
						"has a plain image config, the media type of its first layer (for a signature " +
						"`application/vnd.dev.cosign.simplesigning.v1+json`)."},
					"subject": schema.StringAttribute{Computed: true, MarkdownDescription: "Digest of the copied manifest it refers to."},
					"tag": schema.StringAttribute{Computed: true, MarkdownDescription: "The cosign tag it is stored under " +
						"(`sha256-<hex>.sig`, `.att` or `.sbom`); null for an OCI referrer, which clients find by its subject."},
				}},
			},
			"size": schema.Int64Attribute{
				Computed: true,
				MarkdownDescription: "Bytes of distinct content (blobs and manifests) that the mirror holds; a layer " +
					"shared by several platforms counts once.",
			},
			"verified_by": schema.ListAttribute{
				ElementType:         types.StringType,
				Computed:            true,
				MarkdownDescription: verifiedByDescription,
			},
		},
		Blocks: map[string]schema.Block{"verify": verifyBlockSchema()}, // image_mirror_verify.go
	}
}
