package layout

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/zarf-dev/terraform-provider-zarf/internal/filelock"
	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
)

// maxDepth bounds the nesting of indexes followed by the garbage collection, against loops in a
// corrupt layout.
const maxDepth = 16

// reachable lists every blob that the entries reach (manifests, configs, layers), following
// indexes; blobs that are missing or do not parse end the walk there.
func (s *Store) reachable(entries []v1.Descriptor) map[v1.Hash]bool {
	seen := map[v1.Hash]bool{}
	var visit func(h v1.Hash, depth int)
	visit = func(h v1.Hash, depth int) {
		if seen[h] || depth > maxDepth {
			return
		}
		seen[h] = true
		raw, err := s.readManifest(h)
		if err != nil {
			return
		}
		var m struct {
			Manifests []v1.Descriptor `json:"manifests"`
			Config    *v1.Descriptor  `json:"config"`
			Layers    []v1.Descriptor `json:"layers"`
			Blobs     []v1.Descriptor `json:"blobs"`
		}
		if json.Unmarshal(raw, &m) != nil {
			return
		}
		for _, c := range m.Manifests {
			visit(c.Digest, depth+1)
		}
		if m.Config != nil {
			seen[m.Config.Digest] = true
		}
		for _, b := range append(m.Layers, m.Blobs...) {
			seen[b.Digest] = true
		}
	}
	for _, e := range entries {
		visit(e.Digest, 0)
	}
	return seen
}

// dropOrphanReferrers removes from remaining the referrer entries (OCI referrers without ref
// name, cosign tags) whose subject the removed entries reached and no remaining entry reaches.
func (s *Store) dropOrphanReferrers(removed, remaining []v1.Descriptor) []v1.Descriptor {
	before := s.reachable(removed)
	after := s.reachable(remaining)
	orphan := func(h v1.Hash, ok bool) bool { return ok && before[h] && !after[h] }
	var out []v1.Descriptor
	for _, e := range remaining {
		refName := e.Annotations[store.AnnotationRefName]
		if orphan(store.ParseCosignTag(refName)) {
			continue
		}
		if refName == "" && mayHaveSubject(e.MediaType) {
			if raw, err := s.readManifest(e.Digest); err == nil && orphan(store.Subject(raw)) {
				continue
			}
		}
		out = append(out, e)
	}
	return out
}

// collect removes the blobs that no entry of index.json reaches. It holds the garbage collection
// lock exclusively, so no writer is between its first blob and its entry.
func (s *Store) collect() error {
	unlockGC, err := filelock.Lock(filepath.Join(s.dir, gcLockFile), true)
	if err != nil {
		return fmt.Errorf("locking layout %s: %w", s.display, err)
	}
	defer unlockGC()
	return s.withIndexLock(func() error {
		idx, err := s.readIndex()
		if err != nil {
			return err
		}
		keep := s.reachable(idx.Manifests)
		dir := filepath.Join(s.dir, "blobs", "sha256")
		files, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		for _, f := range files {
			if f.IsDir() || strings.HasPrefix(f.Name(), ".") || keep[v1.Hash{Algorithm: "sha256", Hex: f.Name()}] {
				continue
			}
			if err := os.Remove(filepath.Join(dir, f.Name())); err != nil && !isNotExist(err) {
				return fmt.Errorf("layout %s: removing blob %s: %w", s.display, f.Name(), err)
			}
		}
		return nil
	})
}
