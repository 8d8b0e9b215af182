package plugin

import (
	"context"
	"fmt"

	"k8s.io/client-go/kubernetes"

	"github.com/llmdbench/kubectl-llmdbench/pkg/cluster"
)

// namespaceFirst puts a missing namespace before what was not found in it: planning a run looks
// into the namespace (gateway discovery) before the preflight, and "gateway X not found, pass
// --gateway" sends the user the wrong way when the namespace itself does not exist. It returns
// err unchanged when the namespace exists, or cannot be checked.
func namespaceFirst(ctx context.Context, cs kubernetes.Interface, namespace string, err error) error {
	if err == nil || cs == nil || namespace == "" {
		return err
	}
	c, cerr := cluster.CheckNamespace(ctx, cs, namespace)
	if cerr != nil || c.OK {
		return err
	}
	return fmt.Errorf("%s: %s", c.Message, c.Fix)
}
