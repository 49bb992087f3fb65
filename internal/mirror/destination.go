package mirror

import (
	"fmt"
	"path/filepath"
	"strings"
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
// no provider configuration, so it serves validation and plan modifiers.
func DestinationOf(source, target string) (Destination, error) {
	src, tgt, err := parsePair(source, target)
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
	src, tgt, err := parsePair(source, target)
	if err != nil {
		return Apart, err
	}
	dst := destinationOf(src, tgt)
	if dst.Repository != destinationOf(src, src).Repository {
		return Apart, nil
	}
	switch {
	case dst.Tag != "" || src.Tag != "":
		if dst.Tag == src.Tag {
			return SameReference, nil
		}
	case mode != ModeFilter || (tgt.Digest != "" && tgt.Digest == src.Digest):
		return SameReference, nil
	}
	return SameRepository, nil
}

// CheckTargetIsNotSource returns a *TargetIsSourceError when target is the source itself (see
// OverlapOf), a *ReferenceError when either does not parse, and nil otherwise.
func CheckTargetIsNotSource(source, target string, mode IndexMode) error {
	overlap, err := OverlapOf(source, target, mode)
	if err != nil || overlap != SameReference {
		return err
	}
	src, tgt, err := parsePair(source, target)
	if err != nil {
		return err
	}
	full := destinationOf(src, tgt).String()
	if src.Tag == "" {
		full += "@" + src.Digest
	}
	return &TargetIsSourceError{Source: source, Target: target, Reference: full}
}

// parsePair parses a source and a target as the engine does, with an engine of its own: naming
// needs no registry access, and a layout directory it registers is forgotten with it.
func parsePair(source, target string) (src, tgt imageRef, err error) {
	e := New()
	if src, err = e.parseImageRef("source", source, "latest"); err != nil {
		return imageRef{}, imageRef{}, err
	}
	if tgt, err = e.parseImageRef("target", target, ""); err != nil {
		return imageRef{}, imageRef{}, err
	}
	return src, tgt, nil
}

// destinationOf is where a mirror of src into tgt writes.
func destinationOf(src, tgt imageRef) Destination {
	tag := tgt.Tag
	if tag == "" {
		tag = src.Tag
	}
	return Destination{Repository: repositoryKey(tgt), Tag: tag}
}

// repositoryKey is the repository of ref written out in full (see Destination).
func repositoryKey(ref imageRef) string {
	if ref.Layout != nil {
		dir, err := filepath.Abs(ref.Layout.Path)
		if err != nil {
			dir = ref.Layout.Path
		}
		return LayoutScheme + dir
	}
	return strings.ToLower(ref.Repo.RegistryStr()) + "/" + ref.Repo.RepositoryStr()
}
