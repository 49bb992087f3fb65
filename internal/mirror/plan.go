package mirror

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"
)

// Limits against broken or hostile registries.
const (
	// MaxManifestBytes bounds one manifest or index, as the distribution registry does.
	MaxManifestBytes = 4 << 20
	// MaxIndexEntries bounds the entries of one index.
	MaxIndexEntries = 1024
	// MaxNestingDepth bounds how deep indexes may nest.
	MaxNestingDepth = 8
	maxConfigBytes  = 1 << 20
)

// BuildKit marks attestation manifests in an index with these annotations.
const (
	annotationReferenceType   = "vnd.docker.reference.type"
	annotationReferenceDigest = "vnd.docker.reference.digest"
	attestationManifest       = "attestation-manifest"
)

// Plan is what a mirror copies and what the target will hold. Plan computes it from the source
// and Apply carries it out, so what the plan shows is what apply does.
type Plan struct {
	Spec Spec

	// Source is the normalised source reference, SourceDigest what it resolved to.
	Source          string
	SourceDigest    string
	SourceMediaType string

	// Digest and MediaType describe what the target holds (equal to the source's in preserve
	// mode).
	Digest    string
	MediaType string

	// TargetRepository and TargetTag say where it goes (TargetTag empty: pushed by digest only).
	TargetRepository string
	TargetTag        string

	// Manifests lists the copied image manifests that have a platform, in index order.
	Manifests []Manifest
	// Size counts each distinct blob and manifest the mirror holds once.
	Size int64
	// Platforms lists every platform the source lists, in index order, attestations excluded.
	Platforms []string
	// Sparse is true when the target index is the source's but some of its children are not
	// copied.
	Sparse bool
	// Copied lists every manifest the target gets (indexes and attestations included, Platform
	// empty where the manifest has none), the top one last.
	Copied []Manifest
	// Referrers lists, with Spec.Referrers, what refers to the copied manifests that the target
	// gets unchanged and is copied with them (Size does not count them); ReferrerLookup is what
	// FindReferrers compares to notice new ones.
	Referrers      []Referrer
	ReferrerLookup ReferrerLookup

	root   *node
	src    imageRef
	target imageRef

	baseName string // the original source reference, for the index.json entry of a layout target

	referrers []*referrerNode // what Referrers lists, with its manifests
}

// ID is <target repository>@<digest>.
func (p *Plan) ID() string { return p.TargetRepository + "@" + p.Digest }

// Ref is <target repository>[:<tag>]@<digest>, what a Kubernetes manifest should use; for a
// layout target oci-layout://<path>@<digest>.
func (p *Plan) Ref() string {
	if p.TargetTag == "" || IsLayout(p.TargetRepository) {
		return p.ID()
	}
	return p.TargetRepository + ":" + p.TargetTag + "@" + p.Digest
}

// node is one manifest of the source tree.
type node struct {
	desc        v1.Descriptor // as the parent lists it (for the top: what the source resolved to)
	raw         []byte        // the bytes as fetched, verified against desc.Digest
	isIndex     bool
	platform    Platform
	attestation bool
	kept        bool
	entries     []*node         // every entry of an index, in index order
	blobs       []v1.Descriptor // config and layers of an image manifest

	out       []byte // the bytes the target gets
	outDigest string
}

// ResolveSource returns the digest the source reference points at, with one HEAD request (or
// none when the reference carries a digest).
func (e *Engine) ResolveSource(ctx context.Context, source string) (string, error) {
	src, err := e.parseImageRef("source", source, "latest")
	if err != nil {
		return "", err
	}
	if src.Digest != "" {
		return src.Digest, nil
	}
	if l := e.layoutOf(src.Repo); l != nil {
		d, err := l.find(src)
		if err != nil {
			return "", fmt.Errorf("resolving source: %w", err)
		}
		return d.Digest.String(), nil
	}
	desc, err := remote.Head(src.pinned(), e.remote(ctx)...)
	if err != nil {
		return "", e.explain("resolving", src, err)
	}
	return desc.Digest.String(), nil
}

// Plan inspects the source, selects platforms and computes what the target gets.
func (e *Engine) Plan(ctx context.Context, spec Spec) (*Plan, error) {
	if spec.IndexMode == "" {
		spec.IndexMode = ModePreserve
	}
	if !slices.Contains(IndexModes, spec.IndexMode) {
		return nil, fmt.Errorf("index_mode %q is not valid; use %q or %q", spec.IndexMode, ModePreserve, ModeFilter)
	}
	sel, err := newSelector(spec)
	if err != nil {
		return nil, err
	}
	src, err := e.parseImageRef("source", spec.Source, "latest")
	if err != nil {
		return nil, err
	}
	baseName := ""
	if l := e.layoutOf(src.Repo); l != nil {
		baseName = l.baseName(src)
	} else {
		baseName = baseNameOf(src)
	}
	if spec.Target != "" { // a target that cannot be used fails before the source is read
		if _, err := e.parseImageRef("target", spec.Target, ""); err != nil {
			return nil, err
		}
	}
	if spec.SourceDigest != "" {
		src.Digest = spec.SourceDigest
	}
	p := &Plan{Spec: spec, Source: src.String(), src: src, baseName: baseName}

	root, err := e.fetchTop(ctx, src)
	if err != nil {
		return nil, err
	}
	p.root = root
	p.SourceDigest = root.desc.Digest.String()
	p.SourceMediaType = string(root.desc.MediaType)
	if root.isIndex {
		if err := e.walk(ctx, src.Repo, root, sel, 0, nil); err != nil {
			return nil, err
		}
	} else {
		sel.selects(root.platform) // a single image is mirrored as it is; platforms must match it
	}
	root.kept = true
	p.Platforms = sel.available
	if err := sel.check(src.String()); err != nil {
		return nil, err
	}
	if err := p.computeOutput(spec.IndexMode); err != nil {
		return nil, err
	}
	if spec.MaxBytes > 0 && p.Size > spec.MaxBytes {
		return nil, &TooLargeError{Source: p.Source, Size: p.Size, MaxBytes: spec.MaxBytes}
	}
	if spec.Referrers {
		if err := e.planReferrers(ctx, p); err != nil {
			return nil, err
		}
	}
	if spec.Target != "" {
		if err := e.planTarget(p); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func (e *Engine) planTarget(p *Plan) error {
	tgt, tag, err := e.locate(p.Spec.Target, p.src, p.Digest)
	if err != nil {
		return err
	}
	p.target = tgt
	p.TargetRepository = tgt.repository()
	p.TargetTag = tag
	return nil
}

// Locate says where a mirror of spec whose top manifest has the given digest lands: the target
// repository and the tag (empty when pushed by digest only). It makes no request.
func (e *Engine) Locate(spec Spec, digest string) (repository, tag string, err error) {
	src, err := e.parseImageRef("source", spec.Source, "latest")
	if err != nil {
		return "", "", err
	}
	tgt, tag, err := e.locate(spec.Target, src, digest)
	if err != nil {
		return "", "", err
	}
	return tgt.repository(), tag, nil
}

func (e *Engine) locate(target string, src imageRef, digest string) (imageRef, string, error) {
	tgt, err := e.parseImageRef("target", target, "")
	if err != nil {
		return imageRef{}, "", err
	}
	if tgt.Digest != "" && tgt.Digest != digest {
		return imageRef{}, "", &TargetDigestMismatchError{Target: target, Want: tgt.Digest, Digest: digest}
	}
	tag := tgt.Tag
	if tag == "" {
		tag = src.Tag
	}
	return tgt, tag, nil
}

func (e *Engine) fetchTop(ctx context.Context, src imageRef) (*node, error) {
	var (
		desc v1.Descriptor
		raw  []byte
	)
	if l := e.layoutOf(src.Repo); l != nil {
		var err error
		if desc, raw, err = l.top(src); err != nil {
			return nil, fmt.Errorf("reading source: %w", err)
		}
	} else {
		d, err := remote.Get(src.pinned(), e.remote(ctx)...)
		if err != nil {
			return nil, e.explain("reading source", src, err)
		}
		desc, raw = d.Descriptor, d.Manifest
	}
	n := &node{desc: desc}
	n.desc.Annotations, n.desc.Platform = nil, nil
	if err := n.setManifest(raw, desc.MediaType); err != nil {
		return nil, fmt.Errorf("source %s: %w", src, err)
	}
	if !n.isIndex {
		platform, err := e.imagePlatform(ctx, src.Repo, n)
		if err != nil {
			return nil, fmt.Errorf("source %s: %w", src, err)
		}
		n.platform = platform
	}
	return n, nil
}

// fetch reads one manifest by digest; the digest of the bytes must match what the parent
// lists.
func (e *Engine) fetch(ctx context.Context, repo name.Repository, n *node) error {
	if n.desc.Size > MaxManifestBytes {
		return fmt.Errorf("%s@%s: the index lists it with %d bytes, more than the %d bytes a registry may serve; it was not read",
			repo, n.desc.Digest, n.desc.Size, MaxManifestBytes)
	}
	var (
		raw []byte
		mt  types.MediaType
	)
	if l := e.layoutOf(repo); l != nil {
		var err error
		if raw, err = l.readManifest(n.desc.Digest.String()); err != nil {
			return err
		}
		mt = mediaTypeOf(raw, n.desc.MediaType)
	} else {
		d, err := remote.Get(repo.Digest(n.desc.Digest.String()), e.remote(ctx)...)
		if err != nil {
			return e.explain("reading", repo.Digest(n.desc.Digest.String()), err)
		}
		raw, mt = d.Manifest, d.MediaType
	}
	if err := n.setManifest(raw, mt); err != nil {
		return fmt.Errorf("%s@%s: %w", repo, n.desc.Digest, err)
	}
	if got := sha256Digest(raw); got != n.desc.Digest.String() {
		return fmt.Errorf("%s@%s: the registry returned bytes whose digest is %s", repo, n.desc.Digest, got)
	}
	return nil
}

func (n *node) setManifest(raw []byte, mt types.MediaType) error {
	if len(raw) > MaxManifestBytes {
		return fmt.Errorf("manifest is %d bytes, more than the %d bytes a registry may serve", len(raw), MaxManifestBytes)
	}
	n.raw = raw
	if n.desc.MediaType == "" {
		n.desc.MediaType = mt
	}
	if isIndexType(n.desc.MediaType) != isIndexType(mt) {
		return fmt.Errorf("the index lists it as %s, but the registry serves %s; the source is inconsistent", n.desc.MediaType, mt)
	}
	switch mt {
	case types.DockerManifestSchema1, types.DockerManifestSchema1Signed:
		return fmt.Errorf("docker schema 1 manifests (%s) are not supported; rebuild or re-push the image with a current client", mt)
	case types.OCIImageIndex, types.DockerManifestList:
		n.isIndex = true
		return nil
	}
	var m v1.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return fmt.Errorf("manifest of media type %q does not parse: %w", mt, err)
	}
	if m.Config.Digest.Hex != "" {
		n.blobs = append(n.blobs, m.Config)
	}
	n.blobs = append(n.blobs, m.Layers...)
	for _, b := range n.blobs {
		if b.Digest.Algorithm != "sha256" {
			return fmt.Errorf("blob digest %q is not sha256; only sha256 digests are supported", b.Digest)
		}
	}
	return nil
}

// imagePlatform reads the platform of a top-level image from its config blob.
func (e *Engine) imagePlatform(ctx context.Context, repo name.Repository, n *node) (Platform, error) {
	var m v1.Manifest
	if err := json.Unmarshal(n.raw, &m); err != nil || !m.Config.MediaType.IsConfig() {
		return Platform{}, nil //nolint:nilerr // not an image config: an artifact has no platform
	}
	var rc io.ReadCloser
	if l := e.layoutOf(repo); l != nil {
		var err error
		if rc, err = l.openBlob(m.Config); err != nil {
			return Platform{}, fmt.Errorf("reading config blob: %w", err)
		}
	} else {
		l, err := remote.Layer(repo.Digest(m.Config.Digest.String()), e.remote(ctx)...)
		if err != nil {
			return Platform{}, fmt.Errorf("reading config blob: %w", err)
		}
		if rc, err = l.Compressed(); err != nil {
			return Platform{}, fmt.Errorf("reading config blob: %w", err)
		}
	}
	defer rc.Close()
	raw, err := io.ReadAll(io.LimitReader(rc, maxConfigBytes))
	if err != nil {
		return Platform{}, fmt.Errorf("reading config blob: %w", err)
	}
	var cfg struct {
		OS           string `json:"os"`
		Architecture string `json:"architecture"`
		Variant      string `json:"variant"`
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return Platform{}, fmt.Errorf("config blob does not parse: %w", err)
	}
	return Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant}, nil
}

// walk reads the entries of an index node, decides which are kept and reads those.
func (e *Engine) walk(ctx context.Context, repo name.Repository, n *node, sel *selector, depth int, path []string) error {
	if !n.isIndex {
		return nil
	}
	manifests, err := n.indexEntries(depth)
	if err != nil {
		return err
	}
	path = append(path, n.desc.Digest.String())
	keptImages := map[string]bool{}
	for _, d := range manifests {
		if slices.Contains(path, d.Digest.String()) {
			return fmt.Errorf("index %s lists %s, which contains it: the index graph has a loop", n.desc.Digest, d.Digest)
		}
		c := &node{desc: d, platform: platformOf(d.Platform)}
		c.attestation = d.Annotations[annotationReferenceType] == attestationManifest
		c.isIndex = isIndexType(d.MediaType)
		n.entries = append(n.entries, c)
		switch {
		case c.isIndex:
			if err := e.fetch(ctx, repo, c); err != nil {
				return err
			}
			if err := e.walk(ctx, repo, c, sel, depth+1, path); err != nil {
				return err
			}
			c.kept = slices.ContainsFunc(c.entries, func(x *node) bool { return x.kept })
		case c.attestation:
			// decided below, once the images of this index are known
		default:
			c.kept = sel.selects(c.platform)
			if c.kept {
				keptImages[d.Digest.String()] = true
			}
		}
	}
	for _, c := range n.entries {
		if c.attestation {
			c.kept = sel.attestations && keptImages[c.desc.Annotations[annotationReferenceDigest]]
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(e.jobs)
	for _, c := range n.entries {
		if c.kept && !c.isIndex {
			g.Go(func() error { return e.fetch(gctx, repo, c) })
		}
	}
	return g.Wait()
}

// computeOutput decides the bytes of every kept node and the plan's summary values.
func (p *Plan) computeOutput(mode IndexMode) error {
	if err := p.root.computeOutput(mode); err != nil {
		return err
	}
	p.Digest = p.root.outDigest
	p.MediaType = string(p.root.desc.MediaType)
	sizes := map[string]int64{}
	// An entry that is not kept is still present when the same manifest is kept elsewhere (an
	// index may list one image under two platforms).
	keptDigests := map[string]bool{}
	p.root.visitKept(func(n *node) { keptDigests[n.desc.Digest.String()] = true })
	var visit func(n *node)
	visit = func(n *node) {
		for _, c := range n.entries {
			if !c.kept {
				if p.root.isIndex && mode == ModePreserve && !keptDigests[c.desc.Digest.String()] {
					p.Sparse = true
				}
				continue
			}
			visit(c)
		}
		m := Manifest{Digest: n.outDigest, MediaType: string(n.desc.MediaType), Size: int64(len(n.out))}
		if !n.isIndex && !n.attestation && n.platform.isKnown() {
			m.Platform = n.platform.String()
			p.Manifests = append(p.Manifests, m)
		}
		p.Copied = append(p.Copied, m)
		sizes[n.outDigest] = int64(len(n.out))
		for _, b := range n.blobs {
			sizes[b.Digest.String()] = b.Size
		}
	}
	visit(p.root)
	for _, s := range sizes {
		p.Size += s
	}
	return nil
}

func (n *node) computeOutput(mode IndexMode) error {
	for _, c := range n.entries {
		if c.kept {
			if err := c.computeOutput(mode); err != nil {
				return err
			}
		}
	}
	n.out = n.raw
	if n.isIndex && mode == ModeFilter {
		out, err := n.filteredIndex()
		if err != nil {
			return err
		}
		n.out = out
	}
	n.outDigest = sha256Digest(n.out)
	return nil
}

// filteredIndex is a new index with the kept entries only. Every other field of the index and
// of its entries is kept as the source has it; keys are sorted, so the bytes, and the digest,
// depend only on the source and the selection.
func (n *node) filteredIndex() ([]byte, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(n.raw, &doc); err != nil {
		return nil, fmt.Errorf("index %s does not parse: %w", n.desc.Digest, err)
	}
	if doc == nil {
		return nil, fmt.Errorf("index %s is not a JSON object", n.desc.Digest)
	}
	var entries []map[string]json.RawMessage
	if _, ok := doc["manifests"]; !ok && len(n.entries) == 0 {
		doc["manifests"] = json.RawMessage("[]") // an empty index may omit the list
	}
	if err := json.Unmarshal(doc["manifests"], &entries); err != nil {
		return nil, fmt.Errorf("index %s: manifests do not parse: %w", n.desc.Digest, err)
	}
	if len(entries) != len(n.entries) {
		return nil, fmt.Errorf("index %s: %d entries parsed, %d expected", n.desc.Digest, len(entries), len(n.entries))
	}
	kept := []map[string]json.RawMessage{}
	for i, c := range n.entries {
		if !c.kept {
			continue
		}
		entry := entries[i]
		if c.isIndex {
			entry["digest"], _ = json.Marshal(c.outDigest)
			entry["size"], _ = json.Marshal(len(c.out))
		}
		kept = append(kept, entry)
	}
	var err error
	if doc["manifests"], err = marshalCanonical(kept); err != nil {
		return nil, err
	}
	out, err := marshalCanonical(doc)
	if err != nil {
		return nil, err
	}
	// Keys that differ only in case ("manifests" and "Manifests", "digest" and "Digest") are one
	// field to Go's decoder but two to the filter: the new index must list what was selected.
	var im v1.IndexManifest
	if err := json.Unmarshal(out, &im); err != nil {
		return nil, fmt.Errorf("index %s: the filtered index does not parse: %w", n.desc.Digest, err)
	}
	i := 0
	for _, c := range n.entries {
		if c.kept {
			if i >= len(im.Manifests) || im.Manifests[i].Digest.String() != c.outDigest {
				return nil, fmt.Errorf("index %s has fields that differ only in case; it cannot be filtered unambiguously", n.desc.Digest)
			}
			i++
		}
	}
	if i != len(im.Manifests) {
		return nil, fmt.Errorf("index %s has fields that differ only in case; it cannot be filtered unambiguously", n.desc.Digest)
	}
	return out, nil
}

func marshalCanonical(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func sha256Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// selector decides which image entries are kept and remembers what the source lists.
type selector struct {
	platforms    []Platform
	requested    []string
	matched      []bool
	attestations bool
	available    []string
	mu           sync.Mutex
}

func newSelector(spec Spec) (*selector, error) {
	s := &selector{attestations: spec.Attestations}
	var errs []error
	for _, raw := range spec.Platforms {
		p, err := ParsePlatform(raw)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s.platforms = append(s.platforms, p)
		s.requested = append(s.requested, raw)
	}
	s.matched = make([]bool, len(s.platforms))
	return s, errors.Join(errs...)
}

func (s *selector) selects(p Platform) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.isKnown() && !slices.Contains(s.available, p.String()) {
		s.available = append(s.available, p.String())
	}
	if len(s.platforms) == 0 {
		return true
	}
	selected := false
	for i, want := range s.platforms {
		if want.Matches(p) {
			s.matched[i] = true
			selected = true
		}
	}
	return selected
}

// check fails when a requested platform matched nothing.
func (s *selector) check(source string) error {
	var missing []string
	for i, ok := range s.matched {
		if !ok {
			missing = append(missing, s.requested[i])
		}
	}
	if len(missing) == 0 {
		return nil
	}
	available := slices.Clone(s.available)
	sort.Strings(available)
	if len(available) == 0 {
		available = []string{"(no platform)"}
	}
	return &UnknownPlatformError{Source: source, Requested: missing, Available: available}
}

func isIndexType(mt types.MediaType) bool {
	return mt == types.OCIImageIndex || mt == types.DockerManifestList
}

// indexEntries parses the entries of the index n, found depth levels below the top, within the
// limits against broken or hostile registries.
func (n *node) indexEntries(depth int) ([]v1.Descriptor, error) {
	if depth >= MaxNestingDepth {
		return nil, fmt.Errorf("index %s is nested deeper than %d levels", n.desc.Digest, MaxNestingDepth)
	}
	var im v1.IndexManifest
	if err := json.Unmarshal(n.raw, &im); err != nil {
		return nil, fmt.Errorf("index %s does not parse: %w", n.desc.Digest, err)
	}
	if len(im.Manifests) > MaxIndexEntries {
		return nil, fmt.Errorf("index %s lists %d entries, more than the %d this provider accepts", n.desc.Digest, len(im.Manifests), MaxIndexEntries)
	}
	for _, d := range im.Manifests {
		if d.Digest.Algorithm != "sha256" {
			return nil, fmt.Errorf("index %s lists digest %q; only sha256 digests are supported", n.desc.Digest, d.Digest)
		}
	}
	return im.Manifests, nil
}
