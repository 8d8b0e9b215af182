package loadgen

import (
	"os"
	"syscall"
)

// processFileLimit raises the soft RLIMIT_NOFILE to the hard limit (Go does so at start too;
// this holds when something lowered it since) and returns the limit and the descriptors
// already open.
func processFileLimit() (*FileLimit, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return nil, err
	}
	if lim.Cur < lim.Max {
		raised := syscall.Rlimit{Cur: lim.Max, Max: lim.Max}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised); err == nil {
			lim = raised
		}
	}
	open := 0
	if fds, err := os.ReadDir("/proc/self/fd"); err == nil {
		open = len(fds)
	}
	return &FileLimit{Soft: lim.Cur, Hard: lim.Max, Open: open}, nil
}
