package batch

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/batchrun/batchrun/results"
)

// Family is an experiment family as the sweep engine sees it: a parameter
// schema, presets, output tables, and a way to run a group of cells of the
// same parameter point as one batched computation.
type Family interface {
	Name() string
	Schema() Schema
	Presets() []Preset
	// Paired lists the parameters that, by default, are compared on common
	// random numbers: they do not enter the seed derivation.
	Paired() []string
	// Tables lists the output tables; the first is the commit table, one
	// row per cell (the summary).
	Tables() []results.TableDef
	// Resolve cross-checks a parameter set and returns it as it will run
	// (with derived defaults filled in, so outputs show what was used);
	// errors name parameters.
	Resolve(v Values) (Values, error)
	// Work is the work of one cell in the units RunGroup reports progress
	// in (for example seed-iterations).
	Work(v Values) int64
	// GroupBytes estimates the memory of a batched group of n cells.
	GroupBytes(v Values, n int) int64
	// RunGroup runs cells that share one parameter point (they differ only
	// in replicate and seed) and returns their rows, in the order of cells.
	// It calls progress with units of work as they complete.
	RunGroup(ctx context.Context, cells []*Cell, progress func(work int64)) ([][][]results.Row, error)
	// Report prints a human-readable summary of completed cells, given the
	// commit-table metrics of each (nil for cells without results).
	Report(w io.Writer, cells []*Cell, summary [][]float64)
}

// Cell is one run of a sweep: experiment, fully resolved parameters and a
// replicate index.
type Cell struct {
	Index     int    // position in the plan: the canonical output order
	Key       string // stable hash of (root seed, experiment, parameters, replicate)
	Seed      uint64 // derived from the key's contents, without the paired parameters
	Replicate int
	Point     int // index of the parameter point
	Values    Values
}

// Plan is a spec expanded into cells.
type Plan struct {
	Spec    *Spec
	Family  Family
	Axes    []Axis   // the effective grid: the preset's axes, then the spec's
	Paired  []string // parameters that do not enter the seed
	Points  []Values // parameter points, in grid order (first axis slowest)
	Cells   []*Cell  // points x replicates
	Columns []string // identity and parameter columns of every table
	// Added maps the parameters with KeyOmitsDefault to their defaults
	// as they appear in the tables: parts written before such a parameter
	// existed lack its column and are merged with it filled in.
	Added map[string]string
}

// Families maps family names to families.
type Families map[string]Family

// Names returns the family names, sorted.
func (fs Families) Names() []string {
	var out []string
	for n := range fs {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// NewPlan resolves a spec against its family and expands it into cells.
// Errors name the spec's file, line and field.
func NewPlan(spec *Spec, families Families) (*Plan, error) {
	fam, ok := families[spec.Experiment]
	if !ok {
		return nil, &SpecError{Source: spec.Source, Line: spec.lines["experiment"], Field: "experiment",
			Msg: fmt.Sprintf("unknown experiment %q; allowed: %s", spec.Experiment, strings.Join(families.Names(), ", "))}
	}
	schema := fam.Schema()
	base := map[string]string{}
	var presetAxes []Axis
	presetReps := 0
	if spec.Preset != "" {
		var names []string
		found := false
		for _, p := range fam.Presets() {
			names = append(names, p.Name)
			if p.Name == spec.Preset {
				found = true
				base = p.Set
				presetAxes = p.Axes()
				presetReps = p.Replicates
			}
		}
		if !found {
			return nil, &SpecError{Source: spec.Source, Line: spec.lines["preset"], Field: "preset",
				Msg: fmt.Sprintf("unknown preset %q of %s; allowed: %s", spec.Preset, fam.Name(), strings.Join(names, ", "))}
		}
	}
	v, err := schema.Resolve(base, nil)
	if err != nil {
		return nil, fmt.Errorf("preset %s: %w", spec.Preset, err)
	}
	bad := func(origin, field, msg string) error {
		src, line := splitOrigin(origin)
		return &SpecError{Source: src, Line: line, Field: field, Msg: msg}
	}
	fixed := map[string]bool{}
	for _, st := range spec.Set {
		if err := v.Set(st.Name, st.Text); err != nil {
			return nil, bad(st.Origin, "set."+st.Name, err.Error())
		}
		fixed[st.Name] = true
	}
	for _, a := range spec.Axes {
		for _, p := range a.Params {
			fixed[p] = true
		}
	}
	for _, a := range spec.Axes {
		if a.Len() == 0 {
			return nil, bad(a.Origin, "grid."+strings.Join(a.Params, "+"), "an axis needs at least one value")
		}
	}
	var axes []Axis
	for _, a := range presetAxes {
		if !fixed[a.Params[0]] {
			axes = append(axes, a)
		}
	}
	axes = append(axes, spec.Axes...)
	// Parse every axis value once.
	parsed := make([][][]any, len(axes))
	for ai, a := range axes {
		parsed[ai] = make([][]any, len(a.Values))
		for vi, vals := range a.Values {
			for pi, name := range a.Params {
				p, ok := schema.Lookup(name)
				if !ok {
					return nil, bad(a.Origin, "grid", schema.unknown(name).Error())
				}
				x, err := p.Parse(vals[pi])
				if err != nil {
					return nil, bad(a.Origin, "grid."+name, err.Error())
				}
				parsed[ai][vi] = append(parsed[ai][vi], x)
			}
		}
	}
	paired := fam.Paired()
	if spec.Paired != nil {
		paired = spec.Paired
	}
	for _, p := range paired {
		if _, ok := schema.Lookup(p); !ok {
			return nil, &SpecError{Source: spec.Source, Line: spec.lines["paired"], Field: "paired", Msg: schema.unknown(p).Error()}
		}
	}
	// Without replicates in the spec: the preset's default count, or one.
	if len(spec.Replicates) == 0 {
		spec.Replicates = Count(max(1, presetReps))
	}
	reps := spec.Replicates
	pl := &Plan{Spec: spec, Family: fam, Axes: axes, Paired: paired, Added: map[string]string{}}
	total := 1
	for _, a := range axes {
		total *= a.Len()
		if total > 10_000_000 {
			return nil, &SpecError{Source: spec.Source, Field: "grid", Msg: "more than 10,000,000 parameter points"}
		}
	}
	if total*len(reps) > 50_000_000 {
		return nil, &SpecError{Source: spec.Source, Field: "grid", Msg: fmt.Sprintf("%d points x %d replicates is more than 50,000,000 cells", total, len(reps))}
	}
	pl.Columns = append([]string{"key", "experiment", "replicate", "seed"}, schemaNames(schema)...)
	idx := make([]int, len(axes))
	pairedSet := map[string]bool{}
	for _, p := range paired {
		pairedSet[p] = true
	}
	pairedText := slices.Sorted(maps.Keys(pairedSet))
	for _, p := range schema {
		if p.KeyOmitsDefault {
			d, err := p.Parse(p.Default)
			if err != nil {
				return nil, fmt.Errorf("batch: %s parameter %s: default %q: %w", fam.Name(), p.Name, p.Default, err)
			}
			pl.Added[p.Name] = Format(d)
		}
	}
	var keyText, seedText strings.Builder
	pointKeys := map[string]string{}
	for point := 0; point < total; point++ {
		pv := v.clone()
		for ai := range axes {
			for pi, name := range axes[ai].Params {
				pv.vals[name] = parsed[ai][idx[ai]][pi]
			}
		}
		pv, err := fam.Resolve(pv)
		if err != nil {
			return nil, &SpecError{Source: spec.Source, Field: "grid", Msg: fmt.Sprintf("point %s: %v", pointName(axes, idx), err)}
		}
		pl.Points = append(pl.Points, pv)
		keyText.Reset()
		seedText.Reset()
		fmt.Fprintf(&keyText, "batchrun cell v1\nroot=%d\nexperiment=%s\n", spec.Seed, fam.Name())
		seedText.WriteString(keyText.String())
		// The key also names what is paired: the same parameters with other
		// pairing have other seeds, so they are other cells.
		fmt.Fprintf(&keyText, "paired=%s\n", strings.Join(pairedText, ","))
		for _, p := range schema {
			text := Format(pv.vals[p.Name])
			if p.KeyOmitsDefault && text == pl.Added[p.Name] {
				continue
			}
			line := p.Name + "=" + text + "\n"
			keyText.WriteString(line)
			if !pairedSet[p.Name] {
				seedText.WriteString(line)
			}
		}
		pk := keyText.String()
		if prev, dup := pointKeys[pk]; dup {
			return nil, &SpecError{Source: spec.Source, Field: "grid", Msg: fmt.Sprintf("points %s and %s resolve to the same parameters", prev, pointName(axes, idx))}
		}
		pointKeys[pk] = pointName(axes, idx)
		for _, r := range reps {
			rep := "replicate=" + strconv.Itoa(r) + "\n"
			key := sha256.Sum256([]byte(pk + rep))
			seed := sha256.Sum256([]byte(seedText.String() + rep))
			pl.Cells = append(pl.Cells, &Cell{
				Index: len(pl.Cells), Key: hex.EncodeToString(key[:8]),
				Seed: binary.BigEndian.Uint64(seed[:8]), Replicate: r, Point: point, Values: pv,
			})
		}
		for ai := len(axes) - 1; ai >= 0; ai-- {
			idx[ai]++
			if idx[ai] < axes[ai].Len() {
				break
			}
			idx[ai] = 0
		}
	}
	return pl, nil
}

func schemaNames(s Schema) []string {
	out := make([]string, len(s))
	for i, p := range s {
		out[i] = p.Name
	}
	return out
}

func pointName(axes []Axis, idx []int) string {
	var parts []string
	for ai, a := range axes {
		for pi, p := range a.Params {
			parts = append(parts, p+"="+a.Values[idx[ai]][pi])
		}
	}
	if len(parts) == 0 {
		return "(base)"
	}
	return strings.Join(parts, " ")
}

func splitOrigin(origin string) (string, int) {
	i := strings.LastIndexByte(origin, ':')
	if i < 0 {
		return origin, 0
	}
	line, err := strconv.Atoi(origin[i+1:])
	if err != nil {
		return origin, 0
	}
	return origin[:i], line
}

// Prefix returns the CSV text of a cell's identity and parameter columns
// (Plan.Columns).
func (pl *Plan) Prefix(c *Cell) string {
	var b strings.Builder
	b.WriteString(c.Key)
	b.WriteByte(',')
	b.WriteString(results.Quote(pl.Family.Name()))
	b.WriteByte(',')
	b.WriteString(strconv.Itoa(c.Replicate))
	b.WriteByte(',')
	b.WriteString(strconv.FormatUint(c.Seed, 10))
	for _, p := range c.Values.schema {
		b.WriteByte(',')
		b.WriteString(results.Quote(Format(c.Values.vals[p.Name])))
	}
	return b.String()
}

// Keys returns the cell keys in plan order.
func (pl *Plan) Keys() []string {
	out := make([]string, len(pl.Cells))
	for i, c := range pl.Cells {
		out[i] = c.Key
	}
	return out
}

// Shard is one of N disjoint parts of a plan: shard I of N (0 <= I < N).
type Shard struct{ I, N int }

// String returns "i/n".
func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.I, s.N) }

// Label returns a file-name-safe name of the shard, e.g. "s2of5".
func (s Shard) Label() string { return fmt.Sprintf("s%dof%d", s.I, s.N) }

// Cells returns the cells of shard s: a contiguous block of the plan, so
// that the replicates of a parameter point stay together and batch. The
// blocks depend only on the plan, never on what is already done or on the
// worker count.
func (pl *Plan) ShardCells(s Shard) []*Cell {
	n := len(pl.Cells)
	return pl.Cells[s.I*n/s.N : (s.I+1)*n/s.N]
}

// ParseShard reads "i/n" with 0 <= i < n.
func ParseShard(text string) (Shard, error) {
	a, b, ok := strings.Cut(text, "/")
	i, err1 := strconv.Atoi(strings.TrimSpace(a))
	n, err2 := strconv.Atoi(strings.TrimSpace(b))
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n {
		return Shard{}, fmt.Errorf("--shard %q: want i/n with 0 <= i < n (e.g. 0/4 .. 3/4), or auto", text)
	}
	return Shard{I: i, N: n}, nil
}

// ShardFromEnv picks the shard of a Slurm array task or a Kubernetes
// Indexed Job from the environment: SLURM_ARRAY_TASK_ID, with
// SLURM_ARRAY_TASK_MIN (default 0) and SLURM_ARRAY_TASK_COUNT; or
// JOB_COMPLETION_INDEX with shards (--shards n). lookup is os.LookupEnv in
// production.
func ShardFromEnv(lookup func(string) (string, bool), shards int) (Shard, error) {
	num := func(name string) (int, bool, error) {
		t, ok := lookup(name)
		if !ok || t == "" {
			return 0, false, nil
		}
		v, err := strconv.Atoi(t)
		if err != nil {
			return 0, true, fmt.Errorf("--shard auto: %s=%q is not an integer", name, t)
		}
		return v, true, nil
	}
	if id, ok, err := num("SLURM_ARRAY_TASK_ID"); ok || err != nil {
		if err != nil {
			return Shard{}, err
		}
		lo, _, err := num("SLURM_ARRAY_TASK_MIN")
		if err != nil {
			return Shard{}, err
		}
		count, ok, err := num("SLURM_ARRAY_TASK_COUNT")
		if err != nil {
			return Shard{}, err
		}
		if !ok {
			return Shard{}, fmt.Errorf("--shard auto: SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not")
		}
		if shards > 0 && shards != count {
			return Shard{}, fmt.Errorf("--shards %d disagrees with SLURM_ARRAY_TASK_COUNT=%d", shards, count)
		}
		s := Shard{I: id - lo, N: count}
		if s.N < 1 || s.I < 0 || s.I >= s.N {
			return Shard{}, fmt.Errorf("--shard auto: task %d of an array from %d with %d tasks is not a shard (use a contiguous array such as --array=0-%d)", id, lo, count, max(count, 1)-1)
		}
		return s, nil
	}
	if idx, ok, err := num("JOB_COMPLETION_INDEX"); ok || err != nil {
		if err != nil {
			return Shard{}, err
		}
		if shards < 1 {
			return Shard{}, fmt.Errorf("--shard auto: JOB_COMPLETION_INDEX is set: give the number of shards with --shards n (the Job's completions)")
		}
		if idx < 0 || idx >= shards {
			return Shard{}, fmt.Errorf("--shard auto: JOB_COMPLETION_INDEX=%d is not below --shards %d", idx, shards)
		}
		return Shard{I: idx, N: shards}, nil
	}
	return Shard{}, fmt.Errorf("--shard auto: neither SLURM_ARRAY_TASK_ID (Slurm job array) nor JOB_COMPLETION_INDEX (Kubernetes Indexed Job) is set")
}
