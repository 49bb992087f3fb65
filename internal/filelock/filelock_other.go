//go:build !unix

package filelock

import (
	"path/filepath"
	"sync"
)

// processLocks stands in for file locks where flock does not exist: it excludes goroutines of
// this process only (Terraform runs one provider process per configuration).
var processLocks sync.Map // absolute path → *sync.RWMutex

// Lock takes a lock on path, exclusive or shared, waiting for it, and returns its release.
func Lock(path string, exclusive bool) (release func(), err error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	v, _ := processLocks.LoadOrStore(abs, &sync.RWMutex{})
	mu := v.(*sync.RWMutex)
	if exclusive {
		mu.Lock()
		return mu.Unlock, nil
	}
	mu.RLock()
	return mu.RUnlock, nil
}
