package registrytest

import "syscall"

// sysProcAttr makes the kernel kill the registry if the test process dies without
// stopping it (a test timeout, a panic).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
