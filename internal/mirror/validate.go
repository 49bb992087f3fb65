package mirror

// ValidateReference checks an image reference as the attribute ("source", "target", or the
// data source's "ref") takes it: the same parser as plan and apply, without a client and
// without any request, so that terraform validate reports what needs no network. The error is
// a *ReferenceError that names the attribute.
func ValidateReference(attribute, ref string) error {
	defaultTag := "latest"
	if attribute == "target" {
		defaultTag = "" // a target without tag takes the source's
	}
	_, err := parseImageRef(defaultClient{}.ParseReference, attribute, ref, defaultTag)
	return err
}
