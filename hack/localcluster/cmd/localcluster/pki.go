package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// pki is the cluster's own CA: it signs the API server's serving certificate, kwok's, and a client
// certificate per user (the API server trusts it with --client-ca-file), so users can be added at
// any time without restarting the API server.
type pki struct{ dir string }

func (p pki) path(name string) string { return filepath.Join(p.dir, "pki", name) }

func (p pki) create() error {
	if err := os.MkdirAll(filepath.Join(p.dir, "pki"), 0o700); err != nil {
		return err
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localcluster-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(10 * 365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	if err := writeCert(p.path("ca.crt"), caDER); err != nil {
		return err
	}
	if err := writeKey(p.path("ca.key"), caKey); err != nil {
		return err
	}
	saKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	if err := writeKey(p.path("sa.key"), saKey); err != nil {
		return err
	}
	pub, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		return err
	}
	if err := os.WriteFile(p.path("sa.pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o600); err != nil {
		return err
	}
	serving := []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"}
	if err := p.issue("apiserver", "kube-apiserver", nil, serving, true); err != nil {
		return err
	}
	if err := p.issue("kwok", "localhost", nil, []string{"localhost"}, true); err != nil {
		return err
	}
	return p.issue("admin", "admin", []string{"system:masters"}, nil, false)
}

// issue writes NAME.crt and NAME.key signed by the CA: a server certificate for loopback, or a
// client certificate whose CN is the user and whose O entries are its groups.
func (p pki) issue(name, cn string, groups, dnsNames []string, server bool) error {
	ca, caKey, err := p.loadCA()
	if err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn, Organization: groups},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.DNSNames = dnsNames
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("10.96.0.1")}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return err
	}
	if err := writeCert(p.path(name+".crt"), der); err != nil {
		return err
	}
	return writeKey(p.path(name+".key"), key)
}

func (p pki) loadCA() (*x509.Certificate, *ecdsa.PrivateKey, error) {
	certPEM, err := os.ReadFile(p.path("ca.crt"))
	if err != nil {
		return nil, nil, fmt.Errorf("no cluster CA in %s (is the cluster up?): %w", p.dir, err)
	}
	keyPEM, err := os.ReadFile(p.path("ca.key"))
	if err != nil {
		return nil, nil, err
	}
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return nil, nil, fmt.Errorf("corrupt CA files in %s", p.path(""))
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, nil, err
	}
	key, err := x509.ParseECPrivateKey(kb.Bytes)
	return cert, key, err
}

func writeCert(path string, der []byte) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
}

func writeKey(path string, key *ecdsa.PrivateKey) error {
	b, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: b}), 0o600)
}

// kubeconfig renders a kubeconfig with embedded credentials for one client certificate.
func (p pki) kubeconfig(server, name, namespace string) ([]byte, error) {
	read := func(f string) (string, error) {
		b, err := os.ReadFile(p.path(f))
		return base64.StdEncoding.EncodeToString(b), err
	}
	ca, err := read("ca.crt")
	if err != nil {
		return nil, err
	}
	crt, err := read(name + ".crt")
	if err != nil {
		return nil, err
	}
	key, err := read(name + ".key")
	if err != nil {
		return nil, err
	}
	if namespace == "" {
		namespace = "default"
	}
	return []byte(strings.Join([]string{
		"apiVersion: v1",
		"kind: Config",
		"clusters:",
		"- name: localcluster",
		"  cluster:",
		"    server: " + server,
		"    certificate-authority-data: " + ca,
		"users:",
		"- name: " + name,
		"  user:",
		"    client-certificate-data: " + crt,
		"    client-key-data: " + key,
		"contexts:",
		"- name: " + name + "@localcluster",
		"  context:",
		"    cluster: localcluster",
		"    user: " + name,
		"    namespace: " + namespace,
		"current-context: " + name + "@localcluster",
		"",
	}, "\n")), nil
}

// writeUserKubeconfig issues a client certificate for a new user and writes its kubeconfig.
func writeUserKubeconfig(dir, user string, groups []string) (string, error) {
	p := pki{dir: dir}
	server, err := os.ReadFile(filepath.Join(dir, "server"))
	if err != nil {
		return "", fmt.Errorf("cluster in %s is not up: %w", dir, err)
	}
	if err := p.issue("user-"+user, user, groups, nil, false); err != nil {
		return "", err
	}
	kc, err := p.kubeconfig(strings.TrimSpace(string(server)), "user-"+user, "")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "users", user+".kubeconfig")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	return path, os.WriteFile(path, kc, 0o600)
}
