package provider

import (
	"context"
	"errors"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/zarf-dev/terraform-provider-zarf/internal/mirror"
)

// How target relates to source, decided without a request: a target that is the source itself is
// refused at validation, and a target written differently that names the same place is not a
// replacement.

// targetIsNotSource refuses a target whose effective reference is the source's (see
// mirror.OverlapOf). References that do not parse are left to the other checks.
type targetIsNotSource struct{}

var _ validator.String = targetIsNotSource{}

func (targetIsNotSource) Description(context.Context) string {
	return "target must not be the source itself"
}

func (v targetIsNotSource) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (targetIsNotSource) ValidateString(ctx context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	var source, mode types.String
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("source"), &source)...)
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("index_mode"), &mode)...)
	if resp.Diagnostics.HasError() || !known(source) || !known(req.ConfigValue) || mode.IsUnknown() {
		return
	}
	err := mirror.CheckTargetIsNotSource(source.ValueString(), req.ConfigValue.ValueString(), indexModeOf(mode), offlineSchemes...)
	var same *mirror.TargetIsSourceError
	if errors.As(err, &same) {
		resp.Diagnostics.AddAttributeError(req.Path, "Target is the source", err.Error())
	}
}

// replaceWhenDestinationMoves replaces the mirror only when the place it writes to changes:
// "repo" and "repo:<source tag>", or "nginx" and "docker.io/library/nginx", are one target.
var replaceWhenDestinationMoves = stringplanmodifier.RequiresReplaceIf(
	func(ctx context.Context, req planmodifier.StringRequest, resp *stringplanmodifier.RequiresReplaceIfFuncResponse) {
		var before, after types.String
		resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("source"), &before)...)
		resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, path.Root("source"), &after)...)
		resp.RequiresReplace = !sameDestination(before, req.StateValue, after, req.PlanValue)
	},
	"Changing target replaces the mirror, unless the new value names the same repository and tag.",
	"Changing `target` replaces the mirror, unless the new value names the same repository and tag "+
		"(`repo` and `repo:<source tag>`, `nginx` and `docker.io/library/nginx`).",
)

// sameDestination reports whether two (source, target) pairs write to one place; false when a
// value is unknown or does not parse.
func sameDestination(sourceA, targetA, sourceB, targetB types.String) bool {
	if !known(sourceA) || !known(targetA) || !known(sourceB) || !known(targetB) {
		return false
	}
	a, errA := mirror.DestinationOf(sourceA.ValueString(), targetA.ValueString(), offlineSchemes...)
	b, errB := mirror.DestinationOf(sourceB.ValueString(), targetB.ValueString(), offlineSchemes...)
	return errA == nil && errB == nil && a == b
}

func known(v types.String) bool { return !v.IsNull() && !v.IsUnknown() }

// indexModeOf is the configured index_mode, its default when not set.
func indexModeOf(v types.String) mirror.IndexMode {
	if v.IsNull() || v.ValueString() == "" {
		return mirror.ModePreserve
	}
	return mirror.IndexMode(v.ValueString())
}
