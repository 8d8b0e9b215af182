package launcher

import (
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/llmdbench/kubectl-llmdbench/pkg/runstate"
)

// A run's launchers are one Indexed Job (batch/v1): the Job controller creates one pod per index,
// 0 to N-1, each running the run script as its main process, and the pod's exit code is the
// launcher's verdict (0: every workload succeeded). Kubernetes sets the index on each pod
// (annotation and label batch.kubernetes.io/job-completion-index); the script reads it from
// EnvLauncherIndex.
//
// A failed launcher is never restarted (a restarted benchmark would send its load twice and mix two
// runs in one folder): backoffLimitPerIndex 0 fails the index at its first failure, and the pod
// failure policy says so for every non-zero exit and for a disrupted pod. maxFailedIndexes is N so
// one launcher's failure does not end the Job, which would stop the others mid-stage (what a plain
// backoffLimit 0 does); the merge then names the launcher that is missing.

// JobCompletionIndex is the annotation and label the Job controller puts on each pod of an
// Indexed Job.
const JobCompletionIndex = batchv1.JobCompletionIndexAnnotation

// Spread says how strictly launchers are spread over nodes.
type Spread string

const (
	// SpreadRequired never schedules two launchers on one node while another node that fits has
	// fewer (maxSkew 1, DoNotSchedule): with N nodes the load comes from N nodes.
	SpreadRequired Spread = "required"
	// SpreadPreferred asks the scheduler to spread but lets it pack launchers when it must.
	SpreadPreferred Spread = "preferred"
)

// JobName is the Job of a run; its pods are <JobName>-<index>-<suffix>, which still match the
// guide's `lmdbench-.*-launcher` lookup.
func JobName(runID string) string { return AppLauncher + "-" + runID }

// BuildJob builds the run's launchers as one Indexed Job.
func BuildJob(s Spec) (*batchv1.Job, error) {
	n := s.Config.Harness.Parallelism
	if n < 1 {
		return nil, fmt.Errorf("parallelism %d: a run needs at least one launcher", n)
	}
	userEnv, err := kubeEnv(s.Config.Env)
	if err != nil {
		return nil, err
	}
	pod := podTemplate(s, userEnv)
	pod.Spec.TopologySpreadConstraints = s.spread()
	count := int32(n)
	zero := int32(0)
	job := &batchv1.Job{
		TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{
			Name:        JobName(s.RunID),
			Namespace:   s.Config.Harness.Namespace,
			Labels:      s.labels(),
			Annotations: s.annotations(),
		},
		Spec: batchv1.JobSpec{
			CompletionMode:          ptr(batchv1.IndexedCompletion),
			Completions:             &count,
			Parallelism:             &count,
			BackoffLimitPerIndex:    &zero,
			MaxFailedIndexes:        &count,
			TTLSecondsAfterFinished: s.Launcher.TTLAfterFinished,
			PodFailurePolicy: &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{
				{
					Action:      batchv1.PodFailurePolicyActionFailIndex,
					OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: batchv1.PodFailurePolicyOnExitCodesOpNotIn, Values: []int32{0}},
				},
				{
					Action:          batchv1.PodFailurePolicyActionFailIndex,
					OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue}},
				},
			}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: pod.Labels, Annotations: pod.Annotations},
				Spec:       pod.Spec,
			},
		},
	}
	return job, nil
}

// spread keeps launchers on distinct nodes (see Spread); nodes the launchers cannot use (by the
// node selector, or by taints they do not tolerate) are not counted.
func (s Spec) spread() []corev1.TopologySpreadConstraint {
	if s.Config.Harness.Parallelism < 2 {
		return nil
	}
	when := corev1.DoNotSchedule
	if s.Launcher.Spread == SpreadPreferred {
		when = corev1.ScheduleAnyway
	}
	honor := corev1.NodeInclusionPolicyHonor
	return []corev1.TopologySpreadConstraint{{
		MaxSkew:            1,
		TopologyKey:        corev1.LabelHostname,
		WhenUnsatisfiable:  when,
		LabelSelector:      &metav1.LabelSelector{MatchLabels: map[string]string{LabelRun: s.RunID}},
		NodeAffinityPolicy: &honor,
		NodeTaintsPolicy:   &honor,
	}}
}

// indexEnv is the launcher index: the Job's completion index annotation of the pod.
func indexEnv() corev1.EnvVar {
	return corev1.EnvVar{Name: EnvLauncherIndex, ValueFrom: &corev1.EnvVarSource{
		FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.annotations['" + JobCompletionIndex + "']"},
	}}
}

// stackEnv is the stack name the launcher passes to the image (runstate.LauncherStack): with
// several launchers it ends in the index, which a Job pod gets by the kubelet's $(VAR) expansion.
func stackEnv(stack string, parallelism int) corev1.EnvVar {
	if parallelism < 2 {
		return corev1.EnvVar{Name: EnvStackName, Value: runstate.LauncherStack(stack, 0, parallelism)}
	}
	return corev1.EnvVar{Name: EnvStackName, Value: stack + "_$(" + EnvLauncherIndex + ")"}
}

func ptr[T any](v T) *T { return &v }
