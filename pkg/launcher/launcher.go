// Package launcher builds, as pure functions, every Kubernetes object a run creates: the results
// PVC, the ConfigMap with the workload profiles and the in-pod run script, and the launcher Pods
// that keep the llm-d-benchmark image contract.
package launcher

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/selection"

	"github.com/llmdbench/kubectl-llmdbench/pkg/config"
	"github.com/llmdbench/kubectl-llmdbench/pkg/runstate"
)

// The llm-d-benchmark image contract: mounts, entry point, container name.
const (
	WorkspaceDir  = "/workspace"
	ProfilesDir   = WorkspaceDir + "/profiles"
	Executable    = "llm-d-benchmark.sh"
	ContainerName = "harness"
	// ScriptDir holds the plugin's run script, mounted from the run's ConfigMap.
	ScriptDir  = "/llmdbench"
	ScriptKey  = "run.sh"
	ScriptPath = ScriptDir + "/" + ScriptKey
)

// The native harness (config.HarnessNative): the plugin binary itself, in a small non-root image.
const (
	NativeExecutable = "kubectl-llmdbench"
	NativeImageRepo  = "ghcr.io/llmdbench/kubectl-llmdbench"
	NativeUID        = 65532
	// ReaderUID is the user of the reader pod: the native image's, so it reads the native harness's
	// files as their owner.
	ReaderUID = NativeUID
)

// NativeImage is the native harness image of a plugin version.
func NativeImage(version string) string {
	if version == "" {
		version = "latest" // an unstamped development build
	}
	return NativeImageRepo + ":" + version
}

// NativeLauncher shapes launcher pods for the native harness: a Go binary needs neither 16 CPUs nor
// root.
func NativeLauncher() Launcher {
	l := DefaultLauncher()
	l.CPU, l.Memory, l.RunAsUser = resource.MustParse("2"), resource.MustParse("1Gi"), nil
	return l
}

// Native reports whether the run uses the plugin's own generator.
func (s Spec) Native() bool { return s.Config.Harness.Name == config.HarnessNative }

// Labels and annotations on every object of a run.
const (
	LabelApp        = "app"
	AppLauncher     = "llmdbench-harness-launcher" // the guide's lookup label
	LabelManagedBy  = "app.kubernetes.io/managed-by"
	ManagedBy       = "kubectl-llmdbench"
	LabelRun        = "llmdbench.io/run"
	LabelHarness    = "llmdbench.io/harness"
	LabelPreset     = "llmdbench.io/preset"
	LabelStack      = "llmdbench.io/stack"
	LabelIndex      = "llmdbench.io/index"
	AnnoWorkloads   = "llmdbench.io/workloads"
	AnnoParallelism = "llmdbench.io/parallelism"
	AnnoMode        = "llmdbench.io/parallelism-mode"
	AnnoStackName   = "llmdbench.io/stack-name"
	AnnoBaseURL     = "llmdbench.io/base-url"
	AnnoModel       = "llmdbench.io/model"
	AnnoPVC         = "llmdbench.io/pvc"
	AnnoImage       = "llmdbench.io/image"
	// AppReader labels the short-lived pods that read a results volume when no launcher runs.
	AppReader = "llmdbench-reader"
)

// Spec is everything the builders need for one run.
type Spec struct {
	Config   *config.Config
	RunID    string
	Preset   string
	Launcher Launcher
	PVC      PVC
	// Repeat runs every workload this many times (0 or 1: once).
	Repeat int
	// Labels and Version go into each result folder's metadata.
	Labels  map[string]string
	Version string
	// Mode is how several launchers share the load: runstate.ModeSplit (also when empty) or
	// runstate.ModeReplicate.
	Mode string
	// KeepFor, when more than zero, makes the run keep its results on an emptyDir instead of the
	// results claim (one launcher only): the launcher's pod stays up after its workloads until
	// the plugin fetched them (runstate.FetchedFile) or KeepFor ran out, then exits.
	KeepFor time.Duration
}

// NoPVC tells whether the run keeps its results on an emptyDir, not a claim (Spec.KeepFor).
func (s Spec) NoPVC() bool { return s.KeepFor > 0 }

// mode is the run's parallelism mode, ModeSplit unless the spec says otherwise.
func (s Spec) mode() string {
	if s.Mode == "" {
		return runstate.ModeSplit
	}
	return s.Mode
}

// Entry is one workload run of a launcher: the workload, and its repeat when repeated.
type Entry struct {
	Name     string // <workload>, or <workload>_run<i>: the experiment ID's suffix
	Workload string
	Repeat   int // 1-based; 0 when not repeated
}

// Entries lists what each launcher runs, in order. Repeats interleave (every workload once, then
// again), so slow drift in the stack spreads over all workloads instead of biasing one.
func (s Spec) Entries() []Entry {
	var out []Entry
	if s.Repeat <= 1 {
		for _, w := range s.Config.Workloads {
			out = append(out, Entry{Name: w.Name, Workload: w.Name})
		}
		return out
	}
	for r := 1; r <= s.Repeat; r++ {
		for _, w := range s.Config.Workloads {
			out = append(out, Entry{Name: w.Name + "_run" + strconv.Itoa(r), Workload: w.Name, Repeat: r})
		}
	}
	return out
}

// metadata is the static part of a workload's result metadata (runstate.RunInfo), which the script
// copies verbatim; it records what is known only in the pod beside it (runstate.MetadataRecordsFile).
func (s Spec) metadata(w config.Workload) (string, error) {
	sum := sha256.Sum256(w.Profile)
	return runstate.MetadataJSON(runstate.RunInfo{
		Run: s.RunID, Preset: s.Preset, Stack: s.Config.Endpoint.StackName, Model: s.Config.Endpoint.Model,
		BaseURL: s.Config.Endpoint.BaseURL, Harness: s.Config.Harness.Name, Image: s.Config.Harness.Image,
		PluginVersion: s.Version, Description: s.Config.Description.Text, Labels: s.Labels,
		Parallelism: s.Config.Harness.Parallelism, Repeats: max(s.Repeat, 1),
		ConfigHash: hex.EncodeToString(sum[:]), Config: string(w.Profile),
	})
}

// splitsProfiles tells whether each launcher reads its own share of the profiles, rendered by the
// plugin: several launchers splitting the load of a harness other than the native one (which
// splits it itself).
func (s Spec) splitsProfiles() bool {
	return s.Config.Harness.Parallelism > 1 && s.mode() == runstate.ModeSplit && !s.Native()
}

// splitKey is the ConfigMap key of launcher index's share of a workload profile.
func splitKey(workload string, index int) string {
	return workload + "." + strconv.Itoa(index) + ".split.yaml"
}

// MetadataKey is the ConfigMap key (and file in the script folder) of a workload's metadata.
func MetadataKey(workload string) string { return workload + ".meta.json" }

// Launcher shapes the launcher pods. Defaults match run_only.sh.
type Launcher struct {
	CPU             resource.Quantity
	Memory          resource.Quantity
	RunAsUser       *int64
	ServiceAccount  string
	NodeSelector    map[string]string
	Tolerations     []corev1.Toleration
	ImagePullPolicy corev1.PullPolicy
	// Spread over nodes of several launchers (empty: SpreadRequired).
	Spread Spread
	// TTLAfterFinished, when set, lets Kubernetes remove the finished Job and its pods.
	TTLAfterFinished *int32
	// NodeAffinity, when set, is the launchers' required node affinity: the node(s) a
	// ReadWriteOnce results volume can be mounted on (cluster.PinForClaim).
	NodeAffinity *corev1.NodeSelector
}

// DefaultLauncher is run_only.sh's launcher: 16 CPU / 32Gi, root, always pull.
func DefaultLauncher() Launcher {
	root := int64(0)
	return Launcher{
		CPU:             resource.MustParse("16"),
		Memory:          resource.MustParse("32Gi"),
		RunAsUser:       &root,
		ImagePullPolicy: corev1.PullAlways,
	}
}

// PVC describes the results claim, for when the run creates it.
type PVC struct {
	Create       bool
	StorageClass string
	Size         resource.Quantity
}

// DefaultPVCSize is the guide's recommendation: per-request files reach hundreds of MB per workload.
const DefaultPVCSize = "200Gi"

// DefaultPVC is an RWX claim of 200Gi, not created unless asked.
func DefaultPVC() PVC { return PVC{Size: resource.MustParse(DefaultPVCSize)} }

// NewRunID returns "<unix seconds>-<4 hex>": sortable, unique per run, and free of '_' so it can
// be found again inside <harness>_<run>_<workload>_<stack> folder names.
func NewRunID(now time.Time, random io.Reader) (string, error) {
	if random == nil {
		random = rand.Reader
	}
	b := make([]byte, 2)
	if _, err := io.ReadFull(random, b); err != nil {
		return "", fmt.Errorf("generating run id: %w", err)
	}
	return strconv.FormatInt(now.Unix(), 10) + "-" + hex.EncodeToString(b), nil
}

// IsRunID tells whether s has the shape NewRunID produces (runstate owns the pattern).
func IsRunID(s string) bool { return runstate.IsRunID(s) }

// ConfigMapName is the run's ConfigMap.
func ConfigMapName(runID string) string { return "llmdbench-" + runID }

// PodName is the name earlier versions gave the bare launcher pod of one parallel index (launchers
// are now a Job's pods, named by the Job controller); the tests that stand for such older runs
// use it.
func PodName(runID string, index int) string {
	return AppLauncher + "-" + runID + "-" + strconv.Itoa(index)
}

// AllRunsSelector selects the objects of every run this plugin made: managed by it and labelled
// with a run.
func AllRunsSelector() string {
	managed, err := labels.NewRequirement(LabelManagedBy, selection.Equals, []string{ManagedBy})
	if err != nil {
		panic(err) // constant label key and value
	}
	run, err := labels.NewRequirement(LabelRun, selection.Exists, nil)
	if err != nil {
		panic(err)
	}
	return labels.NewSelector().Add(*managed, *run).String()
}

// RunSelector selects every object of a run.
func RunSelector(runID string) string {
	return labels.SelectorFromSet(labels.Set{LabelRun: runID}).String()
}

// Objects returns, in creation order, every object of the run. A harness the run's image does
// not have is refused first (CheckHarnessImage).
func Objects(s Spec) ([]runtime.Object, error) {
	if err := CheckHarnessImage(s.Config.Harness.Name, s.Config.Harness.Image); err != nil {
		return nil, err
	}
	if s.NoPVC() && s.Config.Harness.Parallelism > 1 {
		return nil, fmt.Errorf("results on an emptyDir need one launcher, not %d: each launcher's folder would be its own, and launchers meet at their start barriers on the shared results volume", s.Config.Harness.Parallelism)
	}
	var objs []runtime.Object
	if s.PVC.Create && !s.NoPVC() {
		objs = append(objs, BuildPVC(s))
	}
	cm, err := BuildConfigMap(s)
	if err != nil {
		return nil, err
	}
	objs = append(objs, cm)
	job, err := BuildJob(s)
	if err != nil {
		return nil, err
	}
	return append(objs, job), nil
}

func (s Spec) labels() map[string]string {
	l := map[string]string{
		LabelApp:       AppLauncher,
		LabelManagedBy: ManagedBy,
		LabelRun:       s.RunID,
		LabelHarness:   s.Config.Harness.Name,
		LabelStack:     labelValue(s.Config.Endpoint.StackName),
	}
	if s.Preset != "" {
		l[LabelPreset] = s.Preset
	}
	return l
}

func (s Spec) annotations() map[string]string {
	var names []string
	for _, e := range s.Entries() {
		names = append(names, e.Name)
	}
	a := map[string]string{
		AnnoWorkloads:   strings.Join(names, ","),
		AnnoParallelism: strconv.Itoa(s.Config.Harness.Parallelism),
		AnnoMode:        s.mode(),
		AnnoStackName:   s.Config.Endpoint.StackName,
		AnnoBaseURL:     s.Config.Endpoint.BaseURL,
		AnnoModel:       s.Config.Endpoint.Model,
		AnnoPVC:         s.resultsPVC(),
		AnnoImage:       s.Config.Harness.Image,
	}
	if s.NoPVC() {
		a[AnnoKeepFor] = s.KeepFor.String()
	}
	return a
}

// labelValue trims a sanitised name to a valid label value (63 chars, alphanumeric ends).
func labelValue(s string) string {
	s = strings.ReplaceAll(s, "/", "_")
	if len(s) > 63 {
		s = s[:63]
	}
	return strings.Trim(s, "-_.")
}

// BuildPVC builds the results claim: ReadWriteMany so parallel launchers and readers can share it.
func BuildPVC(s Spec) *corev1.PersistentVolumeClaim {
	pvc := &corev1.PersistentVolumeClaim{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"},
		ObjectMeta: metav1.ObjectMeta{
			Name:      s.Config.Harness.ResultsPVC,
			Namespace: s.Config.Harness.Namespace,
			Labels:    map[string]string{LabelManagedBy: ManagedBy},
		},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany},
			Resources: corev1.VolumeResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceStorage: s.PVC.Size},
			},
		},
	}
	if s.PVC.StorageClass != "" {
		sc := s.PVC.StorageClass
		pvc.Spec.StorageClassName = &sc
	}
	return pvc
}

// BuildConfigMap builds the run's ConfigMap: one <workload>.yaml key per workload (as run_only.sh
// writes them) plus the run script.
func BuildConfigMap(s Spec) (*corev1.ConfigMap, error) {
	script, err := Script(s)
	if err != nil {
		return nil, err
	}
	data := map[string]string{ScriptKey: script}
	for _, w := range s.Config.Workloads {
		data[w.Name+".yaml"] = string(w.Profile)
		meta, err := s.metadata(w)
		if err != nil {
			return nil, err
		}
		data[MetadataKey(w.Name)] = meta
		if !s.splitsProfiles() {
			continue
		}
		for i := range s.Config.Harness.Parallelism {
			part, err := config.SplitProfile(s.Config.Harness.Name, w.Profile, i, s.Config.Harness.Parallelism)
			if err != nil {
				return nil, fmt.Errorf("workload %s: %w", w.Name, err)
			}
			data[splitKey(w.Name, i)] = string(part)
		}
	}
	cm := &corev1.ConfigMap{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{
			Name:        ConfigMapName(s.RunID),
			Namespace:   s.Config.Harness.Namespace,
			Labels:      s.labels(),
			Annotations: s.annotations(),
		},
		Data: data,
	}
	// A ConfigMap holds at most 1 MiB; say so before the API server does.
	size := 0
	for k, v := range data {
		size += len(k) + len(v)
	}
	if size > 1<<20 {
		return nil, fmt.Errorf("the workload profiles take %d bytes, over the 1 MiB a ConfigMap can hold: split them over several runs", size)
	}
	return cm, nil
}

// AnnoKeepFor marks a run whose results are on an emptyDir in its launcher pod: how long the
// launcher waits to be fetched after its workloads (a Go duration).
const AnnoKeepFor = "llmdbench.io/keep-for"

// resultsPVC is the claim the run's results go to; "" for an emptyDir run.
func (s Spec) resultsPVC() string {
	if s.NoPVC() {
		return ""
	}
	return s.Config.Harness.ResultsPVC
}

// RequiredAffinity is a pod affinity that requires sel's nodes; nil for a nil sel.
func RequiredAffinity(sel *corev1.NodeSelector) *corev1.Affinity {
	if sel == nil {
		return nil
	}
	return &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: sel.DeepCopy()}}
}

// BuildReaderPod builds a small pod that only mounts a results claim, for reading it when no
// launcher runs. It uses an image nodes already hold (the harness image) unless told otherwise.
// It passes PodSecurity `restricted`: it only reads (the claim is mounted read-only), so it runs as
// ReaderUID whatever the image's user, with no capabilities; the harnesses write their results
// world-readable (mode 0644 files, 0755 folders), and the native harness's files belong to
// NativeUID.
func BuildReaderPod(namespace, name, pvc, image string) *corev1.Pod {
	return &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: namespace,
			Labels:      map[string]string{LabelApp: AppReader, LabelManagedBy: ManagedBy},
			Annotations: map[string]string{AnnoPVC: pvc},
		},
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot:   ptr(true),
				RunAsUser:      ptr(int64(ReaderUID)),
				RunAsGroup:     ptr(int64(ReaderUID)),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			Containers: []corev1.Container{{
				Name:    ContainerName,
				Image:   image,
				Command: []string{"sh", "-c"},
				Args:    []string{idleCommand},
				SecurityContext: &corev1.SecurityContext{
					AllowPrivilegeEscalation: ptr(false),
					Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				},
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
					Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")},
				},
				VolumeMounts: []corev1.VolumeMount{{Name: "results", MountPath: "/requests", ReadOnly: true}},
			}},
			Volumes: []corev1.Volume{{Name: "results", VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: pvc, ReadOnly: true},
			}}},
		},
	}
}
