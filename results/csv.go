// Package results writes what experiments produce: tidy CSV tables and run
// manifests, each written atomically (to a temporary file in the target
// directory, synced, then renamed), so that a crash or an interrupt never
// leaves a half-written file under a final name.
package results

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// CSV builds the rows of one CSV file (RFC 4180: fields that hold a comma,
// a quote or a line break are quoted). Fields are appended one by one and a
// row ends with End, so that writing millions of rows allocates nothing per
// row.
type CSV struct {
	w    *bufio.Writer
	cols int
	n    int // fields in the current row
	rows int
	buf  []byte
}

// Header writes the column names; it must be called once, first.
func (c *CSV) Header(cols ...string) {
	c.cols = len(cols)
	for _, name := range cols {
		c.String(name)
	}
	c.n = len(cols)
	c.End()
	c.rows = 0
}

func (c *CSV) sep() {
	if c.n > 0 {
		c.w.WriteByte(',')
	}
	c.n++
}

// String appends a text field, quoted if needed.
func (c *CSV) String(s string) {
	c.sep()
	c.w.WriteString(Quote(s))
}

// Quote returns s as one CSV field: unchanged, or in double quotes (with
// inner quotes doubled) if it holds a comma, a quote or a line break.
func Quote(s string) string {
	if !strings.ContainsAny(s, ",\"\r\n") {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// Raw appends pre-formatted CSV text holding one or more complete fields
// separated by commas (quoted as needed), counting as fields fields.
func (c *CSV) Raw(text string, fields int) {
	if c.n > 0 {
		c.w.WriteByte(',')
	}
	c.w.WriteString(text)
	c.n += fields
}

// Float appends a float in the shortest form that reads back exactly.
func (c *CSV) Float(v float64) {
	c.sep()
	c.buf = strconv.AppendFloat(c.buf[:0], v, 'g', -1, 64)
	c.w.Write(c.buf)
}

// Int appends an integer.
func (c *CSV) Int(v int64) {
	c.sep()
	c.buf = strconv.AppendInt(c.buf[:0], v, 10)
	c.w.Write(c.buf)
}

// Uint appends an unsigned integer.
func (c *CSV) Uint(v uint64) {
	c.sep()
	c.buf = strconv.AppendUint(c.buf[:0], v, 10)
	c.w.Write(c.buf)
}

// Empty appends an empty field (a missing value).
func (c *CSV) Empty() { c.sep() }

// End finishes the row. It panics if the row has the wrong number of fields:
// that is a bug in the caller, and a ragged CSV is worse than a crash.
func (c *CSV) End() {
	if c.n != c.cols {
		panic(fmt.Sprintf("results: CSV row with %d fields, header has %d", c.n, c.cols))
	}
	c.w.WriteByte('\n')
	c.n = 0
	c.rows++
}

// NewCSV returns a CSV writing to w; call Flush when done (WriteCSV does).
func NewCSV(w io.Writer) *CSV { return &CSV{w: bufio.NewWriter(w)} }

// Flush writes buffered rows to the underlying writer.
func (c *CSV) Flush() error { return c.w.Flush() }

// Rows returns the number of data rows ended so far.
func (c *CSV) Rows() int { return c.rows }

// WriteCSV creates the CSV file path atomically: fill writes the header and
// rows; the file appears under its name only if fill and every write
// succeed. It returns the number of data rows.
func WriteCSV(path string, fill func(c *CSV) error) (rows int, err error) {
	err = WriteAtomic(path, func(f *bufio.Writer) error {
		c := &CSV{w: f}
		if err := fill(c); err != nil {
			return err
		}
		rows = c.Rows()
		return nil
	})
	return rows, err
}

// WriteAtomic writes a file through a temporary file in the same directory,
// synced and renamed into place once write returns nil; on any error the
// temporary file is removed and path is left as it was.
func WriteAtomic(path string, write func(w *bufio.Writer) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	if err = write(bw); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = bw.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	if err = os.Chmod(f.Name(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("rename into %s: %w", path, err)
	}
	// Make the rename itself durable. Not every file system can sync a
	// directory; the file is complete either way, so that error is ignored.
	if d, derr := os.Open(dir); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
