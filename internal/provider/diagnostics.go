package provider

import (
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"

	"github.com/zarf-dev/terraform-provider-zarf/internal/mirror"
	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
	"github.com/zarf-dev/terraform-provider-zarf/internal/tagset"
	"github.com/zarf-dev/terraform-provider-zarf/internal/verify"
)

// referenceAttributes names the attributes that hold a schema's source, target or repository
// references.
type referenceAttributes map[store.Role]string

var (
	resourceReferences   = referenceAttributes{store.RoleSource: "source", store.RoleTarget: "target"}
	dataSourceReferences = referenceAttributes{store.RoleSource: "ref"}
	tagsSourceReferences = referenceAttributes{store.RoleRepository: "repository"}
)

// addEngineError turns an engine error into a diagnostic, attached to the attribute it is about
// when there is one, in the words of the configuration: the attribute names, and what to change.
func addEngineError(diags *diag.Diagnostics, summary string, err error, refs referenceAttributes) {
	var (
		refErr      *mirror.ReferenceError
		platformErr *mirror.UnknownPlatformError
		sizeErr     *mirror.TooLargeError
		digestErr   *mirror.TargetDigestMismatchError
		sparseErr   *mirror.SparseIndexRejectedError
		goneErr     *mirror.ReferrersGoneError
		criteriaErr *tagset.CriteriaError
		semverErr   *tagset.NotSemverError
		unusableErr *mirror.TargetUnusableError
		conflictErr *mirror.TargetConflictError
		sourceErr   *mirror.TargetIsSourceError
		policyErr   *verify.PolicyError
		verifyErr   *mirror.VerificationError
	)
	switch {
	case errors.As(err, &policyErr): // verify blocks that cannot be used, e.g. without a trusted root
		addPolicyErrors(diags, summary, policyErr)
	case errors.As(err, &verifyErr):
		diags.AddAttributeError(path.Root("verify"), summary, err.Error())
	case errors.As(err, &refErr) && refs[refErr.Role] != "":
		attr := refs[refErr.Role]
		diags.AddAttributeError(path.Root(attr), summary, reword(err, refErr,
			fmt.Sprintf("%s %q is not a valid image reference: %s", attr, refErr.Value, refErr.Reason)))
	case errors.As(err, &platformErr):
		diags.AddAttributeError(path.Root("platforms"), summary, reword(err, platformErr,
			platformErr.Error()+". Choose platforms from that list, or omit platforms to mirror them all"))
	case errors.As(err, &sizeErr):
		diags.AddAttributeError(path.Root("max_bytes"), summary, reword(err, sizeErr,
			fmt.Sprintf("mirroring %s copies %s (%d bytes), more than max_bytes = %d (%s); select fewer platforms or raise max_bytes",
				sizeErr.Source, mirror.HumanBytes(sizeErr.Size), sizeErr.Size, sizeErr.MaxBytes, mirror.HumanBytes(sizeErr.MaxBytes))))
	case errors.As(err, &digestErr), errors.As(err, &unusableErr), errors.As(err, &conflictErr), errors.As(err, &sourceErr):
		diags.AddAttributeError(path.Root("target"), summary, err.Error())
	case errors.As(err, &sparseErr):
		diags.AddError(summary, reword(err, sparseErr, sparseErr.Error()+"\n\n"+
			"Three ways out:\n"+
			"  1. configure the registry to accept sparse indexes (CNCF distribution v3: validation.manifests.indexes.platforms: none or list);\n"+
			"  2. mirror every platform (omit platforms);\n"+
			"  3. set index_mode = \"filter\" to push a new index that lists only the selected platforms (its digest differs from the source's)"))
	case errors.As(err, &goneErr):
		diags.AddError(summary, reword(err, goneErr, goneErr.Error()+"; run terraform plan again"))
	case errors.As(err, &criteriaErr):
		at := path.Root(criteriaErr.Field)
		if criteriaErr.Field == tagset.FieldInclude || criteriaErr.Field == tagset.FieldExclude {
			at = at.AtListIndex(criteriaErr.Index)
		}
		diags.AddAttributeError(at, summary, err.Error())
	case errors.As(err, &semverErr):
		diags.AddAttributeError(path.Root(tagset.FieldNewest), summary, err.Error())
	default:
		diags.AddError(summary, err.Error())
	}
}

// reword is the message of err with that of inner, an error in its chain, replaced by text.
func reword(err, inner error, text string) string {
	return strings.Replace(err.Error(), inner.Error(), text, 1)
}
