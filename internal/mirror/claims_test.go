package mirror

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/zarf-dev/terraform-provider-zarf/internal/store/memory"
)

func TestClaim_conflicts(t *testing.T) {
	e := New()
	spec := Spec{Source: "r.example/app/web:1.0", Target: "r.example/mirror/web", Attestations: true}
	first := Claim{Spec: spec, Tag: "1.0", Digest: digestA}
	if err := e.Claim(first); err != nil {
		t.Fatal(err)
	}
	if err := e.Claim(first); err != nil {
		t.Fatalf("the same mirror planned twice: %v", err)
	}
	same := first
	same.Spec.Target = "R.EXAMPLE/mirror/web:1.0" // the same place, written otherwise
	if err := e.Claim(same); err != nil {
		t.Fatalf("the same content at the same tag: %v", err)
	}
	for name, change := range map[string]func(*Claim){
		"another source":   func(c *Claim) { c.Spec.Source = "r.example/app/api:1.0" },
		"another platform": func(c *Claim) { c.Spec.Platforms = []string{"linux/amd64"} },
		"filter":           func(c *Claim) { c.Spec.IndexMode = ModeFilter },
		"no attestations":  func(c *Claim) { c.Spec.Attestations = false },
	} {
		other := first
		change(&other)
		err := e.Claim(other)
		var conflict *TargetConflictError
		if !errors.As(err, &conflict) {
			t.Errorf("%s at the same tag: err = %v, want a TargetConflictError", name, err)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, "r.example/mirror/web:1.0") || !strings.Contains(msg, first.Spec.Source) || !strings.Contains(msg, other.Spec.Source) {
			t.Errorf("%s: %q does not name the tag and both sources", name, msg)
		}
	}
	elsewhere := first
	elsewhere.Spec.Source, elsewhere.Tag = "r.example/app/api:2.0", "2.0"
	if err := e.Claim(elsewhere); err != nil {
		t.Fatalf("another tag of the repository: %v", err)
	}
	untagged := Claim{Spec: Spec{Source: "r.example/app/api@" + digestA, Target: "r.example/mirror/web"}, Digest: digestA}
	if err := e.Claim(untagged); err != nil {
		t.Fatalf("a mirror by digest alone: %v", err)
	}
}

func TestDelete_leavesWhatAnotherMirrorHolds(t *testing.T) {
	src, dst := newTestRegistry(t), newTestRegistry(t)
	target := dst.host + "/mirror/app"
	f, p, _, _ := mirrored(t, src, dst, target)
	exists := func(reference string) bool {
		_, _, status := dst.getRaw(t, "mirror/app", reference)
		return status == http.StatusOK
	}
	remirror := func(t *testing.T) {
		t.Helper()
		if _, err := testEngine(t, src, dst).Apply(t.Context(), p); err != nil {
			t.Fatal(err)
		}
	}
	expectKept := func(t *testing.T, err error, left string) {
		t.Helper()
		var kept *KeptError
		if !errors.As(err, &kept) || !strings.Contains(kept.Left, left) {
			t.Fatalf("Delete: %v, want a KeptError leaving %s", err, left)
		}
	}

	t.Run("the same tag and manifest", func(t *testing.T) {
		e := testEngine(t, src, dst)
		if err := e.Claim(Claim{Spec: p.Spec, Tag: p.Tag, Digest: p.Digest}); err != nil {
			t.Fatal(err)
		}
		expectKept(t, e.Delete(t.Context(), target, p.Record), p.Digest)
		if !exists(p.Tag) || !exists(p.Digest) {
			t.Fatal("Delete removed what another mirror holds")
		}
	})
	t.Run("the manifest under another tag", func(t *testing.T) {
		e := testEngine(t, src, dst)
		if err := e.Claim(Claim{Spec: Spec{Source: f.ref(), Target: target + ":other"}, Tag: "other", Digest: p.Digest}); err != nil {
			t.Fatal(err)
		}
		expectKept(t, e.Delete(t.Context(), target, p.Record), p.Digest)
		if exists(p.Tag) || !exists(p.Digest) {
			t.Fatalf("tag present = %v, manifest present = %v; want only the tag removed", exists(p.Tag), exists(p.Digest))
		}
		remirror(t)
	})
	t.Run("a child manifest", func(t *testing.T) {
		e := testEngine(t, src, dst)
		child := p.Children[0].Digest
		c := ClaimOf(p.Spec, p.Record) // lists the children the mirror copies
		c.Tag = "other"
		if err := e.Claim(c); err != nil {
			t.Fatal(err)
		}
		expectKept(t, e.Delete(t.Context(), target, Record{Digest: child}), child)
		if !exists(child) {
			t.Fatal("Delete removed a manifest that another mirror's index lists")
		}
	})
	t.Run("the tag, for other content", func(t *testing.T) {
		e := testEngine(t, src, dst)
		if err := e.Claim(Claim{Spec: Spec{Source: src.host + "/other:v1", Target: target}, Tag: p.Tag, Digest: digestA}); err != nil {
			t.Fatal(err)
		}
		// The tag still points at the mirror's manifest: deleting the manifest would take the tag
		// that the other mirror is about to write.
		expectKept(t, e.Delete(t.Context(), target, p.Record), target+":"+p.Tag)
		if !exists(p.Tag) || !exists(p.Digest) {
			t.Fatal("Delete removed the tag another mirror is about to write")
		}
	})
	t.Run("nothing claimed", func(t *testing.T) {
		e := testEngine(t, src, dst)
		if err := e.Claim(Claim{Spec: Spec{Source: f.ref(), Target: dst.host + "/elsewhere"}, Tag: p.Tag, Digest: p.Digest}); err != nil {
			t.Fatal(err)
		}
		if err := e.Delete(t.Context(), target, p.Record); err != nil {
			t.Fatalf("Delete with claims in another repository only: %v", err)
		}
		if exists(p.Digest) {
			t.Fatal("the manifest is still there")
		}
		remirror(t)
	})
}

func TestDelete_neverDeletesTheSource(t *testing.T) {
	src := newTestRegistry(t)
	f := newIndexFixture(t, src.writer(t, "library/app"), false)
	e := testEngine(t, src)
	exists := func(reference string) bool {
		_, _, status := src.getRaw(t, "library/app", reference)
		return status == http.StatusOK
	}

	// A state written before targets equal to their source were refused.
	src.requests()
	err := e.Delete(t.Context(), f.name(""), Record{Tag: f.tag, Digest: f.digest}, FromSource(f.ref(), ModePreserve))
	var kept *KeptError
	if !errors.As(err, &kept) || !strings.Contains(kept.Reason, "source itself") {
		t.Fatalf("Delete of a mirror onto its source: %v, want a KeptError", err)
	}
	if reqs := src.requests(); len(reqs) != 0 {
		t.Fatalf("Delete of a mirror onto its source sent %v", reqs)
	}

	// Another tag in the source's repository, of a source pinned by digest alone: the tag goes,
	// the manifest, which is the source, stays.
	f.w.Raw("mirror", f.mt, f.index)
	err = e.Delete(t.Context(), f.name(":mirror"), Record{Tag: "mirror", Digest: f.digest}, FromSource(f.name("@"+f.digest), ModePreserve))
	if !errors.As(err, &kept) || !strings.Contains(kept.Reason, "source's repository") {
		t.Fatalf("Delete of a tag in the source's repository: %v, want a KeptError", err)
	}
	if exists("mirror") || !exists(f.digest) || !exists(f.tag) {
		t.Fatalf("mirror tag present = %v, source present = %v (tag %v); want the mirror's tag removed only",
			exists("mirror"), exists(f.digest), exists(f.tag))
	}
}

func TestDelete_waitsForCopiesIntoTheRepository(t *testing.T) {
	src, dst := newTestRegistry(t), newTestRegistry(t)
	f := newIndexFixture(t, src.writer(t, "library/app"), false)
	e := testEngine(t, src, dst)
	p, err := e.Plan(t.Context(), Spec{Source: f.ref(), Target: dst.host + "/mirror/app", Attestations: true})
	if err != nil {
		t.Fatal(err)
	}
	tagging := make(chan struct{})
	dst.setHook(func(_ http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/manifests/"+p.Tag) {
			close(tagging)
			time.Sleep(time.Second) // room for a destroy to run, if it does not wait
		}
		return false
	})
	applied := make(chan []recordedRequest)
	go func() {
		defer close(applied)
		if _, err := e.Apply(t.Context(), p); err != nil {
			t.Error(err)
		}
		applied <- dst.requests()
	}()
	<-tagging
	deleted := make(chan error)
	go func() {
		deleted <- e.Delete(t.Context(), dst.host+"/mirror/app:old", Record{Tag: "old", Digest: digestA})
	}()
	for _, r := range <-applied {
		if r.Method == http.MethodDelete || strings.HasSuffix(r.Path, "/tags/list") {
			t.Errorf("a destroy in the repository sent %s %s while a copy into it was running", r.Method, r.Path)
		}
	}
	if err := <-deleted; err != nil {
		t.Fatal(err)
	}
}

// TestDelete_neverDeletesTheSourceOfAnyStore: the source is recognised with the Engine's own
// schemes, so a store of any kind (here the memory store) keeps its source.
func TestDelete_neverDeletesTheSourceOfAnyStore(t *testing.T) {
	env := newMemoryEnv()
	f := newIndexFixture(t, env.writer(t, "library/app"), false)
	err := env.e.Delete(t.Context(), f.name(""), Record{Tag: f.tag, Digest: f.digest}, FromSource(f.ref(), ModePreserve))
	var kept *KeptError
	if !errors.As(err, &kept) || !strings.Contains(kept.Reason, "source itself") {
		t.Fatalf("Delete of a mirror onto its source: %v, want a KeptError", err)
	}
	if n := env.src.Repository("library/app").Calls(memory.OpDelete); n != 0 {
		t.Fatalf("Delete of a mirror onto its source deleted %d times", n)
	}
}
