package results

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// A run directory holds the results of one sweep, written by any number of
// processes (shards, resumed runs) that never append to a shared file:
//
//	DIR/spec.yaml                     the effective sweep spec
//	DIR/manifest.json                 what ran where (rewritten by merge)
//	DIR/runs/LABEL-NONCE.json         one manifest per process
//	DIR/parts/LABEL-NONCE-SEQ.T.csv   committed rows of table T
//	DIR/trace.csv, summary.csv, ...   merged tables (written by merge)
//
// A part is a batch of completed cells. Its tables are written one by one,
// each to a temporary name and renamed, and the commit table (the first in
// the definition list, "summary") last: a part counts only once its commit
// table exists, so a crash at any moment leaves either a complete part or
// files that every reader ignores. Cells are identified by their key, the
// first column of every table.

// TableDef describes one output table of an experiment family: its rows are
// the cell's identity and parameter columns, then the step column (if any),
// then the metrics.
type TableDef struct {
	Name    string   `json:"name"`
	Step    string   `json:"step,omitempty"` // step column, e.g. "iter"; "" = one row per cell
	Metrics []string `json:"metrics"`
}

// Row is one row of a table: the step (ignored for tables without a step
// column) and one value per metric; NaN is written as an empty field.
type Row struct {
	Step    int64
	Metrics []float64
}

// CellOutput is everything one completed cell contributes.
type CellOutput struct {
	Index  int    // position in the plan: the canonical row order
	Key    string // the cell key, first column of every row
	Prefix string // CSV text of the identity and parameter columns, key first
	Tables [][]Row
}

// Store writes parts into a run directory and reads them back.
type Store struct {
	Dir    string
	Tables []TableDef
	Header []string // identity and parameter columns, "key" first
	label  string   // part-name prefix of this process
	seq    int
	lock   *os.File // runs/LABEL.lock, locked while the process lives
}

// OpenStore prepares dir for writing the parts of one process: it creates
// the directory tree and checks that it is writable. label names the process
// (e.g. the shard, "s2of5"); a random suffix keeps the names of concurrent
// and successive processes apart.
func OpenStore(dir, label string, header []string, tables []TableDef) (*Store, error) {
	if len(tables) == 0 || len(header) == 0 || header[0] != "key" {
		return nil, fmt.Errorf("results: store needs tables and a header starting with key")
	}
	for _, sub := range []string{"parts", "runs"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return nil, fmt.Errorf("output directory %s: %w", dir, err)
		}
	}
	probe, err := os.CreateTemp(filepath.Join(dir, "parts"), ".probe-*")
	if err != nil {
		return nil, fmt.Errorf("output directory %s is not writable: %w", dir, err)
	}
	probe.Close()
	os.Remove(probe.Name())
	var nonce [4]byte
	rand.Read(nonce[:])
	s := &Store{Dir: dir, Tables: tables, Header: header, label: label + "-" + hex.EncodeToString(nonce[:])}
	lock, err := os.OpenFile(s.lockPath(s.label), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("output directory %s: %w", dir, err)
	}
	if err := lockFile(lock); err != nil {
		lock.Close()
		return nil, fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	s.lock = lock
	return s, nil
}

func (s *Store) lockPath(label string) string {
	return filepath.Join(s.Dir, "runs", label+".lock")
}

// Close releases the store's lock: from then on, a later process may take
// this process's uncommitted files for a crash's leftovers.
func (s *Store) Close() error {
	if s.lock == nil {
		return nil
	}
	os.Remove(s.lock.Name())
	err := s.lock.Close()
	s.lock = nil
	return err
}

// Label returns the unique name of this process's parts.
func (s *Store) Label() string { return s.label }

// columns returns the full header of table t.
func (s *Store) columns(t TableDef) []string { return tableColumns(s.Header, t) }

// tableColumns returns the full header of table t under the parameter
// columns header: header, the step column if any, the metrics.
func tableColumns(header []string, t TableDef) []string {
	cols := slices.Clone(header)
	if t.Step != "" {
		cols = append(cols, t.Step)
	}
	return append(cols, t.Metrics...)
}

// headerLine returns the header record of cols as a Store writes it.
func headerLine(cols []string) []byte {
	var b bytes.Buffer
	c := NewCSV(&b)
	c.Header(cols...)
	c.Flush()
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// Commit writes cells as one part. When Commit returns nil the cells are
// durable; on error nothing of them counts.
func (s *Store) Commit(cells []CellOutput) error {
	if len(cells) == 0 {
		return nil
	}
	cells = slices.Clone(cells)
	sort.Slice(cells, func(i, j int) bool { return cells[i].Index < cells[j].Index })
	base := filepath.Join(s.Dir, "parts", fmt.Sprintf("%s-%06d", s.label, s.seq))
	s.seq++
	// Commit table last.
	for ti := len(s.Tables) - 1; ti >= 0; ti-- {
		t := s.Tables[ti]
		_, err := WriteCSV(base+"."+t.Name+".csv", func(c *CSV) error {
			c.Header(s.columns(t)...)
			nf := len(s.Header)
			for _, cell := range cells {
				if ti >= len(cell.Tables) {
					continue
				}
				for _, r := range cell.Tables[ti] {
					if len(r.Metrics) != len(t.Metrics) {
						return fmt.Errorf("cell %s: table %s row has %d metrics, want %d", cell.Key, t.Name, len(r.Metrics), len(t.Metrics))
					}
					c.Raw(cell.Prefix, nf)
					if t.Step != "" {
						c.Int(r.Step)
					}
					for _, v := range r.Metrics {
						if math.IsNaN(v) {
							c.Empty()
						} else {
							c.Float(v)
						}
					}
					c.End()
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// part is one committed part: its base path and the cells of its commit table.
type part struct {
	base string
	keys []string
}

// committedParts lists the committed parts of dir in name order, reading
// the keys of their commit table. A part counts only if every table of it
// exists: the commit table is written last, so a part lacking another table
// has lost it after its commit, and its cells are to be run again.
func committedParts(dir string, tables []TableDef) ([]part, error) {
	commit := tables[0].Name
	pattern := filepath.Join(dir, "parts", "*."+commit+".csv")
	names, err := filepath.Glob(pattern)
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var parts []part
	for _, name := range names {
		if strings.HasPrefix(filepath.Base(name), ".") {
			continue
		}
		base := strings.TrimSuffix(name, "."+commit+".csv")
		complete := true
		for _, t := range tables[1:] {
			if _, err := os.Stat(base + "." + t.Name + ".csv"); err != nil {
				complete = false
			}
		}
		if !complete {
			continue
		}
		keys, err := readKeys(name)
		if err != nil {
			return nil, err
		}
		parts = append(parts, part{base: base, keys: keys})
	}
	return parts, nil
}

// readKeys returns the first field of every data row of a part file.
func readKeys(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read part: %w", err)
	}
	var keys []string
	for i, line := range lines(data) {
		if i == 0 {
			continue
		}
		k, _, _ := strings.Cut(string(line), ",")
		keys = append(keys, k)
	}
	return keys, nil
}

// lines splits CSV text into records. Fields never hold line breaks in our
// tables (parameter values are single-line), so records are lines.
func lines(data []byte) [][]byte {
	out := bytes.Split(data, []byte("\n"))
	if n := len(out); n > 0 && len(out[n-1]) == 0 {
		out = out[:n-1]
	}
	return out
}

// Done returns how many committed rows each cell key has in the commit
// table of dir (a cell is done when it has at least one).
func Done(dir string, tables []TableDef) (map[string]int, error) {
	parts, err := committedParts(dir, tables)
	if err != nil {
		return nil, err
	}
	done := make(map[string]int)
	for _, p := range parts {
		for _, k := range p.keys {
			done[k]++
		}
	}
	return done, nil
}

// CleanOrphans removes what crashed processes left behind: temporary
// files, and the tables of parts whose commit table never appeared. A
// process is taken for crashed when its lock (runs/LABEL.lock) is free;
// the files of processes that are still running, such as other shards or
// a Kubernetes pod that is still shutting down, are left alone.
func (s *Store) CleanOrphans() error {
	dir := filepath.Join(s.Dir, "parts")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	commit := "." + s.Tables[0].Name + ".csv"
	have := make(map[string]bool)
	for _, e := range entries {
		if b, ok := strings.CutSuffix(e.Name(), commit); ok {
			have[b] = true
		}
	}
	alive := map[string]bool{}
	for _, e := range entries {
		name := e.Name()
		tmp := strings.HasPrefix(name, ".")
		base, _, _ := strings.Cut(strings.TrimPrefix(name, "."), ".")
		i := strings.LastIndexByte(base, '-')
		if i < 0 {
			continue // not a part
		}
		proc := base[:i]
		if _, ok := alive[proc]; !ok {
			alive[proc] = proc == s.label || held(s.lockPath(proc))
		}
		if alive[proc] || !tmp && have[base] {
			continue
		}
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	// Locks of crashed processes.
	locks, _ := filepath.Glob(filepath.Join(s.Dir, "runs", "*.lock"))
	for _, l := range locks {
		if l != s.lock.Name() && !held(l) {
			os.Remove(l)
		}
	}
	return nil
}

// MergeProblem describes why a merge cannot produce complete tables.
type MergeProblem struct {
	Missing    []int            // plan indices of cells without results
	Duplicated map[int][]string // plan index -> parts holding it
}

func (m *MergeProblem) Error() string {
	var b strings.Builder
	if len(m.Missing) > 0 {
		fmt.Fprintf(&b, "%d cells missing", len(m.Missing))
	}
	if len(m.Duplicated) > 0 {
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%d cells present more than once", len(m.Duplicated))
	}
	return b.String()
}

// MergeStats reports what a merge found.
type MergeStats struct {
	Cells int            // planned cells written
	Extra int            // committed cells not in the plan (ignored)
	Rows  map[string]int // table file -> data rows
}

// MergePlan is what a merge expects to find in a run directory.
type MergePlan struct {
	// Keys holds the cell keys in plan order: Keys[i] is plan cell i.
	Keys []string
	// Header holds the parameter columns of every table (the header of
	// OpenStore), or nil: the columns of the first part.
	Header []string
	Tables []TableDef
	// Added maps parameter columns that parts written by an earlier
	// version may lack (parameters added since, which leave cell keys
	// alone at their defaults) to the value that fills them: the default.
	// It needs Header.
	Added map[string]string
}

// Merge writes one file per table into dir (trace.csv, summary.csv, ...)
// from the committed parts, rows in plan order and, within a cell, in the
// order they were written. Every planned cell must be committed exactly
// once; otherwise Merge writes nothing and returns a *MergeProblem.
// Committed cells that the plan does not hold (from an earlier, different
// grid) are left out. A part whose columns are those of the plan less some
// of pl.Added gets those columns filled in; any other difference in columns
// is an error.
func Merge(dir string, pl MergePlan) (MergeStats, error) {
	keys, tables := pl.Keys, pl.Tables
	stats := MergeStats{Rows: make(map[string]int)}
	parts, err := committedParts(dir, tables)
	if err != nil {
		return stats, err
	}
	index := make(map[string]int, len(keys))
	for i, k := range keys {
		index[k] = i
	}
	owner := make([]int, len(keys)) // part index + 1
	prob := &MergeProblem{Duplicated: make(map[int][]string)}
	for pi, p := range parts {
		for _, k := range p.keys {
			i, ok := index[k]
			if !ok {
				stats.Extra++
				continue
			}
			if owner[i] != 0 {
				if len(prob.Duplicated[i]) == 0 {
					prob.Duplicated[i] = []string{filepath.Base(parts[owner[i]-1].base)}
				}
				prob.Duplicated[i] = append(prob.Duplicated[i], filepath.Base(p.base))
				continue
			}
			owner[i] = pi + 1
		}
	}
	for i, o := range owner {
		if o == 0 {
			prob.Missing = append(prob.Missing, i)
		}
	}
	if len(prob.Missing) > 0 || len(prob.Duplicated) > 0 {
		return stats, prob
	}
	stats.Cells = len(keys)
	for _, t := range tables {
		rows, err := mergeTable(dir, t, parts, index, pl)
		if err != nil {
			return stats, err
		}
		stats.Rows[t.Name+".csv"] = rows
	}
	return stats, nil
}

// mergeTable gathers the rows of one table from every part and writes them
// in plan order.
func mergeTable(dir string, t TableDef, parts []part, index map[string]int, pl MergePlan) (int, error) {
	var header []byte
	if pl.Header != nil {
		header = headerLine(tableColumns(pl.Header, t))
	}
	byCell := make(map[int][][]byte)
	for _, p := range parts {
		path := p.base + "." + t.Name + ".csv"
		data, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			return 0, fmt.Errorf("part %s has no %s table", filepath.Base(p.base), t.Name)
		}
		if err != nil {
			return 0, err
		}
		ls := lines(data)
		if len(ls) == 0 {
			return 0, fmt.Errorf("%s: empty file", path)
		}
		var fill func([]byte) []byte
		if header == nil {
			header = ls[0]
		} else if !bytes.Equal(header, ls[0]) {
			if fill = filler(header, ls[0], pl.Added); fill == nil {
				return 0, fmt.Errorf("%s: columns differ from other parts (written by another version or for other parameters)", path)
			}
		}
		for _, l := range ls[1:] {
			k, _, _ := bytes.Cut(l, []byte(","))
			i, ok := index[string(k)]
			if !ok {
				continue
			}
			if fill != nil {
				l = fill(l)
			}
			byCell[i] = append(byCell[i], l)
		}
	}
	cells := make([]int, 0, len(byCell))
	for i := range byCell {
		cells = append(cells, i)
	}
	sort.Ints(cells)
	rows := 0
	err := WriteAtomic(filepath.Join(dir, t.Name+".csv"), func(w *bufio.Writer) error {
		if header != nil {
			w.Write(header)
			w.WriteByte('\n')
		}
		for _, i := range cells {
			for _, l := range byCell[i] {
				w.Write(l)
				w.WriteByte('\n')
				rows++
			}
		}
		return nil
	})
	return rows, err
}

// Discard removes every part, process record and merged file of dir (for a
// fresh start). It refuses while another process holds a lock in dir.
func Discard(dir string, tables []TableDef) error {
	locks, _ := filepath.Glob(filepath.Join(dir, "runs", "*.lock"))
	for _, l := range locks {
		if held(l) {
			return fmt.Errorf("another process is writing into %s (it holds %s)", dir, l)
		}
	}
	for _, sub := range []string{"parts", "runs"} {
		if err := os.RemoveAll(filepath.Join(dir, sub)); err != nil {
			return err
		}
	}
	files := []string{"manifest.json", "aggregate.csv"}
	for _, t := range tables {
		files = append(files, t.Name+".csv")
	}
	for _, f := range files {
		if err := os.Remove(filepath.Join(dir, f)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// filler returns a function that turns a row under header `has` into one
// under header `want`, when want is has with some columns of added
// inserted (filled with added's values); otherwise nil.
func filler(want, has []byte, added map[string]string) func([]byte) []byte {
	wantCols, hasCols := headerFields(want), headerFields(has)
	// insert[j]: the quoted values to insert before field j of a row
	// (j == len(hasCols): after the last).
	insert := make([][]string, len(hasCols)+1)
	j := 0
	for _, c := range wantCols {
		if j < len(hasCols) && hasCols[j] == c {
			j++
			continue
		}
		v, ok := added[c]
		if !ok {
			return nil
		}
		insert[j] = append(insert[j], Quote(v))
	}
	if j != len(hasCols) {
		return nil
	}
	return func(row []byte) []byte {
		bounds := fieldBounds(row)
		if len(bounds) != len(hasCols) {
			return row // a malformed row stays as it is
		}
		out := make([]byte, 0, len(row)+32)
		n := 0 // fields written
		field := func(b []byte) {
			if n > 0 {
				out = append(out, ',')
			}
			out = append(out, b...)
			n++
		}
		for f, b := range bounds {
			for _, v := range insert[f] {
				field([]byte(v))
			}
			field(row[b[0]:b[1]])
		}
		for _, v := range insert[len(bounds)] {
			field([]byte(v))
		}
		return out
	}
}

// fieldBounds returns the [start, end) offsets of the fields of a CSV
// record (commas inside double quotes do not separate).
func fieldBounds(row []byte) [][2]int {
	var out [][2]int
	start, quoted := 0, false
	for i, c := range row {
		switch {
		case c == '"':
			quoted = !quoted
		case c == ',' && !quoted:
			out = append(out, [2]int{start, i})
			start = i + 1
		}
	}
	return append(out, [2]int{start, len(row)})
}

// headerFields returns the column names of a header record, unquoted.
func headerFields(row []byte) []string {
	bounds := fieldBounds(row)
	out := make([]string, len(bounds))
	for f, b := range bounds {
		field := row[b[0]:b[1]]
		if len(field) >= 2 && field[0] == '"' && field[len(field)-1] == '"' {
			field = bytes.ReplaceAll(field[1:len(field)-1], []byte(`""`), []byte(`"`))
		}
		out[f] = string(field)
	}
	return out
}
