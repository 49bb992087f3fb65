package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"

	"github.com/zarf-dev/terraform-provider-zarf/internal/mirror"
	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
)

// ImportState takes "<target>" or "<target>,<source>". Write target and source as the
// configuration does: ImportState keeps them as they are, and a target written otherwise plans
// an update of target (one that names another repository or tag, a replacement).
func (r *imageMirrorResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	target, source, err := parseImportID(req.ID)
	if err == nil && r.engine != nil {
		err = r.checkImport(target, source)
	}
	if err != nil {
		resp.Diagnostics.AddError("Invalid import ID",
			fmt.Sprintf("Import ID %q: %v.\n\nUse <target> or <target>,<source>, with target and source written as in the "+
				"configuration, target as repo:tag or repo@sha256:<digest>; for example\n"+
				"  registry.internal/library/nginx:1.27\n"+
				"  registry.internal/library/nginx:1.27,docker.io/library/nginx:1.27", req.ID, err))
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("target"), target)...)
	if source != "" {
		resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("source"), source)...)
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("index_mode"), string(mirror.ModePreserve))...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("attestations"), true)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("keep_remotely"), false)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("referrers"), false)...)
}

// parseImportID splits "<target>" or "<target>,<source>".
func parseImportID(id string) (target, source string, err error) {
	parts := strings.Split(id, ",")
	if len(parts) > 2 {
		return "", "", fmt.Errorf("it has %d comma-separated parts; at most two are allowed", len(parts))
	}
	target = strings.TrimSpace(parts[0])
	if target == "" {
		return "", "", errors.New("the target is empty")
	}
	if len(parts) == 2 {
		if source = strings.TrimSpace(parts[1]); source == "" {
			return "", "", errors.New("the source after the comma is empty")
		}
	}
	return target, source, nil
}

// checkImport validates the parts of an import ID without a request: target as repo:tag,
// repo@digest or repo:tag@digest (a bare repository only together with a source, which then
// gives the tag, as in a configuration), and the source, if given, as the source argument takes
// it.
func (r *imageMirrorResource) checkImport(target, source string) error {
	tgt, err := r.engine.Parse(target, store.RoleTarget)
	if err != nil {
		return err
	}
	if source == "" {
		if tgt.Name == "" && tgt.Digest == "" {
			return errors.New("without a source, the target must name what to import: add :<tag> or @sha256:<digest>, " +
				"or give the source as <target>,<source>")
		}
		return nil
	}
	_, err = r.engine.Parse(source, store.RoleSource)
	return err
}
