package transfer

import "errors"

// ErrCompression: a compression name is none of auto, gzip or none (see ParseCompression).
var ErrCompression = errors.New("not one the copy knows")
