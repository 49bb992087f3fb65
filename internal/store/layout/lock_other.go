//go:build !unix

package layout

import (
	"path/filepath"
	"sync"
)

// processLocks stands in for file locks where flock does not exist: it excludes goroutines of
// this process only (Terraform runs one provider process per configuration).
var processLocks sync.Map // absolute path → *sync.RWMutex

func lockFile(path string, exclusive bool) (func(), error) {
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
