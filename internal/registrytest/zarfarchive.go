package registrytest

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/klauspost/compress/zstd"
)

// How generated Zarf packages are archived: the tarballs of the package folder and of its
// components, and split packages.

// componentTar is a component's tarball as Zarf writes it for a component without files or
// charts: the component's folder.
func componentTar(tb testing.TB, component string) []byte {
	tb.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: component + "/", Mode: 0o755, ModTime: zarfEpoch}); err != nil {
		tb.Fatalf("registrytest: %v", err)
	}
	if err := tw.Close(); err != nil {
		tb.Fatalf("registrytest: %v", err)
	}
	return buf.Bytes()
}

// zarfArchive archives the package folder dir into archive as Zarf does (zarf-dev/zarf
// src/pkg/archive/archive.go): its files and folders, named relative to it and sorted, then
// extra as they are; zstd-compressed when compress. It returns the archive's digest.
func zarfArchive(tb testing.TB, dir, archive string, extra []TarEntry, compress bool) v1.Hash {
	tb.Helper()
	if err := os.MkdirAll(filepath.Dir(archive), 0o755); err != nil {
		tb.Fatalf("registrytest: %v", err)
	}
	out, err := os.Create(archive)
	if err != nil {
		tb.Fatalf("registrytest: %v", err)
	}
	defer out.Close()
	digest := sha256.New()
	w := io.MultiWriter(out, digest)
	var enc *zstd.Encoder
	if compress {
		if enc, err = zstd.NewWriter(w); err != nil {
			tb.Fatalf("registrytest: %v", err)
		}
		w = enc
	}
	tw := tar.NewWriter(w)
	var names []string
	err = filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
		if err == nil && path != dir {
			names = append(names, path)
		}
		return err
	})
	if err != nil {
		tb.Fatalf("registrytest: listing %s: %v", dir, err)
	}
	slices.Sort(names)
	for _, path := range names {
		archiveFile(tb, tw, dir, path)
	}
	for _, e := range extra {
		if err := tw.WriteHeader(&e.Header); err != nil {
			tb.Fatalf("registrytest: extra entry %q: %v", e.Header.Name, err)
		}
		if _, err := tw.Write(e.Content); err != nil {
			tb.Fatalf("registrytest: extra entry %q: %v", e.Header.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		tb.Fatalf("registrytest: %v", err)
	}
	if enc != nil {
		if err := enc.Close(); err != nil {
			tb.Fatalf("registrytest: %v", err)
		}
	}
	if err := out.Close(); err != nil {
		tb.Fatalf("registrytest: %v", err)
	}
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(digest.Sum(nil))}
}

// archiveFile writes the file or folder path of the package folder dir to tw.
func archiveFile(tb testing.TB, tw *tar.Writer, dir, path string) {
	tb.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		tb.Fatalf("registrytest: %v", err)
	}
	rel, _ := filepath.Rel(dir, path)
	hdr := &tar.Header{Name: filepath.ToSlash(rel), Mode: 0o644, ModTime: zarfEpoch, Typeflag: tar.TypeReg, Size: fi.Size()}
	if fi.IsDir() {
		hdr.Name, hdr.Mode, hdr.Typeflag, hdr.Size = hdr.Name+"/", 0o755, tar.TypeDir, 0
	}
	if err := tw.WriteHeader(hdr); err != nil {
		tb.Fatalf("registrytest: %v", err)
	}
	if fi.IsDir() {
		return
	}
	f, err := os.Open(path)
	if err != nil {
		tb.Fatalf("registrytest: %v", err)
	}
	defer f.Close()
	if _, err := io.Copy(tw, f); err != nil {
		tb.Fatalf("registrytest: archiving %s: %v", path, err)
	}
}

// splitArchive splits archive into the parts of a split package and removes it, as
// zarf-dev/zarf src/internal/split/split.go does, and returns the path of its .part000.
func splitArchive(tb testing.TB, archive string, partSize int64) string {
	tb.Helper()
	f, err := os.Open(archive)
	if err != nil {
		tb.Fatalf("registrytest: %v", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		tb.Fatalf("registrytest: %v", err)
	}
	if partSize <= 0 {
		partSize = max(1, (fi.Size()+2)/3)
	}
	digest := sha256.New()
	count := 0
	for off := int64(0); off < fi.Size(); off += partSize {
		count++
		part, err := os.Create(fmt.Sprintf("%s.part%03d", archive, count))
		if err != nil {
			tb.Fatalf("registrytest: %v", err)
		}
		_, err = io.CopyN(io.MultiWriter(part, digest), f, min(partSize, fi.Size()-off))
		if cerr := part.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			tb.Fatalf("registrytest: splitting %s: %v", archive, err)
		}
	}
	meta, err := json.Marshal(struct {
		Sha256Sum string
		Bytes     int64
		Count     int
	}{hex.EncodeToString(digest.Sum(nil)), fi.Size(), count})
	if err != nil {
		tb.Fatalf("registrytest: %v", err)
	}
	f.Close()
	if err := os.Remove(archive); err != nil {
		tb.Fatalf("registrytest: %v", err)
	}
	part0 := archive + ".part000"
	writeFile(tb, part0, meta)
	return part0
}

func writeFile(tb testing.TB, path string, content []byte) {
	tb.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		tb.Fatalf("registrytest: %v", err)
	}
	if err := os.WriteFile(path, content, 0o644); err != nil {
		tb.Fatalf("registrytest: %v", err)
	}
}
