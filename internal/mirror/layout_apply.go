package mirror

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"

	"github.com/zarf-dev/terraform-provider-zarf/internal/filelock"
)

// sourceLayer is the blob d of the source repository src as copyBlob streams it: from the
// registry, or from the files of a layout source.
func (e *Engine) sourceLayer(ctx context.Context, t *transfers, src name.Repository, d v1.Descriptor) (v1.Layer, error) {
	if l := e.layoutOf(src); l != nil {
		return &layoutLayer{l: l, d: d}, nil
	}
	return t.puller.Layer(ctx, src.Digest(d.Digest.String()))
}

// layoutLayer is a blob of a layout source.
type layoutLayer struct {
	l *layoutStore
	d v1.Descriptor
}

func (b *layoutLayer) Digest() (v1.Hash, error)             { return b.d.Digest, nil }
func (b *layoutLayer) Size() (int64, error)                 { return b.d.Size, nil }
func (b *layoutLayer) MediaType() (types.MediaType, error)  { return b.d.MediaType, nil }
func (b *layoutLayer) Compressed() (io.ReadCloser, error)   { return b.l.openBlob(b.d) }
func (b *layoutLayer) Uncompressed() (io.ReadCloser, error) { return b.Compressed() }
func (b *layoutLayer) DiffID() (v1.Hash, error) {
	return v1.Hash{}, errors.New("the diff ID of a blob in transit is not known")
}

// openSourceBlob opens the blob d of the source for reading.
func (e *Engine) openSourceBlob(ctx context.Context, src name.Repository, d v1.Descriptor) (io.ReadCloser, error) {
	if l := e.layoutOf(src); l != nil {
		return l.openBlob(d)
	}
	t, err := e.transfer()
	if err != nil {
		return nil, err
	}
	layer, err := t.puller.Layer(ctx, src.Digest(d.Digest.String()))
	if err != nil {
		return nil, e.explain("reading blob", src.Digest(d.Digest.String()), err)
	}
	rc, err := layer.Compressed() // go-containerregistry checks the digest as it streams
	if err != nil {
		return nil, e.explain("reading blob", src.Digest(d.Digest.String()), err)
	}
	return rc, nil
}

// applyLayout carries out a plan whose target is a layout: blobs, then manifests, written as
// files (what is there with the right size is kept), then the index.json entry, which replaces
// the entry of the same ref.
func (e *Engine) applyLayout(ctx context.Context, p *Plan, l *layoutStore, start time.Time) (Stats, error) {
	var st Stats
	if err := l.ensure(); err != nil {
		return st, err
	}
	unlock, err := filelock.Lock(filepath.Join(l.dir, layoutGCLockFile), false)
	if err != nil {
		return st, fmt.Errorf("locking layout %s: %w", l.display, err)
	}
	defer unlock()

	all := p.blobs()
	st.Blobs, st.BlobBytes = len(all), sizeOf(all)
	if err := e.writeLayoutBlobs(ctx, l, p.src.Repo, all, &st); err != nil {
		return st, err
	}
	writeManifest := func(n *node) error {
		h, _ := v1.NewHash(n.outDigest)
		if l.hasBlob(n.outDigest, int64(len(n.out))) {
			st.ManifestsSkipped++
			return nil
		}
		if _, err := l.writeBlob(v1.Descriptor{Digest: h, Size: int64(len(n.out))}, bytes.NewReader(n.out)); err != nil {
			return fmt.Errorf("writing manifest %s to layout %s: %w", n.outDigest, l.display, err)
		}
		st.ManifestsPushed++
		return nil
	}
	for _, level := range p.levels() {
		for _, n := range level {
			if err := writeManifest(n); err != nil {
				return st, err
			}
		}
	}
	entry := entryFor(p)
	written := false
	err = l.update(func(entries []v1.Descriptor) ([]v1.Descriptor, bool) {
		var out []v1.Descriptor
		present := false
		for _, d := range entries {
			if sameEntry(d, p.TargetTag, p.Digest) {
				if !present && sameDescriptor(d, entry) {
					present = true
					out = append(out, d)
				}
				continue
			}
			out = append(out, d)
		}
		if present && len(out) == len(entries) {
			return entries, false
		}
		if !present {
			out = append(out, entry)
		}
		written = true
		return out, true
	})
	if err != nil {
		return st, err
	}
	st.Tagged = written // the entry was written (false: it was there already)
	// referrers after their subjects (layout_referrers.go)
	if err := e.applyLayoutReferrers(ctx, p, l); err != nil {
		return st, err
	}
	e.logSummary(ctx, p.Ref(), st, time.Since(start))
	return st, nil
}

// writeLayoutBlobs writes the blobs that the layout lacks (or holds with another size), read
// from src, at most e.jobs at once, and counts them in st, with a progress message every
// e.progressEvery.
func (e *Engine) writeLayoutBlobs(ctx context.Context, l *layoutStore, src name.Repository, blobs []v1.Descriptor, st *Stats) error {
	var missing []v1.Descriptor
	for _, b := range blobs {
		if l.hasBlob(b.Digest.String(), b.Size) {
			st.BlobsSkipped++
		} else {
			missing = append(missing, b)
		}
	}
	progress := newCopyProgress(missing)
	defer e.reportProgress(ctx, LayoutScheme+l.display, progress)()
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(e.jobs)
	for _, b := range missing {
		g.Go(func() error {
			rc, err := e.openSourceBlob(gctx, src, b)
			if err != nil {
				return err
			}
			defer rc.Close()
			n, err := l.writeBlob(b, ctxReader{gctx, rc, progress})
			if err != nil {
				return fmt.Errorf("copying blob %s to layout %s: %w", b.Digest, l.display, err)
			}
			progress.finished(b.Size, true)
			mu.Lock()
			st.BlobsUploaded++
			st.BytesUploaded += n
			mu.Unlock()
			return nil
		})
	}
	return g.Wait()
}

func sameDescriptor(a, b v1.Descriptor) bool {
	if a.Digest != b.Digest || a.MediaType != b.MediaType || a.Size != b.Size || a.ArtifactType != b.ArtifactType ||
		len(a.Annotations) != len(b.Annotations) {
		return false
	}
	for k, v := range a.Annotations {
		if b.Annotations[k] != v {
			return false
		}
	}
	return a.Platform == nil && b.Platform == nil
}

// ctxReader stops reading when ctx ends, and counts what it reads in progress.
type ctxReader struct {
	ctx      context.Context
	r        io.Reader
	progress *copyProgress
}

func (r ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := r.r.Read(p)
	r.progress.read(int64(n))
	return n, err
}

// checkLayout is Check for a layout target: the entry of the ref (or, without ref, of the
// digest) in index.json and the manifest files.
func (e *Engine) checkLayout(want Expected, l *layoutStore) (*Drift, error) {
	d := &Drift{}
	idx, err := l.readIndex()
	if errors.Is(err, fs.ErrNotExist) {
		d.Gone, d.IndexMissing = true, !l.hasBlob(want.Digest, -1)
		return d, nil
	}
	if err != nil {
		return nil, err
	}
	var entry *v1.Descriptor
	for i, m := range idx.Manifests {
		if sameEntry(m, want.Tag, want.Digest) {
			entry = &idx.Manifests[i]
			break
		}
	}
	topPresent := l.hasBlob(want.Digest, -1)
	if entry == nil || !l.hasBlob(entry.Digest.String(), -1) {
		// no entry, or one whose manifest is gone: as a registry tag that no longer resolves
		d.Gone, d.IndexMissing = true, !topPresent
		return d, nil
	}
	d.Current = entry.Digest.String()
	if d.Current != want.Digest {
		d.IndexMissing = !topPresent
	}
	for _, m := range want.Manifests {
		if !l.hasBlob(m, -1) {
			d.MissingManifests = append(d.MissingManifests, m)
		}
	}
	d.MissingReferrers = l.missingLayoutReferrers(idx.Manifests, want.Referrers) // layout_referrers.go
	return d, nil
}

// deleteLayout removes the entry of the mirror from index.json (the one with its ref pointing
// at digest, or without ref, the one of digest) with the referrer entries of what only it
// reached, and then the blobs that no entry reaches.
func (e *Engine) deleteLayout(tag, digest string, l *layoutStore) error {
	if _, err := l.readIndex(); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	err := l.update(func(entries []v1.Descriptor) ([]v1.Descriptor, bool) {
		var out, removed []v1.Descriptor
		for _, d := range entries {
			if d.Digest.String() == digest && sameEntry(d, tag, digest) {
				removed = append(removed, d)
				continue
			}
			out = append(out, d)
		}
		if len(removed) == 0 {
			return entries, false
		}
		// with it, its referrers, unless another entry still reaches their subject
		return l.dropOrphanReferrers(removed, out), true
	})
	if err != nil {
		return err
	}
	return l.collect()
}
