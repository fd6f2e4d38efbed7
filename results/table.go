package results

import (
	"encoding/csv"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Table is a CSV table read back into memory: a header and rows of text
// fields, every row as long as the header. Rows are numbered from 1 in error
// messages, the header not counted: row 1 is the first data row (line 2 of
// the file unless a field spans lines).
type Table struct {
	Name   string // file base name without .csv, used in error messages
	Header []string
	Rows   [][]string
}

// ReadTable reads a CSV file with a header row. It fails if the file is
// empty (no header), if a row has more or fewer fields than the header, or if
// two columns have the same name. A header with no rows is a valid, empty
// table.
func ReadTable(path string) (*Table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read table: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	// FieldsPerRecord 0 (the default) makes every record as long as the
	// first, so a ragged file is a *csv.ParseError naming the line.
	recs, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("read table %s: %w", path, err)
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("read table %s: empty file, no header", path)
	}
	t := &Table{
		Name:   strings.TrimSuffix(filepath.Base(path), ".csv"),
		Header: recs[0],
		Rows:   recs[1:],
	}
	seen := make(map[string]bool, len(t.Header))
	for _, name := range t.Header {
		if seen[name] {
			return nil, fmt.Errorf("read table %s: column %q appears twice in the header", path, name)
		}
		seen[name] = true
	}
	return t, nil
}

// Col returns the index of the named column. The error names the table and
// lists the columns it has.
func (t *Table) Col(name string) (int, error) {
	for i, h := range t.Header {
		if h == name {
			return i, nil
		}
	}
	return -1, fmt.Errorf("table %s has no column %q (columns: %s)", t.Name, name, strings.Join(t.Header, ", "))
}

// cols returns the indices of the named columns.
func (t *Table) cols(names []string) ([]int, error) {
	idx := make([]int, len(names))
	for i, name := range names {
		var err error
		if idx[i], err = t.Col(name); err != nil {
			return nil, err
		}
	}
	return idx, nil
}

// number parses field col of row (0-based index into t.Rows) as a finite
// float64. A field that is not a number, or is NaN or infinite (which the
// writers in this package never produce: a missing value is an empty field),
// is an error naming the table, the column, the row and the value.
func (t *Table) number(row, col int) (float64, error) {
	s := t.Rows[row][col]
	v, err := strconv.ParseFloat(s, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, fmt.Errorf("table %s, column %q, row %d: %q is not a number", t.Name, t.Header[col], row+1, s)
	}
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) { // err: overflow to ±Inf
		return 0, fmt.Errorf("table %s, column %q, row %d: %q is not a finite number", t.Name, t.Header[col], row+1, s)
	}
	return v, nil
}
