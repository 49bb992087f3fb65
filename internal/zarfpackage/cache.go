package zarfpackage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/zarf-dev/terraform-provider-zarf/internal/filelock"
	"github.com/zarf-dev/terraform-provider-zarf/internal/verify"
)

// The folders of a cache directory.
const (
	entriesDir  = "entries"  // sha256-<archive digest>/: an unpacked, verified package
	archivesDir = "archives" // <archive ID>.json: the digest of the archive at a path, and its files' identity
	locksDir    = "locks"    // <archive ID>.lock: held while the archive at a path is unpacked
	tmpDir      = "tmp"      // <archive ID>-*: unpacking in progress; renamed into entries/ when verified
)

// Cache unpacks Zarf packages into a directory, once per archive digest, for every caller of
// the process and for other processes sharing the directory.
//
// An entry is unpacked into a temporary folder of the cache, verified, then renamed into
// place: an entry that exists is complete and verified. Unpacking the archive at one path is
// locked (a file lock), so concurrent opens of one package wait for one unpacking instead of
// doing it again. The digest of the archive at a path is remembered with the identity of its
// files (size, modification and change time, inode), so opening an unchanged archive reads
// nothing of it, while a new archive at the same path is noticed and read.
type Cache struct {
	dir    string
	limits Limits
}

// Option configures a Cache.
type Option func(*Cache)

// WithLimits bounds what an archive may unpack to (default DefaultLimits).
func WithLimits(l Limits) Option { return func(c *Cache) { c.limits = l } }

// NewCache returns the cache in dir, or in DefaultDir when dir is empty. It creates nothing
// until a package is opened.
func NewCache(dir string, opts ...Option) (*Cache, error) {
	if dir == "" {
		var err error
		if dir, err = DefaultDir(); err != nil {
			return nil, err
		}
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("cache directory %s: %w", dir, err)
	}
	c := &Cache{dir: abs, limits: DefaultLimits}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// DefaultDir is the cache directory used when none is given: terraform-provider-zarf/packages
// under the user's cache directory ($XDG_CACHE_HOME or ~/.cache on Linux, ~/Library/Caches on
// macOS, %LocalAppData% on Windows).
func DefaultDir() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no default cache directory for Zarf packages (%w): set one", err)
	}
	return filepath.Join(base, "terraform-provider-zarf", "packages"), nil
}

// Dir is the cache directory.
func (c *Cache) Dir() string { return c.dir }

// Package is an opened Zarf package: its archive's digest and its verified cache entry.
type Package struct {
	// Archive is the path of the archive as it was given.
	Archive string
	// Digest is the sha256 of the archive's bytes (of a split package: of its parts' bytes in
	// order, the whole archive's). A new package at the same path has another.
	Digest v1.Hash
	// Dir is the cache entry: zarf.yaml, checksums.txt, the signature files the package has,
	// and the images/ OCI layout.
	Dir string
	// Config is what zarf.yaml says.
	Config Config
	// Unpacked says whether this open unpacked the archive; false when it found it in the cache.
	Unpacked bool
}

// ImagesDir is the OCI image layout of the package's images (index.json, blobs/sha256/…).
func (p *Package) ImagesDir() string { return filepath.Join(p.Dir, dirImages) }

// OpenOption configures one Open.
type OpenOption func(*openOptions)

type openOptions struct {
	key *verify.PublicKey
}

// WithPublicKey requires the package to be signed with key: its signature is verified before
// anything else of it is trusted, and before Open returns it.
func WithPublicKey(key *verify.PublicKey) OpenOption {
	return func(o *openOptions) { o.key = key }
}

// Open returns the package whose archive is at archive (a .tar.zst, a .tar, or the .part000 of
// a split package), unpacking and verifying it first unless the cache has it. Errors about the
// archive are *RefusedError; nothing of a refused archive stays in the cache.
func (c *Cache) Open(ctx context.Context, archive string, opts ...OpenOption) (*Package, error) {
	var o openOptions
	for _, opt := range opts {
		opt(&o)
	}
	src, err := openSource(archive)
	if err != nil {
		return nil, err
	}
	id := archiveID(src.abs)
	p, err := c.remembered(id, src)
	switch {
	case err != nil:
		return nil, err
	case p == nil:
		// Unpacking verifies the signature before anything else.
		p, err = c.unpackLocked(ctx, id, src, o.key)
	case o.key != nil:
		err = verifySignature(archive, p.Dir, p.Config, o.key)
	}
	if err != nil {
		return nil, err
	}
	p.Archive = archive
	return p, nil
}

// unpackLocked unpacks the archive under the lock of its path, unless another caller did while
// this one waited for the lock.
func (c *Cache) unpackLocked(ctx context.Context, id string, src *source, publicKey *verify.PublicKey) (*Package, error) {
	for _, d := range []string{entriesDir, archivesDir, locksDir, tmpDir} {
		if err := os.MkdirAll(filepath.Join(c.dir, d), 0o755); err != nil {
			return nil, fmt.Errorf("cache directory for Zarf packages: %w", err)
		}
	}
	release, err := filelock.Lock(filepath.Join(c.dir, locksDir, id+".lock"), true)
	if err != nil {
		return nil, fmt.Errorf("locking the cache of Zarf packages: %w", err)
	}
	defer release()
	if p, err := c.remembered(id, src); p != nil || err != nil {
		if p != nil && publicKey != nil {
			err = verifySignature(src.display, p.Dir, p.Config, publicKey)
		}
		return p, err
	}
	// Whoever held the lock before and left a temporary folder died unpacking.
	stale, _ := filepath.Glob(filepath.Join(c.dir, tmpDir, id+"-*"))
	for _, s := range stale {
		_ = os.RemoveAll(s)
	}
	return c.unpack(ctx, id, src, publicKey)
}

// unpack reads the whole archive: it unpacks it into a temporary folder, verifies it, and
// renames the folder into the cache.
func (c *Cache) unpack(ctx context.Context, id string, src *source, publicKey *verify.PublicKey) (p *Package, err error) {
	before, err := src.identity()
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(filepath.Join(c.dir, tmpDir), id+"-")
	if err != nil {
		return nil, fmt.Errorf("cache directory for Zarf packages: %w", err)
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(tmp)
		}
	}()
	digest, found, err := c.extract(ctx, src, tmp)
	if err != nil {
		return nil, err
	}
	after, err := src.identity()
	if err != nil {
		return nil, err
	}
	if !slices.Equal(before, after) {
		return nil, fmt.Errorf("the Zarf package %s changed while it was read: plan again once it is written", src.display)
	}
	cfg, err := checkPackage(src.display, tmp, found, publicKey)
	if err != nil {
		return nil, err
	}
	entry := c.entryDir(digest)
	if err := os.Rename(tmp, entry); err != nil {
		if _, statErr := os.Stat(entry); statErr != nil {
			return nil, fmt.Errorf("cache directory for Zarf packages: %w", err)
		}
		// The same archive at another path was unpacked meanwhile: use that entry.
		_ = os.RemoveAll(tmp)
	}
	if err := c.remember(id, src.abs, after, digest); err != nil {
		return nil, err
	}
	return &Package{Digest: digest, Dir: entry, Config: cfg, Unpacked: true}, nil
}

// extract streams the archive into dir and returns its digest and what it holds.
func (c *Cache) extract(ctx context.Context, src *source, dir string) (v1.Hash, *unpacked, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return v1.Hash{}, nil, err
	}
	defer root.Close()
	stream, err := src.open(ctx, c.limits.MaxBytes)
	if err != nil {
		return v1.Hash{}, nil, err
	}
	defer stream.Close()
	found, err := unpackEntries(src.display, stream.tar, root, c.limits.MaxEntries)
	if err != nil {
		return v1.Hash{}, nil, err
	}
	hexDigest, err := stream.finish()
	if err != nil {
		return v1.Hash{}, nil, err
	}
	return v1.Hash{Algorithm: "sha256", Hex: hexDigest}, found, nil
}

// checkPackage checks what an archive held before it is trusted: a zarf.yaml of a Zarf
// package, its signature when a public key is given, and the files checksums.txt and
// zarf.yaml's aggregate checksum vouch for.
func checkPackage(archive, dir string, found *unpacked, publicKey *verify.PublicKey) (Config, error) {
	raw, ok := found.meta[fileZarfYAML]
	if !ok {
		return Config{}, &RefusedError{Archive: archive, Problem: ProblemNotAPackage, Entry: fileZarfYAML, Detail: "missing: every Zarf package has one"}
	}
	cfg, err := ParseConfig(raw)
	if err != nil {
		return Config{}, &RefusedError{Archive: archive, Problem: ProblemNotAPackage, Entry: fileZarfYAML, Detail: "not a Zarf package definition", Err: err}
	}
	if publicKey != nil {
		if err := verifySignature(archive, dir, cfg, publicKey); err != nil {
			return Config{}, err
		}
	}
	if err := checkIntegrity(archive, cfg, isSigned(cfg, dir), found.meta[fileChecksums], found.sums); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

func (c *Cache) entryDir(digest v1.Hash) string {
	return filepath.Join(c.dir, entriesDir, digest.Algorithm+"-"+digest.Hex)
}

// archiveID names the files the cache keeps about the archive at an absolute path.
func archiveID(abs string) string {
	sum := sha256.Sum256([]byte(abs))
	return hex.EncodeToString(sum[:16])
}

// memo is what the cache remembers of the archive at a path.
type memo struct {
	Archive string         `json:"archive"`
	Files   []fileIdentity `json:"files"`
	Digest  string         `json:"digest"`
}

// remembered returns the package at src when the cache remembers the digest of its archive,
// its files have not changed since, and the entry of that digest exists; else nil.
func (c *Cache) remembered(id string, src *source) (*Package, error) {
	raw, err := os.ReadFile(filepath.Join(c.dir, archivesDir, id+".json"))
	if err != nil {
		return nil, nil //nolint:nilerr // nothing remembered: the archive is read
	}
	var m memo
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, nil //nolint:nilerr // a damaged memo: the archive is read again
	}
	digest, err := v1.NewHash(m.Digest)
	if err != nil {
		return nil, nil //nolint:nilerr // a memo of another version: the archive is read
	}
	now, err := src.identity()
	if err != nil {
		return nil, err
	}
	if !slices.Equal(now, m.Files) {
		return nil, nil
	}
	entry := c.entryDir(digest)
	zarfYAML, err := os.ReadFile(filepath.Join(entry, fileZarfYAML))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil // the entry was removed: unpack again
	}
	if err != nil {
		return nil, err
	}
	cfg, err := ParseConfig(zarfYAML)
	if err != nil {
		return nil, fmt.Errorf("cache entry %s: %w: delete it to unpack the package again", entry, err)
	}
	return &Package{Digest: digest, Dir: entry, Config: cfg}, nil
}

// remember records the digest of the archive whose files have the identity files, atomically.
func (c *Cache) remember(id, archive string, files []fileIdentity, digest v1.Hash) error {
	raw, err := json.Marshal(memo{Archive: archive, Files: files, Digest: digest.String()})
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Join(c.dir, tmpDir), id+"-*.json")
	if err != nil {
		return err
	}
	_, err = f.Write(raw)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), filepath.Join(c.dir, archivesDir, id+".json"))
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("cache directory for Zarf packages: %w", err)
	}
	return nil
}
