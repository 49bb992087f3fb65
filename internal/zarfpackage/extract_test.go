package zarfpackage

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/zarf-dev/terraform-provider-zarf/internal/registrytest"
)

func file(name, content string) registrytest.TarEntry {
	return registrytest.TarEntry{
		Header:  tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(content))},
		Content: []byte(content),
	}
}

func special(typeflag byte, name, link string) registrytest.TarEntry {
	return registrytest.TarEntry{Header: tar.Header{Typeflag: typeflag, Name: name, Linkname: link, Mode: 0o644}}
}

// Archives built to write outside the cache entry, or to exhaust the disk, are refused with
// nothing written anywhere: no cache entry, no unpacking left, no file outside.
func TestOpen_refusesHostileArchives(t *testing.T) {
	t.Parallel()
	outside := t.TempDir() // where an absolute entry would land
	bigSig := strings.Repeat("A", maxMetadataBytes+1)
	for _, tc := range []struct {
		name    string
		entries []registrytest.TarEntry
		limits  Limits
		problem Problem
		says    []string
	}{
		{name: "parent folder", entries: []registrytest.TarEntry{file("../evil", "x")},
			problem: ProblemHostileEntry, says: []string{`"../evil"`, "outside the package folder"}},
		{name: "parent folder inside images", entries: []registrytest.TarEntry{file("images/../../evil", "x")},
			problem: ProblemHostileEntry, says: []string{"`..`"}},
		{name: "absolute name", entries: []registrytest.TarEntry{file(filepath.Join(outside, "evil"), "x")},
			problem: ProblemHostileEntry, says: []string{"absolute"}},
		{name: "symbolic link leaving", entries: []registrytest.TarEntry{special(tar.TypeSymlink, "images/evil", "../../../../evil")},
			problem: ProblemHostileEntry, says: []string{"leaving the package folder", "no links"}},
		{name: "symbolic link inside", entries: []registrytest.TarEntry{special(tar.TypeSymlink, "images/alias", "blobs")},
			problem: ProblemHostileEntry, says: []string{"inside the package folder", "no links"}},
		{name: "hard link leaving", entries: []registrytest.TarEntry{special(tar.TypeLink, "images/evil", "../evil")},
			problem: ProblemHostileEntry, says: []string{"leaving the package folder"}},
		{name: "device", entries: []registrytest.TarEntry{special(tar.TypeChar, "images/evil", "")},
			problem: ProblemHostileEntry, says: []string{"device"}},
		{name: "pipe", entries: []registrytest.TarEntry{special(tar.TypeFifo, "images/evil", "")},
			problem: ProblemHostileEntry, says: []string{"pipe"}},
		{name: "duplicate", entries: []registrytest.TarEntry{file("zarf.yaml", "kind: ZarfPackageConfig\n")},
			problem: ProblemHostileEntry, says: []string{`"zarf.yaml"`, "second entry"}},
		{name: "duplicate with ./", entries: []registrytest.TarEntry{file("./checksums.txt", "")},
			problem: ProblemHostileEntry, says: []string{"second entry"}},
		{name: "file inside a file", entries: []registrytest.TarEntry{file("images/oci-layout/evil", "x")},
			problem: ProblemHostileEntry, says: []string{"made a file"}},
		{name: "other entry type", entries: []registrytest.TarEntry{special(tar.TypeCont, "images/evil", "")},
			problem: ProblemHostileEntry, says: []string{"tar type"}},
		{name: "metadata file too large", entries: []registrytest.TarEntry{file("zarf.yaml.sig", bigSig)},
			problem: ProblemTooLarge, says: []string{"zarf.yaml.sig"}},
		{name: "too many entries", limits: Limits{MaxBytes: DefaultLimits.MaxBytes, MaxEntries: 5},
			problem: ProblemTooLarge, says: []string{"more than 5 entries"}},
		{name: "too many bytes", limits: Limits{MaxBytes: 16 << 10, MaxEntries: DefaultLimits.MaxEntries},
			problem: ProblemTooLarge, says: []string{"more than 16384 bytes", "decompression bomb"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			spec := testSpec(registrytest.ZarfTarZst)
			spec.ExtraEntries = tc.entries
			built := registrytest.WriteZarfPackage(t, t.TempDir(), spec)
			work := t.TempDir()
			limits := DefaultLimits
			if tc.limits != (Limits{}) {
				limits = tc.limits
			}
			c, err := NewCache(filepath.Join(work, "a", "b", "cache"), WithLimits(limits))
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Open(context.Background(), built.Path)
			wantRefused(t, err, tc.problem, append(tc.says, built.Path)...)
			wantNothingCached(t, c)
			for _, root := range []string{work, outside} {
				wantNoFile(t, root, "evil")
			}
		})
	}
}

// wantNoFile checks that no file of that name is anywhere under root.
func wantNoFile(t *testing.T, root, name string) {
	t.Helper()
	_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.Name() == name {
			t.Errorf("%s was written", path)
		}
		return nil
	})
}

// A package whose files do not match checksums.txt, or checksums.txt zarf.yaml, is refused,
// as Zarf refuses it.
func TestOpen_refusesAlteredPackages(t *testing.T) {
	t.Parallel()
	rewrite := func(rel string, change func([]byte) []byte) func(testing.TB, string) {
		return func(tb testing.TB, dir string) {
			path := filepath.Join(dir, rel)
			raw, err := os.ReadFile(path)
			if err != nil {
				tb.Fatal(err)
			}
			if err := os.WriteFile(path, change(raw), 0o644); err != nil {
				tb.Fatal(err)
			}
		}
	}
	remove := func(rel string) func(testing.TB, string) {
		return func(tb testing.TB, dir string) {
			if err := os.Remove(filepath.Join(dir, rel)); err != nil {
				tb.Fatal(err)
			}
		}
	}
	for _, tc := range []struct {
		name    string
		tamper  func(testing.TB, string)
		problem Problem
		says    []string
	}{
		{name: "blob altered", tamper: func(tb testing.TB, dir string) {
			blobs, _ := filepath.Glob(filepath.Join(dir, "images", "blobs", "sha256", "*"))
			for _, b := range blobs {
				if fi, _ := os.Stat(b); fi.Size() == 3000 { // the single image's layer
					rewrite(strings.TrimPrefix(b, dir+"/"), func(raw []byte) []byte { raw[0] ^= 1; return raw })(tb, dir)
				}
			}
		}, problem: ProblemIntegrity, says: []string{"images/blobs/sha256/", "checksums.txt says"}},
		{name: "listed file missing", tamper: remove("components/web.tar"),
			problem: ProblemIntegrity, says: []string{`"components/web.tar"`, "listed in checksums.txt but missing"}},
		{name: "file not listed", tamper: func(tb testing.TB, dir string) {
			if err := os.WriteFile(filepath.Join(dir, "images", "extra"), []byte("x"), 0o644); err != nil {
				tb.Fatal(err)
			}
		}, problem: ProblemIntegrity, says: []string{`"images/extra"`, "not listed in checksums.txt"}},
		{name: "checksums.txt altered", tamper: rewrite("checksums.txt", func(raw []byte) []byte {
			return append(raw, []byte(strings.Repeat("0", 64)+" images/extra\n")...)
		}), problem: ProblemIntegrity, says: []string{`"checksums.txt"`, "aggregate checksum"}},
		{name: "checksums.txt missing", tamper: remove("checksums.txt"),
			problem: ProblemIntegrity, says: []string{`"checksums.txt"`, "missing"}},
		{name: "no aggregate checksum", tamper: rewrite("zarf.yaml", func(raw []byte) []byte {
			return bytes.Replace(raw, []byte("aggregateChecksum:"), []byte("otherChecksum:"), 1)
		}), problem: ProblemIntegrity, says: []string{"no aggregate checksum"}},
		{name: "zarf.yaml missing", tamper: remove("zarf.yaml"),
			problem: ProblemNotAPackage, says: []string{`"zarf.yaml"`, "missing"}},
		{name: "another kind", tamper: rewrite("zarf.yaml", func(raw []byte) []byte {
			return bytes.Replace(raw, []byte("kind: ZarfPackageConfig"), []byte("kind: ZarfInitConfig"), 1)
		}), problem: ProblemNotAPackage, says: []string{`"ZarfInitConfig"`}},
		{name: "zarf.yaml not YAML", tamper: rewrite("zarf.yaml", func([]byte) []byte { return []byte("kind: [") }),
			problem: ProblemNotAPackage, says: []string{"not valid YAML"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			spec := testSpec(registrytest.ZarfTarZst)
			spec.Tamper = tc.tamper
			built := registrytest.WriteZarfPackage(t, t.TempDir(), spec)
			c := newCache(t)
			_, err := c.Open(context.Background(), built.Path)
			wantRefused(t, err, tc.problem, tc.says...)
			wantNothingCached(t, c)
		})
	}
}

// Archives that are not what they claim are refused: damaged compression, no tar at all, and
// split packages with a part missing, one too many or other bytes than their .part000 says.
func TestOpen_refusesBrokenArchives(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		format  registrytest.ZarfFormat
		break_  func(t *testing.T, built registrytest.ZarfPackage) string // returns the path to open
		problem Problem
		says    []string
	}{
		{name: "not an archive", break_: func(t *testing.T, _ registrytest.ZarfPackage) string {
			path := filepath.Join(t.TempDir(), "notes.tar.zst")
			writeTestFile(t, path, bytes.Repeat([]byte("not a tar "), 200))
			return path
		}, problem: ProblemNotAPackage, says: []string{"not a tar archive"}},
		{name: "corrupt compression", break_: func(t *testing.T, built registrytest.ZarfPackage) string {
			raw, _ := os.ReadFile(built.Path)
			for i := len(raw) / 2; i < len(raw)/2+64; i++ {
				raw[i] ^= 0xff
			}
			writeTestFile(t, built.Path, raw)
			return built.Path
		}, problem: ProblemIntegrity},
		{name: "cut short", format: registrytest.ZarfTar, break_: func(t *testing.T, built registrytest.ZarfPackage) string {
			raw, _ := os.ReadFile(built.Path)
			writeTestFile(t, built.Path, raw[:len(raw)/2])
			return built.Path
		}, problem: ProblemNotAPackage, says: []string{"cut short"}},
		{name: "split part missing", format: registrytest.ZarfSplit, break_: func(t *testing.T, built registrytest.ZarfPackage) string {
			if err := os.Remove(strings.TrimSuffix(built.Path, "000") + "002"); err != nil {
				t.Fatal(err)
			}
			return built.Path
		}, problem: ProblemIntegrity, says: []string{"part 2 of 3 is missing"}},
		{name: "split part too many", format: registrytest.ZarfSplit, break_: func(t *testing.T, built registrytest.ZarfPackage) string {
			writeTestFile(t, strings.TrimSuffix(built.Path, "000")+"004", []byte("x"))
			return built.Path
		}, problem: ProblemIntegrity, says: []string{"this part 4 exists too"}},
		{name: "split parts altered", format: registrytest.ZarfSplit, break_: func(t *testing.T, built registrytest.ZarfPackage) string {
			writeTestFile(t, built.Path, []byte(`{"Sha256Sum":"`+strings.Repeat("0", 64)+`","Bytes":1,"Count":3}`))
			return built.Path
		}, problem: ProblemIntegrity, says: []string{"its .part000 says 1 bytes"}},
		{name: "split part000 not JSON", format: registrytest.ZarfSplit, break_: func(t *testing.T, built registrytest.ZarfPackage) string {
			writeTestFile(t, built.Path, []byte(`garbage`))
			return built.Path
		}, problem: ProblemNotAPackage, says: []string{"not the description of a split Zarf package"}},
		{name: "a data part given", format: registrytest.ZarfSplit, break_: func(_ *testing.T, built registrytest.ZarfPackage) string {
			return strings.TrimSuffix(built.Path, "000") + "001"
		}, problem: ProblemNotAPackage, says: []string{"give the path of its .part000"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			built := registrytest.WriteZarfPackage(t, t.TempDir(), testSpec(tc.format))
			path := tc.break_(t, built)
			c := newCache(t)
			_, err := c.Open(context.Background(), path)
			wantRefused(t, err, tc.problem, tc.says...)
			wantNothingCached(t, c)
		})
	}
}

func writeTestFile(t *testing.T, path string, content []byte) {
	t.Helper()
	if err := os.WriteFile(path, content, 0o644); err != nil {
		t.Fatal(err)
	}
}

// What follows the end of the tar stream is decompressed (it is part of the archive's digest)
// and counts toward the limit too.
func TestOpen_trailingDataCountsTowardTheLimit(t *testing.T) {
	t.Parallel()
	built := registrytest.WriteZarfPackage(t, t.TempDir(), testSpec(registrytest.ZarfTarZst))
	raw, err := os.ReadFile(built.Path)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := zstd.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	tarSize, err := io.Copy(io.Discard, dec)
	dec.Close()
	if err != nil {
		t.Fatal(err)
	}
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	trailer := enc.EncodeAll(make([]byte, 1<<20), nil) // a second frame: 1 MiB of zeros
	writeTestFile(t, built.Path, append(raw, trailer...))

	c := newCache(t, WithLimits(Limits{MaxBytes: tarSize + 4096, MaxEntries: DefaultLimits.MaxEntries}))
	_, err = c.Open(context.Background(), built.Path)
	wantRefused(t, err, ProblemTooLarge, "it unpacks to more than")
	wantNothingCached(t, c)
}
