package mirror

import (
	"errors"
	"fmt"
	"strings"
)

// ReferenceError is a source or target reference that cannot be used.
type ReferenceError struct {
	Attribute string // "source", "target" or "ref"
	Value     string
	Reason    string
}

func (e *ReferenceError) Error() string {
	return fmt.Sprintf("%s %q is not a valid image reference: %s", e.Attribute, e.Value, e.Reason)
}

// UnknownPlatformError is a requested platform that the source does not list.
type UnknownPlatformError struct {
	Source    string
	Requested []string
	Available []string
}

func (e *UnknownPlatformError) Error() string {
	return fmt.Sprintf("%s does not list platform %s; it lists: %s. Choose platforms from that list, or omit platforms to mirror them all",
		e.Source, strings.Join(e.Requested, ", "), strings.Join(e.Available, ", "))
}

// TooLargeError is content larger than the MaxBytes limit.
type TooLargeError struct {
	Source   string
	Size     int64
	MaxBytes int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("mirroring %s copies %s (%d bytes), more than max_bytes = %d (%s); select fewer platforms or raise max_bytes",
		e.Source, HumanBytes(e.Size), e.Size, e.MaxBytes, HumanBytes(e.MaxBytes))
}

// SparseIndexRejectedError is a target registry refusing an index whose children are not all
// present.
type SparseIndexRejectedError struct {
	Target string
	Err    error
}

func (e *SparseIndexRejectedError) Error() string {
	return fmt.Sprintf("registry rejected the sparse index for %s (only the selected platforms are present): %v\n\n"+
		"Three ways out:\n"+
		"  1. configure the registry to accept sparse indexes (CNCF distribution v3: validation.manifests.indexes.platforms: none or list);\n"+
		"  2. mirror every platform (omit platforms);\n"+
		"  3. set index_mode = \"filter\" to push a new index that lists only the selected platforms (its digest differs from the source's)",
		e.Target, e.Err)
}

func (e *SparseIndexRejectedError) Unwrap() error { return e.Err }

// TargetDigestMismatchError is a target pinned by digest that cannot hold that digest.
type TargetDigestMismatchError struct {
	Target string
	Want   string
	Digest string
}

func (e *TargetDigestMismatchError) Error() string {
	return fmt.Sprintf("target %s is pinned to %s, but the mirror pushes %s; remove the digest from target or pin it to %s",
		e.Target, e.Want, e.Digest, e.Digest)
}

// ErrDeleteUnsupported is returned by Delete when the registry does not allow deletes.
var ErrDeleteUnsupported = errors.New("the registry does not allow deleting manifests")

// HumanBytes formats a byte count in binary units, e.g. "1.5 GiB".
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
