package loadgen

import (
	"runtime"
	"syscall"
	"time"
)

// The runtime's timers wake up to a millisecond late (the netpoller sleeps in whole
// milliseconds), which would be schedule delay. The dispatcher instead owns an OS thread and
// sleeps in nanosleep, which the kernel ends within its timer slack (50 µs by default).

func lockDispatcher() func() {
	runtime.LockOSThread()
	return runtime.UnlockOSThread
}

// sleepFor blocks the calling thread for d (at most maxSleepSlice, so cancels are noticed).
func sleepFor(d time.Duration) {
	d = min(d, maxSleepSlice)
	ts := syscall.NsecToTimespec(d.Nanoseconds())
	for syscall.Nanosleep(&ts, &ts) == syscall.EINTR {
	}
}
