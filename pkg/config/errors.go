package config

import "errors"

// The errors below say what is wrong in the config's own terms (its keys, its sweep). They are
// wrapped with the details (file, line, value), so callers test them with errors.Is; a command
// line tool adds how to fix them with its own flags.
var (
	// ErrTemplate: the file is an unfinished upstream template rather than a config.
	ErrTemplate = errors.New("an unfinished upstream template, not a config")
	// ErrUnknownWorkload: a selected workload name is not in the config.
	ErrUnknownWorkload = errors.New("not in the config")
	// ErrNoStackName: endpoint.stack_name is empty.
	ErrNoStackName = errors.New("endpoint.stack_name is empty")
	// ErrNoModel: endpoint.model is empty.
	ErrNoModel = errors.New("endpoint.model is empty")
	// ErrNoNamespace: harness.namespace is empty.
	ErrNoNamespace = errors.New("harness.namespace is empty")
	// ErrNoResultsPVC: harness.results_pvc is empty.
	ErrNoResultsPVC = errors.New("harness.results_pvc is empty")
	// ErrNoImage: harness.image is empty.
	ErrNoImage = errors.New("harness.image is empty")
	// ErrUnknownHarness: harness.name is none of Harnesses().
	ErrUnknownHarness = errors.New("not a known harness")
	// ErrNoEndpoint: there is no base URL to send the load to.
	ErrNoEndpoint = errors.New("endpoint.base_url is empty")
	// ErrWaitTimeout: a wait_timeout value is neither whole seconds nor a duration of them.
	ErrWaitTimeout = errors.New("not a wait timeout")

	// ErrSweepRatesAndConcurrency: a sweep lists both request rates and concurrency levels.
	ErrSweepRatesAndConcurrency = errors.New("a sweep has both request rates and concurrency levels")
	// ErrSweepPoissonWithoutRates: Poisson arrivals are asked for without request rates.
	ErrSweepPoissonWithoutRates = errors.New("Poisson arrivals are asked for, but the sweep has no request rates")
	// ErrSweepStageDurationWithoutRates: a stage duration is set for a sweep without request rates.
	ErrSweepStageDurationWithoutRates = errors.New("a stage duration is set, but only rate stages last a duration")
	// ErrSweepRequestsWithoutConcurrency: requests per stage are set for a sweep without concurrency levels.
	ErrSweepRequestsWithoutConcurrency = errors.New("requests per stage are set, but only concurrency stages count requests")
	// ErrSweepStageDuration: the stage duration is under one second.
	ErrSweepStageDuration = errors.New("a stage must last at least 1s")
	// ErrSweepRequestsPerStage: the requests per stage are not positive.
	ErrSweepRequestsPerStage = errors.New("a stage needs a positive number of requests")
	// ErrSweepRate: a request rate is not a positive finite number.
	ErrSweepRate = errors.New("not a positive request rate")
	// ErrSweepConcurrency: a concurrency level is under 1.
	ErrSweepConcurrency = errors.New("not a concurrency level (1 or more)")
	// ErrSweepOneLevel: the harness runs one load level per workload, and the sweep has several.
	ErrSweepOneLevel = errors.New("runs one load level per workload")
	// ErrSweepNeedsPoisson: the harness cannot hold a constant request rate, only Poisson arrivals.
	ErrSweepNeedsPoisson = errors.New("sends Poisson arrivals at a request rate and cannot hold a constant one")
)

var (
	// ErrSplit: a workload's load cannot be shared among the run's launchers (see SplitError).
	ErrSplit = errors.New("cannot be split among launchers")
	// ErrParallelismMode: harness.parallelism_mode is neither split nor replicate.
	ErrParallelismMode = errors.New("not a parallelism mode")
)
