package registrytest

import (
	"archive/tar"
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"go.yaml.in/yaml/v3"
)

// ZarfFormat is how a generated Zarf package is archived.
type ZarfFormat int

const (
	// ZarfTarZst is Zarf's default: zarf-package-<name>-<arch>-<version>.tar.zst.
	ZarfTarZst ZarfFormat = iota
	// ZarfTar is an uncompressed package (metadata.uncompressed): .tar.
	ZarfTar
	// ZarfSplit is a .tar.zst split as `zarf package create --max-package-size` does:
	// <archive>.part000 describes it, <archive>.part001 … hold its bytes.
	ZarfSplit
)

// ZarfPackageSpec describes a generated Zarf package. The package is real: zarf.yaml,
// checksums.txt with the aggregate checksum, components/<name>.tar, and the images/ OCI image
// layout holding the images' content with index.json entries annotated as Zarf annotates them.
type ZarfPackageSpec struct {
	// Name, Version and Architecture of the package; "test", "1.0.0" and "amd64" when empty.
	Name, Version, Architecture string
	Components                  []ZarfComponentSpec
	Format                      ZarfFormat
	// PartSize is the size of the parts of a ZarfSplit package (default: the archive in three
	// parts).
	PartSize int64
	// V1Beta1 writes zarf.yaml as a zarf.dev/v1beta1 document (build.aggregateChecksum,
	// images as {name}) instead of the v1alpha1 one Zarf writes today.
	V1Beta1 bool
	// Sign, when set, marks the package signed (build.signed) and writes the signatures it
	// returns for zarf.yaml's bytes.
	Sign func(zarfYAML []byte) ZarfSignatures
	// Tamper, when set, changes the package folder after every file (zarf.yaml, checksums.txt,
	// signatures) is written and before it is archived: alter a blob, remove a listed file, add
	// an unlisted one, rewrite zarf.yaml.
	Tamper func(tb testing.TB, dir string)
	// ExtraEntries are appended to the archive as they are, after the package's entries:
	// hostile entries (`..`, links, devices, duplicates) for the reader's tests.
	ExtraEntries []TarEntry
}

// ZarfComponentSpec is a component of a generated package.
type ZarfComponentSpec struct {
	Name   string
	Images []ZarfImageSpec
}

// ZarfImageSpec is an image of a component: the reference zarf.yaml lists and its content,
// an index or a single image. An image listed by two components is stored once.
type ZarfImageSpec struct {
	Ref   string
	Index *IndexSpec
	Image *ImageSpec
}

// ZarfSignatures are the signature files of a signed package; nil ones are not written.
type ZarfSignatures struct {
	// Bundle is zarf.bundle.sig, a Sigstore bundle.
	Bundle []byte
	// CosignBlob is zarf.yaml.sig, the base64 signature `cosign sign-blob` prints.
	CosignBlob []byte
}

// TarEntry is an archive entry written as it is.
type TarEntry struct {
	Header  tar.Header
	Content []byte
}

// ZarfPackage is a generated package archive.
type ZarfPackage struct {
	// Path is what to open: the .tar.zst, the .tar, or the .part000 of a split package.
	Path string
	// Digest is the sha256 of the archive's bytes (of a split package: of its parts').
	Digest v1.Hash
	// Images maps each image reference of zarf.yaml to the descriptor of its content (the
	// index or manifest digest a mirror keeps).
	Images map[string]v1.Descriptor
	// ZarfYAML is zarf.yaml as written.
	ZarfYAML []byte
}

// WriteZarfPackage writes the package spec describes into dir and returns it.
func WriteZarfPackage(tb testing.TB, dir string, spec ZarfPackageSpec) ZarfPackage {
	tb.Helper()
	spec.Name = cmp.Or(spec.Name, "test")
	spec.Version = cmp.Or(spec.Version, "1.0.0")
	spec.Architecture = cmp.Or(spec.Architecture, "amd64")
	pkgDir := tb.TempDir()
	pkg := ZarfPackage{Images: writeZarfImages(tb, filepath.Join(pkgDir, "images"), spec.Components)}
	for _, c := range spec.Components {
		writeFile(tb, filepath.Join(pkgDir, "components", c.Name+".tar"), componentTar(tb, c.Name))
	}
	checksums := zarfChecksums(tb, pkgDir)
	writeFile(tb, filepath.Join(pkgDir, "checksums.txt"), checksums)
	sum := sha256.Sum256(checksums)
	pkg.ZarfYAML = zarfYAML(tb, spec, hex.EncodeToString(sum[:]))
	writeFile(tb, filepath.Join(pkgDir, "zarf.yaml"), pkg.ZarfYAML)
	if spec.Sign != nil {
		sigs := spec.Sign(pkg.ZarfYAML)
		if sigs.Bundle != nil {
			writeFile(tb, filepath.Join(pkgDir, "zarf.bundle.sig"), sigs.Bundle)
		}
		if sigs.CosignBlob != nil {
			writeFile(tb, filepath.Join(pkgDir, "zarf.yaml.sig"), sigs.CosignBlob)
		}
	}
	if spec.Tamper != nil {
		spec.Tamper(tb, pkgDir)
	}

	archive := filepath.Join(dir, fmt.Sprintf("zarf-package-%s-%s-%s.tar", spec.Name, spec.Architecture, spec.Version))
	if spec.Format != ZarfTar {
		archive += ".zst"
	}
	pkg.Path = archive
	pkg.Digest = zarfArchive(tb, pkgDir, archive, spec.ExtraEntries, spec.Format != ZarfTar)
	if spec.Format == ZarfSplit {
		pkg.Path = splitArchive(tb, archive, spec.PartSize)
	}
	return pkg
}

// writeZarfImages writes the images of the components into an OCI image layout at dir, with
// one index.json entry per reference, and returns their descriptors by reference.
func writeZarfImages(tb testing.TB, dir string, components []ZarfComponentSpec) map[string]v1.Descriptor {
	tb.Helper()
	w := &Writer{ctx: tb.Context(), dest: layoutBlobs{dir: dir}, fail: fatal(tb)}
	descs := map[string]v1.Descriptor{}
	index := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{}}
	for _, c := range components {
		for _, img := range c.Images {
			if _, done := descs[img.Ref]; done {
				continue
			}
			var desc v1.Descriptor
			switch {
			case img.Index != nil:
				desc = w.Index("", *img.Index)
			case img.Image != nil:
				desc = w.Image("", *img.Image, "")
			default:
				tb.Fatalf("registrytest: image %q of component %q has no content (Index or Image)", img.Ref, c.Name)
			}
			descs[img.Ref] = desc
			original := zarfImageName(tb, img.Ref)
			desc.Annotations = map[string]string{
				"org.opencontainers.image.base.name": original,
				"org.opencontainers.image.ref.name":  original,
			}
			index.Manifests = append(index.Manifests, desc)
		}
	}
	if len(descs) == 0 {
		return descs // Zarf writes no images/ for a package without images
	}
	raw, err := json.Marshal(index)
	if err != nil {
		tb.Fatalf("registrytest: encoding index.json: %v", err)
	}
	writeFile(tb, filepath.Join(dir, "index.json"), raw)
	writeFile(tb, filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`))
	return descs
}

// zarfImageName is the reference Zarf records in org.opencontainers.image.base.name: the
// normalised reference, Docker Hub written as docker.io.
func zarfImageName(tb testing.TB, ref string) string {
	tb.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		tb.Fatalf("registrytest: image reference %q: %v", ref, err)
	}
	full := r.Name()
	if rest, ok := strings.CutPrefix(full, name.DefaultRegistry+"/"); ok {
		full = "docker.io/" + rest
	}
	return full
}

// layoutBlobs is a Writer's destination that stores content as the files of an OCI image
// layout's blobs/ (index.json is the package's to write, with Zarf's annotations).
type layoutBlobs struct{ dir string }

func (d layoutBlobs) String() string { return d.dir }

func (d layoutBlobs) blob(_ context.Context, l v1.Layer) error {
	digest, err := l.Digest()
	if err != nil {
		return err
	}
	rc, err := l.Compressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	return d.write(digest, rc)
}

func (d layoutBlobs) manifest(_ context.Context, _ string, desc v1.Descriptor, raw []byte) error {
	return d.write(desc.Digest, bytes.NewReader(raw))
}

func (d layoutBlobs) write(digest v1.Hash, r io.Reader) error {
	path := filepath.Join(d.dir, "blobs", digest.Algorithm, digest.Hex)
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return fmt.Errorf("writing blob %s: %w", digest, err)
	}
	return f.Close()
}

// zarfChecksums is checksums.txt for the package folder dir: "<sha256 hex> <path>" per file
// but zarf.yaml and checksums.txt, sorted, newline-terminated (zarf-dev/zarf
// src/pkg/packager/layout/assemble.go, getChecksum).
func zarfChecksums(tb testing.TB, dir string) []byte {
	tb.Helper()
	var lines []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if rel == "zarf.yaml" || rel == "checksums.txt" {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		sum, _, err := v1.SHA256(f)
		if err != nil {
			return err
		}
		lines = append(lines, sum.Hex+" "+rel)
		return nil
	})
	if err != nil {
		tb.Fatalf("registrytest: checksums of %s: %v", dir, err)
	}
	slices.Sort(lines)
	return []byte(strings.Join(lines, "\n") + "\n")
}

// zarfYAML is the zarf.yaml of spec with the aggregate checksum of its checksums.txt.
func zarfYAML(tb testing.TB, spec ZarfPackageSpec, aggregate string) []byte {
	tb.Helper()
	signed := spec.Sign != nil
	build := map[string]any{
		"terminal": "registrytest", "user": "registrytest", "architecture": spec.Architecture,
		"timestamp": zarfEpoch.Format(time.RFC1123Z), "version": "v0.72.0", "signed": signed,
	}
	if signed {
		build["provenanceFiles"] = []string{"zarf.bundle.sig"}
	}
	metadata := map[string]any{"name": spec.Name, "version": spec.Version, "architecture": spec.Architecture}
	if spec.Format == ZarfTar {
		metadata["uncompressed"] = true
	}
	components := []map[string]any{}
	for _, c := range spec.Components {
		comp := map[string]any{"name": c.Name}
		if !spec.V1Beta1 {
			comp["required"] = true // v1beta1 components are required unless optional
		}
		var images []any
		for _, img := range c.Images {
			if spec.V1Beta1 {
				images = append(images, map[string]string{"name": img.Ref})
			} else {
				images = append(images, img.Ref)
			}
		}
		if images != nil {
			comp["images"] = images
		}
		components = append(components, comp)
	}
	doc := map[string]any{"kind": "ZarfPackageConfig", "metadata": metadata, "build": build, "components": components}
	if spec.V1Beta1 {
		doc["apiVersion"] = "zarf.dev/v1beta1"
		build["aggregateChecksum"] = aggregate
	} else {
		metadata["aggregateChecksum"] = aggregate
	}
	raw, err := yaml.Marshal(doc)
	if err != nil {
		tb.Fatalf("registrytest: encoding zarf.yaml: %v", err)
	}
	return raw
}

// zarfEpoch is the time the generated packages are built at, so that they are reproducible.
var zarfEpoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
