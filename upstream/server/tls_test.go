package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pilot-hpc/pilot/upstream"
)

// selfSigned writes a certificate for 127.0.0.1 and its key.
func selfSigned(t *testing.T, dir string) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "pilot test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func TestServesTLS(t *testing.T) {
	cert, key := selfSigned(t, t.TempDir())
	url := strings.Replace(testServer(t, Config{TLSCert: cert, TLSKey: key}), "http://", "https://", 1)
	q, err := upstream.OpenHTTP(url, upstream.HTTPOptions{Token: tokSubmit, CAFile: cert})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if rep, err := q.Submit(bg, specs("tls", 3)); err != nil || rep.Accepted != 3 {
		t.Fatalf("submit over https: %+v %v", rep, err)
	}
	// Without the CA the client refuses the server at once, and says so.
	t.Setenv("PILOT_CA_FILE", "")
	untrusting, _ := upstream.OpenHTTP(url, upstream.HTTPOptions{Token: tokSubmit})
	defer untrusting.Close()
	if _, err := untrusting.Status(bg); err == nil || errors.Is(err, upstream.ErrUnavailable) || !strings.Contains(err.Error(), "PILOT_CA_FILE") {
		t.Fatalf("untrusted certificate: %v", err)
	}
}

func TestRefusesToStartWithABadCertificate(t *testing.T) {
	dir := t.TempDir()
	cert, _ := selfSigned(t, dir)
	cfg := Config{Listen: "127.0.0.1:0", DataDir: filepath.Join(dir, "d"), TokenFile: writeTokens(t, dir), TLSCert: cert, TLSKey: cert}
	if err := Run(bg, cfg); err == nil || !strings.Contains(err.Error(), "--tls-key") {
		t.Fatalf("Run with a certificate as its key: %v", err)
	}
}
