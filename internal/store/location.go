package store

import "regexp"

// tagPattern is a valid tag (OCI distribution specification).
var tagPattern = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)

// IsTag reports whether s is a valid tag: up to 128 letters, digits, '_', '.' and '-', starting
// with a letter, digit or '_'.
func IsTag(s string) bool { return tagPattern.MatchString(s) }

// Annotations that stores keeping annotations with their names (an OCI image layout's index.json
// entries) hold, as the OCI image specification defines them and Zarf writes them.
const (
	// AnnotationRefName is the name of an entry: what a tag is to a registry.
	AnnotationRefName = "org.opencontainers.image.ref.name"
	// AnnotationBaseName is the image's original reference ("docker.io/library/nginx:1.27").
	AnnotationBaseName = "org.opencontainers.image.base.name"
)

// Role says what a reference is parsed for: a place to read from, or one to write to.
type Role int

const (
	// RoleSource is a reference to read an image from. Without a name or digest it names the
	// tag "latest" where the scheme has one.
	RoleSource Role = iota
	// RoleTarget is a reference to write an image to. Its store is a Target; without a name
	// the image takes the source's (Location.TargetTag).
	RoleTarget
	// RoleRepository is a reference to a whole place, to list its tags: it names no image, and
	// gets no default tag.
	RoleRepository
)

// Scheme parses one kind of reference and opens the store it names. The engine picks the scheme
// by the prefix of a reference, once, and from then on uses the Location's store whatever its
// kind.
type Scheme interface {
	// Prefix starts the references of the scheme, e.g. "oci-layout://"; registry references have
	// none ("").
	Prefix() string
	// Syntax shows how the scheme's references are written, for messages, e.g.
	// "oci-layout://<path>:<ref> or oci-layout://<path>@sha256:<digest>".
	Syntax() string
	// Open parses ref (prefix included) for role and returns where it points. It makes no
	// request and reads no file: the store connects or reads on first use. Its errors say what
	// is wrong with ref, as the end of the sentence "<ref> is not a valid image reference: …".
	Open(ref string, role Role) (Location, error)
}

// Location is a parsed reference: the store it names, and the name and digest within it.
type Location struct {
	// Store is the place. For RoleTarget it implements Target.
	Store Reader
	// Repository names the place as references and messages show it, without name or digest:
	// "registry.example/library/nginx", "oci-layout://images".
	Repository string
	// Place is Repository written out in full, so that two ways of writing one place compare
	// equal: a registry host in lower case, Docker Hub as index.docker.io with library/ before
	// short names; an OCI image layout by its absolute directory. See Location.Key.
	Place string
	// Name is the tag (a registry's) or ref name (an OCI image layout's) that the reference
	// gives, "" when it gives none.
	Name string
	// Digest pins the manifest ("sha256:<hex>"); "" when the reference gives none.
	Digest string
	// TargetTag is, for a source, the tag that a target naming none takes: the tag of Name.
	TargetTag string
	// BaseName is, for a source, the image's original reference as Zarf records it in an OCI
	// image layout (org.opencontainers.image.base.name). A store that keeps one with its names
	// reports it in the annotations of what it resolves, which then win.
	BaseName string
	// Traits say where the store behaves unlike a registry.
	Traits Traits
}

// Key is Place, or Repository for a store that gives no Place.
func (l Location) Key() string {
	if l.Place != "" {
		return l.Place
	}
	return l.Repository
}

// String is the reference as messages show it: <repository>[:<name>][@<digest>].
func (l Location) String() string {
	s := l.Repository
	if l.Name != "" {
		s += ":" + l.Name
	}
	if l.Digest != "" {
		s += "@" + l.Digest
	}
	return s
}

// Traits are what users see differ between kinds of stores. The zero value describes a
// registry.
type Traits struct {
	// RefOmitsName: a reference to a manifest of the store is <repository>@<digest>, without
	// its name (the ref name of an OCI image layout entry is not part of an image reference).
	RefOmitsName bool `json:"ref_omits_name,omitempty"`
	// KeepsUnnamed: the store keeps a manifest that no name points at (Tag with tag "" records
	// it), where registries may collect it as garbage.
	KeepsUnnamed bool `json:"keeps_unnamed,omitempty"`
	// AcceptsSparse: the store accepts an index whose manifests are not all present, where most
	// registries refuse it.
	AcceptsSparse bool `json:"accepts_sparse,omitempty"`
}
