package zarfpackage

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
)

// The files of a package that the reader knows by name (zarf-dev/zarf
// src/pkg/packager/layout/layout.go).
const (
	fileZarfYAML        = "zarf.yaml"
	fileChecksums       = "checksums.txt"
	fileLegacySignature = "zarf.yaml.sig"
	fileBundleSignature = "zarf.bundle.sig"
	dirImages           = "images"
)

// metadataFiles are the files checksums.txt never lists: zarf.yaml (the root of trust, which
// states checksums.txt's own checksum), checksums.txt, and the signatures written after it.
// They are small; the reader keeps them in memory and in the cache entry.
var metadataFiles = []string{fileZarfYAML, fileChecksums, fileLegacySignature, fileBundleSignature}

// parseChecksums reads checksums.txt: one "<sha256 hex> <path>" per line (zarf-dev/zarf
// src/pkg/packager/layout/assemble.go, getChecksum). It returns path → hex digest.
func parseChecksums(raw []byte) (map[string]string, error) {
	sums := map[string]string{}
	for i, line := range strings.Split(string(raw), "\n") {
		if line == "" {
			continue // the last line's newline, or a package without files
		}
		sum, name, ok := strings.Cut(line, " ")
		if !ok || !isSHA256Hex(sum) || name == "" || strings.Contains(name, " ") {
			return nil, fmt.Errorf("line %d is not \"<sha256 hex> <path>\": %q", i+1, line)
		}
		if clean := path.Clean(name); clean != name || path.IsAbs(name) || strings.HasPrefix(name, "../") || name == ".." {
			return nil, fmt.Errorf("line %d names %q, which is no path inside a package", i+1, name)
		}
		if _, dup := sums[name]; dup {
			return nil, fmt.Errorf("line %d lists %q a second time", i+1, name)
		}
		sums[name] = sum
	}
	return sums, nil
}

func isSHA256Hex(s string) bool {
	if len(s) != sha256.Size*2 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil && strings.ToLower(s) == s
}

// checkIntegrity checks an unpacked package as Zarf does before it uses one (zarf-dev/zarf
// src/pkg/packager/layout/package.go, validatePackageIntegrity): checksums.txt matches
// zarf.yaml's aggregate checksum, every file it lists is present with that checksum, and
// every other file is one checksums.txt never lists. files holds the sha256 (hex) of every
// file of the archive, those that were not extracted included.
func checkIntegrity(archive string, cfg Config, signed bool, checksums []byte, files map[string]string) error {
	refuse := func(entry, format string, args ...any) error {
		return &RefusedError{Archive: archive, Problem: ProblemIntegrity, Entry: entry, Detail: fmt.Sprintf(format, args...)}
	}
	if checksums == nil {
		return refuse(fileChecksums, "missing: every Zarf package has one")
	}
	if cfg.AggregateChecksum == "" {
		return refuse(fileZarfYAML, "states no aggregate checksum (metadata.aggregateChecksum) of checksums.txt")
	}
	if got := sha256Hex(checksums); got != cfg.AggregateChecksum {
		return refuse(fileChecksums, "its sha256 is %s, zarf.yaml's aggregate checksum says %s", got, cfg.AggregateChecksum)
	}
	sums, err := parseChecksums(checksums)
	if err != nil {
		return refuse(fileChecksums, "%v", err)
	}
	for _, name := range slices.Sorted(maps.Keys(sums)) {
		got, ok := files[name]
		if !ok {
			return refuse(name, "listed in checksums.txt but missing from the archive")
		}
		if got != sums[name] {
			return refuse(name, "its sha256 is %s, checksums.txt says %s", got, sums[name])
		}
	}
	exempt := slices.Clone(metadataFiles)
	if signed {
		exempt = append(exempt, cfg.ProvenanceFiles...)
	}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		if _, listed := sums[name]; !listed && !slices.Contains(exempt, name) {
			return refuse(name, "in the archive but not listed in checksums.txt")
		}
	}
	return nil
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
