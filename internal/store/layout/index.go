package layout

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/zarf-dev/terraform-provider-zarf/internal/filelock"
)

// index is index.json: the entries this package edits, and every other field as it is.
type index struct {
	other     map[string]json.RawMessage
	Manifests []v1.Descriptor
}

// readIndex reads index.json; an error wrapping fs.ErrNotExist when the layout has none.
func (s *Store) readIndex() (*index, error) {
	raw, err := os.ReadFile(filepath.Join(s.dir, indexFile))
	if err != nil {
		return nil, err
	}
	idx := &index{}
	if err := json.Unmarshal(raw, &idx.other); err != nil {
		return nil, fmt.Errorf("layout %s: index.json does not parse: %w", s.display, err)
	}
	if m, ok := idx.other["manifests"]; ok {
		if err := json.Unmarshal(m, &idx.Manifests); err != nil {
			return nil, fmt.Errorf("layout %s: the manifests of index.json do not parse: %w", s.display, err)
		}
	}
	return idx, nil
}

// entries are the entries of index.json; none when the layout does not exist.
func (s *Store) entries() ([]v1.Descriptor, error) {
	idx, err := s.readIndex()
	if isNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return idx.Manifests, nil
}

// writeIndex replaces index.json atomically: a temporary file, then a rename.
func (s *Store) writeIndex(idx *index) error {
	if idx.other == nil {
		idx.other = map[string]json.RawMessage{}
	}
	idx.other["schemaVersion"] = json.RawMessage("2")
	idx.other["mediaType"] = json.RawMessage(`"` + string(types.OCIImageIndex) + `"`)
	if idx.Manifests == nil {
		idx.Manifests = []v1.Descriptor{}
	}
	m, err := json.Marshal(idx.Manifests)
	if err != nil {
		return err
	}
	idx.other["manifests"] = m
	raw, err := json.MarshalIndent(idx.other, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(filepath.Join(s.dir, indexFile), raw)
}

func writeAtomic(path string, data []byte) error {
	return writeFileAtomic(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// writeFileAtomic writes a temporary file beside path with write, syncs it and renames it into
// place, so readers see the old file or the whole new one, never a part.
func writeFileAtomic(path string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	err = write(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// ensure creates the layout when it is missing: the oci-layout file, an empty index.json and
// blobs/sha256.
func (s *Store) ensure() error {
	if err := os.MkdirAll(filepath.Join(s.dir, "blobs", "sha256"), 0o755); err != nil {
		return fmt.Errorf("creating layout %s: %w", s.display, err)
	}
	if _, err := os.Stat(filepath.Join(s.dir, layoutFile)); isNotExist(err) {
		if err := writeAtomic(filepath.Join(s.dir, layoutFile), []byte(layoutVersion)); err != nil {
			return fmt.Errorf("creating layout %s: %w", s.display, err)
		}
	}
	return s.withIndexLock(func() error {
		if _, err := os.Stat(filepath.Join(s.dir, indexFile)); isNotExist(err) {
			return s.writeIndex(&index{})
		}
		return nil
	})
}

// withIndexLock runs f while holding the exclusive lock of index.json.
func (s *Store) withIndexLock(f func() error) error {
	unlock, err := filelock.Lock(filepath.Join(s.dir, indexLockFile), true)
	if err != nil {
		return fmt.Errorf("locking layout %s: %w", s.display, err)
	}
	defer unlock()
	return f()
}

// update edits the entries of index.json under the lock, and writes it when edit says so.
func (s *Store) update(edit func(entries []v1.Descriptor) ([]v1.Descriptor, bool)) error {
	return s.withIndexLock(func() error {
		idx, err := s.readIndex()
		if err != nil {
			return err
		}
		entries, changed := edit(idx.Manifests)
		if !changed {
			return nil
		}
		idx.Manifests = entries
		if err := s.writeIndex(idx); err != nil {
			return fmt.Errorf("writing %s/index.json: %w", s.display, err)
		}
		return nil
	})
}
