package mirror

// The engine's one code path run over the in-memory store (internal/store/memory): apply, check,
// delete, referrers and repair, and what each asks of the stores (call counts). No registry
// process, no HTTP: these tests prove the seam, and run in milliseconds.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
	"github.com/zarf-dev/terraform-provider-zarf/internal/store/memory"
)

// calls counts the calls of each operation to a memory repository.
func calls(s *memory.Store, ops ...memory.Op) map[memory.Op]int {
	out := map[memory.Op]int{}
	for _, op := range ops {
		if n := s.Calls(op); n > 0 {
			out[op] = n
		}
	}
	return out
}

var allOps = []memory.Op{memory.OpResolve, memory.OpManifest, memory.OpBlob, memory.OpReferrers, memory.OpTags,
	memory.OpPushBlob, memory.OpPushManifest, memory.OpTag, memory.OpDelete, memory.OpLease}

func TestMemoryApplyAndNoop(t *testing.T) {
	env := newMemoryEnv()
	f := newIndexFixture(t, env.writer(t, "library/app"), false)
	spec := Spec{Source: f.ref(), Target: env.dst.Prefix() + "mirror/app", Attestations: true}
	p, err := env.e.Plan(t.Context(), spec)
	if err != nil {
		t.Fatal(err)
	}
	st, err := env.e.Apply(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	dst := env.dst.Repository("mirror/app")
	checkTargetHolds(t, dst, p)
	blobs := len(p.blobs())
	if st.BlobsUploaded != blobs || st.ManifestsPushed != len(p.Children)+1 || !st.Tagged {
		t.Fatalf("first apply %+v, %d blobs", st, blobs)
	}

	// A no-op: the tag, and each manifest but the top once; nothing pushed, nothing read from
	// the source.
	src := env.src.Repository("library/app")
	for _, e := range []*Engine{env.e, env.engine()} {
		p, err := e.Plan(t.Context(), spec)
		if err != nil {
			t.Fatal(err)
		}
		src.ResetCalls()
		dst.ResetCalls()
		st, err := e.Apply(t.Context(), p)
		if err != nil {
			t.Fatal(err)
		}
		want := map[memory.Op]int{memory.OpLease: 1, memory.OpResolve: len(p.Children) + 1}
		if got := calls(dst, allOps...); !maps(got, want) {
			t.Errorf("no-op apply asked the target %v, want %v", got, want)
		}
		if n := src.TotalCalls(); n != 0 {
			t.Errorf("no-op apply asked the source %d times", n)
		}
		if st != (Stats{Blobs: blobs, BlobBytes: st.BlobBytes, BlobsSkipped: blobs, ManifestsSkipped: len(p.Children) + 1}) {
			t.Errorf("no-op stats %+v", st)
		}
	}
}

func maps(a, b map[memory.Op]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestMemoryMountsWithinARegistry: a target in the source's registry mounts every blob.
func TestMemoryMountsWithinARegistry(t *testing.T) {
	env := newMemoryEnv()
	f := newIndexFixture(t, env.writer(t, "library/app"), false)
	p, err := env.e.Plan(t.Context(), Spec{Source: f.ref(), Target: env.src.Prefix() + "mirror/app", Attestations: true})
	if err != nil {
		t.Fatal(err)
	}
	st, err := env.e.Apply(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	if st.BlobsMounted != len(p.blobs()) || st.BlobsUploaded != 0 {
		t.Fatalf("stats %+v, want every blob mounted", st)
	}
	checkTargetHolds(t, env.src.Repository("mirror/app"), p)
}

// TestMemorySparseRejected: a target that refuses an index whose children are not all there
// gives a SparseIndexRejectedError, and the tag is not written.
func TestMemorySparseRejected(t *testing.T) {
	env := newMemoryEnv()
	f := newIndexFixture(t, env.writer(t, "library/app"), false)
	p, err := env.e.Plan(t.Context(), Spec{Source: f.ref(), Target: env.dst.Prefix() + "mirror/app", Platforms: []string{"linux/amd64"}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = env.e.Apply(t.Context(), p)
	var sparse *SparseIndexRejectedError
	if !errors.As(err, &sparse) || !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("err = %v, want a SparseIndexRejectedError", err)
	}
	if _, err := env.dst.Repository("mirror/app").Resolve(t.Context(), f.tag); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the tag was written after the index was refused: %v", err)
	}
}

// TestMemoryRepair: a target that refuses the index because a child it said it held is gone
// (deleted between the survey and the push) gets the children again, and then the index.
func TestMemoryRepair(t *testing.T) {
	env := newMemoryEnv()
	f := newIndexFixture(t, env.writer(t, "library/app"), false)
	spec := Spec{Source: f.ref(), Target: env.dst.Prefix() + "mirror/app", Attestations: true}
	p, err := env.e.Plan(t.Context(), spec)
	if err != nil {
		t.Fatal(err)
	}
	dst := env.dst.Repository("mirror/app")
	// The target holds the children, but not the index; the arm64 image goes when the index
	// is pushed.
	if _, err := env.e.Apply(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	if err := dst.Delete(t.Context(), f.tag, store.Digest(f.index)); err != nil {
		t.Fatal(err)
	}
	armDigest, _ := v1.NewHash(f.images[1].Digest)
	refused := false
	dst.FailWith(func(op memory.Op, arg string) error {
		if op == memory.OpPushManifest && arg == f.digest && !refused {
			refused = true
			return &store.RejectedError{Incomplete: true, Missing: []v1.Hash{armDigest}, Err: fmt.Errorf("arm64 is gone: %w", store.ErrNotFound)}
		}
		return nil
	})
	if _, err := env.e.Apply(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	if !refused {
		t.Fatal("the index was not refused")
	}
	checkTargetHolds(t, dst, p)

	// A refusal that names a manifest the mirror does not copy is not repaired.
	dst.FailWith(func(op memory.Op, arg string) error {
		if op == memory.OpPushManifest && arg == f.digest {
			return &store.RejectedError{Incomplete: true, Missing: []v1.Hash{{Algorithm: "sha256", Hex: digestA[7:]}}, Err: store.ErrNotFound}
		}
		return nil
	})
	if err := dst.Delete(t.Context(), f.tag, store.Digest(f.index)); err != nil {
		t.Fatal(err)
	}
	dst.ResetCalls()
	if _, err := env.e.Apply(t.Context(), p); err == nil {
		t.Fatal("an index refused for something the mirror does not copy was pushed")
	}
	if n := dst.Calls(memory.OpPushManifest); n != 1 {
		t.Fatalf("%d manifest pushes, want the index once", n)
	}
}

// TestMemoryCheckAndDelete: drift is found by asking for names and digests only; destroy removes
// the tag alone while another tag holds the manifest.
func TestMemoryCheckAndDelete(t *testing.T) {
	env := newMemoryEnv()
	f, p, target := env.mirrored(t)
	dst := env.dst.Repository("mirror/app")
	dst.ResetCalls()
	d, err := env.e.Check(t.Context(), target, p.Record)
	if err != nil || d.Drifted(p.Record) {
		t.Fatalf("drift %+v, %v", d, err)
	}
	if got, want := calls(dst, allOps...), map[memory.Op]int{memory.OpResolve: len(p.Children) + 1}; !maps(got, want) {
		t.Errorf("Check asked %v, want %v", got, want)
	}
	dst.DeleteManifest(store.Digest(f.images[2].Raw))
	d, err = env.e.Check(t.Context(), target, p.Record)
	if err != nil || !slices.Equal(d.MissingManifests, []string{f.images[2].Digest}) {
		t.Fatalf("drift %+v, %v; want arm/v7 missing", d, err)
	}
	held := p.WithDrift(d)
	if held.Size != p.Size-int64(len(f.images[2].Raw)) || len(held.Manifests) != 2 {
		t.Fatalf("the record as held: %+v", held)
	}

	// Another tag of the same manifest: destroy removes only the mirror's tag.
	if err := dst.Tag(t.Context(), "other", v1.Descriptor{Digest: store.Digest(f.index)}, f.index); err != nil {
		t.Fatal(err)
	}
	if err := env.e.Delete(t.Context(), target, p.Record); err != nil {
		t.Fatal(err)
	}
	if _, err := dst.Resolve(t.Context(), f.tag); !errors.Is(err, store.ErrNotFound) || !dst.HasManifest(store.Digest(f.index)) {
		t.Fatalf("after destroy: tag %v, manifest kept %t", err, dst.HasManifest(store.Digest(f.index)))
	}
	dst.DisallowDeletes()
	if err := env.e.Delete(t.Context(), target, Record{Tag: "other", Digest: f.digest}); !errors.Is(err, store.ErrUnsupported) {
		t.Fatalf("destroy where deletes are not allowed: %v", err)
	}
}

// TestMemoryReferrers: referrers travel to a memory target, are found there as clients find them,
// and a missing one is drift.
func TestMemoryReferrers(t *testing.T) {
	env := newMemoryEnv()
	f := newReferrersFixture(t, env.writer(t, "library/app"))
	target := env.dst.Prefix() + "mirror/app"
	p, err := env.e.Plan(t.Context(), Spec{Source: f.ref(), Target: target, Attestations: true, Referrers: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.e.Apply(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	dst := env.dst.Repository("mirror/app")
	for _, r := range p.Referrers {
		if r.Tag != "" {
			if d, err := dst.Resolve(t.Context(), r.Tag); err != nil || d.Digest.String() != r.Digest {
				t.Errorf("%s: %v", DescribeReferrer(r), err)
			}
			continue
		}
		subject, _ := v1.NewHash(r.Subject)
		listed, err := dst.Referrers(t.Context(), subject)
		if err != nil || !slices.ContainsFunc(listed, func(d v1.Descriptor) bool { return d.Digest.String() == r.Digest }) {
			t.Errorf("%s is not listed: %v %v", DescribeReferrer(r), listed, err)
		}
	}
	dst.DeleteManifest(store.Digest(f.sbomARM.Raw))
	d, err := env.e.Check(t.Context(), target, p.Record)
	if err != nil || len(d.MissingReferrers) != 1 || d.MissingReferrers[0].Digest != f.sbomARM.Digest {
		t.Fatalf("drift %+v, %v; want the SBOM missing", d, err)
	}
	if _, err := env.e.Apply(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	if d, err := env.e.Check(t.Context(), target, p.Record); err != nil || d.Drifted(p.Record) {
		t.Fatalf("after repair: %+v, %v", d, err)
	}
}

// TestMemoryReplanEconomy: re-planning from the record asks the source one question (none for a
// digest), and with referrers one listing and the cosign tags per subject.
func TestMemoryReplanEconomy(t *testing.T) {
	env := newMemoryEnv()
	f := newReferrersFixture(t, env.writer(t, "library/app"))
	src := env.src.Repository("library/app")
	target := env.dst.Prefix() + "mirror/app"
	for _, c := range []struct {
		name   string
		spec   Spec
		expect func(subjects int) map[memory.Op]int
	}{
		{"tag", Spec{Source: f.ref(), Target: target, Attestations: true},
			func(int) map[memory.Op]int { return map[memory.Op]int{memory.OpResolve: 1} }},
		{"digest", Spec{Source: f.name("@" + f.digest), Target: target, Attestations: true},
			func(int) map[memory.Op]int { return map[memory.Op]int{} }},
		{"tag with referrers", Spec{Source: f.ref(), Target: target, Attestations: true, Referrers: true},
			func(n int) map[memory.Op]int {
				return map[memory.Op]int{memory.OpResolve: 1 + n*len(store.CosignSuffixes), memory.OpReferrers: n}
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			prior, inspected, err := env.e.Replan(t.Context(), c.spec, nil)
			if err != nil || !inspected {
				t.Fatalf("first plan: inspected %t, %v", inspected, err)
			}
			src.ResetCalls()
			rec, inspected, err := env.e.Replan(t.Context(), c.spec, &prior)
			if err != nil || inspected || rec.Digest != prior.Digest {
				t.Fatalf("re-plan: inspected %t, %v", inspected, err)
			}
			subjects := 0
			if prior.ReferrerLookup != nil {
				subjects = len(prior.ReferrerLookup.Subjects)
			}
			if got, want := calls(src, allOps...), c.expect(subjects); !maps(got, want) {
				t.Errorf("re-plan asked the source %v, want %v", got, want)
			}
			small := c.spec
			small.MaxBytes = prior.Size - 1
			var tooLarge *TooLargeError
			if _, _, err := env.e.Replan(t.Context(), small, &prior); !errors.As(err, &tooLarge) {
				t.Errorf("a recorded size over MaxBytes: %v", err)
			}
		})
	}
	// A new signature at the source is noticed, and the source is read again.
	prior, _, err := env.e.Replan(t.Context(), Spec{Source: f.ref(), Target: target, Attestations: true, Referrers: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.w.Cosign(f.images[2].Digest, ".att")
	rec, inspected, err := env.e.Replan(t.Context(), Spec{Source: f.ref(), Target: target, Attestations: true, Referrers: true}, &prior)
	if err != nil || !inspected || len(rec.Referrers) != len(prior.Referrers)+1 {
		t.Fatalf("after a new attestation: inspected %t, %d referrers (was %d), %v", inspected, len(rec.Referrers), len(prior.Referrers), err)
	}
}

// TestCheckAsksAtOnce: Check asks for the tag and the children at the same time (jobs at once),
// so that a mirror without drift costs one round trip: the first jobs questions wait for each
// other, which they would do in vain if the tag were asked alone first.
func TestCheckAsksAtOnce(t *testing.T) {
	const jobs = 3
	env := newMemoryEnv()
	_, p, target := env.mirrored(t)
	b := &barrier{want: jobs, all: make(chan struct{})}
	e := New(WithScheme(env.src), WithScheme(barrierScheme{Scheme: env.dst, b: b}), WithJobs(jobs))
	d, err := e.Check(t.Context(), target, p.Record)
	if err != nil || d.Drifted(p.Record) {
		t.Fatalf("drift %+v, %v", d, err)
	}
	if b.timedOut.Load() {
		t.Errorf("the first %d questions of Check were not asked at once", jobs)
	}
}

// barrierScheme opens the targets of its Scheme with a barrier before their first questions.
type barrierScheme struct {
	store.Scheme
	b *barrier
}

func (s barrierScheme) Open(ref string, role store.Role) (store.Location, error) {
	loc, err := s.Scheme.Open(ref, role)
	if t, ok := loc.Store.(store.Target); ok && err == nil {
		loc.Store = barrierTarget{Target: t, b: s.b}
	}
	return loc, err
}

type barrierTarget struct {
	store.Target
	b *barrier
}

func (t barrierTarget) Resolve(ctx context.Context, ref string) (v1.Descriptor, error) {
	t.b.arrive()
	return t.Target.Resolve(ctx, ref)
}

// barrier holds its first want arrivals until all of them are there, or for a second.
type barrier struct {
	want     int
	all      chan struct{}
	arrived  atomic.Int32
	timedOut atomic.Bool
}

func (b *barrier) arrive() {
	n := int(b.arrived.Add(1))
	switch {
	case n == b.want:
		close(b.all)
	case n > b.want:
		return
	}
	select {
	case <-b.all:
	case <-time.After(time.Second):
		b.timedOut.Store(true)
	}
}

// TestManifestsReadOnce: an Engine reads a manifest by digest once per source repository (plan
// again, as Terraform does while applying, and Create a third time); tags are asked again, and
// another repository listing the same digests is asked for them.
func TestManifestsReadOnce(t *testing.T) {
	env := newMemoryEnv()
	f := newIndexFixture(t, env.writer(t, "library/app"), false)
	src := env.src.Repository("library/app")
	spec := Spec{Source: f.ref(), Target: env.dst.Prefix() + "mirror/app", Attestations: true}
	p, err := env.e.Plan(t.Context(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if got := src.Calls(memory.OpManifest); got != len(p.Children)+1 {
		t.Fatalf("first plan read %d manifests, want %d", got, len(p.Children)+1)
	}
	src.ResetCalls()
	again, err := env.e.Plan(t.Context(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if got := src.Calls(memory.OpManifest); got != 1 || again.Size != p.Size || again.Digest != p.Digest {
		t.Errorf("plan again: %d manifests read (want the tag's only), size %d, digest %s", got, again.Size, again.Digest)
	}

	// A copy of the index in another repository, without one of its images.
	copied := Spec{Source: f.ref(), Target: env.src.Prefix() + "library/copy", Attestations: true}
	if _, err := env.e.Apply(t.Context(), mustPlan(t, env.engine(), copied)); err != nil {
		t.Fatal(err)
	}
	env.src.Repository("library/copy").DeleteManifest(store.Digest(f.images[1].Raw))
	_, err = env.e.Plan(t.Context(), Spec{Source: copied.Target + ":" + f.tag, Target: spec.Target, Attestations: true})
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("planned from a repository that lacks an image its index lists: %v", err)
	}
}

func mustPlan(t *testing.T, e *Engine, spec Spec) *Plan {
	t.Helper()
	p, err := e.Plan(t.Context(), spec)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
