package cluster

import "errors"

// The errors below say what went wrong in the cluster's terms. They are wrapped with the details
// (gateway, namespace, the API error), so callers test them with errors.Is; a command line tool
// adds how to fix them with its own flags.
var (
	// ErrNoGatewayName: discovery was asked for a gateway without a name.
	ErrNoGatewayName = errors.New("no gateway name to discover")
	// ErrGatewayNotFound: neither a Service nor a Gateway with an address has the gateway's name.
	ErrGatewayNotFound = errors.New("gateway not found")
	// ErrGatewayAmbiguous: several Services carry the gateway's name label.
	ErrGatewayAmbiguous = errors.New("several Services carry the gateway's name")
	// ErrGatewayUnreadable: the Services of the namespace could not be listed.
	ErrGatewayUnreadable = errors.New("cannot list the gateway's Services")
	// ErrReaderPod: the pod that reads a results claim did not become ready.
	ErrReaderPod = errors.New("reader pod not ready")
	// ErrNoResultsPVC: no run in the namespace names a results claim to default to.
	ErrNoResultsPVC = errors.New("no run names a results PVC")
	// ErrLaunchTimeout: the launcher pods were not ready within the launch timeout.
	ErrLaunchTimeout = errors.New("launcher pods not ready")
)

// kindError is an error with its own text that errors.Is matches to a sentinel too.
type kindError struct {
	msg  string
	kind error
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }
