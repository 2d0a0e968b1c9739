package anomalyd

import (
	"context"
	"slices"
	"strings"
	"testing"

	anomalydv1 "github.com/anomalyd/anomalyd/clients/go/gen/anomalyd/v1"
)

func TestAnAPIKeyTravelsWithEveryCallEvenWithoutTLSOnLoopback(t *testing.T) {
	fake := &fakeJobs{}
	c := serve(t, fake, WithAPIKey("aWQ6c2VjcmV0"))
	if _, err := c.GetJobs(context.Background(), &anomalydv1.GetJobsRequest{}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(fake.authorization, []string{"ApiKey aWQ6c2VjcmV0"}) {
		t.Errorf("authorization %v", fake.authorization)
	}
}

func TestAnAPIKeyIsNotSentInTheClearToAnotherMachine(t *testing.T) {
	_, err := NewClient("anomalyd.example.com:50051", WithAPIKey("k"))
	if err == nil || !strings.Contains(err.Error(), "unencrypted") {
		t.Errorf("got %v", err)
	}
	c, err := NewClient("anomalyd.example.com:50051", WithAPIKey("k"), WithTLS())
	if err != nil {
		t.Errorf("with TLS: %v", err)
	} else {
		c.Close()
	}
}

func TestLoopbackTargets(t *testing.T) {
	for target, want := range map[string]bool{
		"127.0.0.1:50051":           true,
		"127.9.9.9:1":               true,
		"localhost:50051":           true,
		"[::1]:50051":               true,
		"dns:///localhost:50051":    true,
		"dns:///127.0.0.1:50051":    true,
		"passthrough:///localhost":  true,
		"unix:///run/anomalyd.sock": true,
		"10.0.0.1:50051":            false,
		"anomalyd:50051":            false,
		"dns:///anomalyd:50051":     false,
		"localhost.evil.com:50051":  false,
	} {
		if got := isLoopback(target); got != want {
			t.Errorf("isLoopback(%q) = %v", target, got)
		}
	}
}

func TestUnreadableTLSFilesFailNewClient(t *testing.T) {
	if _, err := NewClient("localhost:1", WithCAFile("/nonexistent/ca.pem")); err == nil {
		t.Error("a missing CA file must fail")
	}
	if _, err := NewClient("localhost:1", WithClientCertificate("/nonexistent/c.pem", "/nonexistent/k.pem")); err == nil {
		t.Error("a missing client certificate must fail")
	}
}
