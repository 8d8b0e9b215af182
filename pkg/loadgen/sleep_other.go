//go:build !linux

package loadgen

import "time"

func lockDispatcher() func() { return func() {} }

func sleepFor(d time.Duration) { time.Sleep(min(d, maxSleepSlice)) }
