//go:build unix

package filelock

import (
	"os"
	"syscall"
)

// Lock takes a lock on path (created if missing), exclusive or shared, waiting for it, and
// returns its release. flock locks belong to the open file, so goroutines of one process
// exclude each other as processes do.
func Lock(path string, exclusive bool) (release func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	for {
		err = syscall.Flock(int(f.Fd()), how)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
