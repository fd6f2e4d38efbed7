package results

import (
	"bufio"
	"encoding/json"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/klauspost/cpuid/v2"
)

// Manifest describes a run: what was asked, on what, when, and which files
// it produced. It is written next to the CSV files as manifest.json.
type Manifest struct {
	Tool       string            `json:"tool"`
	Version    string            `json:"version"`
	Command    []string          `json:"command"`
	Experiment string            `json:"experiment"`
	Preset     string            `json:"preset"`
	Params     []Param           `json:"params"`
	Seeds      []uint64          `json:"seeds"`
	Backend    string            `json:"backend"`
	Workers    int               `json:"workers"`
	Host       Host              `json:"host"`
	Start      time.Time         `json:"start"`
	End        time.Time         `json:"end"`
	WallSec    float64           `json:"wall_seconds"`
	Timings    map[string]string `json:"timings,omitempty"`
	Files      map[string]int    `json:"files"` // file name -> data rows
}

// Param is one resolved parameter of a run.
type Param struct {
	Name  string `json:"name"`
	Value string `json:"value"`
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
