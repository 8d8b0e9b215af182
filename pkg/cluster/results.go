package cluster

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"k8s.io/client-go/kubernetes"

	"github.com/llmdbench/kubectl-llmdbench/pkg/launcher"
	"github.com/llmdbench/kubectl-llmdbench/pkg/runstate"
)

// ResultsClaim chooses the claim that holds target: the run's own claim when target is the ID of
// a run that still exists, else claim (the user's choice, "" for none), else the claim of the
// newest run in the namespace.
func ResultsClaim(ctx context.Context, cs kubernetes.Interface, namespace, target, claim string) (string, error) {
	if launcher.IsRunID(target) {
		r, err := GetRun(ctx, cs, namespace, target)
		switch {
		case err == nil && r.PVC != "":
			return r.PVC, nil
		case err == nil && r.NoPVC() && claim == "":
			return "", fmt.Errorf("run %s kept its results on its launcher's emptyDir, not on a claim: 'kubectl llmdbench attach %s' fetches them while the launcher waits (%s after its workloads)", target, target, r.KeepFor)
		}
	}
	if claim != "" {
		return claim, nil
	}
	return DefaultPVC(ctx, cs, namespace)
}

// ListResults lists the result folders on the volume pod mounts and decides each one's verdict.
// A folder whose workload has not finished is running only while its launcher exists; when the
// launchers cannot be listed nothing is known to be gone, so no folder is called incomplete.
func ListResults(ctx context.Context, cs kubernetes.Interface, ex Executor, pod PodRef) ([]runstate.ResultFolder, error) {
	var out, stderr bytes.Buffer
	if err := ex.Exec(ctx, pod, runstate.ResultsListCommand(), &out, &stderr); err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			err = fmt.Errorf("%w: %s", err, msg)
		}
		return nil, fmt.Errorf("listing the results: %w", err)
	}
	folders, err := runstate.ParseResultsList(out.Bytes())
	if err != nil {
		return nil, err
	}
	live, err := LiveLaunchers(ctx, cs, pod.Namespace)
	if err != nil {
		live = func(string, int) bool { return true }
	}
	runstate.Decide(folders, live)
	return folders, nil
}

// MatchResults returns the folders target names: the folder of that name, or every folder of the
// run of that ID.
func MatchResults(folders []runstate.ResultFolder, target string) []runstate.ResultFolder {
	var matched []runstate.ResultFolder
	for _, f := range folders {
		if f.Name == target || f.Run == target {
			matched = append(matched, f)
		}
	}
	return matched
}
