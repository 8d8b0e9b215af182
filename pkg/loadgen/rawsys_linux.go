package loadgen

import (
	"runtime"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Non-blocking system calls made without telling the scheduler. Through unix.Read and friends
// every call marks the thread's P as in a syscall, and the runtime's monitor hands a P that stays
// there for 20 µs to another thread, waking it: with one call per streamed token that churn cost
// more than the calls. These never block (non-blocking sockets, zero timeouts), which is what
// RawSyscall requires.

func errnoErr(e syscall.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

func rawWrite(fd int, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	n, _, e := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// rawRecvmsg reads into buf and the control messages into oob.
func rawRecvmsg(fd int, buf, oob []byte) (n, oobn int, err error) {
	iov := unix.Iovec{Base: &buf[0]}
	iov.SetLen(len(buf))
	msg := unix.Msghdr{Iov: &iov, Iovlen: 1, Control: &oob[0]}
	msg.SetControllen(len(oob))
	r, _, e := unix.RawSyscall(unix.SYS_RECVMSG, uintptr(fd), uintptr(unsafe.Pointer(&msg)), 0)
	if e != 0 {
		return 0, 0, e
	}
	return int(r), int(msg.Controllen), nil
}

func rawEpollCtl(epfd, op, fd int, ev *unix.EpollEvent) error {
	_, _, e := unix.RawSyscall6(unix.SYS_EPOLL_CTL, uintptr(epfd), uintptr(op), uintptr(fd), uintptr(unsafe.Pointer(ev)), 0, 0)
	return errnoErr(e)
}

// rawEpollPoll is epoll_wait with a zero timeout: it returns at once.
func rawEpollPoll(epfd int, events []unix.EpollEvent) (int, error) {
	r, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

// rawEpollWait waits at most msec milliseconds. It blocks, but briefly, while holding the thread's
// P: the loop keeps its P instead of handing it back and forth hundreds of times a second (each
// hand-off wakes the runtime's monitor into 20 µs polling). A garbage collection waits for it at most
// msec.
func rawEpollWait(epfd int, events []unix.EpollEvent, msec int) (int, error) {
	r, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), uintptr(msec), 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

// rawNanosleep sleeps d (short) without releasing the thread's P, for the same reason.
func rawNanosleep(d time.Duration) {
	ts := unix.NsecToTimespec(d.Nanoseconds())
	for {
		_, _, e := unix.RawSyscall(unix.SYS_NANOSLEEP, uintptr(unsafe.Pointer(&ts)), uintptr(unsafe.Pointer(&ts)), 0)
		if e != syscall.EINTR {
			return
		}
	}
}

// addProcs changes GOMAXPROCS by n (relative, so that whoever takes one gives back one).
func addProcs(n int) { runtime.GOMAXPROCS(runtime.GOMAXPROCS(0) + n) }
