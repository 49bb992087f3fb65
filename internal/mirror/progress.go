package mirror

// Progress messages while blobs are copied, and the summary of an Apply. Sizes, rates and
// durations are text ("512.0 MiB", "85.3 MiB/s", "24.1s"): Terraform's log shows a provider's
// numbers as floating point, so a byte count would read "5.24288151e+08".

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// defaultProgressEvery is the time between two progress messages while blobs are copied: as
// often as Terraform prints "Still creating...".
const defaultProgressEvery = 10 * time.Second

// copyProgress counts what one copy of blobs has done; it is safe for concurrent use and does
// nothing when nil.
type copyProgress struct {
	start time.Time
	blobs int   // to copy
	bytes int64 // their size

	blobsDone atomic.Int64
	streamed  atomic.Int64 // bytes read from the source (a restarted read counts once)
	skipped   atomic.Int64 // bytes of the blobs done without reading them (mounted, already there)

	mu    sync.Mutex
	reads map[v1.Hash]*atomic.Int64 // bytes read by the latest reader of each blob
}

func newCopyProgress(blobs []v1.Descriptor) *copyProgress {
	p := &copyProgress{start: time.Now(), blobs: len(blobs)}
	for _, b := range blobs {
		p.bytes += b.Size
	}
	return p
}

// opened starts counting the bytes of a new reader of the blob h and returns its counter. A
// restarted upload reads the blob again: the bytes of its earlier reader are taken back, so
// they count once.
func (p *copyProgress) opened(h v1.Hash) func(n int) {
	if p == nil {
		return func(int) {}
	}
	n := &atomic.Int64{}
	p.mu.Lock()
	if p.reads == nil {
		p.reads = map[v1.Hash]*atomic.Int64{}
	}
	if earlier := p.reads[h]; earlier != nil {
		p.streamed.Add(-earlier.Load())
	}
	p.reads[h] = n
	p.mu.Unlock()
	return func(read int) {
		n.Add(int64(read))
		p.streamed.Add(int64(read))
	}
}

// finished counts the blob b as done; its size counts as done too when it was not read.
func (p *copyProgress) finished(b v1.Descriptor, read bool) {
	if p == nil {
		return
	}
	if !read {
		p.skipped.Add(b.Size)
	}
	p.blobsDone.Add(1)
}

// report logs how far p is, for target.
func (p *copyProgress) report(ctx context.Context, log Logger, target string) {
	elapsed := time.Since(p.start)
	done := min(p.streamed.Load()+p.skipped.Load(), p.bytes)
	percent := 100
	if p.bytes > 0 {
		percent = int(done * 100 / p.bytes)
	}
	rate := humanRate(p.streamed.Load(), elapsed)
	log(ctx, fmt.Sprintf("copying to %s: %s of %s (%d%%), %d of %s, %s, %s elapsed",
		target, HumanBytes(done), HumanBytes(p.bytes), percent, p.blobsDone.Load(), plural(p.blobs, "blob"), rate, humanDuration(elapsed)),
		map[string]any{
			"target": target, "done": HumanBytes(done), "total": HumanBytes(p.bytes), "percent": fmt.Sprintf("%d%%", percent),
			"blobs_done": int(p.blobsDone.Load()), "blobs": p.blobs, "rate": rate, "elapsed": humanDuration(elapsed),
		})
}

// reportProgress logs how far p is every e.progressEvery until the returned stop is called or
// ctx ends.
func (e *Engine) reportProgress(ctx context.Context, target string, p *copyProgress) (stop func()) {
	if p.blobs == 0 {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		ticker := time.NewTicker(e.progressEvery)
		defer ticker.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-ticker.C:
				p.report(ctx, e.log, target)
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}

// logSummary logs what an Apply of ref did, in elapsed.
func (e *Engine) logSummary(ctx context.Context, ref string, st Stats, elapsed time.Duration) {
	rate := humanRate(st.BytesUploaded, elapsed)
	e.log(ctx, fmt.Sprintf("mirror complete: %s: %s in %s; copied %s (%s) in %s at %s; %s mounted, %d already there; "+
		"%s written, %d already there",
		ref, HumanBytes(st.BlobBytes), plural(st.Blobs, "blob"), HumanBytes(st.BytesUploaded), plural(st.BlobsUploaded, "blob"),
		humanDuration(elapsed), rate, plural(st.BlobsMounted, "blob"), st.BlobsSkipped, plural(st.ManifestsPushed, "manifest"),
		st.ManifestsSkipped),
		map[string]any{
			"ref": ref, "size": HumanBytes(st.BlobBytes), "bytes": fmt.Sprint(st.BlobBytes), "copied": HumanBytes(st.BytesUploaded),
			"duration": humanDuration(elapsed), "rate": rate,
			"blobs": st.Blobs, "blobs_copied": st.BlobsUploaded, "blobs_mounted": st.BlobsMounted, "blobs_skipped": st.BlobsSkipped,
			"manifests_written": st.ManifestsPushed, "manifests_skipped": st.ManifestsSkipped, "tagged": st.Tagged,
		})
}

// humanRate formats bytes per elapsed time, e.g. "85.3 MiB/s".
func humanRate(bytes int64, elapsed time.Duration) string {
	if elapsed <= 0 {
		return HumanBytes(0) + "/s"
	}
	return HumanBytes(int64(float64(bytes)/elapsed.Seconds())) + "/s"
}

// humanDuration rounds a duration for a person: "24.1s", "740ms".
func humanDuration(d time.Duration) string {
	if d >= time.Second {
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Millisecond).String()
}

// plural is "1 blob", "2 blobs".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
