//go:build tools

// Package sim pins the simulator's command so `go mod tidy` keeps its whole dependency graph.
package sim

import _ "github.com/llm-d/llm-d-inference-sim/cmd/llm-d-inference-sim"
