package cluster

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	psaapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"

	"github.com/llmdbench/kubectl-llmdbench/pkg/launcher"
)

// EnforcedPodSecurity is the Pod Security Standards level and version a namespace's labels
// (pod-security.kubernetes.io/enforce and enforce-version) make the PodSecurity admission enforce
// on its pods, read as the admission reads them (k8s.io/pod-security-admission/api.PolicyToEvaluate).
// Without the labels the level is privileged (no check) at version latest: the admission's own
// default, which a cluster's AdmissionConfiguration may raise, unseen from here. An error when a
// label's value is not a level or a version.
func EnforcedPodSecurity(namespaceLabels map[string]string) (psaapi.LevelVersion, error) {
	defaults := psaapi.Policy{
		Enforce: psaapi.LevelVersion{Level: psaapi.LevelPrivileged, Version: psaapi.LatestVersion()},
		Audit:   psaapi.LevelVersion{Level: psaapi.LevelPrivileged, Version: psaapi.LatestVersion()},
		Warn:    psaapi.LevelVersion{Level: psaapi.LevelPrivileged, Version: psaapi.LatestVersion()},
	}
	p, errs := psaapi.PolicyToEvaluate(namespaceLabels, defaults)
	if len(errs) > 0 {
		return psaapi.LevelVersion{}, fmt.Errorf("the namespace's pod-security labels: %w", errs.ToAggregate())
	}
	return p.Enforce, nil
}

// PodSecurityViolations lists what a pod breaks at a Pod Security Standards level and version,
// in the admission's own words and order ("runAsNonRoot != true (pod or container \"launcher\"
// must set securityContext.runAsNonRoot=true)"): the checks of k8s.io/pod-security-admission/policy,
// the library the API server's PodSecurity admission runs. Empty when the pod is admitted.
func PodSecurityViolations(lv psaapi.LevelVersion, meta *metav1.ObjectMeta, spec *corev1.PodSpec) ([]string, error) {
	ev, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		return nil, fmt.Errorf("pod security checks: %w", err)
	}
	if meta == nil {
		meta = &metav1.ObjectMeta{}
	}
	var out []string
	for _, r := range ev.EvaluatePod(lv, meta, spec) {
		if r.Allowed {
			continue
		}
		v := r.ForbiddenReason
		if r.ForbiddenDetail != "" {
			v += " (" + r.ForbiddenDetail + ")"
		}
		out = append(out, v)
	}
	return out, nil
}

// checkPodSecurity is the preflight check that the run's pod template is admitted at the level
// the namespace enforces; its message also says which of others (by who runs them) the level
// admits and, for each refused, the first reason.
func checkPodSecurity(ns string, labels map[string]string, pod *corev1.PodTemplateSpec, others map[string]*corev1.PodTemplateSpec) Check {
	c := checkRunPodSecurity(ns, labels, pod)
	lv, err := EnforcedPodSecurity(labels)
	if err != nil || len(others) == 0 || lv.Level == psaapi.LevelPrivileged {
		return c
	}
	var notes []string
	for _, who := range slices.Sorted(maps.Keys(others)) {
		v, err := PodSecurityViolations(lv, &others[who].ObjectMeta, &others[who].Spec)
		switch {
		case err != nil:
			continue
		case len(v) == 0:
			notes = append(notes, who+" can run here")
		default:
			notes = append(notes, who+" cannot: "+v[0])
		}
	}
	if len(notes) > 0 {
		c.Message += "; " + strings.Join(notes, "; ")
	}
	return c
}

func checkRunPodSecurity(ns string, labels map[string]string, pod *corev1.PodTemplateSpec) Check {
	c := Check{Name: "pod-security", Blocking: true}
	who := "the launcher pods"
	if h := pod.Labels[launcher.LabelHarness]; h != "" {
		who += " (harness " + h + ")"
	}
	lv, err := EnforcedPodSecurity(labels)
	if err != nil {
		c.Message = fmt.Sprintf("namespace %s: %v", ns, err)
		c.Fix = "fix the namespace's pod-security.kubernetes.io labels"
		return c
	}
	violations, err := PodSecurityViolations(lv, &pod.ObjectMeta, &pod.Spec)
	if err != nil {
		c.Message = err.Error()
		return c
	}
	if len(violations) == 0 {
		c.OK = true
		c.Message = fmt.Sprintf("namespace %s enforces PodSecurity %s; %s pass it", ns, lv, who)
		if lv.Level == psaapi.LevelPrivileged {
			c.Message = fmt.Sprintf("namespace %s enforces no PodSecurity level (privileged)", ns)
		}
		return c
	}
	c.Message = fmt.Sprintf("namespace %s enforces PodSecurity %s, which refuses %s: %s", ns, lv, who, violations[0])
	if len(violations) > 1 {
		c.Message += fmt.Sprintf(" (and %d more)", len(violations)-1)
	}
	c.Fix = "use the native harness (--harness llmdbench, which passes restricted), or a namespace that enforces baseline or less"
	return c
}
