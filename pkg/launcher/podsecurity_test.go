package launcher

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	psaapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"

	"github.com/llmdbench/kubectl-llmdbench/pkg/config"
)

// refusals evaluates a pod with the checks the API server's PodSecurity admission runs
// (k8s.io/pod-security-admission/policy) at a level, version latest, and returns the forbidden
// reasons.
func refusals(t *testing.T, level psaapi.Level, meta *metav1.ObjectMeta, spec *corev1.PodSpec) []string {
	t.Helper()
	ev, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range ev.EvaluatePod(psaapi.LevelVersion{Level: level, Version: psaapi.LatestVersion()}, meta, spec) {
		if !r.Allowed {
			out = append(out, r.ForbiddenReason)
		}
	}
	return out
}

func jobPod(t *testing.T, s Spec) *corev1.PodTemplateSpec {
	t.Helper()
	job, err := BuildJob(s)
	if err != nil {
		t.Fatal(err)
	}
	return &job.Spec.Template
}

// The native harness's launcher passes `restricted`; an image harness run as root (run_only.sh's
// default) passes `baseline` only, refused at `restricted` for exactly being root: its kept
// capabilities, runAsNonRoot unset and runAsUser 0. Given a non-root user, an image harness passes `restricted` too.
func TestLauncherPodSecurity(t *testing.T) {
	native := presetSpec(t, "inference-scheduling", func(o *config.Overrides) { o.Harness = config.HarnessNative })
	native.Launcher = NativeLauncher()
	nativeRoot := native
	nativeRoot.Launcher.RunAsUser = ptr(int64(0))
	image := presetSpec(t, "inference-scheduling", nil) // inference-perf, DefaultLauncher: root
	imageUser := image
	imageUser.Launcher.RunAsUser = ptr(int64(1000))
	parallel := presetSpec(t, "inference-scheduling", func(o *config.Overrides) { o.Parallelism = ptr(3) })

	// The Pod Security Standards' restricted rules a root launcher breaks: capabilities must drop
	// ALL, runAsNonRoot must be true, runAsUser must not be 0.
	rootRefusals := []string{"unrestricted capabilities", "runAsNonRoot != true", "runAsUser=0"}
	cases := []struct {
		name       string
		spec       Spec
		restricted []string // the forbidden reasons, in the library's order (its check order)
	}{
		{"native", native, nil},
		{"native as root", nativeRoot, rootRefusals},
		{"inference-perf", image, rootRefusals},
		{"inference-perf parallel", parallel, rootRefusals},
		{"inference-perf as 1000", imageUser, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pod := jobPod(t, c.spec)
			if got := refusals(t, psaapi.LevelBaseline, &pod.ObjectMeta, &pod.Spec); len(got) != 0 {
				t.Errorf("baseline refuses it: %v", got)
			}
			got := refusals(t, psaapi.LevelRestricted, &pod.ObjectMeta, &pod.Spec)
			if strings.Join(got, "; ") != strings.Join(c.restricted, "; ") {
				t.Errorf("restricted refuses %q, want %q", got, c.restricted)
			}
		})
	}
}

// A root launcher keeps the runtime's default capabilities (it writes files other users own) but
// gets no privilege escalation and the runtime's seccomp profile.
func TestRootLauncherHardening(t *testing.T) {
	pod := jobPod(t, presetSpec(t, "inference-scheduling", nil))
	c := pod.Spec.Containers[0].SecurityContext
	ps := pod.Spec.SecurityContext
	if c == nil || c.RunAsUser == nil || *c.RunAsUser != 0 || c.AllowPrivilegeEscalation == nil || *c.AllowPrivilegeEscalation ||
		c.Capabilities != nil || ps == nil || ps.RunAsNonRoot != nil || ps.FSGroup != nil ||
		ps.SeccompProfile == nil || ps.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("container %v pod %v", c, ps)
	}
}

// The reader pod passes `restricted`, whatever the image.
func TestReaderPodRestricted(t *testing.T) {
	pod := BuildReaderPod("llm-d", "llmdbench-reader-abc123", "workload-pvc", "ghcr.io/llm-d/llm-d-benchmark:v0.4.0")
	if got := refusals(t, psaapi.LevelRestricted, &pod.ObjectMeta, &pod.Spec); len(got) != 0 {
		t.Errorf("restricted refuses the reader pod: %v", got)
	}
	if u := pod.Spec.SecurityContext.RunAsUser; u == nil || *u != 65532 {
		t.Errorf("reader runs as %v, want 65532", u)
	}
}
