package mirror

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/google/go-containerregistry/pkg/name"
)

// PushChecker is implemented by a Client that can check, without writing, that a registry
// repository would take a push (internal/registry's Client does). With a Client that cannot,
// CheckTarget checks layout targets only.
type PushChecker interface {
	CheckPush(ctx context.Context, repo name.Repository) error
}

// TargetUnusableError is a target that a mirror cannot be written to.
type TargetUnusableError struct {
	Target string
	Err    error
}

func (e *TargetUnusableError) Error() string {
	return fmt.Sprintf("the mirror cannot be written to %s: %v", e.Target, e.Err)
}

func (e *TargetUnusableError) Unwrap() error { return e.Err }

// targetCheck is the outcome of one CheckTarget, shared by every mirror into that repository.
type targetCheck struct {
	once sync.Once
	err  error
}

// CheckTarget checks, before a plan proposes to create or replace a mirror, that what it copies
// can be written to target, so that a replacement never destroys the old mirror for a new one
// that cannot be written: a registry must answer, over verified TLS (or plain HTTP when listed),
// and accept the credentials for a push (see PushChecker); an OCI image layout directory must
// be writable, or creatable. The outcome is kept per repository for the life of the Engine (one
// provider process), so a plan of many mirrors into one repository checks it once.
func (e *Engine) CheckTarget(ctx context.Context, target string) error {
	tgt, err := e.parseImageRef("target", target, "")
	if err != nil {
		return err
	}
	v, _ := e.targetChecks.LoadOrStore(repositoryKey(tgt), &targetCheck{})
	check, _ := v.(*targetCheck) // only targetChecks are stored
	check.once.Do(func() {
		if err := e.checkTarget(ctx, tgt); err != nil {
			check.err = &TargetUnusableError{Target: tgt.repository(), Err: err}
		}
	})
	return check.err
}

func (e *Engine) checkTarget(ctx context.Context, tgt imageRef) error {
	if l := e.layoutOf(tgt.Repo); l != nil {
		return checkWritableDir(l.dir)
	}
	if c, ok := e.client.(PushChecker); ok {
		return c.CheckPush(ctx, tgt.Repo)
	}
	return nil
}

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
