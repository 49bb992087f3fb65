package layout

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
)

var _ store.PushChecker = (*Store)(nil)

// CheckPush checks that the layout directory, or the directory it would be created in, takes a
// new file.
func (s *Store) CheckPush(context.Context) error { return checkWritableDir(s.dir) }

// checkWritableDir checks that dir, or the directory it would be created in, takes a new file.
func checkWritableDir(dir string) error {
	existing := dir
	for {
		fi, err := os.Stat(existing)
		if err == nil {
			if !fi.IsDir() {
				return fmt.Errorf("%s is not a directory, so the layout directory %s cannot be created", existing, dir)
			}
			break
		}
		parent := filepath.Dir(existing)
		missing := errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) // ENOTDIR: a file on the way
		if !missing || parent == existing {
			return fmt.Errorf("the layout directory %s cannot be created: %w", dir, err)
		}
		existing = parent
	}
	f, err := os.CreateTemp(existing, ".zarf-write-check-*")
	if err != nil {
		return fmt.Errorf("cannot write in %s: %w", existing, err)
	}
	name := f.Name()
	if err := errors.Join(f.Close(), os.Remove(name)); err != nil {
		return fmt.Errorf("writing in %s: %w", existing, err)
	}
	return nil
}
