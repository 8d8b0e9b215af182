package config

import (
	"fmt"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The four variables the guide's templates use and the plugin fills natively.
const (
	VarNamespace    = "NAMESPACE"
	VarGatewaySvc   = "GATEWAY_SVC"
	VarGatewayIP    = "GATEWAY_IP"
	VarBenchmarkPVC = "BENCHMARK_PVC"
)

// variablePattern matches what envsubst replaces: ${NAME} and $NAME.
var variablePattern = regexp.MustCompile(`\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))`)

// Variables resolves ${NAME} and $NAME the way envsubst would, except that an unset name is an
// error naming the variable and how to set it, never a silent blank.
type Variables struct {
	// Values are the plugin's own resolutions (flags, discovery); they win over Env.
	Values map[string]string
	// Env looks a name up in the process environment (os.LookupEnv in production).
	Env func(string) (string, bool)
	// Hints say how a user sets a name, e.g. "--pvc NAME".
	Hints map[string]string
}

func (v Variables) lookup(name string) (string, bool) {
	if val, ok := v.Values[name]; ok {
		return val, true
	}
	if v.Env != nil {
		return v.Env(name)
	}
	return "", false
}

// UnsetVariableError reports a variable that has no value.
type UnsetVariableError struct {
	Source, Path, Name, Hint string
	Line                     int
}

func (e *UnsetVariableError) Error() string {
	how := e.Hint
	if how == "" {
		how = "export " + e.Name + "=…"
	} else {
		how += " (or export " + e.Name + ")"
	}
	return fmt.Sprintf("%s: line %d: ${%s} in %s is not set: %s", e.Source, e.Line, e.Name, e.Path, how)
}

func variableNames(s string) []string {
	var names []string
	for _, m := range variablePattern.FindAllStringSubmatch(s, -1) {
		names = append(names, m[1]+m[2])
	}
	return names
}

// substitute replaces every variable in s, or fails on the first unset one.
func (v Variables) substitute(s string) (string, string, bool) {
	missing := ""
	out := variablePattern.ReplaceAllStringFunc(s, func(m string) string {
		name := strings.Trim(m, "${}")
		val, ok := v.lookup(name)
		if !ok && missing == "" {
			missing = name
		}
		return val
	})
	return out, missing, missing == ""
}

// render substitutes variables in every scalar (keys included, as envsubst works on the whole
// text) of an alias-free tree. A substituted scalar is re-typed from its new text, which is what
// parsing the envsubst output would have done.
func (d *Document) render(n *yaml.Node, path string, v Variables) error {
	switch n.Kind {
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "$") {
			return nil
		}
		out, missing, ok := v.substitute(n.Value)
		if !ok {
			return &UnsetVariableError{Source: d.source, Path: path, Name: missing, Hint: v.Hints[missing], Line: n.Line}
		}
		if out != n.Value {
			n.Value = out
			if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0 {
				n.Tag = ""
			}
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if err := d.render(n.Content[i], path, v); err != nil {
				return err
			}
			if err := d.render(n.Content[i+1], join(path, n.Content[i].Value), v); err != nil {
				return err
			}
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			if err := d.render(c, fmt.Sprintf("%s[%d]", path, i), v); err != nil {
				return err
			}
		}
	}
	return nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// explode returns a deep copy of n in which every alias is replaced by a copy of its target and
// merge keys (<<) are expanded, as yq's explode(.) does; anchors are dropped.
func explode(n *yaml.Node) *yaml.Node {
	if n == nil {
		return nil
	}
	if n.Kind == yaml.AliasNode {
		// Like yq, the copy takes the alias's place without the target's comments.
		c := explode(n.Alias)
		c.Line, c.Column = n.Line, n.Column
		c.HeadComment, c.LineComment, c.FootComment = n.HeadComment, n.LineComment, n.FootComment
		return c
	}
	c := *n
	c.Anchor = ""
	c.Alias = nil
	c.Content = nil
	if n.Kind != yaml.MappingNode {
		for _, child := range n.Content {
			c.Content = append(c.Content, explode(child))
		}
		return &c
	}
	// Own keys win over merged ones; among merged sources the first wins, as in YAML 1.1.
	own := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if !isMergeKey(n.Content[i]) {
			own[n.Content[i].Value] = true
		}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if !isMergeKey(k) {
			c.Content = append(c.Content, explode(k), explode(val))
			continue
		}
		sources := []*yaml.Node{val}
		if deref(val).Kind == yaml.SequenceNode {
			sources = deref(val).Content
		}
		for _, src := range sources {
			m := explode(src)
			if m.Kind != yaml.MappingNode {
				continue
			}
			for j := 0; j+1 < len(m.Content); j += 2 {
				if key := m.Content[j].Value; !own[key] {
					own[key] = true
					c.Content = append(c.Content, m.Content[j], m.Content[j+1])
				}
			}
		}
	}
	return &c
}

func isMergeKey(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && k.Value == "<<" && (k.Tag == "!!merge" || k.Tag == "")
}

// Expand substitutes the variables in one string, as Resolve does for the file.
func (v Variables) Expand(s string) (string, error) {
	out, missing, ok := v.substitute(s)
	if !ok {
		hint := v.Hints[missing]
		if hint == "" {
			hint = "export " + missing + "=…"
		}
		return "", fmt.Errorf("${%s} is not set: %s", missing, hint)
	}
	return out, nil
}
