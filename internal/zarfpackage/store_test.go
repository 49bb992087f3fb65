package zarfpackage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/zarf-dev/terraform-provider-zarf/internal/mirror"
	"github.com/zarf-dev/terraform-provider-zarf/internal/registrytest"
	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
	"github.com/zarf-dev/terraform-provider-zarf/internal/store/memory"
)

// openStore opens ref with a Scheme over c as a source.
func openStore(t *testing.T, c *Cache, ref string) (store.Location, *Store) {
	t.Helper()
	loc, err := Scheme{Cache: c}.Open(ref, store.RoleSource)
	if err != nil {
		t.Fatalf("Open(%s): %v", ref, err)
	}
	return loc, loc.Store.(*Store)
}

// TestStore_mirrorsEveryImage: the engine copies every image of a package, by its original
// reference and by digest, with the digests (and so the bytes) the package holds, in every
// archive format.
func TestStore_mirrorsEveryImage(t *testing.T) {
	t.Parallel()
	for name, format := range map[string]registrytest.ZarfFormat{
		"zst": registrytest.ZarfTarZst, "tar": registrytest.ZarfTar, "split": registrytest.ZarfSplit,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			built := registrytest.WriteZarfPackage(t, t.TempDir(), testSpec(format))
			dst := memory.NewRegistry("dst")
			e := mirror.New(mirror.WithScheme(Scheme{Cache: newCache(t)}), mirror.WithScheme(dst))
			i := 0
			for ref, want := range built.Images {
				for _, source := range []string{ref, "@" + want.Digest.String()} {
					i++
					spec := mirror.Spec{Source: Prefix + built.Path + ":" + source, Target: fmt.Sprintf("memory://dst/mirror/%d", i), Attestations: true}
					if source[0] == '@' {
						spec.Source = Prefix + built.Path + source
					}
					p, err := e.Plan(t.Context(), spec)
					if err != nil {
						t.Fatalf("plan %s: %v", spec.Source, err)
					}
					if _, err := e.Apply(t.Context(), p); err != nil {
						t.Fatalf("apply %s: %v", spec.Source, err)
					}
					if p.Digest != want.Digest.String() || !dst.Repository(fmt.Sprintf("mirror/%d", i)).HasManifest(want.Digest) {
						t.Errorf("%s mirrored as %s; want %s at the target", spec.Source, p.Digest, want.Digest)
					}
				}
			}
		})
	}
}

// TestStore_unknownImage: a reference to an image that the package does not hold says which
// images it holds, and wraps store.ErrNotFound.
func TestStore_unknownImage(t *testing.T) {
	t.Parallel()
	built := registrytest.WriteZarfPackage(t, t.TempDir(), testSpec(registrytest.ZarfTarZst))
	_, s := openStore(t, newCache(t), Prefix+built.Path+":nginx:1.28")
	_, err := s.Resolve(t.Context(), "nginx:1.28")
	for _, want := range []string{
		"the Zarf package " + built.Path + " (app 1.2.3, archive digest " + built.Digest.String() + ") holds no image nginx:1.28",
		"the images it holds are: nginx:1.27, ghcr.io/acme/tool:2, registry.example:5000/db@sha256:",
		"Write zarf-package://" + built.Path + ":<one of them>",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not say %q", err, want)
		}
	}
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("error %v does not wrap store.ErrNotFound", err)
	}
}

// TestStore_unpacksOnceForEveryStore: the stores of one package, used at once, share one
// unpacking; a later store finds the package in the cache.
func TestStore_unpacksOnceForEveryStore(t *testing.T) {
	t.Parallel()
	built := registrytest.WriteZarfPackage(t, t.TempDir(), testSpec(registrytest.ZarfTarZst))
	c := newCache(t)
	stores := make([]*Store, 4)
	for i := range stores {
		_, stores[i] = openStore(t, c, Prefix+built.Path+":nginx:1.27")
	}
	var wg sync.WaitGroup
	unpacked := make([]bool, len(stores))
	for i, s := range stores {
		wg.Go(func() {
			if _, err := s.Resolve(t.Context(), "nginx:1.27"); err != nil {
				t.Error(err)
			}
			_, p, err := s.open(t.Context())
			unpacked[i] = err == nil && p.Unpacked
		})
	}
	wg.Wait()
	if n := countTrue(unpacked); n != 1 {
		t.Errorf("%d of %d stores unpacked the package, want 1", n, len(stores))
	}
	_, later := openStore(t, c, Prefix+built.Path+":nginx:1.27")
	if _, p, err := later.open(t.Context()); err != nil || p.Unpacked {
		t.Errorf("a later store: %v, unpacked again: %v", err, p != nil && p.Unpacked)
	}
}

func countTrue(bs []bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

// TestStore_newArchiveAtSamePath: a new package written over the archive moves the digest that
// the next store resolves, which is what makes the next plan an update.
func TestStore_newArchiveAtSamePath(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c := newCache(t)
	first := registrytest.WriteZarfPackage(t, dir, testSpec(registrytest.ZarfTarZst))
	ref := Prefix + first.Path + ":nginx:1.27"
	resolve := func() string {
		_, s := openStore(t, c, ref)
		d, err := s.Resolve(t.Context(), "nginx:1.27")
		if err != nil {
			t.Fatal(err)
		}
		return d.Digest.String()
	}
	if got := resolve(); got != first.Images["nginx:1.27"].Digest.String() {
		t.Fatalf("resolved %s, want %s", got, first.Images["nginx:1.27"].Digest)
	}
	spec := testSpec(registrytest.ZarfTarZst)
	newer := testIndex
	newer.Images = append(newer.Images[:1:1], registrytest.ImageSpec{Platform: "linux/arm64", Layers: []int64{4096}, Seed: 9})
	spec.Components[0].Images[0].Index = &newer
	second := registrytest.WriteZarfPackage(t, dir, spec)
	if second.Path != first.Path || second.Images["nginx:1.27"].Digest == first.Images["nginx:1.27"].Digest {
		t.Fatal("the test needs a package with another nginx:1.27 at the same path")
	}
	if got := resolve(); got != second.Images["nginx:1.27"].Digest.String() {
		t.Errorf("after a new package at the same path, resolved %s, want %s", got, second.Images["nginx:1.27"].Digest)
	}
}

// TestStore_refusedArchive: a hostile or altered archive fails the first read with the
// reader's refusal, and nothing is cached.
func TestStore_refusedArchive(t *testing.T) {
	t.Parallel()
	spec := testSpec(registrytest.ZarfTarZst)
	spec.Tamper = func(tb testing.TB, dir string) {
		if err := os.Remove(filepath.Join(dir, "components", "web.tar")); err != nil {
			tb.Fatal(err)
		}
	}
	built := registrytest.WriteZarfPackage(t, t.TempDir(), spec)
	c := newCache(t)
	_, s := openStore(t, c, Prefix+built.Path+":nginx:1.27")
	_, _, err := s.Manifest(t.Context(), "nginx:1.27")
	wantRefused(t, err, ProblemIntegrity, built.Path, `"components/web.tar": listed in checksums.txt but missing`)
	wantNothingCached(t, c)
}

// TestStore_noCacheDirectory: without a cache directory, reading says how to set one.
func TestStore_noCacheDirectory(t *testing.T) {
	t.Parallel()
	loc, err := Scheme{NoCache: errors.New("$HOME is not defined")}.Open(Prefix+"app.tar.zst:nginx", store.RoleSource)
	if err != nil {
		t.Fatal(err)
	}
	_, err = loc.Store.Resolve(context.Background(), "nginx")
	if err == nil || !strings.Contains(err.Error(), "$HOME is not defined") || !strings.Contains(err.Error(), "set cache_dir in the zarf provider block") {
		t.Errorf("got %v", err)
	}
}

// TestScheme_notATarget: the engine refuses a package as a target.
func TestScheme_notATarget(t *testing.T) {
	t.Parallel()
	err := mirror.ValidateReference(store.RoleTarget, Prefix+"app.tar.zst:nginx:1.27", mirror.WithScheme(Scheme{}))
	if err == nil || !strings.Contains(err.Error(), "zarf-package://app.tar.zst can be read from, not written to") {
		t.Errorf("got %v", err)
	}
}
