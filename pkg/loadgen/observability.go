package loadgen

import "github.com/llmdbench/kubectl-llmdbench/pkg/results"

// addObservabilitySection puts a stage's server metrics (results.ServerStages of the output
// folder's results.ServerMetricsFile) into its benchmark report, where schema v0.2 has a place
// for them: results.observability.components, one ComponentObservability per pod that measured
// anything (component_label its role, "model-server" or "epp"; replica_id the pod) and one for
// all model-server pods together (component_label "model-server", no replica_id), each with an
// aggregate (ResourceMetrics) of Statistics blocks:
//
//	kv_cache_usage:   {units: percent, mean, max}   100 × vllm:kv_cache_usage_perc over the stage
//	running_requests: {units: count, mean, max}     vllm:num_requests_running
//	waiting_requests: {units: count, mean, max}     vllm:num_requests_waiting
//	cache_hit_rate:   {units: percent, mean}        100 × Δprefix-cache hits / Δqueries
//	preemptions:      {units: count, mean}          the preemptions counted over the stage
//
// A number that was not measured is left out (the schema's Statistics needs a mean, so a block
// without one is left out whole), and a pod with nothing measured has no entry. The servers'
// prompt and generation token rates have no place in ResourceMetrics (it allows no other keys)
// and are not written here; results show --server-metrics and -o json carry them.
func addObservabilitySection(report map[string]any, sm results.ServerStageMetrics) {
	var components []map[string]any
	add := func(m results.ServerPodMetrics, label, replica string) {
		agg := resourceMetrics(m)
		if len(agg) == 0 {
			return
		}
		c := map[string]any{"component_label": label, "aggregate": agg}
		if replica != "" {
			c["replica_id"] = replica
		}
		components = append(components, c)
	}
	for _, p := range sm.Pods {
		role := p.Role
		if role == "" {
			role = results.RoleModelServer
		}
		add(p, role, p.Pod)
	}
	add(sm.All, results.RoleModelServer, "")
	res, _ := report["results"].(map[string]any)
	if res == nil || len(components) == 0 {
		return
	}
	res["observability"] = map[string]any{"components": components}
}

// resourceMetrics is one pod's (or all pods') numbers as a ResourceMetrics block.
func resourceMetrics(m results.ServerPodMetrics) map[string]any {
	out := map[string]any{}
	stat := func(key, units string, scale float64, mean, maxV *float64) {
		if mean == nil {
			return
		}
		s := map[string]any{"units": units, "mean": *mean * scale}
		if maxV != nil {
			s["max"] = *maxV * scale
		}
		out[key] = s
	}
	stat("kv_cache_usage", "percent", 100, m.KVCacheUsageMean, m.KVCacheUsageMax)
	stat("running_requests", "count", 1, m.RunningMean, m.RunningMax)
	stat("waiting_requests", "count", 1, m.WaitingMean, m.WaitingMax)
	stat("cache_hit_rate", "percent", 100, m.PrefixCacheHitRate, nil)
	stat("preemptions", "count", 1, m.Preemptions, nil)
	return out
}
