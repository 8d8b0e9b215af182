package loadgen

import (
	"fmt"
	"slices"
	"strings"
)

// keyRule says what the native generator does with one key of an inference-perf profile. Every
// key of inference-perf's config (kubernetes-sigs/inference-perf, inference_perf/config/, as of
// v0.6 and main) has a rule: implemented, refused when set, or without effect here for a stated
// reason. A key with no rule is not an inference-perf key, which inference-perf refuses too (its
// config models forbid extra keys).
type keyRule struct {
	// refuse, when not empty, is why setting the key is refused.
	refuse string
	// keys are the rules of an object's keys; items is the rule of each list item.
	keys  map[string]*keyRule
	items *keyRule
	// free takes any value (a map of headers, say).
	free bool
	// check refuses values the generator cannot honour.
	check func(path string, v any) error
}

var (
	implemented = &keyRule{}
	freeForm    = &keyRule{free: true}
)

func refused(why string) *keyRule { return &keyRule{refuse: why} }

func object(keys map[string]*keyRule) *keyRule { return &keyRule{keys: keys} }

// distributionRule covers inference-perf's Distribution (std is the older images' spelling).
func distributionRule() *keyRule {
	return object(map[string]*keyRule{
		"min": implemented, "max": implemented, "mean": implemented,
		"std": implemented, "std_dev": implemented, "variance": implemented,
		"total_count": implemented,
		"type": {check: func(path string, v any) error {
			if s, ok := v.(string); ok && s != DistNormal && s != DistFixed {
				return fmt.Errorf("%s %q is not supported by the native generator: use normal or fixed", path, s)
			}
			return nil
		}},
		"skew": refused("only skew_normal distributions use it"),
	})
}

// fixedLength is a shared_prefix length: inference-perf takes an int or a distribution.
var fixedLength = &keyRule{check: func(path string, v any) error {
	if _, ok := v.(map[string]any); ok {
		return fmt.Errorf("%s as a distribution is not supported by the native generator: give a fixed length in tokens", path)
	}
	return nil
}}

// profileKeys is the rule tree of a whole inference-perf profile.
var profileKeys = object(map[string]*keyRule{
	"api": object(map[string]*keyRule{
		"type":                     implemented, // values checked by Validate
		"streaming":                implemented,
		"headers":                  freeForm,
		"slo_unit":                 refused("per-request SLO headers feed inference-perf's goodput, which it does not compute"),
		"slo_ttft_header":          refused("per-request SLO headers feed inference-perf's goodput, which it does not compute"),
		"slo_tpot_header":          refused("per-request SLO headers feed inference-perf's goodput, which it does not compute"),
		"response_format":          refused("it sends no structured-output request"),
		"session_id_header_key":    refused("it runs no multi-turn sessions"),
		"session_token_header_key": refused("it runs no multi-turn sessions"),
	}),
	"data": object(map[string]*keyRule{
		"type":                implemented, // values checked by Validate
		"input_distribution":  distributionRule(),
		"output_distribution": distributionRule(),
		"shared_prefix": object(map[string]*keyRule{
			"num_groups": implemented, "num_unique_system_prompts": implemented,
			"num_prompts_per_group": implemented, "num_users_per_system_prompt": implemented,
			"system_prompt_len": fixedLength, "question_len": fixedLength, "output_len": fixedLength,
			"seed":                   implemented,
			"question_distribution":  refused("give a fixed question_len"),
			"output_distribution":    refused("give a fixed output_len"),
			"enable_multi_turn_chat": refused("it runs no multi-turn chats"),
			"multimodal":             refused("it sends text prompts only"),
		}),
		"path":                refused("it reads no data set file"),
		"corpus_file_path":    refused("it builds prompts from its own vocabulary"),
		"multimodal":          refused("it sends text prompts only"),
		"trace":               refused("it replays no trace"),
		"otel_trace_replay":   refused("it replays no trace"),
		"weka_trace_replay":   refused("it replays no trace"),
		"conversation_replay": refused("it replays no conversation"),
		"visionarena":         refused("it reads no data set"),
		"use_chat_template":   refused("it has no tokenizer to apply a chat template with"),
	}),
	"load": object(map[string]*keyRule{
		"type":     implemented, // values checked by Validate
		"interval": implemented,
		"stages": {items: object(map[string]*keyRule{
			"rate": implemented, "duration": implemented,
			"num_requests": implemented, "concurrency_level": implemented,
			// trace_session_replay stages, a load type Validate refuses by name
			"concurrent_sessions": refused("it replays no sessions"),
			"session_rate":        refused("it replays no sessions"),
			"num_sessions":        refused("it replays no sessions"),
			"timeout":             refused("it replays no sessions"),
		})},
		"sweep": object(map[string]*keyRule{
			"type": implemented, "num_requests": implemented, "timeout": implemented,
			"num_stages": implemented, "stage_duration": implemented, "saturation_percentile": implemented,
		}),
		// The plugin's capacity search (FindMax): not an inference-perf key.
		"find_max": object(map[string]*keyRule{
			"by": implemented, "min": implemented, "max": implemented, "precision": implemented,
			"max_probes": implemented, "slo": implemented, "stage_duration": implemented,
			"requests_per_stream": implemented,
		}),
		// The three make the in-flight cap of rate stages (see inflightCap).
		"num_workers":                implemented,
		"worker_max_concurrency":     implemented,
		"worker_max_tcp_connections": implemented,
		"trace":                      refused("it replays no trace"),
		"circuit_breakers":           refused("it has no circuit breakers"),
		"request_timeout":            implemented,
		"lora_traffic_split":         {items: object(map[string]*keyRule{"name": implemented, "split": implemented})},
		"base_seed":                  implemented,
	}),
	"server": object(map[string]*keyRule{
		"type":       implemented, // values checked by Validate
		"model_name": implemented,
		"base_url":   implemented,
		"ignore_eos": implemented,
		"api_key":    implemented,
		"cert_path":  refused("it sends no client certificate"),
		"key_path":   refused("it sends no client certificate"),
	}),
	"report": object(map[string]*keyRule{
		"request_lifecycle": object(map[string]*keyRule{
			"summary": implemented, "per_stage": implemented, "per_request": implemented,
			"per_adapter": implemented, "per_adapter_stage": implemented,
			"max_error_messages": implemented,
			"percentiles": {check: func(path string, v any) error {
				if !isDefaultPercentiles(v) {
					return fmt.Errorf("%s other than inference-perf's default list is not supported by the native generator", path)
				}
				return nil
			}},
			"use_server_output_tokens": {check: func(path string, v any) error {
				if v == false {
					return fmt.Errorf("%s: false is not supported by the native generator: it has no tokenizer and counts the server's usage, as true does", path)
				}
				return nil
			}},
		}),
		// Written only with a metrics client, which the `metrics` key refuses.
		"prometheus": freeForm,
		// Written only for session replay, which load.type and data.type refuse.
		"session_lifecycle": freeForm,
		"goodput":           refused("it computes no goodput"),
	}),
	"storage": object(map[string]*keyRule{
		// The caller chooses the output folder.
		"local_storage": object(map[string]*keyRule{
			"path":               implemented,
			"report_file_prefix": refused("readers expect inference-perf's file names"),
		}),
		"google_cloud_storage":   refused("it writes to a local folder only"),
		"simple_storage_service": refused("it writes to a local folder only"),
	}),
	// The generator has no tokenizer: prompts are built from one-token words and token counts
	// come from the server's usage block, so the tokenizer a profile names is not needed.
	"tokenizer": object(map[string]*keyRule{
		"pretrained_model_name_or_path": implemented, "trust_remote_code": implemented, "token": implemented,
	}),
	"metrics": refused("it reads no Prometheus server: server_metrics scrapes the pods' /metrics instead"),
	// The plugin's server-metrics scraping (ServerMetrics): not an inference-perf key.
	"server_metrics": object(map[string]*keyRule{
		"interval_seconds": implemented,
		"targets": {items: object(map[string]*keyRule{
			"namespace": implemented, "pod": implemented, "role": implemented, "url": implemented, "via": implemented,
		})},
	}),
	"circuit_breakers": refused("it has no circuit breakers"),
})

// auditKeys refuses, in one line naming the key by its dotted path, the first key of a decoded
// profile that the native generator does not implement or that inference-perf does not know.
func auditKeys(doc map[string]any) error {
	return profileKeys.audit("", doc)
}

func (r *keyRule) audit(path string, v any) error {
	if v == nil || r.free {
		return nil
	}
	if r.refuse != "" {
		if isSet(v) {
			return fmt.Errorf("%s is not supported by the native generator: %s", path, r.refuse)
		}
		return nil
	}
	if r.check != nil {
		if err := r.check(path, v); err != nil {
			return err
		}
	}
	switch {
	case r.keys != nil:
		m, ok := v.(map[string]any)
		if !ok {
			return nil // a wrong type is the typed decoder's to report
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			sub := r.keys[k]
			at := k
			if path != "" {
				at = path + "." + k
			}
			if sub == nil {
				return fmt.Errorf("%s is not a key of an inference-perf profile: remove it or fix its spelling (inference-perf refuses it too)", at)
			}
			if err := sub.audit(at, m[k]); err != nil {
				return err
			}
		}
	case r.items != nil:
		list, ok := v.([]any)
		if !ok {
			return nil
		}
		for i, item := range list {
			if err := r.items.audit(fmt.Sprintf("%s[%d]", path, i), item); err != nil {
				return err
			}
		}
	}
	return nil
}

// isSet is false for the values that leave a feature off: null, false, "", 0, an empty list or map.
func isSet(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return strings.TrimSpace(x) != ""
	case float64:
		return x != 0
	case int64:
		return x != 0
	case []any:
		return len(x) > 0
	case map[string]any:
		return len(x) > 0
	}
	return true
}

func isDefaultPercentiles(v any) bool {
	list, ok := v.([]any)
	if !ok || len(list) != len(percentiles) {
		return false
	}
	for i, p := range list {
		f, ok := p.(float64)
		if !ok || f != percentiles[i] {
			return false
		}
	}
	return true
}

// aliases are inference-perf's other spellings of a key, rewritten to the one Workload reads.
var aliases = map[string]map[string]string{
	"data.shared_prefix": {"num_unique_system_prompts": "num_groups", "num_users_per_system_prompt": "num_prompts_per_group"},
}

func normalizeAliases(doc map[string]any) error {
	for at, names := range aliases {
		m := doc
		for _, part := range strings.Split(at, ".") {
			next, _ := m[part].(map[string]any)
			if next == nil {
				m = nil
				break
			}
			m = next
		}
		if m == nil {
			continue
		}
		for from, to := range names {
			v, ok := m[from]
			if !ok {
				continue
			}
			if _, both := m[to]; both {
				return fmt.Errorf("%s.%s and %s.%s are the same key: keep one", at, from, at, to)
			}
			m[to] = v
			delete(m, from)
		}
	}
	return nil
}
