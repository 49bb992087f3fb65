package mirror

import "github.com/zarf-dev/terraform-provider-zarf/internal/store"

// ValidateReference checks an image reference as a source or target (role) takes it: the same
// parser as plan and apply, with the default stores and without any request, so that terraform
// validate reports what needs no network and no provider configuration. The error is a
// *ReferenceError. opts add the schemes of the stores that the caller knows beside the default
// ones.
func ValidateReference(role store.Role, ref string, opts ...Option) error {
	_, err := New(opts...).open(ref, role)
	return err
}
