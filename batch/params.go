// Package batch is the sweep engine of batchrun: typed experiment parameters
// and presets, their resolution from presets and command-line overrides, and
// the worker pool that runs batched jobs on all cores.
package batch

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Kind is the type of a parameter's value.
type Kind int

// The parameter kinds. List kinds take comma-separated values.
const (
	Int      Kind = iota // int
	Float                // float64
	Bool                 // bool: true or false
	Enum                 // string from Param.Enum
	IntList              // []int, comma-separated
	EnumList             // []string from Param.Enum, comma-separated, no repeats
	Text                 // string, free text without commas, checked by the family's Resolve
)

func (k Kind) String() string {
	return [...]string{"int", "float", "bool", "enum", "int list", "enum list", "text"}[k]
}

// Range bounds a numeric parameter (every element, for lists). The zero
// Range is unbounded.
type Range struct {
	Lo, Hi         float64
	HasLo, HasHi   bool
	LoOpen, HiOpen bool // strict inequality
}

// AtLeast returns [lo, inf).
func AtLeast(lo float64) Range { return Range{Lo: lo, HasLo: true} }

// Above returns (lo, inf).
func Above(lo float64) Range { return Range{Lo: lo, HasLo: true, LoOpen: true} }

// Between returns [lo, hi].
func Between(lo, hi float64) Range { return Range{Lo: lo, Hi: hi, HasLo: true, HasHi: true} }

// Contains reports whether x lies in r.
func (r Range) Contains(x float64) bool {
	if math.IsNaN(x) {
		return false
	}
	if r.HasLo && (x < r.Lo || r.LoOpen && x == r.Lo) {
		return false
	}
	if r.HasHi && (x > r.Hi || r.HiOpen && x == r.Hi) {
		return false
	}
	return true
}

func (r Range) String() string {
	num := func(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }
	switch {
	case r.HasLo && r.HasHi:
		lb, rb := "[", "]"
		if r.LoOpen {
			lb = "("
		}
		if r.HiOpen {
			rb = ")"
		}
		return lb + num(r.Lo) + ", " + num(r.Hi) + rb
	case r.HasLo && r.LoOpen:
		return "> " + num(r.Lo)
	case r.HasLo:
		return ">= " + num(r.Lo)
	case r.HasHi && r.HiOpen:
		return "< " + num(r.Hi)
	case r.HasHi:
		return "<= " + num(r.Hi)
	}
	return "any"
}

// Param declares one parameter of an experiment.
type Param struct {
	Name    string
	Kind    Kind
	Default string   // in the syntax of --set
	Enum    []string // allowed values of Enum and EnumList
	Range   Range    // allowed values of numeric kinds
	Syntax  string   // what a Text parameter accepts, for help and errors
	Doc     string
	// KeyOmitsDefault leaves the parameter out of cell keys and seeds
	// while it has its default value. Set it on every parameter added to
	// an experiment after its first release: adding the parameter then
	// keeps the key and seed of every existing cell, so old numbers
	// reproduce and old run directories resume (their parts lack the
	// column, and a merge fills in the default). The default of such a
	// parameter must never change: cells run at the old default would
	// pass for cells of the new one.
	KeyOmitsDefault bool
}

// Allowed describes the values p accepts, for help and error messages.
func (p Param) Allowed() string {
	switch p.Kind {
	case Bool:
		return "true or false"
	case Enum:
		return "one of " + strings.Join(p.Enum, ", ")
	case EnumList:
		return "a comma-separated list of " + strings.Join(p.Enum, ", ")
	case Int:
		return "an integer " + p.Range.String()
	case IntList:
		return "a comma-separated list of integers " + p.Range.String()
	case Text:
		if p.Syntax != "" {
			return p.Syntax
		}
		return "text without commas"
	default:
		return "a number " + p.Range.String()
	}
}

// Parse converts text to p's value: int, float64, bool, string, []int or
// []string. The error names the parameter and what it allows.
func (p Param) Parse(text string) (any, error) {
	bad := func(why string) error {
		return fmt.Errorf("parameter %s = %q: %s; want %s", p.Name, text, why, p.Allowed())
	}
	text = strings.TrimSpace(text)
	switch p.Kind {
	case Int:
		v, err := strconv.Atoi(text)
		if err != nil {
			return nil, bad("not an integer")
		}
		if !p.Range.Contains(float64(v)) {
			return nil, bad("out of range")
		}
		return v, nil
	case Float:
		v, err := strconv.ParseFloat(text, 64)
		if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
			return nil, bad("not a finite number")
		}
		if !p.Range.Contains(v) {
			return nil, bad("out of range")
		}
		return v, nil
	case Bool:
		v, err := strconv.ParseBool(text)
		if err != nil {
			return nil, bad("not a boolean")
		}
		return v, nil
	case Enum:
		if !slices.Contains(p.Enum, text) {
			return nil, bad("unknown value")
		}
		return text, nil
	case IntList:
		var out []int
		for _, f := range splitList(text) {
			v, err := strconv.Atoi(f)
			if err != nil {
				return nil, bad(fmt.Sprintf("%q is not an integer", f))
			}
			if !p.Range.Contains(float64(v)) {
				return nil, bad(fmt.Sprintf("%d is out of range", v))
			}
			out = append(out, v)
		}
		if len(out) == 0 {
			return nil, bad("empty list")
		}
		return out, nil
	case Text:
		if strings.Contains(text, ",") {
			return nil, bad("a text value cannot contain commas (they separate axis values)")
		}
		return strings.Join(strings.Fields(text), " "), nil
	case EnumList:
		var out []string
		for _, f := range splitList(text) {
			if !slices.Contains(p.Enum, f) {
				return nil, bad(fmt.Sprintf("unknown value %q", f))
			}
			if slices.Contains(out, f) {
				return nil, bad(fmt.Sprintf("%q given twice", f))
			}
			out = append(out, f)
		}
		if len(out) == 0 {
			return nil, bad("empty list")
		}
		return out, nil
	}
	return nil, fmt.Errorf("parameter %s: unknown kind %d", p.Name, p.Kind)
}

func splitList(text string) []string {
	var out []string
	for _, f := range strings.Split(text, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// Format writes a value of p's kind in the syntax Parse reads; floats use the
// shortest representation that reads back exactly.
func Format(v any) string {
	switch x := v.(type) {
	case int:
		return strconv.Itoa(x)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case string:
		return x
	case []int:
		s := make([]string, len(x))
		for i, e := range x {
			s[i] = strconv.Itoa(e)
		}
		return strings.Join(s, ",")
	case []string:
		return strings.Join(x, ",")
	}
	return fmt.Sprint(v)
}

// Schema is the ordered parameter list of one experiment family.
type Schema []Param

// Lookup returns the parameter called name.
func (s Schema) Lookup(name string) (Param, bool) {
	for _, p := range s {
		if p.Name == name {
			return p, true
		}
	}
	return Param{}, false
}

// ErrUnknownParam is wrapped by errors about parameter names the schema does
// not have.
var ErrUnknownParam = errors.New("unknown parameter")

func (s Schema) unknown(name string) error {
	hint := ""
	if near := s.nearest(name); near != "" {
		hint = fmt.Sprintf("; did you mean %q?", near)
	}
	names := make([]string, len(s))
	for i, p := range s {
		names[i] = p.Name
	}
	return fmt.Errorf("%w %q%s (known: %s)", ErrUnknownParam, name, hint, strings.Join(names, ", "))
}

// nearest returns the known name closest to name (edit distance, case
// folded) if it is close enough to be a likely misspelling.
func (s Schema) nearest(name string) string {
	best, bestD := "", 3
	for _, p := range s {
		d := editDistance(strings.ToLower(name), strings.ToLower(p.Name))
		if p.Name != name && strings.EqualFold(p.Name, name) {
			d = 0
		}
		if d < bestD || d == bestD && best == "" {
			best, bestD = p.Name, d
		}
	}
	if bestD > max(1, len(name)/3) {
		return ""
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Values is a fully resolved parameter set: every parameter of its schema
// has a value.
type Values struct {
	schema Schema
	vals   map[string]any
}

// Resolve builds the values of s from the defaults, then the preset's
// settings, then the overrides ("name=value", applied in order). Every error
// names the parameter and the allowed values.
func (s Schema) Resolve(preset map[string]string, overrides []string) (Values, error) {
	v := Values{schema: s, vals: make(map[string]any, len(s))}
	for _, p := range s {
		x, err := p.Parse(p.Default)
		if err != nil {
			return Values{}, fmt.Errorf("default of %w", err)
		}
		v.vals[p.Name] = x
	}
	keys := make([]string, 0, len(preset))
	for k := range preset {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := v.Set(k, preset[k]); err != nil {
			return Values{}, fmt.Errorf("preset: %w", err)
		}
	}
	for _, o := range overrides {
		name, text, ok := strings.Cut(o, "=")
		if !ok || strings.TrimSpace(name) == "" {
			return Values{}, fmt.Errorf("--set %q: want name=value", o)
		}
		if err := v.Set(strings.TrimSpace(name), text); err != nil {
			return Values{}, err
		}
	}
	return v, nil
}

// Set parses text as the value of parameter name.
func (v Values) Set(name, text string) error {
	p, ok := v.schema.Lookup(name)
	if !ok {
		return v.schema.unknown(name)
	}
	x, err := p.Parse(text)
	if err != nil {
		return err
	}
	v.vals[name] = x
	return nil
}

// Schema returns the schema of v.
func (v Values) Schema() Schema { return v.schema }

// Get returns the value of a parameter; it panics on a name the schema does
// not declare (a programming error, not an input error).
func (v Values) Get(name string) any {
	x, ok := v.vals[name]
	if !ok {
		panic("batch: no parameter " + name)
	}
	return x
}

// Int returns an Int parameter.
func (v Values) Int(name string) int { return v.Get(name).(int) }

// Float returns a Float parameter.
func (v Values) Float(name string) float64 { return v.Get(name).(float64) }

// Bool returns a Bool parameter.
func (v Values) Bool(name string) bool { return v.Get(name).(bool) }

// String returns an Enum parameter.
func (v Values) String(name string) string { return v.Get(name).(string) }

// Ints returns an IntList parameter.
func (v Values) Ints(name string) []int { return slices.Clone(v.Get(name).([]int)) }

// Strings returns an EnumList parameter.
func (v Values) Strings(name string) []string { return slices.Clone(v.Get(name).([]string)) }

// Text returns the canonical text of a parameter's value.
func (v Values) Text(name string) string { return Format(v.Get(name)) }

// With returns a copy of v with parameter name set to x (already parsed).
func (v Values) With(name string, x any) Values {
	c := v.clone()
	c.vals[name] = x
	return c
}

// Preset is a named set of parameter values of one experiment family, with
// optional default axes (for example every mode side by side) and a default
// replicate count.
type Preset struct {
	Name       string
	Experiment string
	Doc        string
	Set        map[string]string
	Grid       map[string]string // parameter -> comma-separated axis values
	Replicates int               // default replicate count (0: 1)
}

// Axes returns the preset's axes, in parameter name order.
func (p Preset) Axes() []Axis {
	names := make([]string, 0, len(p.Grid))
	for n := range p.Grid {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []Axis
	for _, n := range names {
		a := Axis{Params: []string{n}, Origin: "preset " + p.Name}
		for _, t := range splitList(p.Grid[n]) {
			a.Values = append(a.Values, []string{t})
		}
		out = append(out, a)
	}
	return out
}

func (v Values) clone() Values {
	c := Values{schema: v.schema, vals: make(map[string]any, len(v.vals))}
	for k, e := range v.vals {
		c.vals[k] = e
	}
	return c
}
