package mirror

import (
	"fmt"

	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
)

// Destination is where a mirror writes, written out in full so that two ways of writing one
// place compare equal: the repository (a registry host in lower case, Docker Hub as
// index.docker.io with library/ before short names; an OCI image layout as oci-layout:// and its
// absolute directory) and the tag (the source's when the target names none; empty when the
// mirror is pushed by digest alone).
type Destination struct {
	Repository string
	Tag        string
}

func (d Destination) String() string {
	if d.Tag == "" {
		return d.Repository
	}
	return d.Repository + ":" + d.Tag
}

// DestinationOf says where a mirror of source into target writes. It makes no request and needs
// no provider configuration, so it serves validation and plan modifiers. opts add schemes beside
// the default ones (see ValidateReference).
func DestinationOf(source, target string, opts ...Option) (Destination, error) {
	src, tgt, err := New(opts...).parsePair(source, target)
	if err != nil {
		return Destination{}, err
	}
	return destinationOf(src, tgt), nil
}

// TargetIsSourceError is a target that is the source itself: mirroring would write the source
// onto itself, and destroying the mirror would delete the source.
type TargetIsSourceError struct {
	Source, Target string
	// Reference is both, written out in full.
	Reference string
}

func (e *TargetIsSourceError) Error() string {
	return fmt.Sprintf("target %q is the source %q itself (both are %s once written out in full): mirroring it would "+
		"overwrite the source and destroying the mirror would delete it; choose another repository or tag for target",
		e.Target, e.Source, e.Reference)
}

// Overlap says how the target of a mirror relates to its source.
type Overlap int

const (
	// Apart: the target is in another repository than the source.
	Apart Overlap = iota
	// SameRepository: the target is another tag (or digest) in the source's repository, so the
	// manifests it points at were there before the mirror.
	SameRepository
	// SameReference: the target is the source itself.
	SameReference
)

// OverlapOf says how target relates to source, without a request. Two references are the same
// when their destinations are (see Destination); when neither names a tag, the mirror pushes by
// digest alone, and it is the source itself unless index_mode = "filter" writes a new index.
func OverlapOf(source, target string, mode IndexMode) (Overlap, error) {
	return New().overlapOf(source, target, mode)
}

// overlapOf is OverlapOf with the references parsed by e's schemes.
func (e *Engine) overlapOf(source, target string, mode IndexMode) (Overlap, error) {
	src, tgt, err := e.parsePair(source, target)
	if err != nil {
		return Apart, err
	}
	dst := destinationOf(src, tgt)
	if dst.Repository != src.Key() {
		return Apart, nil
	}
	switch {
	case dst.Tag != "" || src.TargetTag != "":
		if dst.Tag == src.TargetTag {
			return SameReference, nil
		}
	case mode != ModeFilter || (tgt.Digest != "" && tgt.Digest == src.Digest):
		return SameReference, nil
	}
	return SameRepository, nil
}

// CheckTargetIsNotSource returns a *TargetIsSourceError when target is the source itself (see
// OverlapOf), a *ReferenceError when either does not parse, and nil otherwise. opts add schemes
// beside the default ones (see ValidateReference).
func CheckTargetIsNotSource(source, target string, mode IndexMode, opts ...Option) error {
	e := New(opts...)
	overlap, err := e.overlapOf(source, target, mode)
	if err != nil || overlap != SameReference {
		return err
	}
	src, tgt, err := e.parsePair(source, target)
	if err != nil {
		return err
	}
	full := destinationOf(src, tgt).String()
	if src.TargetTag == "" {
		full += "@" + src.Digest
	}
	return &TargetIsSourceError{Source: source, Target: target, Reference: full}
}

// parsePair parses a source and a target with e's schemes. Naming needs no registry access and
// no provider configuration: the package's functions parse with a default Engine of their own.
func (e *Engine) parsePair(source, target string) (src, tgt store.Location, err error) {
	if src, err = e.open(source, store.RoleSource); err != nil {
		return store.Location{}, store.Location{}, err
	}
	if tgt, err = e.open(target, store.RoleTarget); err != nil {
		return store.Location{}, store.Location{}, err
	}
	return src, tgt, nil
}

// destinationOf is where a mirror of src into tgt writes.
func destinationOf(src, tgt store.Location) Destination {
	tag := tgt.Name
	if tag == "" {
		tag = src.TargetTag
	}
	return Destination{Repository: tgt.Key(), Tag: tag}
}
