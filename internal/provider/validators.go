package provider

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/schema/validator"

	"github.com/zarf-dev/terraform-provider-zarf/internal/mirror"
	"github.com/zarf-dev/terraform-provider-zarf/internal/registry"
	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
	"github.com/zarf-dev/terraform-provider-zarf/internal/zarfpackage"
)

// offlineSchemes are the schemes, beside the engine's defaults, that references are parsed with
// where the provider is not configured (terraform validate, plan modifiers). Parsing a Zarf
// package reference needs no cache: the package is opened on first use.
var offlineSchemes = []mirror.Option{mirror.WithScheme(zarfpackage.Scheme{})}

// offlineCheck is a string attribute validator that runs a check of the engine or of the
// registry package that needs no network, so terraform validate (and an editor) reports the
// mistake on its attribute with the explanation that plan would give. Unknown and null values
// are left to plan.
type offlineCheck struct {
	summary     string // of the error, e.g. "Invalid image reference"
	description string // what a valid value is, for documentation
	check       func(string) error
}

var _ validator.String = offlineCheck{}

func (c offlineCheck) Description(context.Context) string         { return c.description }
func (c offlineCheck) MarkdownDescription(context.Context) string { return c.description }

func (c offlineCheck) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if err := c.check(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, c.summary, err.Error())
	}
}

// validReference checks an image reference as the attribute takes it: as a source or a target
// (role).
func validReference(role store.Role, attribute string) offlineCheck {
	return offlineCheck{
		summary:     "Invalid image reference",
		description: "must be an image reference, an OCI image layout reference or a Zarf package reference",
		check: func(s string) error {
			err := mirror.ValidateReference(role, s, offlineSchemes...)
			var refErr *mirror.ReferenceError
			if errors.As(err, &refErr) {
				return fmt.Errorf("%s %q is not a valid image reference: %s", attribute, refErr.Value, refErr.Reason)
			}
			return err
		},
	}
}

var (
	validPlatform = offlineCheck{
		summary:     "Invalid platform",
		description: "must be os/arch or os/arch/variant",
		check: func(s string) error {
			_, err := mirror.ParsePlatform(s)
			return err
		},
	}
	validAddress = offlineCheck{
		summary:     "Invalid registry address",
		description: "must be host[:port], without scheme or path",
		check:       registry.ValidateAddress,
	}
	validCAPEM = offlineCheck{
		summary:     "Invalid CA certificates",
		description: "must hold PEM-encoded certificates",
		check:       func(s string) error { return registry.ValidateCAPEM([]byte(s)) },
	}
)
