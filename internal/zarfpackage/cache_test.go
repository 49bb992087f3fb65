package zarfpackage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/zarf-dev/terraform-provider-zarf/internal/registrytest"
)

func TestOpen_formats(t *testing.T) {
	for name, format := range map[string]registrytest.ZarfFormat{
		"tar.zst": registrytest.ZarfTarZst, "tar": registrytest.ZarfTar, "split": registrytest.ZarfSplit,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			built := registrytest.WriteZarfPackage(t, t.TempDir(), testSpec(format))
			c := newCache(t)
			p := open(t, c, built.Path)

			if p.Digest != built.Digest || !p.Unpacked || p.Archive != built.Path {
				t.Errorf("got digest %s, unpacked %v, archive %s; want %s, true, %s", p.Digest, p.Unpacked, p.Archive, built.Digest, built.Path)
			}
			cfg := p.Config
			if cfg.Name != "app" || cfg.Version != "1.2.3" || cfg.Architecture != "amd64" || cfg.APIVersion != apiVersionV1Alpha1 {
				t.Errorf("config %+v", cfg)
			}
			wantImages := []string{"nginx:1.27", "ghcr.io/acme/tool:2", "registry.example:5000/db@sha256:" + testDigestHex}
			if got := cfg.Images(); !slices.Equal(got, wantImages) {
				t.Errorf("images %q, want %q (deduplicated, in component order)", got, wantImages)
			}
			if len(cfg.Components) != 2 || cfg.Components[1].Name != "db" || len(cfg.Components[1].Images) != 2 {
				t.Errorf("components %+v", cfg.Components)
			}
			wantLayout(t, p, built)
			// What the mirror does not need is hashed, not written.
			if _, err := os.Stat(filepath.Join(p.Dir, "components")); !os.IsNotExist(err) {
				t.Errorf("components/ was unpacked (%v)", err)
			}
			if entries, _ := os.ReadDir(filepath.Join(c.Dir(), tmpDir)); len(entries) != 0 {
				t.Errorf("tmp/ holds %d leftovers", len(entries))
			}
		})
	}
}

const testDigestHex = "abababababababababababababababababababababababababababababababab"

// wantLayout checks that the package's images/ layout lists every image of the package by its
// original reference and holds its index or manifest bytes unchanged.
func wantLayout(t *testing.T, p *Package, built registrytest.ZarfPackage) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(p.ImagesDir(), "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var index v1.IndexManifest
	if err := json.Unmarshal(raw, &index); err != nil {
		t.Fatal(err)
	}
	if len(index.Manifests) != len(built.Images) {
		t.Errorf("index.json lists %d images, want %d", len(index.Manifests), len(built.Images))
	}
	for _, d := range index.Manifests {
		blob, err := os.ReadFile(filepath.Join(p.ImagesDir(), "blobs", "sha256", d.Digest.Hex))
		if err != nil {
			t.Errorf("%s: %v", d.Annotations["org.opencontainers.image.base.name"], err)
			continue
		}
		if sum := sha256.Sum256(blob); hex.EncodeToString(sum[:]) != d.Digest.Hex {
			t.Errorf("blob %s holds other bytes", d.Digest)
		}
	}
	for ref, d := range built.Images {
		if !slices.ContainsFunc(index.Manifests, func(e v1.Descriptor) bool { return e.Digest == d.Digest }) {
			t.Errorf("index.json does not list %s (%s)", ref, d.Digest)
		}
	}
}

func TestOpen_v1beta1(t *testing.T) {
	t.Parallel()
	spec := testSpec(registrytest.ZarfTarZst)
	spec.V1Beta1 = true
	built := registrytest.WriteZarfPackage(t, t.TempDir(), spec)
	p := open(t, newCache(t), built.Path)
	if p.Config.APIVersion != apiVersionV1Beta1 || len(p.Config.Images()) != 3 {
		t.Errorf("config %+v", p.Config)
	}
}

// A second open of an unchanged archive, in this process or another sharing the cache
// directory, reads nothing of it: the digest is remembered with the identity of the file.
func TestOpen_secondOpenReadsNothing(t *testing.T) {
	built := registrytest.WriteZarfPackage(t, t.TempDir(), testSpec(registrytest.ZarfTarZst))
	c := newCache(t)
	first := open(t, c, built.Path)

	opens := countArchiveOpens(t)
	again := open(t, c, built.Path)
	other, err := NewCache(c.Dir()) // another process
	if err != nil {
		t.Fatal(err)
	}
	third := open(t, other, built.Path)
	if *opens != 0 {
		t.Errorf("the archive was opened %d times after it was unpacked", *opens)
	}
	for _, p := range []*Package{again, third} {
		if p.Unpacked || p.Digest != first.Digest || p.Dir != first.Dir || p.Config.Name != "app" {
			t.Errorf("got %+v, want the cached %+v", p, first)
		}
	}
}

// A new archive at the same path is read, even with the size and modification time of the
// one it replaces (cp -p, rsync -t): its digest is what drift compares.
func TestOpen_newArchiveAtSamePath(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	spec := testSpec(registrytest.ZarfTar) // uncompressed: same size whatever the layer bytes
	old := registrytest.WriteZarfPackage(t, dir, spec)
	c := newCache(t)
	first := open(t, c, old.Path)
	fi, err := os.Stat(old.Path)
	if err != nil {
		t.Fatal(err)
	}

	changed := registrytest.IndexSpec{Images: slices.Clone(testIndex.Images), Attestations: true}
	changed.Images[0].Seed = 99
	spec.Components[0].Images[0].Index = &changed
	spec.Components[1].Images[1].Index = &changed
	replacement := registrytest.WriteZarfPackage(t, t.TempDir(), spec)
	raw, err := os.ReadFile(replacement.Path)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(raw)) != fi.Size() {
		t.Fatalf("the replacement has %d bytes, the original %d: the test needs equal sizes", len(raw), fi.Size())
	}
	tmp := old.Path + ".new"
	if err := os.WriteFile(tmp, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(tmp, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, old.Path); err != nil {
		t.Fatal(err)
	}

	p := open(t, c, old.Path)
	if !p.Unpacked || p.Digest != replacement.Digest || p.Digest == first.Digest {
		t.Errorf("got digest %s (unpacked %v), want the new archive's %s (the old one's was %s)", p.Digest, p.Unpacked, replacement.Digest, first.Digest)
	}
}

// Concurrent opens of one package, in one process (Terraform plans ten resources at once)
// and in others sharing the cache directory, share one unpacking.
func TestOpen_concurrentOpensUnpackOnce(t *testing.T) {
	t.Parallel()
	built := registrytest.WriteZarfPackage(t, t.TempDir(), testSpec(registrytest.ZarfSplit))
	shared := newCache(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var unpacked int
	digests := map[v1.Hash]bool{}
	for i := range 10 {
		wg.Go(func() {
			c := shared
			if i%2 == 1 {
				c, _ = NewCache(shared.Dir()) // as another process would
			}
			p, err := c.Open(context.Background(), built.Path)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			digests[p.Digest] = true
			if p.Unpacked {
				unpacked++
			}
		})
	}
	wg.Wait()
	if unpacked != 1 || len(digests) != 1 {
		t.Errorf("%d of 10 opens unpacked the package (digests %v), want 1", unpacked, digests)
	}
	entries, _ := os.ReadDir(filepath.Join(shared.Dir(), entriesDir))
	if len(entries) != 1 {
		t.Errorf("the cache holds %d entries, want 1", len(entries))
	}
}

// The same archive at two paths is one cache entry.
func TestOpen_sameArchiveTwoPaths(t *testing.T) {
	t.Parallel()
	built := registrytest.WriteZarfPackage(t, t.TempDir(), testSpec(registrytest.ZarfTarZst))
	copyPath := filepath.Join(t.TempDir(), "copy.tar.zst")
	raw, err := os.ReadFile(built.Path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(copyPath, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	c := newCache(t)
	a, b := open(t, c, built.Path), open(t, c, copyPath)
	if a.Dir != b.Dir || !b.Unpacked {
		t.Errorf("entries %s and %s (second unpacked: %v), want one entry read twice", a.Dir, b.Dir, b.Unpacked)
	}
	if entries, _ := os.ReadDir(filepath.Join(c.Dir(), tmpDir)); len(entries) != 0 {
		t.Errorf("tmp/ holds %d leftovers", len(entries))
	}
}

// A cache entry that was removed (by hand, to free space) is unpacked again.
func TestOpen_removedEntryIsUnpackedAgain(t *testing.T) {
	t.Parallel()
	built := registrytest.WriteZarfPackage(t, t.TempDir(), testSpec(registrytest.ZarfTarZst))
	c := newCache(t)
	first := open(t, c, built.Path)
	if err := os.RemoveAll(first.Dir); err != nil {
		t.Fatal(err)
	}
	if p := open(t, c, built.Path); !p.Unpacked || p.Dir != first.Dir {
		t.Errorf("got %+v, want the entry unpacked again", p)
	}
}

// A temporary folder left by a process that died unpacking is removed by the next unpacking.
func TestOpen_staleUnpackingIsRemoved(t *testing.T) {
	t.Parallel()
	built := registrytest.WriteZarfPackage(t, t.TempDir(), testSpec(registrytest.ZarfTarZst))
	c := newCache(t)
	abs, _ := filepath.Abs(built.Path)
	stale := filepath.Join(c.Dir(), tmpDir, archiveID(abs)+"-dead")
	if err := os.MkdirAll(filepath.Join(stale, "images"), 0o755); err != nil {
		t.Fatal(err)
	}
	open(t, c, built.Path)
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("the stale folder is still there (%v)", err)
	}
}

func TestOpen_canceled(t *testing.T) {
	t.Parallel()
	built := registrytest.WriteZarfPackage(t, t.TempDir(), testSpec(registrytest.ZarfTarZst))
	c := newCache(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Open(ctx, built.Path); err != context.Canceled {
		t.Errorf("got %v, want context.Canceled", err)
	}
	wantNothingCached(t, c)
}

func TestOpen_missingArchive(t *testing.T) {
	t.Parallel()
	_, err := newCache(t).Open(context.Background(), filepath.Join(t.TempDir(), "nope.tar.zst"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("got %v, want a not-exist error", err)
	}
}

func TestDefaultDir(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", "/x/cache")
	t.Setenv("HOME", "/x/home")
	dir, err := DefaultDir()
	if err != nil || filepath.Base(dir) != "packages" || !filepath.IsAbs(dir) {
		t.Errorf("DefaultDir() = %q, %v", dir, err)
	}
	c, err := NewCache("")
	if err != nil || c.Dir() != dir {
		t.Errorf("NewCache(\"\") is in %q (%v), want %q", c.Dir(), err, dir)
	}
}
