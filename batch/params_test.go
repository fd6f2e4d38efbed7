package batch

import (
	"errors"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
)

var (
	pInt      = Param{Name: "window", Kind: Int, Default: "6", Range: AtLeast(2)}
	pFloat    = Param{Name: "mu", Kind: Float, Default: "2", Range: Above(0)}
	pProb     = Param{Name: "up_p", Kind: Float, Default: "0.9", Range: Between(0, 1)}
	pBool     = Param{Name: "baselines", Kind: Bool, Default: "true"}
	pEnum     = Param{Name: "channel", Kind: Enum, Default: "ar1", Enum: []string{"ar1", "rayleigh"}}
	pIntList  = Param{Name: "hidden", Kind: IntList, Default: "30,30", Range: AtLeast(1)}
	pEnumList = Param{Name: "mode", Kind: EnumList, Default: "async", Enum: []string{"async", "sync", "central"}}
	pText     = Param{Name: "edges", Kind: Text, Syntax: "edge lists"}
)

func TestParseValid(t *testing.T) {
	tests := []struct {
		p    Param
		text string
		want any
	}{
		{pInt, "2", 2},
		{pInt, " 17 ", 17},
		{pInt, "+40", 40},
		{Param{Name: "n", Kind: Int}, "-3", -3},
		{pFloat, "2", 2.0},
		{pFloat, "1e-3", 0.001},
		{pFloat, "5e-324", 5e-324},
		{pProb, "0", 0.0},
		{pProb, "1", 1.0},
		{pProb, "0.25", 0.25},
		{pBool, "true", true},
		{pBool, "false", false},
		{pBool, "1", true},
		{pEnum, "rayleigh", "rayleigh"},
		{pEnum, " ar1", "ar1"},
		{pIntList, "30,30", []int{30, 30}},
		{pIntList, " 7 , 1 ", []int{7, 1}},
		{pIntList, "5", []int{5}},
		{pEnumList, "sync,async", []string{"sync", "async"}},
		{pEnumList, "central", []string{"central"}},
		{pText, " 1->2   2->1 /\n 1->3 ", "1->2 2->1 / 1->3"},
		{pText, "", ""},
	}
	for _, tc := range tests {
		got, err := tc.p.Parse(tc.text)
		if err != nil {
			t.Errorf("%s.Parse(%q): %v", tc.p.Name, tc.text, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s.Parse(%q) = %#v, want %#v", tc.p.Name, tc.text, got, tc.want)
		}
	}
}

func TestParseInvalid(t *testing.T) {
	tests := []struct {
		p    Param
		text string
		why  string // part of the message
	}{
		{pInt, "1", "out of range"},
		{pText, "1->2,2->1", "cannot contain commas"},
		{pInt, "-5", "out of range"},
		{pInt, "abc", "not an integer"},
		{pInt, "1.5", "not an integer"},
		{pInt, "", "not an integer"},
		{pInt, "99999999999999999999999", "not an integer"},
		{pFloat, "0", "out of range"},
		{pFloat, "-1", "out of range"},
		{pFloat, "NaN", "not a finite number"},
		{pFloat, "nan", "not a finite number"},
		{pFloat, "Inf", "not a finite number"},
		{pFloat, "-Inf", "not a finite number"},
		{pFloat, "+infinity", "not a finite number"},
		{pFloat, "1e400", "not a finite number"},
		{pFloat, "two", "not a finite number"},
		{pProb, "1.5", "out of range"},
		{pProb, "-0.1", "out of range"},
		{pProb, "NaN", "not a finite number"},
		{pBool, "maybe", "not a boolean"},
		{pBool, "yes", "not a boolean"},
		{pBool, "", "not a boolean"},
		{pEnum, "rician", "unknown value"},
		{pEnum, "AR1", "unknown value"},
		{pEnum, "", "unknown value"},
		{pIntList, "30,0", "0 is out of range"},
		{pIntList, "30,x", `"x" is not an integer`},
		{pIntList, "30,1.5", `"1.5" is not an integer`},
		{pIntList, "", "empty list"},
		{pIntList, " , ", "empty list"},
		{pEnumList, "async,async", `"async" given twice`},
		{pEnumList, "async,fast", `unknown value "fast"`},
		{pEnumList, "", "empty list"},
		{pEnumList, ",", "empty list"},
	}
	for _, tc := range tests {
		got, err := tc.p.Parse(tc.text)
		if err == nil {
			t.Errorf("%s.Parse(%q) = %#v, want an error", tc.p.Name, tc.text, got)
			continue
		}
		msg := err.Error()
		for _, want := range []string{"parameter " + tc.p.Name + " ", tc.p.Allowed(), tc.why} {
			if !strings.Contains(msg, want) {
				t.Errorf("%s.Parse(%q) error %q does not contain %q", tc.p.Name, tc.text, msg, want)
			}
		}
	}
}

func TestAllowed(t *testing.T) {
	tests := []struct {
		p    Param
		want string
	}{
		{pInt, "an integer >= 2"},
		{pFloat, "a number > 0"},
		{pProb, "a number [0, 1]"},
		{pBool, "true or false"},
		{pEnum, "one of ar1, rayleigh"},
		{pIntList, "a comma-separated list of integers >= 1"},
		{pEnumList, "a comma-separated list of async, sync, central"},
	}
	for _, tc := range tests {
		if got := tc.p.Allowed(); got != tc.want {
			t.Errorf("%s.Allowed() = %q, want %q", tc.p.Name, got, tc.want)
		}
	}
}

func TestRange(t *testing.T) {
	tests := []struct {
		r     Range
		str   string
		in    []float64
		notIn []float64
	}{
		{Range{}, "any", []float64{-1e300, 0, 1e300, math.Inf(1), math.Inf(-1)}, []float64{math.NaN()}},
		{AtLeast(2), ">= 2", []float64{2, 2.5, 1e9, math.Inf(1)}, []float64{1.999, -3, math.Inf(-1), math.NaN()}},
		{Above(0), "> 0", []float64{5e-324, 1}, []float64{0, math.Copysign(0, -1), -1, math.NaN()}},
		{Between(0, 1), "[0, 1]", []float64{0, 0.5, 1}, []float64{-0.1, 1.5, math.NaN()}},
		{Range{Lo: 0, Hi: 1, HasLo: true, HasHi: true, LoOpen: true}, "(0, 1]", []float64{1e-9, 1}, []float64{0, 1.1}},
		{Range{Lo: 0, Hi: 1, HasLo: true, HasHi: true, HiOpen: true}, "[0, 1)", []float64{0, 0.999}, []float64{1, -1}},
		{Range{Lo: -1, Hi: 1, HasLo: true, HasHi: true, LoOpen: true, HiOpen: true}, "(-1, 1)", []float64{0}, []float64{-1, 1}},
		{Range{Hi: 3, HasHi: true}, "<= 3", []float64{3, -1e9}, []float64{3.5, math.NaN()}},
		{Range{Hi: 3, HasHi: true, HiOpen: true}, "< 3", []float64{2.99}, []float64{3, 4}},
		{Between(1e-3, 1e6), "[0.001, 1000000]", []float64{1e-3, 1e6}, []float64{1e-4, 1e7}},
		{Between(2, 1<<20), "[2, 1048576]", []float64{2, 1 << 20}, []float64{1, 1<<20 + 1}},
		{Above(-1e-5), "> -0.00001", []float64{0}, []float64{-1e-5, -1}},
	}
	for _, tc := range tests {
		if got := tc.r.String(); got != tc.str {
			t.Errorf("%#v.String() = %q, want %q", tc.r, got, tc.str)
		}
		for _, x := range tc.in {
			if !tc.r.Contains(x) {
				t.Errorf("%s: Contains(%g) = false, want true", tc.str, x)
			}
		}
		for _, x := range tc.notIn {
			if tc.r.Contains(x) {
				t.Errorf("%s: Contains(%g) = true, want false", tc.str, x)
			}
		}
	}
}

func TestFormatRoundTrip(t *testing.T) {
	tests := []struct {
		p    Param
		v    any
		text string
	}{
		{pInt, 2, "2"},
		{Param{Name: "n", Kind: Int}, -17, "-17"},
		{pFloat, 0.1, "0.1"},
		{pFloat, 1e-3, "0.001"},
		{pFloat, 2.0, "2"},
		{pFloat, 1.0 / 3, "0.3333333333333333"},
		{pFloat, 1e21, "1e+21"},
		{pFloat, 5e-324, "5e-324"},
		{pFloat, math.MaxFloat64, "1.7976931348623157e+308"},
		{pProb, 0.9, "0.9"},
		{pBool, true, "true"},
		{pBool, false, "false"},
		{pEnum, "rayleigh", "rayleigh"},
		{pIntList, []int{30, 30}, "30,30"},
		{pIntList, []int{7}, "7"},
		{pEnumList, []string{"sync", "async", "central"}, "sync,async,central"},
	}
	for _, tc := range tests {
		text := Format(tc.v)
		if text != tc.text {
			t.Errorf("Format(%#v) = %q, want %q", tc.v, text, tc.text)
		}
		back, err := tc.p.Parse(text)
		if err != nil {
			t.Errorf("%s.Parse(Format(%#v)): %v", tc.p.Name, tc.v, err)
			continue
		}
		if !reflect.DeepEqual(back, tc.v) {
			t.Errorf("%s.Parse(Format(%#v)) = %#v", tc.p.Name, tc.v, back)
		}
	}
}

// testSchema has names that differ only in case (L, l) and misspelling
// targets (Pmax, up_p).
var testSchema = Schema{
	pEnumList,
	{Name: "N", Kind: Int, Default: "24", Range: Between(2, 1<<20)},
	pIntList,
	pFloat,
	{Name: "Pmax", Kind: Float, Default: "10", Range: Above(0)},
	pProb,
	{Name: "tx_p", Kind: Float, Default: "0.9", Range: Between(0, 1)},
	pEnum,
	{Name: "L", Kind: Float, Default: "0", Range: AtLeast(0)},
	{Name: "l", Kind: Float, Default: "0", Range: AtLeast(0)},
	pBool,
	pInt,
}

func TestResolveDefaults(t *testing.T) {
	v, err := testSchema.Resolve(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range testSchema {
		want, err := p.Parse(p.Default)
		if err != nil {
			t.Fatal(err)
		}
		if got := v.Get(p.Name); !reflect.DeepEqual(got, want) {
			t.Errorf("default %s = %#v, want %#v", p.Name, got, want)
		}
	}
	if got := v.Ints("hidden"); !slices.Equal(got, []int{30, 30}) {
		t.Errorf("hidden = %v", got)
	}
	if v.Int("N") != 24 || v.Float("Pmax") != 10 || !v.Bool("baselines") || v.String("channel") != "ar1" {
		t.Errorf("typed getters: N=%d Pmax=%g baselines=%v channel=%q", v.Int("N"), v.Float("Pmax"), v.Bool("baselines"), v.String("channel"))
	}
	if !reflect.DeepEqual(v.Schema(), testSchema) {
		t.Error("Schema() is not the resolving schema")
	}
}

func TestResolveOverrides(t *testing.T) {
	preset := map[string]string{"N": "10", "Pmax": "1", "mode": "sync,async", "channel": "rayleigh"}
	tests := []struct {
		name      string
		preset    map[string]string
		overrides []string
		want      map[string]string // canonical Text of each parameter checked
	}{
		{"defaults", nil, nil, map[string]string{"N": "24", "Pmax": "10", "mode": "async", "L": "0", "l": "0"}},
		{"preset", preset, nil, map[string]string{"N": "10", "Pmax": "1", "mode": "sync,async", "channel": "rayleigh", "mu": "2"}},
		{"set over preset", preset, []string{"N=12"}, map[string]string{"N": "12", "Pmax": "1"}},
		{"later wins", preset, []string{"N=12", "mu=0.5", "N=16"}, map[string]string{"N": "16", "mu": "0.5"}},
		{"spaces", nil, []string{" N = 7 ", "hidden= 64, 64 ,64"}, map[string]string{"N": "7", "hidden": "64,64,64"}},
		{"case-distinct names", nil, []string{"L=3", "l=0.5"}, map[string]string{"L": "3", "l": "0.5"}},
		{"lower only", nil, []string{"l=0.5"}, map[string]string{"L": "0", "l": "0.5"}},
		{"value with =", nil, []string{"mode=central"}, map[string]string{"mode": "central"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := testSchema.Resolve(tc.preset, tc.overrides)
			if err != nil {
				t.Fatal(err)
			}
			for name, want := range tc.want {
				if got := v.Text(name); got != want {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
		})
	}
}

func TestResolveErrors(t *testing.T) {
	tests := []struct {
		name      string
		preset    map[string]string
		overrides []string
		unknown   bool     // error wraps ErrUnknownParam
		contains  []string // substrings of the message
		excludes  []string
	}{
		{"misspelt Pmax", nil, []string{"Pmx=3"}, true, []string{`"Pmx"`, `did you mean "Pmax"?`}, nil},
		{"misspelt up_p", nil, []string{"up-p=0.5"}, true, []string{`"up-p"`, `did you mean "up_p"?`}, nil},
		{"wrong case", nil, []string{"pmax=3"}, true, []string{`did you mean "Pmax"?`}, nil},
		{"far off", nil, []string{"frobnicate=1"}, true, []string{`"frobnicate"`, "known: mode, N, hidden"}, []string{"did you mean"}},
		{"unknown in preset", map[string]string{"Nn": "3"}, nil, true, []string{"preset", `"Nn"`}, nil},
		{"no =", nil, []string{"N12"}, false, []string{`"N12"`, "name=value"}, nil},
		{"empty name", nil, []string{"=12"}, false, []string{`"=12"`, "name=value"}, nil},
		{"bad value", nil, []string{"N=1"}, false, []string{"parameter N ", "out of range", Param{Kind: Int, Range: Between(2, 1<<20)}.Allowed()}, nil},
		{"bad preset value", map[string]string{"up_p": "2"}, nil, false, []string{"preset", "parameter up_p ", pProb.Allowed()}, nil},
		{"bad value after good", nil, []string{"N=5", "mu=0"}, false, []string{"parameter mu ", pFloat.Allowed()}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := testSchema.Resolve(tc.preset, tc.overrides)
			if err == nil {
				t.Fatal("Resolve succeeded, want an error")
			}
			if got := errors.Is(err, ErrUnknownParam); got != tc.unknown {
				t.Errorf("errors.Is(%q, ErrUnknownParam) = %v, want %v", err, got, tc.unknown)
			}
			for _, s := range tc.contains {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
			for _, s := range tc.excludes {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q contains %q", err, s)
				}
			}
		})
	}
}

func TestResolveBadDefault(t *testing.T) {
	s := Schema{{Name: "k", Kind: Int, Default: "0", Range: AtLeast(1)}}
	_, err := s.Resolve(nil, nil)
	if err == nil || !strings.Contains(err.Error(), "default of parameter k ") {
		t.Fatalf("Resolve with a bad default = %v, want an error naming the default of k", err)
	}
}

func TestNearest(t *testing.T) {
	tests := []struct{ name, want string }{
		{"Pmx", "Pmax"},
		{"PMAX", "Pmax"},
		{"up-p", "up_p"},
		{"tx-p", "tx_p"},
		{"hiden", "hidden"},
		{"chanel", "channel"},
		{"hiden_", "hidden"},
		{"window_size", ""},
		{"ab", ""},
		{"zzz", ""},
	}
	for _, tc := range tests {
		if got := testSchema.nearest(tc.name); got != tc.want {
			t.Errorf("nearest(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		d    int
	}{
		{"", "", 0}, {"", "abc", 3}, {"abc", "", 3}, {"pmx", "pmax", 1},
		{"kitten", "sitting", 3}, {"up-p", "up_p", 1}, {"ab", "ba", 2},
	}
	for _, tc := range tests {
		if d := editDistance(tc.a, tc.b); d != tc.d {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, d, tc.d)
		}
		if d := editDistance(tc.b, tc.a); d != tc.d {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.b, tc.a, d, tc.d)
		}
	}
}

func TestValuesCopies(t *testing.T) {
	v, err := testSchema.Resolve(nil, []string{"N=8", "hidden=4,5"})
	if err != nil {
		t.Fatal(err)
	}
	w := v.With("N", 99)
	if v.Int("N") != 8 {
		t.Errorf("With modified the original: N = %d, want 8", v.Int("N"))
	}
	if w.Int("N") != 99 || w.Ints("hidden")[1] != 5 {
		t.Errorf("With: N = %d, hidden = %v; want 99, [4 5]", w.Int("N"), w.Ints("hidden"))
	}
	if err := w.Set("mu", "7"); err != nil {
		t.Fatal(err)
	}
	if v.Float("mu") != 2 {
		t.Errorf("Set on a With copy changed the original: mu = %g", v.Float("mu"))
	}

	h := v.Ints("hidden")
	h[0] = -1
	if got := v.Ints("hidden"); !slices.Equal(got, []int{4, 5}) {
		t.Errorf("Ints returned shared storage: hidden = %v after modifying a result", got)
	}
	m := v.Strings("mode")
	m[0] = "bogus"
	if got := v.Strings("mode"); !slices.Equal(got, []string{"async"}) {
		t.Errorf("Strings returned shared storage: mode = %v after modifying a result", got)
	}
}

func TestValuesGetUnknownPanics(t *testing.T) {
	v, err := testSchema.Resolve(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if recover() == nil {
			t.Error("Get of an undeclared name did not panic")
		}
	}()
	v.Get("nope")
}

func TestKindString(t *testing.T) {
	want := []string{"int", "float", "bool", "enum", "int list", "enum list", "text"}
	for k, w := range want {
		if got := Kind(k).String(); got != w {
			t.Errorf("Kind(%d).String() = %q, want %q", k, got, w)
		}
	}
}
