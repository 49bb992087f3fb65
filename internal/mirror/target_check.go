package mirror

import (
	"context"
	"fmt"
	"sync"

	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
)

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
// and accept the credentials for a push; an OCI image layout directory must be writable, or
// creatable (see store.PushChecker). The outcome is kept per repository for the life of the Engine (one
// provider process), so a plan of many mirrors into one repository checks it once.
func (e *Engine) CheckTarget(ctx context.Context, target string) error {
	tgt, err := e.open(target, store.RoleTarget)
	if err != nil {
		return err
	}
	checker, ok := tgt.Store.(store.PushChecker)
	if !ok {
		return nil
	}
	v, _ := e.targetChecks.LoadOrStore(tgt.Key(), &targetCheck{})
	check, _ := v.(*targetCheck) // only targetChecks are stored
	check.once.Do(func() {
		if err := checker.CheckPush(ctx); err != nil {
			check.err = &TargetUnusableError{Target: tgt.Repository, Err: err}
		}
	})
	return check.err
}
