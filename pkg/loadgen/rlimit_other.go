//go:build !linux

package loadgen

import "errors"

// processFileLimit is unknown off Linux: the capacity check is skipped there.
func processFileLimit() (*FileLimit, error) {
	return nil, errors.New("the open-file limit is only read on Linux")
}
