// Package gen_test checks that the committed generated code matches protos/.
package gen_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

// TestGeneratedCodeIsFresh regenerates the code with gen.sh into a temporary folder and
// compares it with the committed one. It needs the repo's Python venv (make .venv/.installed),
// whose grpcio-tools provides protoc. go test caches a pass without noticing an edited .proto
// (it tracks only files inside the module), so make runs it with -count=1.
func TestGeneratedCodeIsFresh(t *testing.T) {
	if testing.Short() {
		t.Skip("regenerating takes a protoc run and, the first time, building the plugins")
	}
	protos, _ := filepath.Glob("../../../protos/anomalyd/v1/*.proto")
	if len(protos) == 0 {
		t.Fatal("no protos in ../../../protos/anomalyd/v1")
	}
	out := t.TempDir()
	cmd := exec.Command("bash", "../gen.sh", out)
	if output, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gen.sh: %v\n%s", err, output)
	}
	fresh := goFiles(t, filepath.Join(out, "anomalyd/v1"))
	committed := goFiles(t, "anomalyd/v1")
	names := func(m map[string][]byte) []string {
		var keys []string
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		return keys
	}
	if !slices.Equal(names(fresh), names(committed)) {
		t.Fatalf("generated files %v, committed %v: run clients/go/gen.sh", names(fresh), names(committed))
	}
	for name, content := range fresh {
		if !bytes.Equal(content, committed[name]) {
			t.Errorf("gen/anomalyd/v1/%s is stale: run clients/go/gen.sh", name)
		}
	}
}

func goFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	files := map[string][]byte{}
	for _, path := range paths {
		content, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		files[filepath.Base(path)] = content
	}
	return files
}
