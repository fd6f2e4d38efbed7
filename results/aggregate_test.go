package results

import (
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// t975df3 is the 0.975 quantile of Student's t distribution with 3 degrees
// of freedom.
const t975df3 = 3.182446305284263

// closeTo reports whether got equals want to a relative 1e-12, NaN matching
// NaN.
func closeTo(got, want float64) bool {
	if math.IsNaN(want) {
		return math.IsNaN(got)
	}
	return math.Abs(got-want) <= 1e-12*math.Max(1, math.Abs(want))
}

func sameStat(got, want Stat) bool {
	return got.N == want.N && closeTo(got.Mean, want.Mean) && closeTo(got.Std, want.Std) &&
		closeTo(got.CILow, want.CILow) && closeTo(got.CIHigh, want.CIHigh)
}

// column returns a one-metric table "s" with the given loss fields, all at
// one parameter point.
func column(loss ...string) *Table {
	tab := &Table{Name: "s", Header: []string{"key", "mode", "loss"}}
	for _, v := range loss {
		tab.Rows = append(tab.Rows, []string{"k", "async", v})
	}
	return tab
}

func TestAggregateStat(t *testing.T) {
	nan := math.NaN()
	// 1, 2, 3, 4: mean 2.5, sample variance 5/3.
	std4 := math.Sqrt(5.0 / 3)
	half4 := t975df3 * std4 / 2
	tests := []struct {
		name string
		loss []string
		want Stat
	}{
		{"four", []string{"1", "2", "3", "4"}, Stat{4, 2.5, std4, 2.5 - half4, 2.5 + half4}},
		{"empty skipped", []string{"", "1", "2", "", "3", "4"}, Stat{4, 2.5, std4, 2.5 - half4, 2.5 + half4}},
		{"one", []string{"7", ""}, Stat{1, 7, nan, nan, nan}},
		{"constant", []string{"0.1", "0.1", "0.1"}, Stat{3, 0.1, 0, 0.1, 0.1}},
		// Variance 30 about a mean of 1e9+10: summing squares would
		// cancel catastrophically.
		{"large mean", []string{"1000000004", "1000000007", "1000000013", "1000000016"},
			Stat{4, 1000000010, math.Sqrt(30), 1000000010 - t975df3*math.Sqrt(30)/2, 1000000010 + t975df3*math.Sqrt(30)/2}},
		// Two values: t(0.975, 1) = 12.706204736174698.
		{"two", []string{"1", "3"}, Stat{2, 2, math.Sqrt2, 2 - 12.706204736174698, 2 + 12.706204736174698}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, err := Aggregate(column(tt.loss...), AggregateSpec{Params: []string{"mode"}, Metrics: []string{"loss"}})
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != 1 {
				t.Fatalf("Aggregate = %d rows, want 1: %+v", len(rows), rows)
			}
			if !sameStat(rows[0].Stat, tt.want) {
				t.Errorf("Stat = %+v, want %+v", rows[0].Stat, tt.want)
			}
		})
	}
}

// A metric with no value at a point and step gives no row.
func TestAggregateAllEmpty(t *testing.T) {
	rows, err := Aggregate(column("", ""), AggregateSpec{Params: []string{"mode"}, Metrics: []string{"loss"}})
	if err != nil || len(rows) != 0 {
		t.Errorf("Aggregate = %+v, %v; want no rows", rows, err)
	}
}

func TestAggregateOrder(t *testing.T) {
	// Points b then a by first appearance; replicate 2 of b logs steps the
	// first did not, which sort numerically into place.
	tab := &Table{
		Name:   "trace",
		Header: []string{"key", "replicate", "mode", "N", "iter", "loss", "rate"},
		Rows: [][]string{
			{"k1", "0", "b", "24", "0", "1", "10"},
			{"k1", "0", "b", "24", "10", "2", "20"},
			{"k2", "0", "a", "24", "0", "3", "30"},
			{"k3", "1", "b", "24", "5", "4", ""},
			{"k3", "1", "b", "24", "10", "6", "40"},
			{"k3", "1", "b", "24", "0", "5", "50"},
		},
	}
	rows, err := Aggregate(tab, AggregateSpec{Params: []string{"mode", "N"}, Step: "iter", Metrics: []string{"rate", "loss"}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"b 24|0|rate|2|30",
		"b 24|0|loss|2|3",
		"b 24|5|loss|1|4",
		"b 24|10|rate|2|30",
		"b 24|10|loss|2|4",
		"a 24|0|rate|1|30",
		"a 24|0|loss|1|3",
	}
	var got []string
	for _, r := range rows {
		got = append(got, strings.Join([]string{strings.Join(r.Point, " "), r.Step, r.Metric,
			strconv.Itoa(r.Stat.N), strconv.FormatFloat(r.Stat.Mean, 'g', -1, 64)}, "|"))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Aggregate rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// Non-numeric steps keep their order of first appearance.
func TestAggregateTextSteps(t *testing.T) {
	tab := &Table{
		Name:   "eval",
		Header: []string{"key", "phase", "loss"},
		Rows:   [][]string{{"k", "late", "1"}, {"k", "early", "2"}, {"k", "10", "3"}},
	}
	rows, err := Aggregate(tab, AggregateSpec{Step: "phase", Metrics: []string{"loss"}})
	if err != nil {
		t.Fatal(err)
	}
	var steps []string
	for _, r := range rows {
		steps = append(steps, r.Step)
	}
	if got := strings.Join(steps, ","); got != "late,early,10" {
		t.Errorf("steps = %s, want late,early,10", got)
	}
}

func TestAggregateErrors(t *testing.T) {
	tab := &Table{
		Name:   "summary",
		Header: []string{"key", "mode", "iter", "loss"},
		Rows:   [][]string{{"k1", "a", "0", "1"}, {"k2", "a", "0", "oops"}},
	}
	tests := []struct {
		name string
		spec AggregateSpec
		want string
	}{
		{"bad number", AggregateSpec{Params: []string{"mode"}, Metrics: []string{"loss"}},
			`aggregate: table summary, column "loss", row 2: "oops" is not a number`},
		{"unknown param", AggregateSpec{Params: []string{"nodes"}, Metrics: []string{"loss"}},
			`aggregate: table summary has no column "nodes" (columns: key, mode, iter, loss)`},
		{"unknown step", AggregateSpec{Step: "step", Metrics: []string{"loss"}},
			`aggregate: table summary has no column "step" (columns: key, mode, iter, loss)`},
		{"unknown metric", AggregateSpec{Metrics: []string{"rate"}},
			`aggregate: table summary has no column "rate" (columns: key, mode, iter, loss)`},
		{"no metrics", AggregateSpec{Params: []string{"mode"}},
			`aggregate table summary: no metric columns given`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Aggregate(tab, tt.spec)
			if err == nil || err.Error() != tt.want {
				t.Errorf("Aggregate error = %v, want %s", err, tt.want)
			}
		})
	}
}

func TestWriteAggregates(t *testing.T) {
	params := []string{"mode", "layers"}
	summary := &Table{
		Name:   "summary",
		Header: []string{"key", "mode", "layers", "loss"},
		Rows:   [][]string{{"k1", "async", "30,30", "1"}, {"k2", "async", "30,30", "3"}, {"k3", "sync", "24", "0.5"}},
	}
	trace := &Table{
		Name:   "trace",
		Header: []string{"key", "mode", "layers", "iter", "loss"},
		Rows:   [][]string{{"k1", "async", "30,30", "0", "1"}, {"k1", "async", "30,30", "0", "2"}},
	}
	var parts []AggregatePart
	for _, a := range []struct {
		tab  *Table
		step string
	}{{summary, ""}, {trace, "iter"}} {
		rows, err := Aggregate(a.tab, AggregateSpec{Params: params, Step: a.step, Metrics: []string{"loss"}})
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, AggregatePart{Table: a.tab.Name, Rows: rows})
	}
	path := filepath.Join(t.TempDir(), "aggregate.csv")
	n, err := WriteAggregates(path, params, parts)
	if err != nil || n != 3 {
		t.Fatalf("WriteAggregates = %d, %v; want 3, nil", n, err)
	}
	// 1, 3: std √2, half-width t(0.975, 1)·√2/√2 = 12.706204736174698.
	// Numbers are compared to a relative 1e-12, text exactly.
	want := [][]string{
		{"table", "mode", "layers", "step", "metric", "n", "mean", "std", "ci95_low", "ci95_high"},
		{"summary", "async", "30,30", "", "loss", "2", "2", "1.4142135623730951", "-10.706204736174698", "14.706204736174698"},
		{"summary", "sync", "24", "", "loss", "1", "0.5", "", "", ""},
		{"trace", "async", "30,30", "0", "loss", "2", "1.5", "0.7071067811865476", "-4.853102368087349", "7.853102368087349"},
	}
	tab, err := ReadTable(path)
	if err != nil {
		t.Fatalf("aggregate.csv does not read back: %v", err)
	}
	got := append([][]string{tab.Header}, tab.Rows...)
	if len(got) != len(want) {
		t.Fatalf("aggregate.csv has %d records, want %d: %q", len(got), len(want), got)
	}
	for i := range want {
		for j := range want[i] {
			g, w := got[i][j], want[i][j]
			gv, gerr := strconv.ParseFloat(g, 64)
			wv, werr := strconv.ParseFloat(w, 64)
			if g != w && (gerr != nil || werr != nil || !closeTo(gv, wv)) {
				t.Errorf("aggregate.csv record %d field %d (%s) = %q, want %q", i, j, want[0][j], g, w)
			}
		}
	}

	// A point that does not match the header is an error, not a panic, and
	// leaves no file.
	bad := filepath.Join(t.TempDir(), "bad.csv")
	if _, err := WriteAggregates(bad, []string{"mode"}, parts); err == nil {
		t.Error("WriteAggregates with too few parameters succeeded")
	}
	if _, err := os.Stat(bad); !os.IsNotExist(err) {
		t.Errorf("failed WriteAggregates left %s: %v", bad, err)
	}
}
