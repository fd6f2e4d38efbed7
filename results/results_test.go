package results

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteCSVRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.csv")
	rows, err := WriteCSV(path, func(c *CSV) error {
		c.Header("name", "list", "x", "n", "u", "missing")
		c.String(`say "hi"`)
		c.String("30,30")
		c.Float(0.1)
		c.Int(-3)
		c.Uint(math.MaxUint64)
		c.Empty()
		c.End()
		c.String("line\nbreak")
		c.Raw(`"a,b",c`, 2)
		c.Float(1e-300)
		c.Uint(0)
		c.Empty()
		c.End()
		return nil
	})
	if err != nil || rows != 2 {
		t.Fatalf("WriteCSV = %d rows, %v; want 2, nil", rows, err)
	}
	f, _ := os.Open(path)
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("encoding/csv cannot read the file back: %v", err)
	}
	want := [][]string{
		{"name", "list", "x", "n", "u", "missing"},
		{`say "hi"`, "30,30", "0.1", "-3", "18446744073709551615", ""},
		{"line\nbreak", "a,b", "c", "1e-300", "0", ""},
	}
	if len(recs) != len(want) {
		t.Fatalf("read %d records, want %d: %q", len(recs), len(want), recs)
	}
	for i := range want {
		if strings.Join(recs[i], "|") != strings.Join(want[i], "|") {
			t.Errorf("record %d = %q, want %q", i, recs[i], want[i])
		}
	}
}

// A failed write leaves the previous file untouched and no temporary file.
func TestWriteCSVFailureLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "t.csv")
	if err := os.WriteFile(path, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	_, err := WriteCSV(path, func(c *CSV) error {
		c.Header("a")
		c.Int(1)
		c.End()
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "old\n" {
		t.Errorf("file changed to %q after a failed write", b)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries after a failed write, want only the old file", len(entries))
	}
	// A successful write replaces it whole.
	if _, err := WriteCSV(path, func(c *CSV) error { c.Header("new"); return nil }); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "new\n" {
		t.Errorf("file = %q after replacement, want %q", b, "new\n")
	}
	if _, err := WriteCSV(filepath.Join(dir, "missing", "t.csv"), func(c *CSV) error { return nil }); err == nil {
		t.Error("write into a missing directory succeeded")
	}
}

func TestRaggedRowPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("a row with too few fields did not panic")
		}
	}()
	var sb strings.Builder
	c := NewCSV(&sb)
	c.Header("a", "b")
	c.Int(1)
	c.End()
}

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{"plain": "plain", "a,b": `"a,b"`, `q"`: `"q"""`, "": ""} {
		if got := Quote(in); got != want {
			t.Errorf("Quote(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestManifestRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "manifest.json")
	host := ThisHost()
	m := &Manifest{Tool: "batchrun", Experiment: "zo", Replicates: []int{1, 2}, Host: &host,
		Columns: []string{"key", "N"}, Files: map[string]int{"trace.csv": 10}}
	if err := WriteManifest(path, m); err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(path)
	defer f.Close()
	var got Manifest
	if err := json.NewDecoder(bufio.NewReader(f)).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if got.Experiment != "zo" || len(got.Replicates) != 2 || got.Files["trace.csv"] != 10 || got.Columns[1] != "N" {
		t.Errorf("manifest read back as %+v", got)
	}
	if got.Host.Cores < 1 || got.Host.OS == "" {
		t.Errorf("host not described: %+v", got.Host)
	}
}
