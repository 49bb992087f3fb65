//go:build !linux

package registrytest

import "syscall"

// sysProcAttr returns nil: only Linux can tie the registry's life to the test process.
func sysProcAttr() *syscall.SysProcAttr {
	return nil
}
