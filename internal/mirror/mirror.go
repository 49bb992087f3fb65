// Package mirror is the engine of terraform-provider-zarf: it inspects a source image (index or
// single manifest), selects platforms, computes what a target will hold, copies it in a safe
// order, detects drift and deletes mirrors. It reaches images only through the store seam
// (internal/store): a reference is parsed once into a store and a name, and from then on plan,
// apply, check, delete and referrers run one code path whatever the store. It owns the record of
// a mirror (record.go) and has no Terraform imports: the provider only translates between
// Terraform values and these types. ARCHITECTURE.md at the repository root describes the layers
// and the order of operations.
//
// The files read bottom-up: platform.go, selection.go, tree.go, walk.go and output.go build the
// source tree; plan.go and referrers_find.go make a Plan; copyorder.go, blobcopy.go, repair.go,
// apply.go and referrers_copy.go carry it out; check.go, delete.go, record.go and replan.go serve
// refresh, destroy and plan of an existing mirror.
package mirror

import "github.com/zarf-dev/terraform-provider-zarf/internal/verify"

// IndexMode says what the target gets when the source is an index.
type IndexMode string

const (
	// ModePreserve pushes the source's index bytes unchanged, so the digest is kept. With a
	// platform selection the index is sparse: some of its children are absent at the target.
	ModePreserve IndexMode = "preserve"
	// ModeFilter pushes a new, deterministic index that lists only the selected entries.
	ModeFilter IndexMode = "filter"
)

// IndexModes lists the valid index modes, for validation and documentation.
var IndexModes = []IndexMode{ModePreserve, ModeFilter}

// Spec is what the user asked for.
type Spec struct {
	// Source is the image to mirror: tag, digest or tag@digest, of any scheme.
	Source string
	// SourceDigest, when set, pins the source: the engine reads the source at this digest
	// instead of resolving the tag again (apply copies what the plan resolved).
	SourceDigest string
	// Target is where the image goes, optionally with :tag or @digest. Empty for inspection
	// only (the data source).
	Target string
	// Platforms selects images by os/arch[/variant]; empty means every platform.
	Platforms []string
	// IndexMode is preserve (default when empty) or filter.
	IndexMode IndexMode
	// Attestations keeps BuildKit attestation entries of kept images.
	Attestations bool
	// Referrers also copies what refers to the copied manifests: OCI 1.1 referrers and cosign's
	// sha256-<hex>.sig/.att/.sbom tags (see referrers.go).
	Referrers bool
	// MaxBytes, when positive, makes planning fail if the content to copy is larger.
	MaxBytes int64
	// Verify, when not empty, lets only a source digest pass whose signatures meet one of the
	// blocks (verify.go); nothing is copied otherwise.
	Verify []verify.Block
}

// Manifest describes one copied manifest: an image of a platform, or, without Platform, an
// index or a manifest without a platform (an attestation or artifact).
type Manifest struct {
	Platform  string `json:"platform"`
	Digest    string `json:"digest"`
	MediaType string `json:"media_type"`
	Size      int64  `json:"size"`
}

// Stats counts what an Apply did; tests, benchmarks and progress logs use it.
type Stats struct {
	// Blobs counts the distinct blobs of the copied manifests, all present at the target after
	// the Apply: Blobs = BlobsUploaded + BlobsMounted + BlobsSkipped. BlobBytes is their size.
	Blobs     int
	BlobBytes int64
	// BlobsUploaded were sent to the target (their bytes read from the source); BytesUploaded
	// counts those bytes.
	BlobsUploaded int
	BytesUploaded int64
	// BlobsMounted were mounted from another repository of the target registry: the source
	// repository when source and target share the registry, or a repository the registry
	// client copied the blob to before.
	BlobsMounted int
	// BlobsSkipped were already there: found by the target, or listed by an image manifest
	// that the target already holds (whose blobs are then not checked one by one).
	BlobsSkipped int
	// ManifestsPushed counts the manifests pushed by digest; ManifestsSkipped those the target
	// already held. The tag is not counted.
	ManifestsPushed  int
	ManifestsSkipped int
	// Tagged is true when the tag was written; false when it already pointed at the digest (or
	// the mirror is untagged).
	Tagged bool
}
