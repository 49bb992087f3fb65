// Package zarfpackage reads Zarf package archives: it opens a package (`.tar.zst`, `.tar`, or
// the `.part000` of a split package), unpacks what the mirror needs (the images/ OCI layout and
// the package metadata) once per archive digest into a cache directory, and verifies it
// before anything in it is used.
//
// The format is Zarf's own, as its sources define it (zarf-dev/zarf):
//
//   - src/pkg/packager/layout/layout.go: the file names of a package (zarf.yaml, checksums.txt,
//     zarf.yaml.sig, zarf.bundle.sig, images/ with index.json and oci-layout).
//   - src/pkg/archive/archive.go: a package is a tar archive, zstd-compressed (.tar.zst) unless
//     metadata.uncompressed (.tar), whose entries are the package folder's files and folders,
//     named relative to it and sorted by name.
//   - src/internal/split/split.go: a split package is <archive>.part000, a JSON document
//     {"Sha256Sum", "Bytes", "Count"} about the whole archive, then the archive's bytes cut into
//     <archive>.part001 … .part<Count>.
//   - src/pkg/packager/layout/assemble.go (getChecksum): checksums.txt has one line
//     "<sha256 hex> <path relative to the package folder>" per file, sorted, each line ended by
//     a newline, for every file but zarf.yaml and checksums.txt (the signatures are written
//     after it); zarf.yaml's aggregate checksum is the sha256 of checksums.txt.
//   - src/pkg/packager/layout/package.go (validatePackageIntegrity, IsSigned,
//     VerifyPackageSignature): the aggregate checksum and every listed file must match, every
//     listed file must exist, and no other file may exist but zarf.yaml, checksums.txt, the
//     two signature files and, in a signed package, build.provenanceFiles. A package is signed
//     when build.signed says so, or, without build.signed, when zarf.yaml.sig exists; the
//     Sigstore bundle (zarf.bundle.sig, which newer Zarf versions write instead) is preferred to
//     the legacy cosign sign-blob signature (zarf.yaml.sig, base64). Both sign zarf.yaml's bytes;
//     they are verified with internal/verify, which also verifies images.
//   - src/internal/pkgcfg/pkgcfg.go (ParseMultiDoc): zarf.yaml may hold one YAML document per
//     apiVersion; the reader takes the v1alpha1 one (apiVersion empty or zarf.dev/v1alpha1).
//   - src/api/v1alpha1/package.go and component.go: kind, metadata (name, version,
//     architecture, aggregateChecksum), build (architecture, signed, provenanceFiles),
//     components[].name, components[].images (strings) and components[].imageArchives[].images.
//   - src/api/v1beta1/package.go and component.go: the same, with build.aggregateChecksum and
//     components[].images[].name; read when a zarf.yaml has no v1alpha1 document.
//   - src/internal/packager/images/pull.go: images/index.json lists one entry per image, annotated
//     with its original reference (org.opencontainers.image.base.name, Docker Hub written as
//     docker.io/...).
//
// What the reader adds to Zarf's own checks, because it reads archives it did not write: every
// entry is checked before anything is written (no absolute or `..` names, no links, devices or
// other special files, no entry twice), the decompressed size and the number of entries are
// limited, the archive is never unpacked in place but into a temporary folder of the cache
// that becomes the cache entry by one rename once every check passed, and the files that the
// mirror does not need (components/, sboms.tar, ...) are hashed as they stream past and not
// written at all.
//
// Scheme and Store (scheme.go, store.go) make a package's images a read-only store of the engine:
// a reference zarf-package://<archive>:<original image reference> opens the archive through the
// cache on first read, and serves the cache entry's images/ OCI image layout with layout.Store.
package zarfpackage
