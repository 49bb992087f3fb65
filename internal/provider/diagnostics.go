package provider

import (
	"errors"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"

	"github.com/zarf-dev/terraform-provider-zarf/internal/mirror"
	"github.com/zarf-dev/terraform-provider-zarf/internal/tagset"
)

// addEngineError turns an engine error into a diagnostic, attached to the attribute it is about
// when there is one.
func addEngineError(diags *diag.Diagnostics, summary string, err error) {
	var (
		refErr      *mirror.ReferenceError
		platformErr *mirror.UnknownPlatformError
		sizeErr     *mirror.TooLargeError
		digestErr   *mirror.TargetDigestMismatchError
		criteriaErr *tagset.CriteriaError
		semverErr   *tagset.NotSemverError
		unusableErr *mirror.TargetUnusableError
		conflictErr *mirror.TargetConflictError
		sourceErr   *mirror.TargetIsSourceError
	)
	switch {
	case errors.As(err, &refErr):
		diags.AddAttributeError(path.Root(refErr.Attribute), summary, err.Error())
	case errors.As(err, &platformErr):
		diags.AddAttributeError(path.Root("platforms"), summary, err.Error())
	case errors.As(err, &sizeErr):
		diags.AddAttributeError(path.Root("max_bytes"), summary, err.Error())
	case errors.As(err, &digestErr), errors.As(err, &unusableErr), errors.As(err, &conflictErr), errors.As(err, &sourceErr):
		diags.AddAttributeError(path.Root("target"), summary, err.Error())
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
