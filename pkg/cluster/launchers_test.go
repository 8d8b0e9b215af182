package cluster

import (
	"context"
	"errors"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// With a time-to-live, the run's ConfigMap is owned by its Job, so the garbage collector removes
// both; without one it is left alone; a refused patch is a warning, not a failed launch.
func TestCreateAdoptsTheConfigMapUnderATTL(t *testing.T) {
	objs := func(ttl *int32) []runtime.Object {
		return []runtime.Object{
			&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm", Namespace: "ns"}},
			&batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "job", Namespace: "ns"}, Spec: batchv1.JobSpec{TTLSecondsAfterFinished: ttl}},
		}
	}
	ctx := context.Background()
	ttl := int32(30)
	cs := fake.NewClientset()
	c, err := Create(ctx, cs, objs(&ttl))
	if err != nil || c.Job != "job" || c.ConfigMap != "cm" || len(c.Warnings) != 0 {
		t.Fatalf("%+v %v", c, err)
	}
	cm, _ := cs.CoreV1().ConfigMaps("ns").Get(ctx, "cm", metav1.GetOptions{})
	if refs := cm.OwnerReferences; len(refs) != 1 || refs[0].Kind != "Job" || refs[0].Name != "job" || refs[0].APIVersion != "batch/v1" {
		t.Errorf("owner references %+v", refs)
	}

	cs = fake.NewClientset()
	if _, err := Create(ctx, cs, objs(nil)); err != nil {
		t.Fatal(err)
	}
	if cm, _ := cs.CoreV1().ConfigMaps("ns").Get(ctx, "cm", metav1.GetOptions{}); len(cm.OwnerReferences) != 0 {
		t.Errorf("no time-to-live: the ConfigMap stays the run's record, got owners %+v", cm.OwnerReferences)
	}

	cs = fake.NewClientset()
	cs.PrependReactor("patch", "configmaps", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "configmaps"}, "cm", errors.New("no patch"))
	})
	c, err = Create(ctx, cs, objs(&ttl))
	if err != nil || len(c.Warnings) != 1 || c.Job != "job" {
		t.Errorf("refused patch: %+v %v", c, err)
	}
}
