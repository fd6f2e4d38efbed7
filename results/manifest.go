package results

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/klauspost/cpuid/v2"
)

// Manifest describes a run directory, or one process that wrote into it:
// the effective spec and its grid, what ran, where, on which backend and
// CPU features, and when. Each process writes its own under runs/; merge
// writes manifest.json with every process listed.
type Manifest struct {
	Tool       string         `json:"tool"`
	Version    string         `json:"version"`
	Command    []string       `json:"command"`
	Experiment string         `json:"experiment"`
	Spec       string         `json:"spec"` // the effective spec, YAML
	Grid       []GridAxis     `json:"grid"`
	Replicates []int          `json:"replicates"`
	Cells      int            `json:"cells"`   // cells in the plan
	Columns    []string       `json:"columns"` // identity and parameter columns of every table
	Tables     []TableDef     `json:"tables"`
	Status     string         `json:"status"` // running, complete, interrupted, failed, merged
	Shard      string         `json:"shard,omitempty"`
	Workers    int            `json:"workers,omitempty"`
	Backend    string         `json:"backend,omitempty"`
	Host       *Host          `json:"host,omitempty"`
	Start      time.Time      `json:"start"`
	End        time.Time      `json:"end,omitzero"`
	WallSec    float64        `json:"wall_seconds,omitempty"`
	CellsRun   int            `json:"cells_run"`
	Processes  []Manifest     `json:"processes,omitempty"`
	Files      map[string]int `json:"files,omitempty"` // merged file -> data rows
}

// GridAxis is one axis of a resolved grid: the parameters it sets and their
// values, value by value.
type GridAxis struct {
	Params []string   `json:"params"`
	Values [][]string `json:"values"`
}

// ReadManifest reads a manifest.
func ReadManifest(path string) (*Manifest, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return &m, nil
}

// Host describes the machine a run used.
type Host struct {
	Name      string   `json:"name"`
	OS        string   `json:"os"`
	Arch      string   `json:"arch"`
	GoVersion string   `json:"go_version"`
	Build     []string `json:"build"` // build settings that change code generation (GOARCH, GOAMD64, ...)
	CPU       string   `json:"cpu"`
	Cores     int      `json:"logical_cores"`
	Features  []string `json:"cpu_features"`
}

// ThisHost describes the running machine, with the CPU features cpuid finds.
func ThisHost() Host {
	name, _ := os.Hostname()
	return Host{
		Name: name, OS: runtime.GOOS, Arch: runtime.GOARCH, GoVersion: runtime.Version(),
		CPU: cpuid.CPU.BrandName, Cores: runtime.NumCPU(), Features: cpuid.CPU.FeatureSet(),
		Build: buildSettings(),
	}
}

// buildSettings returns the recorded build settings that select instruction
// sets (GOARCH, GOAMD64, GOARM64, ...) and whether cgo was on.
func buildSettings() []string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return nil
	}
	var out []string
	for _, s := range bi.Settings {
		if strings.HasPrefix(s.Key, "GO") && s.Key != "GOOS" || s.Key == "CGO_ENABLED" || s.Key == "-tags" {
			out = append(out, s.Key+"="+s.Value)
		}
	}
	return out
}

// Version returns the module version of the running binary, with the VCS
// revision when the build recorded one.
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " (" + s.Value[:12] + ")"
		}
	}
	return v
}

// WriteManifest writes m as indented JSON to path, atomically.
func WriteManifest(path string, m *Manifest) error {
	return WriteAtomic(path, func(w *bufio.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(m)
	})
}
