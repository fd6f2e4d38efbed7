package batch

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Spec is a sweep: an experiment family, a base parameter set (a preset and
// fixed settings), a grid of axes whose cartesian product gives the
// parameter points, and the replicates run at every point.
//
// In YAML (see ExampleSpec):
//
//	experiment: zo            # family
//	preset: paper000          # base parameters (optional)
//	seed: 0                   # root seed (optional)
//	replicates: 8             # a count, a list [0, 3, 5], or {from: 10, to: 19}
//	set: {T: 500}             # fixed values over the preset
//	grid:                     # one axis per parameter
//	  mode: [async, sync]
//	  N: {from: 8, to: 32, step: 8}
//	zip:                      # axes whose parameters vary together
//	  - {mu: [1, 2], alpha: [0.1, 0.05]}
//	paired: [mode]            # compared on common random numbers
//	out: runs/sweep           # run directory
type Spec struct {
	Source     string // where the spec came from, for messages: a file name, or "flags"
	Experiment string
	Preset     string
	Seed       uint64
	Replicates []int
	Set        []Setting
	Axes       []Axis
	Paired     []string // nil: the family's default
	Out        string

	lines map[string]int // field -> line, for messages
}

// Setting fixes one parameter.
type Setting struct {
	Name, Text string
	Origin     string // "sweep.yaml:7", "--set"
}

// Axis is one dimension of the grid: one parameter, or several zipped ones
// that take their i-th values together.
type Axis struct {
	Params []string
	Values [][]string // [value index][param]
	Origin string
}

// Len returns the number of values on the axis.
func (a Axis) Len() int { return len(a.Values) }

// SpecError is an error in a spec, located by file, line and field.
type SpecError struct {
	Source string
	Line   int
	Field  string
	Msg    string
}

func (e *SpecError) Error() string {
	loc := e.Source
	if e.Line > 0 {
		loc += ":" + strconv.Itoa(e.Line)
	}
	if e.Field != "" {
		return fmt.Sprintf("%s: %s: %s", loc, e.Field, e.Msg)
	}
	return fmt.Sprintf("%s: %s", loc, e.Msg)
}

//go:embed example.yaml
var exampleSpec string

// ExampleSpec returns an annotated example spec.
func ExampleSpec() string { return exampleSpec }

// LoadSpec reads a spec file.
func LoadSpec(path string) (*Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read spec: %w", err)
	}
	return ParseSpec(path, data)
}

var specKeys = []string{"experiment", "preset", "seed", "replicates", "set", "grid", "zip", "paired", "out"}

// ParseSpec parses a YAML spec. Unknown keys, wrong types, empty axes and
// parameters on two axes are errors naming the file, the line and the
// field. Parameter names and values are checked later, against the
// family's schema, by Plan.
func ParseSpec(source string, data []byte) (*Spec, error) {
	s := &Spec{Source: source, lines: map[string]int{}}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &SpecError{Source: source, Msg: "empty spec"}
		}
		return nil, &SpecError{Source: source, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	if len(doc.Content) == 0 {
		return nil, &SpecError{Source: source, Msg: "empty spec"}
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, s.errAt(root, "", "want a mapping of "+strings.Join(specKeys, ", "))
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if seen[k.Value] {
			return nil, s.errAt(k, k.Value, "given twice")
		}
		seen[k.Value] = true
		s.lines[k.Value] = k.Line
		var err error
		switch k.Value {
		case "experiment":
			s.Experiment, err = s.scalarString(v, "experiment")
		case "preset":
			s.Preset, err = s.scalarString(v, "preset")
		case "out":
			s.Out, err = s.scalarString(v, "out")
		case "seed":
			s.Seed, err = s.parseSeed(v)
		case "replicates":
			s.Replicates, err = s.parseReplicates(v)
		case "set":
			err = s.parseSet(v)
		case "grid":
			err = s.parseGrid(v)
		case "zip":
			err = s.parseZip(v)
		case "paired":
			s.Paired, err = s.stringList(v, "paired")
			if s.Paired == nil {
				s.Paired = []string{}
			}
		default:
			msg := "unknown key; allowed: " + strings.Join(specKeys, ", ")
			if near := nearestOf(k.Value, specKeys); near != "" {
				msg = fmt.Sprintf("unknown key (did you mean %q?); allowed: %s", near, strings.Join(specKeys, ", "))
			}
			return nil, s.errAt(k, k.Value, msg)
		}
		if err != nil {
			return nil, err
		}
	}
	if s.Experiment == "" {
		return nil, &SpecError{Source: source, Field: "experiment", Msg: "missing (the experiment family, e.g. zo)"}
	}
	return s, s.checkAxes()
}

func (s *Spec) errAt(n *yaml.Node, field, msg string) error {
	return &SpecError{Source: s.Source, Line: n.Line, Field: field, Msg: msg}
}

func (s *Spec) origin(n *yaml.Node) string { return fmt.Sprintf("%s:%d", s.Source, n.Line) }

func (s *Spec) scalarString(n *yaml.Node, field string) (string, error) {
	if n.Kind != yaml.ScalarNode || n.Value == "" {
		return "", s.errAt(n, field, "want a non-empty string")
	}
	return n.Value, nil
}

func (s *Spec) parseSeed(n *yaml.Node) (uint64, error) {
	if n.Kind == yaml.ScalarNode {
		if v, err := strconv.ParseUint(n.Value, 10, 64); err == nil {
			return v, nil
		}
	}
	return 0, s.errAt(n, "seed", "want a non-negative integer (the root seed)")
}

// parseReplicates reads a count (8: replicates 0..7), a list of indices, or
// a range {from: a, to: b} (inclusive).
func (s *Spec) parseReplicates(n *yaml.Node) ([]int, error) {
	const want = "want a count >= 1, a list of indices >= 0, or {from: a, to: b}"
	switch n.Kind {
	case yaml.ScalarNode:
		c, err := strconv.Atoi(n.Value)
		if err != nil || c < 1 || c > MaxReplicates {
			return nil, s.errAt(n, "replicates", fmt.Sprintf("%q: %s (at most %d)", n.Value, want, MaxReplicates))
		}
		return Count(c), nil
	case yaml.SequenceNode:
		if len(n.Content) == 0 {
			return nil, s.errAt(n, "replicates", "empty list: "+want)
		}
		var out []int
		seen := map[int]bool{}
		for _, e := range n.Content {
			r, err := strconv.Atoi(e.Value)
			if e.Kind != yaml.ScalarNode || err != nil || r < 0 {
				return nil, s.errAt(e, "replicates", fmt.Sprintf("%q: %s", e.Value, want))
			}
			if seen[r] {
				return nil, s.errAt(e, "replicates", fmt.Sprintf("replicate %d listed twice", r))
			}
			seen[r] = true
			out = append(out, r)
		}
		return out, nil
	case yaml.MappingNode:
		m, err := s.mapping(n, "replicates", "from", "to")
		if err != nil {
			return nil, err
		}
		from, err1 := strconv.Atoi(m["from"])
		to, err2 := strconv.Atoi(m["to"])
		if err1 != nil || err2 != nil || from < 0 || to < from || to-from >= MaxReplicates {
			return nil, s.errAt(n, "replicates", fmt.Sprintf("want integers 0 <= from <= to, at most %d replicates", MaxReplicates))
		}
		var out []int
		for r := from; r <= to; r++ {
			out = append(out, r)
		}
		return out, nil
	}
	return nil, s.errAt(n, "replicates", want)
}

// MaxReplicates bounds the replicates of a spec.
const MaxReplicates = 10_000_000

// Count returns the replicate indices 0..n-1.
func Count(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// mapping reads a mapping of scalars with the given allowed keys.
func (s *Spec) mapping(n *yaml.Node, field string, allowed ...string) (map[string]string, error) {
	out := map[string]string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		ok := false
		for _, a := range allowed {
			ok = ok || a == k.Value
		}
		if !ok {
			return nil, s.errAt(k, field+"."+k.Value, "unknown key; allowed: "+strings.Join(allowed, ", "))
		}
		if v.Kind != yaml.ScalarNode {
			return nil, s.errAt(v, field+"."+k.Value, "want a scalar")
		}
		out[k.Value] = v.Value
	}
	return out, nil
}

func (s *Spec) stringList(n *yaml.Node, field string) ([]string, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, s.errAt(n, field, "want a list of parameter names")
	}
	var out []string
	for _, e := range n.Content {
		if e.Kind != yaml.ScalarNode || e.Value == "" {
			return nil, s.errAt(e, field, "want a parameter name")
		}
		out = append(out, e.Value)
	}
	return out, nil
}

// valueText returns the --set text of one parameter value: a scalar as is,
// a list of scalars (a list-valued parameter) joined by commas.
func (s *Spec) valueText(n *yaml.Node, field string) (string, error) {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "", s.errAt(n, field, "missing value")
		}
		return n.Value, nil
	case yaml.SequenceNode:
		var parts []string
		for _, e := range n.Content {
			if e.Kind != yaml.ScalarNode {
				return "", s.errAt(e, field, "want a scalar or a list of scalars")
			}
			parts = append(parts, e.Value)
		}
		return strings.Join(parts, ","), nil
	}
	return "", s.errAt(n, field, "want a value (a scalar, or a list for list-valued parameters)")
}

func (s *Spec) parseSet(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return s.errAt(n, "set", "want a mapping of parameter: value")
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		text, err := s.valueText(v, "set."+k.Value)
		if err != nil {
			return err
		}
		s.Set = append(s.Set, Setting{Name: k.Value, Text: text, Origin: s.origin(k)})
	}
	return nil
}

// axisValues reads the values of one grid axis: a list, or a range
// {from, to, step} (inclusive, arithmetic) or {from, to, num[, scale: log]}.
func (s *Spec) axisValues(n *yaml.Node, field string) ([]string, error) {
	switch n.Kind {
	case yaml.SequenceNode:
		if len(n.Content) == 0 {
			return nil, s.errAt(n, field, "empty list: an axis needs at least one value")
		}
		var out []string
		for _, e := range n.Content {
			t, err := s.valueText(e, field)
			if err != nil {
				return nil, err
			}
			out = append(out, t)
		}
		return out, nil
	case yaml.MappingNode:
		m, err := s.mapping(n, field, "from", "to", "step", "num", "scale")
		if err != nil {
			return nil, err
		}
		vals, msg := expandRange(m)
		if msg != "" {
			return nil, s.errAt(n, field, msg)
		}
		return vals, nil
	}
	return nil, s.errAt(n, field, "want a list of values or a range {from, to, step} / {from, to, num, scale}")
}

// expandRange expands a range mapping into value texts. Integer ranges stay
// integers; float values are rounded to 12 significant digits so that
// 0.1+0.2 reads 0.3.
func expandRange(m map[string]string) ([]string, string) {
	from, err1 := strconv.ParseFloat(m["from"], 64)
	to, err2 := strconv.ParseFloat(m["to"], 64)
	if m["from"] == "" || m["to"] == "" || err1 != nil || err2 != nil || math.IsInf(from, 0) || math.IsInf(to, 0) || math.IsNaN(from) || math.IsNaN(to) {
		return nil, "a range needs finite numbers from and to"
	}
	_, hasStep := m["step"]
	_, hasNum := m["num"]
	if hasStep == hasNum {
		return nil, "a range needs exactly one of step or num"
	}
	scale := m["scale"]
	if scale != "" && scale != "linear" && scale != "log" {
		return nil, fmt.Sprintf("scale %q: allowed: linear, log", scale)
	}
	isInt := func(t string) bool { _, err := strconv.Atoi(t); return err == nil }
	ints := isInt(m["from"]) && isInt(m["to"])
	var vals []float64
	if hasStep {
		if scale == "log" {
			return nil, "scale: log needs num, not step"
		}
		step, err := strconv.ParseFloat(m["step"], 64)
		if err != nil || !(step > 0) || math.IsInf(step, 0) {
			return nil, "step must be a finite number > 0"
		}
		if to < from {
			return nil, "from must be <= to"
		}
		ints = ints && isInt(m["step"])
		count := math.Floor((to-from)/step*(1+1e-12)) + 1
		if !(count <= 1_000_000) {
			return nil, fmt.Sprintf("range has %g values (at most 1000000)", count)
		}
		n := int(count)
		for i := 0; i < n; i++ {
			vals = append(vals, from+float64(i)*step)
		}
	} else {
		num, err := strconv.Atoi(m["num"])
		if err != nil || num < 1 || num > 1_000_000 {
			return nil, "num must be an integer in [1, 1000000]"
		}
		if num == 1 && from != to {
			return nil, "num: 1 needs from == to"
		}
		if scale == "log" && (from <= 0 || to <= 0) {
			return nil, "scale: log needs from > 0 and to > 0"
		}
		for i := 0; i < num; i++ {
			f := 0.0
			if num > 1 {
				f = float64(i) / float64(num-1)
			}
			if scale == "log" {
				vals = append(vals, math.Exp(math.Log(from)+f*(math.Log(to)-math.Log(from))))
			} else {
				vals = append(vals, from+f*(to-from))
			}
		}
		ints = false
	}
	out := make([]string, len(vals))
	for i, v := range vals {
		if ints {
			out[i] = strconv.FormatInt(int64(math.Round(v)), 10)
			continue
		}
		r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 12, 64), 64)
		out[i] = strconv.FormatFloat(r, 'g', -1, 64)
	}
	return out, ""
}

func (s *Spec) parseGrid(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return s.errAt(n, "grid", "want a mapping of parameter: values")
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		vals, err := s.axisValues(v, "grid."+k.Value)
		if err != nil {
			return err
		}
		a := Axis{Params: []string{k.Value}, Origin: s.origin(k)}
		for _, t := range vals {
			a.Values = append(a.Values, []string{t})
		}
		s.Axes = append(s.Axes, a)
	}
	return nil
}

func (s *Spec) parseZip(n *yaml.Node) error {
	if n.Kind != yaml.SequenceNode {
		return s.errAt(n, "zip", "want a list of mappings {param: [values], ...} whose lists have equal lengths")
	}
	for _, group := range n.Content {
		if group.Kind != yaml.MappingNode || len(group.Content) == 0 {
			return s.errAt(group, "zip", "want a mapping {param: [values], ...}")
		}
		a := Axis{Origin: s.origin(group)}
		for i := 0; i+1 < len(group.Content); i += 2 {
			k, v := group.Content[i], group.Content[i+1]
			vals, err := s.axisValues(v, "zip."+k.Value)
			if err != nil {
				return err
			}
			if len(a.Params) > 0 && len(vals) != len(a.Values) {
				return s.errAt(v, "zip."+k.Value, fmt.Sprintf("has %d values, but %s has %d: zipped axes need equal lengths", len(vals), a.Params[0], len(a.Values)))
			}
			if len(a.Params) == 0 {
				a.Values = make([][]string, len(vals))
			}
			a.Params = append(a.Params, k.Value)
			for j, t := range vals {
				a.Values[j] = append(a.Values[j], t)
			}
		}
		s.Axes = append(s.Axes, a)
	}
	return nil
}

// checkAxes rejects a parameter that is on two axes, or both set and on an
// axis.
func (s *Spec) checkAxes() error {
	where := map[string]string{}
	for _, st := range s.Set {
		if o, ok := where[st.Name]; ok {
			return &SpecError{Source: s.Source, Field: st.Name, Msg: fmt.Sprintf("set twice (%s and %s)", o, st.Origin)}
		}
		where[st.Name] = st.Origin
	}
	for _, a := range s.Axes {
		for _, p := range a.Params {
			if o, ok := where[p]; ok {
				return &SpecError{Source: s.Source, Field: p, Msg: fmt.Sprintf("on two axes, or both set and on an axis (%s and %s)", o, a.Origin)}
			}
			where[p] = a.Origin
		}
	}
	return nil
}

// Override applies command-line settings ("name=value") over the spec: they
// replace the spec's and the preset's value of that parameter. A value with
// commas for a parameter that is not list-valued makes an axis
// ("mode=async,sync"). Setting a parameter twice with different values, or
// one the spec file puts on an axis, is a conflict.
func (s *Spec) Override(schema Schema, sets []string) error {
	given := map[string]string{}
	for _, o := range sets {
		name, text, ok := strings.Cut(o, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return &SpecError{Source: "--set", Msg: fmt.Sprintf("%q: want name=value", o)}
		}
		p, known := schema.Lookup(name)
		if !known {
			return &SpecError{Source: "--set", Msg: schema.unknown(name).Error()}
		}
		if prev, dup := given[name]; dup {
			if prev != text {
				return &SpecError{Source: "--set", Field: name, Msg: fmt.Sprintf("conflicting values %q and %q", prev, text)}
			}
			continue
		}
		given[name] = text
		for _, a := range s.Axes {
			for _, ap := range a.Params {
				if ap == name {
					return &SpecError{Source: "--set", Field: name, Msg: fmt.Sprintf("conflicts with the axis at %s; edit the spec's grid instead", a.Origin)}
				}
			}
		}
		s.Set = removeSetting(s.Set, name)
		if strings.Contains(text, ",") && p.Kind != IntList && p.Kind != EnumList {
			a := Axis{Params: []string{name}, Origin: "--set " + name}
			for _, t := range splitList(text) {
				a.Values = append(a.Values, []string{t})
			}
			if len(a.Values) == 0 {
				return &SpecError{Source: "--set", Field: name, Msg: fmt.Sprintf("%q: an axis needs at least one value", text)}
			}
			s.Axes = append(s.Axes, a)
			continue
		}
		s.Set = append(s.Set, Setting{Name: name, Text: text, Origin: "--set"})
	}
	return nil
}

func removeSetting(set []Setting, name string) []Setting {
	out := set[:0]
	for _, st := range set {
		if st.Name != name {
			out = append(out, st)
		}
	}
	return out
}

// nearestOf returns the candidate closest to name, if it is close.
func nearestOf(name string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if d := editDistance(strings.ToLower(name), strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// YAML returns the spec as YAML text that parses back to the same spec.
func (s *Spec) YAML() string {
	var b strings.Builder
	// Values are written as JSON strings, which YAML reads back verbatim
	// (also inside flow lists, where a bare comma would split them).
	q := func(t string) string {
		out, _ := json.Marshal(t)
		return string(out)
	}
	fmt.Fprintf(&b, "experiment: %s\n", q(s.Experiment))
	if s.Preset != "" {
		fmt.Fprintf(&b, "preset: %s\n", q(s.Preset))
	}
	fmt.Fprintf(&b, "seed: %d\n", s.Seed)
	reps := make([]string, len(s.Replicates))
	for i, r := range s.Replicates {
		reps[i] = strconv.Itoa(r)
	}
	if len(s.Replicates) > 0 && s.Replicates[0] == 0 && s.Replicates[len(s.Replicates)-1] == len(s.Replicates)-1 && isSequential(s.Replicates) {
		fmt.Fprintf(&b, "replicates: %d\n", len(s.Replicates))
	} else {
		fmt.Fprintf(&b, "replicates: [%s]\n", strings.Join(reps, ", "))
	}
	if len(s.Set) > 0 {
		b.WriteString("set:\n")
		for _, st := range s.Set {
			fmt.Fprintf(&b, "  %s: %s\n", st.Name, q(st.Text))
		}
	}
	// Axes keep their order (it is the plan's order): the leading
	// one-parameter axes go under grid:, everything from the first zipped
	// axis on under zip: (a one-parameter axis as a group of one).
	lead := 0
	for lead < len(s.Axes) && len(s.Axes[lead].Params) == 1 {
		lead++
	}
	values := func(a Axis, j int) string {
		vals := make([]string, len(a.Values))
		for i, v := range a.Values {
			vals[i] = q(v[j])
		}
		return "[" + strings.Join(vals, ", ") + "]"
	}
	if lead > 0 {
		b.WriteString("grid:\n")
		for _, a := range s.Axes[:lead] {
			fmt.Fprintf(&b, "  %s: %s\n", a.Params[0], values(a, 0))
		}
	}
	if lead < len(s.Axes) {
		b.WriteString("zip:\n")
		for _, a := range s.Axes[lead:] {
			for j, p := range a.Params {
				prefix := "    "
				if j == 0 {
					prefix = "  - "
				}
				fmt.Fprintf(&b, "%s%s: %s\n", prefix, p, values(a, j))
			}
		}
	}
	if s.Paired != nil {
		fmt.Fprintf(&b, "paired: [%s]\n", strings.Join(s.Paired, ", "))
	}
	if s.Out != "" {
		fmt.Fprintf(&b, "out: %s\n", q(s.Out))
	}
	return b.String()
}

func isSequential(r []int) bool {
	for i, v := range r {
		if v != i {
			return false
		}
	}
	return true
}
