package results

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// writeTestTable writes content to name in a fresh temporary directory and
// returns its path.
func writeTestTable(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestReadTable(t *testing.T) {
	path := writeTestTable(t, "summary.csv", "key,layers,loss\nk1,\"30,30\",0.5\nk2,24,\n")
	tab, err := ReadTable(path)
	if err != nil {
		t.Fatalf("ReadTable: %v", err)
	}
	want := &Table{
		Name:   "summary",
		Header: []string{"key", "layers", "loss"},
		Rows:   [][]string{{"k1", "30,30", "0.5"}, {"k2", "24", ""}},
	}
	if !reflect.DeepEqual(tab, want) {
		t.Errorf("ReadTable = %+v, want %+v", tab, want)
	}
}

func TestReadTableErrors(t *testing.T) {
	tests := []struct {
		name, content string
		want          string // in the error
	}{
		{"empty", "", "empty file"},
		{"ragged", "a,b\n1,2\n3\n", "wrong number of fields"},
		{"duplicate", "a,b,a\n1,2,3\n", `column "a" appears twice`},
		{"quote", "a,b\n1,\"2\n", "extraneous or missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeTestTable(t, tt.name+".csv", tt.content)
			_, err := ReadTable(path)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("ReadTable = %v, want an error naming %s and saying %q", err, path, tt.want)
			}
		})
	}
	if _, err := ReadTable(filepath.Join(t.TempDir(), "missing.csv")); err == nil {
		t.Error("ReadTable of a missing file succeeded")
	}
}

// A header without rows is a valid, empty table.
func TestReadTableHeaderOnly(t *testing.T) {
	tab, err := ReadTable(writeTestTable(t, "eval.csv", "key,loss\n"))
	if err != nil || len(tab.Rows) != 0 || len(tab.Header) != 2 {
		t.Fatalf("ReadTable = %+v, %v; want 2 columns, no rows", tab, err)
	}
}

func TestCol(t *testing.T) {
	tab := &Table{Name: "trace", Header: []string{"key", "iter", "loss"}}
	tests := []struct {
		name string
		want int
		err  string
	}{
		{"key", 0, ""},
		{"loss", 2, ""},
		{"rate", -1, `table trace has no column "rate" (columns: key, iter, loss)`},
	}
	for _, tt := range tests {
		got, err := tab.Col(tt.name)
		if got != tt.want || (err == nil) != (tt.err == "") || (err != nil && err.Error() != tt.err) {
			t.Errorf("Col(%q) = %d, %v; want %d, %q", tt.name, got, err, tt.want, tt.err)
		}
	}
}

func TestNumber(t *testing.T) {
	tab := &Table{Name: "s", Header: []string{"x"}, Rows: [][]string{{"1.5"}, {"-2e3"}, {"abc"}, {"NaN"}, {"+Inf"}, {"1e400"}, {" 1"}}}
	tests := []struct {
		row  int
		want float64
		err  string
	}{
		{0, 1.5, ""},
		{1, -2000, ""},
		{2, 0, `table s, column "x", row 3: "abc" is not a number`},
		{3, 0, `table s, column "x", row 4: "NaN" is not a finite number`},
		{4, 0, `table s, column "x", row 5: "+Inf" is not a finite number`},
		{5, 0, `table s, column "x", row 6: "1e400" is not a finite number`},
		{6, 0, `table s, column "x", row 7: " 1" is not a number`},
	}
	for _, tt := range tests {
		got, err := tab.number(tt.row, 0)
		if got != tt.want || (err == nil) != (tt.err == "") || (err != nil && err.Error() != tt.err) {
			t.Errorf("number(%d) = %v, %v; want %v, %q", tt.row, got, err, tt.want, tt.err)
		}
	}
}
