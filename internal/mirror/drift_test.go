package mirror

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
)

// mirrored applies the OCI fixture to dst and returns the plan, its record and the engine.
func mirrored(t *testing.T, src, dst *testRegistry, target string) (*indexFixture, *Plan, Record, *Engine) {
	t.Helper()
	f := newIndexFixture(t, src.writer(t, "library/app"), false)
	e := testEngine(t, src, dst)
	p, err := e.Plan(t.Context(), Spec{Source: f.ref(), Target: target, Attestations: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Apply(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	return f, p, p.Record, e
}

func TestCheck(t *testing.T) {
	t.Run("no drift", func(t *testing.T) {
		src, dst := newTestRegistry(t), newTestRegistry(t)
		_, p, want, e := mirrored(t, src, dst, dst.host+"/mirror/app")
		dst.requests()
		d, err := e.Check(t.Context(), p.Spec.Target, want)
		if err != nil {
			t.Fatal(err)
		}
		if d.Drifted(want) || d.Current != p.Digest || d.Gone || d.IndexMissing || len(d.MissingManifests) != 0 {
			t.Fatalf("drift %+v", d)
		}
		for _, r := range dst.requests() {
			if r.Method != http.MethodHead && r.Path != "/v2/" { // GET /v2/ is the ping
				t.Fatalf("Check sent %s %s; HEAD only", r.Method, r.Path)
			}
		}
	})
	t.Run("tag overwritten", func(t *testing.T) {
		src, dst := newTestRegistry(t), newTestRegistry(t)
		_, p, want, e := mirrored(t, src, dst, dst.host+"/mirror/app")
		w := dst.writer(t, "mirror/app")
		other := w.HandImage("linux/amd64", false)
		w.Raw("v1", other.MediaType, other.Raw)
		d, err := e.Check(t.Context(), p.Spec.Target, want)
		if err != nil {
			t.Fatal(err)
		}
		if !d.Drifted(want) || d.Current != other.Digest || d.Gone || d.IndexMissing {
			t.Fatalf("drift %+v, want Current %s (was %s)", d, other.Digest, p.Digest)
		}
		// The index is deleted as well.
		dst.deleteRaw(t, "mirror/app", p.Digest)
		if d, err = e.Check(t.Context(), p.Spec.Target, want); err != nil || !d.IndexMissing || !d.Drifted(want) {
			t.Fatalf("drift %+v, %v; want IndexMissing", d, err)
		}
	})
	t.Run("tag deleted", func(t *testing.T) {
		src, dst := newTestRegistry(t), newTestRegistry(t)
		_, p, want, e := mirrored(t, src, dst, dst.host+"/mirror/app")
		dst.deleteRaw(t, "mirror/app", "v1")
		d, err := e.Check(t.Context(), p.Spec.Target, want)
		if err != nil {
			t.Fatal(err)
		}
		if !d.Gone || !d.Drifted(want) {
			t.Fatalf("drift %+v, want Gone", d)
		}
	})
	t.Run("child manifest deleted", func(t *testing.T) {
		src, dst := newTestRegistry(t), newTestRegistry(t)
		f, p, want, e := mirrored(t, src, dst, dst.host+"/mirror/app")
		dst.deleteRaw(t, "mirror/app", f.images[1].Digest)
		dst.deleteRaw(t, "mirror/app", f.atts[0].Digest)
		d, err := e.Check(t.Context(), p.Spec.Target, want)
		if err != nil {
			t.Fatal(err)
		}
		wantMissing := []string{f.images[1].Digest, f.atts[0].Digest}
		children := want.ChildDigests()
		if !slices.Contains(children, f.atts[0].Digest) {
			t.Fatal("attestation not in the record's children")
		}
		// In record order.
		slices.SortFunc(wantMissing, func(a, b string) int { return slices.Index(children, a) - slices.Index(children, b) })
		if !d.Drifted(want) || d.Gone || d.Current != p.Digest || !slices.Equal(d.MissingManifests, wantMissing) {
			t.Fatalf("drift %+v, want MissingManifests %v", d, wantMissing)
		}
		// Apply repairs it.
		if _, err := e.Apply(t.Context(), p); err != nil {
			t.Fatal(err)
		}
		if d, err := e.Check(t.Context(), p.Spec.Target, want); err != nil || d.Drifted(want) {
			t.Fatalf("after repair: %+v, %v", d, err)
		}
	})
	t.Run("untagged", func(t *testing.T) {
		src, dst := newTestRegistry(t), newTestRegistry(t)
		e := testEngine(t, src, dst)
		f := newIndexFixture(t, src.writer(t, "library/app"), false)
		target := dst.host + "/mirror/app"
		p, err := e.Plan(t.Context(), Spec{Source: f.name("@" + f.digest), Target: target, Attestations: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Apply(t.Context(), p); err != nil {
			t.Fatal(err)
		}
		want := p.Record
		if d, err := e.Check(t.Context(), p.Spec.Target, want); err != nil || d.Drifted(want) {
			t.Fatalf("drift %+v, %v", d, err)
		}
		dst.deleteRaw(t, "mirror/app", p.Digest)
		if d, err := e.Check(t.Context(), p.Spec.Target, want); err != nil || !d.Gone {
			t.Fatalf("drift %+v, %v; want Gone", d, err)
		}
	})
	t.Run("repository never existed", func(t *testing.T) {
		dst := newTestRegistry(t)
		e := testEngine(t, dst)
		want := Record{Tag: "v1", Digest: digestA, Children: []Manifest{{Digest: digestB}}}
		if d, err := e.Check(t.Context(), dst.host+"/nothing/here", want); err != nil || !d.Gone {
			t.Fatalf("drift %+v, %v; want Gone", d, err)
		}
	})
	t.Run("errors are not drift", func(t *testing.T) {
		src, dst := newTestRegistry(t), newTestRegistry(t)
		_, p, want, e := mirrored(t, src, dst, dst.host+"/mirror/app")
		dst.setHook(func(w http.ResponseWriter, r *http.Request) bool {
			if strings.Contains(r.URL.Path, "/manifests/") {
				w.WriteHeader(http.StatusForbidden)
				return true
			}
			return false
		})
		if d, err := e.Check(t.Context(), p.Spec.Target, want); err == nil {
			t.Fatalf("Check on a forbidden registry = %+v", d)
		}
		if _, err := e.Check(t.Context(), "https://x/y", Record{Digest: digestA}); err == nil {
			t.Fatal("bad target accepted")
		}
	})
}

func TestDelete(t *testing.T) {
	t.Run("deletes, then nothing to delete", func(t *testing.T) {
		src, dst := newTestRegistry(t), newTestRegistry(t)
		_, p, _, e := mirrored(t, src, dst, dst.host+"/mirror/app")
		if err := e.Delete(t.Context(), p.Spec.Target, p.Record); err != nil {
			t.Fatal(err)
		}
		if _, _, status := dst.getRaw(t, "mirror/app", p.Digest); status != http.StatusNotFound {
			t.Fatalf("after Delete: HTTP %d", status)
		}
		if err := e.Delete(t.Context(), p.Spec.Target, p.Record); err != nil {
			t.Fatalf("second Delete: %v", err)
		}
		if err := e.Delete(t.Context(), dst.host+"/never/existed:v1", p.Record); err != nil {
			t.Fatalf("Delete in a missing repository: %v", err)
		}
	})
	t.Run("unsupported", func(t *testing.T) {
		for _, tc := range []struct {
			status int
			body   string
		}{
			{http.StatusMethodNotAllowed, ``},
			{http.StatusMethodNotAllowed, `{"errors":[{"code":"UNSUPPORTED","message":"The operation is unsupported."}]}`},
			{http.StatusBadRequest, `{"errors":[{"code":"UNSUPPORTED","message":"The operation is unsupported."}]}`},
		} {
			dst := newTestRegistry(t)
			e := testEngine(t, dst)
			dst.setHook(func(w http.ResponseWriter, r *http.Request) bool {
				if r.Method == http.MethodDelete {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(tc.status)
					_, _ = w.Write([]byte(tc.body))
					return true
				}
				return false
			})
			err := e.Delete(t.Context(), dst.host+"/mirror/app:v1", Record{Tag: "v1", Digest: digestA})
			if !errors.Is(err, store.ErrUnsupported) {
				t.Fatalf("HTTP %d %s: err = %v, want store.ErrUnsupported", tc.status, tc.body, err)
			}
		}
	})
	t.Run("other errors", func(t *testing.T) {
		dst := newTestRegistry(t)
		e := testEngine(t, dst)
		dst.setHook(func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method == http.MethodDelete {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusForbidden)
				_, _ = w.Write([]byte(`{"errors":[{"code":"DENIED","message":"no"}]}`))
				return true
			}
			return false
		})
		err := e.Delete(t.Context(), dst.host+"/mirror/app", Record{Digest: digestA})
		if err == nil || errors.Is(err, store.ErrUnsupported) || !strings.Contains(err.Error(), "DENIED") {
			t.Fatalf("err = %v", err)
		}
		if err := e.Delete(t.Context(), "", Record{Digest: digestA}); err == nil {
			t.Fatal("empty target accepted")
		}
	})
}
