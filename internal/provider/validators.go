package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/schema/validator"

	"github.com/zarf-dev/terraform-provider-zarf/internal/mirror"
	"github.com/zarf-dev/terraform-provider-zarf/internal/registry"
)

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

// validReference checks an image reference as the attribute ("source", "target" or "ref")
// takes it.
func validReference(attribute string) offlineCheck {
	return offlineCheck{
		summary:     "Invalid image reference",
		description: "must be an image reference or an OCI image layout reference",
		check:       func(s string) error { return mirror.ValidateReference(attribute, s) },
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
