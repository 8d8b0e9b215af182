package cluster

import (
	"os"
	"strings"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	"sigs.k8s.io/yaml"
)

// TestReadmeRoleGrantsEveryRunPermission: the README's Role (which the e2e tests run with) grants
// every permission of RunPermissions and CreatePVCPermission, so a call added to the code without
// its row, or a row without the README, is caught here.
func TestReadmeRoleGrantsEveryRunPermission(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(data), "### The Role a user needs")
	if ok {
		_, rest, ok = strings.Cut(rest, "```yaml\n")
	}
	block, _, closed := strings.Cut(rest, "```")
	if !ok || !closed {
		t.Fatal("README.md has no YAML block under \"### The Role a user needs\"")
	}
	var role struct {
		Rules []struct {
			APIGroups []string `json:"apiGroups"`
			Resources []string `json:"resources"`
			Verbs     []string `json:"verbs"`
		} `json:"rules"`
	}
	if err := yaml.UnmarshalStrict([]byte(block), &role); err != nil {
		t.Fatal(err)
	}
	var rules []authorizationv1.ResourceRule
	for _, r := range role.Rules {
		rules = append(rules, authorizationv1.ResourceRule{APIGroups: r.APIGroups, Resources: r.Resources, Verbs: r.Verbs})
	}
	for _, p := range append(RunPermissions, CreatePVCPermission) {
		if !RulesAllow(rules, p) {
			t.Errorf("the README's Role does not grant %s (%s)", p, p.Why)
		}
	}
	// And the other way: the Role's watch on pods is what WaitReady needs.
	if !RulesAllow(rules, Permission{Resource: "pods", Verb: "watch"}) {
		t.Error("the README's Role must grant watch on pods")
	}
}
