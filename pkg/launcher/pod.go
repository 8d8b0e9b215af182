package launcher

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/llmdbench/kubectl-llmdbench/pkg/config"
	"github.com/llmdbench/kubectl-llmdbench/pkg/runstate"
)

// Environment of the llm-d-benchmark image contract, and the plugin's own additions.
const (
	EnvWorkspaceDir     = "LLMDBENCH_RUN_WORKSPACE_DIR"
	EnvMagic            = "LLMDBENCH_MAGIC_ENVAR"
	EnvHarnessName      = "LLMDBENCH_HARNESS_NAME"
	EnvResultsPrefix    = "LLMDBENCH_RUN_EXPERIMENT_RESULTS_DIR_PREFIX"
	EnvDatasetDir       = "LLMDBENCH_RUN_DATASET_DIR"
	EnvDatasetURL       = "LLMDBENCH_RUN_DATASET_URL"
	EnvStackName        = "LLMDBENCH_HARNESS_STACK_NAME"
	EnvExperimentID     = "LLMDBENCH_RUN_EXPERIMENT_ID"
	EnvDescriptionText  = "LLMDBENCH_DESCRIPTION_TEXT"
	EnvDescriptionWords = "LLMDBENCH_DESCRIPTION_KEYWORDS"
	EnvRunID            = "LLMDBENCH_RUN_ID"
	EnvLauncherIndex    = "LLMDBENCH_LAUNCHER_INDEX"
	EnvLauncherCount    = "LLMDBENCH_LAUNCHER_COUNT"
	// EnvParallelismMode is runstate.ModeSplit or runstate.ModeReplicate.
	EnvParallelismMode = "LLMDBENCH_PARALLELISM_MODE"
	EnvHFToken         = "HF_TOKEN"
	EnvHFHubToken      = "HUGGING_FACE_HUB_TOKEN"
	// HFTokenKey is the key run_only.sh and the llm-d guides use in the token Secret.
	HFTokenKey = "HF_TOKEN"
)

// idleCommand keeps the container alive for exec while exiting at once on SIGTERM (a bare
// `sleep` as PID 1 ignores it, which made every delete wait out the grace period).
const idleCommand = "trap 'exit 0' TERM INT; sleep 1000000 & wait"

const (
	volumeResults  = "results"
	volumeProfiles = "profiles"
	volumeScript   = "llmdbench"
)

// podTemplate builds the launcher pod of the run's Job (no name, no index: the Job controller
// sets both).
func podTemplate(s Spec, userEnv []corev1.EnvVar) *corev1.Pod {
	c := s.Config
	labels := s.labels()
	env := append([]corev1.EnvVar{}, userEnv...)
	env = append(env, s.pluginEnv(userEnv)...)

	profileItems := make([]corev1.KeyToPath, len(c.Workloads))
	scriptMode := int32(0o755)
	scriptItems := []corev1.KeyToPath{{Key: ScriptKey, Path: ScriptKey, Mode: &scriptMode}}
	for i, w := range c.Workloads {
		profileItems[i] = corev1.KeyToPath{Key: w.Name + ".yaml", Path: w.Name + ".yaml"}
		scriptItems = append(scriptItems, corev1.KeyToPath{Key: MetadataKey(w.Name), Path: MetadataKey(w.Name)})
		if s.splitsProfiles() {
			for j := range c.Harness.Parallelism {
				scriptItems = append(scriptItems, corev1.KeyToPath{Key: splitKey(w.Name, j), Path: splitProfiles + "/" + w.Name + "." + strconv.Itoa(j) + ".yaml"})
			}
		}
	}
	// Each launcher copies its share of a split profile where the harness reads profiles.
	profiles := corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: ConfigMapName(s.RunID)},
		Items:                profileItems,
	}}
	if s.splitsProfiles() {
		profiles = corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}
	}
	container := corev1.Container{
		Name:            ContainerName,
		Image:           c.Harness.Image,
		ImagePullPolicy: s.Launcher.ImagePullPolicy,
		// The main process is the run script; the pod's exit code is the launcher's verdict.
		Command: []string{"sh", ScriptPath},
		Env:     env,
		Resources: corev1.ResourceRequirements{
			Limits:   corev1.ResourceList{corev1.ResourceCPU: s.Launcher.CPU, corev1.ResourceMemory: s.Launcher.Memory},
			Requests: corev1.ResourceList{corev1.ResourceCPU: s.Launcher.CPU, corev1.ResourceMemory: s.Launcher.Memory},
		},
		VolumeMounts: []corev1.VolumeMount{
			{Name: volumeResults, MountPath: runstate.ResultsMount},
			{Name: volumeProfiles, MountPath: ProfilesDir + "/" + c.Harness.Name},
			{Name: volumeScript, MountPath: ScriptDir},
		},
	}
	container.SecurityContext = s.containerSecurity()
	return &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{
			Namespace:   c.Harness.Namespace,
			Labels:      labels,
			Annotations: s.annotations(),
		},
		Spec: corev1.PodSpec{
			SecurityContext:    s.podSecurity(),
			RestartPolicy:      corev1.RestartPolicyNever,
			ServiceAccountName: s.Launcher.ServiceAccount,
			NodeSelector:       s.Launcher.NodeSelector,
			Affinity:           RequiredAffinity(s.Launcher.NodeAffinity),
			Tolerations:        s.Launcher.Tolerations,
			Containers:         []corev1.Container{container},
			Volumes: []corev1.Volume{
				{Name: volumeResults, VolumeSource: s.resultsVolume()},
				{Name: volumeProfiles, VolumeSource: profiles},
				{Name: volumeScript, VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
					LocalObjectReference: corev1.LocalObjectReference{Name: ConfigMapName(s.RunID)},
					Items:                scriptItems,
				}}},
			},
		},
	}
}

// resultsVolume is the results claim, or an emptyDir for a run without one (Spec.KeepFor).
func (s Spec) resultsVolume() corev1.VolumeSource {
	if s.NoPVC() {
		return corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}
	}
	return corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: s.Config.Harness.ResultsPVC}}
}

// The launcher's security context follows the Pod Security Standards
// (https://kubernetes.io/docs/concepts/security/pod-security-standards/):
//
//   - A launcher that runs as a non-root user (the native harness, whose image's USER is 65532, or
//     any harness given a non-zero RunAsUser) passes `restricted`: runAsNonRoot, seccomp
//     RuntimeDefault, no privilege escalation, every capability dropped. The native harness sets no
//     runAsUser, so OpenShift's restricted SCC can assign one from the namespace's range.
//   - A launcher that runs as root (image harnesses: run_only.sh's runAsUser 0, which the
//     llm-d-benchmark image expects) can pass only `baseline`, which allows root. It still gets
//     seccomp RuntimeDefault and no privilege escalation, which a root process does not need; it
//     keeps the runtime's default capabilities, which a root process writing files owned by other
//     users on the results volume does need (CHOWN, DAC_OVERRIDE, FOWNER).

// podSecurity is the launcher pod's security context: seccomp RuntimeDefault always; runAsNonRoot
// when the launcher is not root; and, for the native harness, fsGroup 65532 so its non-root user
// can write to the results volume (a fresh PVC's root is owned by root, mode 0755; the kubelet
// makes it group-writable by the fsGroup). `restricted` allows any fsGroup.
func (s Spec) podSecurity() *corev1.PodSecurityContext {
	sc := &corev1.PodSecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}}
	if s.nonRoot() {
		sc.RunAsNonRoot = ptr(true)
	}
	if s.Native() && s.Launcher.RunAsUser == nil {
		sc.FSGroup = ptr(int64(NativeUID))
	}
	return sc
}

// containerSecurity is the launcher container's security context: the chosen user, no privilege
// escalation, and every capability dropped unless the launcher is root.
func (s Spec) containerSecurity() *corev1.SecurityContext {
	sc := &corev1.SecurityContext{AllowPrivilegeEscalation: ptr(false)}
	if s.Launcher.RunAsUser != nil {
		sc.RunAsUser = ptr(*s.Launcher.RunAsUser)
	}
	if s.nonRoot() {
		sc.Capabilities = &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}
	}
	return sc
}

// nonRoot tells whether the launcher runs as a non-root user: a non-zero RunAsUser, or none and
// the native image (USER 65532). An image harness without RunAsUser runs as its image's user,
// which the plugin cannot know, so it is treated as root.
func (s Spec) nonRoot() bool {
	if s.Launcher.RunAsUser != nil {
		return *s.Launcher.RunAsUser != 0
	}
	return s.Native()
}

// pluginEnv comes after the user's env, as in run_only.sh, so the image contract always holds.
func (s Spec) pluginEnv(userEnv []corev1.EnvVar) []corev1.EnvVar {
	c := s.Config
	lit := func(name, value string) corev1.EnvVar { return corev1.EnvVar{Name: name, Value: value} }
	var env []corev1.EnvVar
	if c.Endpoint.HFTokenSecret != "" {
		// Optional: public models need no token, and a missing Secret must not block the pod.
		optional := true
		for _, name := range []string{EnvHFToken, EnvHFHubToken} {
			if hasEnv(userEnv, name) {
				continue
			}
			env = append(env, corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{
				SecretKeyRef: &corev1.SecretKeySelector{
					LocalObjectReference: corev1.LocalObjectReference{Name: c.Endpoint.HFTokenSecret},
					Key:                  HFTokenKey,
					Optional:             &optional,
				},
			}})
		}
	}
	env = append(env,
		lit(EnvWorkspaceDir, WorkspaceDir),
		lit(EnvMagic, "harness_pod"),
		lit(EnvHarnessName, c.Harness.Name),
		lit(EnvResultsPrefix, runstate.ResultsMount),
		lit(EnvDatasetDir, WorkspaceDir),
	)
	if c.Harness.DatasetURL != "" {
		env = append(env, lit(EnvDatasetURL, c.Harness.DatasetURL))
	}
	// The index comes before the stack name, which may expand it.
	env = append(env, indexEnv(), stackEnv(c.Endpoint.StackName, c.Harness.Parallelism))
	if c.Description.Text != "" {
		env = append(env, lit(EnvDescriptionText, c.Description.Text))
	}
	if len(c.Description.Keywords) > 0 {
		env = append(env, lit(EnvDescriptionWords, strings.Join(c.Description.Keywords, ",")))
	}
	return append(env,
		lit(EnvRunID, s.RunID),
		lit(EnvLauncherCount, strconv.Itoa(c.Harness.Parallelism)),
		lit(EnvParallelismMode, s.mode()),
	)
}

func hasEnv(env []corev1.EnvVar, name string) bool {
	for _, e := range env {
		if e.Name == name {
			return true
		}
	}
	return false
}

// kubeEnv turns the config's env entries into EnvVars, rejecting unknown fields so a typo such as
// `valu:` fails here instead of silently producing an empty variable.
func kubeEnv(in []config.EnvVar) ([]corev1.EnvVar, error) {
	out := make([]corev1.EnvVar, 0, len(in))
	for i, e := range in {
		raw, err := json.Marshal(e.Spec)
		if err != nil {
			return nil, fmt.Errorf("env[%d] (%s): %w", i, e.Name, err)
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		var v corev1.EnvVar
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("env[%d] (%s) is not a Kubernetes env entry: %w", i, e.Name, err)
		}
		if v.Value != "" && v.ValueFrom != nil {
			return nil, fmt.Errorf("env[%d] (%s) sets both value and valueFrom", i, e.Name)
		}
		out = append(out, v)
	}
	return out, nil
}
