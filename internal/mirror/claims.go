package mirror

// The claims of one Engine: what the mirrors of one provider process (Terraform starts one for
// a plan and one for an apply) are about to write at their targets, as their plans show it.
// Terraform plans every create and update again in the apply process before applying it, so
// what a process writes, it claimed first. The claims serve two rules:
//
//   - two mirrors that would write one target tag with other content are a plan error (Claim);
//   - a destroy never removes a manifest or a tag that another mirror of the run holds or is
//     about to write (Delete).
//
// Terraform runs the destroy of one mirror and the create of another concurrently (a renamed
// for_each key, a replacement with create_before_destroy), so the claims also order them: a copy
// holds a shared lock of its target repository from its first request to its last, a destroy an
// exclusive one, and the destroy reads the claims and the registry's tags once it has the lock.

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
)

// Claim is what a mirror is about to write, as its plan shows it.
type Claim struct {
	// Spec is the mirror's configuration: Source, Target and the selection.
	Spec Spec
	// Tag is the tag it writes (empty: pushed by digest alone) and Digest its top manifest.
	Tag    string
	Digest string
	// Manifests are the digests of every manifest it copies, the top one included.
	Manifests []string
}

// TargetConflictError is two mirrors of one provider process that would write one target tag
// with other content: each apply would overwrite the other's, and every plan would show a change.
type TargetConflictError struct {
	Destination Destination
	Sources     [2]string // the other mirror's source first
}

func (e *TargetConflictError) Error() string {
	return fmt.Sprintf("two mirrors write %s: one with %s, the other with %s (or another selection of platforms, "+
		"index_mode or attestations). Each apply would overwrite the other's tag and every plan would show a change; "+
		"give each mirror a target tag of its own", e.Destination, e.Sources[0], e.Sources[1])
}

// KeptError is a destroy that left content of the mirror at the target on purpose, because
// removing it would remove what is not the mirror's alone. It is a warning, not a failure.
type KeptError struct {
	Left   string // what stays, as a reference
	Reason string
}

func (e *KeptError) Error() string { return e.Left + " is left in place: " + e.Reason }

// claim is one Claim, normalised.
type claim struct {
	at        Destination
	digest    string
	manifests []string
	content   string // source and selection: two claims of one tag must agree on it
	source    string // as configured, for messages
}

// claims is the record and the locks of one Engine.
type claims struct {
	mu    sync.Mutex
	all   []claim
	locks map[string]*sync.RWMutex // repository key → copies (shared) and destroys (exclusive)
}

// Claim records what a mirror is about to write. It fails with a *TargetConflictError when
// another mirror of this Engine claimed the same tag for other content (another source or
// selection); the same configuration claimed twice (Terraform plans again during apply) is not
// a conflict.
func (e *Engine) Claim(c Claim) error {
	cl, err := e.claimOf(c)
	if err != nil {
		return err
	}
	return e.claims.add(cl)
}

func (e *Engine) claimOf(c Claim) (claim, error) {
	src, err := e.open(c.Spec.Source, store.RoleSource)
	if err != nil {
		return claim{}, err
	}
	tgt, err := e.open(c.Spec.Target, store.RoleTarget)
	if err != nil {
		return claim{}, err
	}
	sel := selectionKey(c.Spec)
	return claim{
		at:        Destination{Repository: tgt.Key(), Tag: c.Tag},
		digest:    c.Digest,
		manifests: slices.Clone(c.Manifests),
		content:   src.Key() + ":" + src.Name + "@" + src.Digest + " " + sel,
		source:    c.Spec.Source,
	}, nil
}

// selectionKey is what, besides the source, decides the content of a tag.
func selectionKey(s Spec) string {
	mode := s.IndexMode
	if mode == "" {
		mode = ModePreserve
	}
	platforms := slices.Clone(s.Platforms)
	slices.Sort(platforms)
	return fmt.Sprintf("platforms=%s index_mode=%s attestations=%t", strings.Join(platforms, ","), mode, s.Attestations)
}

// add records c, unless a claim of the same tag for other content makes it a conflict.
func (cs *claims) add(c claim) error {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for _, o := range cs.all {
		if o.at != c.at {
			continue
		}
		if c.at.Tag != "" && o.content != c.content {
			return &TargetConflictError{Destination: c.at, Sources: [2]string{o.source, c.source}}
		}
		if o.content == c.content && o.digest == c.digest {
			return nil // claimed before
		}
	}
	cs.all = append(cs.all, c)
	return nil
}

// entry returns a claim of exactly this tag (or, with tag empty, no tag) and top manifest in
// repository, nil when there is none.
func (cs *claims) entry(repository, tag, digest string) *claim {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for _, c := range cs.all {
		if c.at == (Destination{Repository: repository, Tag: tag}) && c.digest == digest {
			return &c
		}
	}
	return nil
}

// holders returns a claim on the tag of repository (nil when the tag is empty or unclaimed),
// and a claim on the manifest digest there.
func (cs *claims) holders(repository, tag, digest string) (onTag, onManifest *claim) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for _, c := range cs.all {
		if c.at.Repository != repository {
			continue
		}
		if tag != "" && c.at.Tag == tag && onTag == nil {
			onTag = &c
		}
		if (c.digest == digest || slices.Contains(c.manifests, digest)) && onManifest == nil {
			onManifest = &c
		}
	}
	return onTag, onManifest
}

// lock takes the lock of a repository: shared for a copy, exclusive for a destroy. It returns
// the unlock.
func (cs *claims) lock(repository string, exclusive bool) func() {
	cs.mu.Lock()
	if cs.locks == nil {
		cs.locks = map[string]*sync.RWMutex{}
	}
	l := cs.locks[repository]
	if l == nil {
		l = &sync.RWMutex{}
		cs.locks[repository] = l
	}
	cs.mu.Unlock()
	if exclusive {
		l.Lock()
		return l.Unlock
	}
	l.RLock()
	return l.RUnlock
}

// heldBy says which mirror holds what a destroy leaves.
func heldBy(c *claim) string {
	return fmt.Sprintf("another mirror of this Terraform run (source %s) holds it or is about to write it", c.source)
}

// ClaimOf is what the mirror of spec, recorded as rec, is about to write.
func ClaimOf(spec Spec, rec Record) Claim {
	c := Claim{Spec: spec, Tag: rec.Tag, Digest: rec.Digest, Manifests: []string{rec.Digest}}
	for _, m := range rec.Children {
		c.Manifests = append(c.Manifests, m.Digest)
	}
	return c
}
