package mirror

import (
	"fmt"
	"strings"

	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
)

// ReferenceError is a source or target reference that cannot be used.
type ReferenceError struct {
	Role   store.Role
	Value  string
	Reason string
}

func (e *ReferenceError) Error() string {
	return fmt.Sprintf("%s %q is not a valid image reference: %s", roleName(e.Role), e.Value, e.Reason)
}

// roleName is how messages call a reference of the role.
func roleName(r store.Role) string {
	switch r {
	case store.RoleTarget:
		return "target"
	case store.RoleRepository:
		return "repository"
	}
	return "source"
}

// UnknownPlatformError is a requested platform that the source does not list.
type UnknownPlatformError struct {
	Source    string
	Requested []string
	Available []string
}

func (e *UnknownPlatformError) Error() string {
	return fmt.Sprintf("%s does not list platform %s; it lists: %s",
		e.Source, strings.Join(e.Requested, ", "), strings.Join(e.Available, ", "))
}

// TooLargeError is content larger than the limit Spec.MaxBytes.
type TooLargeError struct {
	Source   string
	Size     int64
	MaxBytes int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("mirroring %s copies %s (%d bytes), more than the limit of %d bytes (%s)",
		e.Source, HumanBytes(e.Size), e.Size, e.MaxBytes, HumanBytes(e.MaxBytes))
}

// SparseIndexRejectedError is a target refusing an index whose children are not all present.
type SparseIndexRejectedError struct {
	Target string
	Err    error
}

func (e *SparseIndexRejectedError) Error() string {
	return fmt.Sprintf("the target rejected the sparse index for %s (only the selected platforms are present): %v", e.Target, e.Err)
}

func (e *SparseIndexRejectedError) Unwrap() error { return e.Err }

// TargetDigestMismatchError is a target pinned by digest that cannot hold that digest.
type TargetDigestMismatchError struct {
	Target string
	Want   string
	Digest string
}

func (e *TargetDigestMismatchError) Error() string {
	return fmt.Sprintf("target %s is pinned to %s, but the mirror pushes %s; remove the digest from the target or pin it to %s",
		e.Target, e.Want, e.Digest, e.Digest)
}

// ReferrersGoneError is a plan's referrer that the source no longer has when apply copies it.
type ReferrersGoneError struct {
	Referrers []Referrer
}

func (e *ReferrersGoneError) Error() string {
	names := make([]string, 0, len(e.Referrers))
	for _, r := range e.Referrers {
		names = append(names, DescribeReferrer(r))
	}
	return "the source no longer has what the plan showed: " + strings.Join(names, "; ")
}
