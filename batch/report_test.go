package batch

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
)

func TestMeansByPointAndVarying(t *testing.T) {
	s := Schema{
		{Name: "a", Kind: Int, Default: "1", Range: AtLeast(0)},
		{Name: "b", Kind: Enum, Default: "x", Enum: []string{"x", "y"}},
		{Name: "c", Kind: Float, Default: "0.5"},
	}
	point := func(set ...string) Values {
		v, err := s.Resolve(nil, set)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	p0, p1 := point("c=1"), point("a=2", "c=1.0") // 1 and 1.0 are one value
	cells := []*Cell{{Point: 1, Values: p1}, {Point: 0, Values: p0}, {Point: 1, Values: p1}, {Point: 0, Values: p0}, {Point: 1, Values: p1}}
	nan := math.NaN()
	summary := [][]float64{{1, nan}, {10, nan}, {3, 4}, nil, {5, nan}}
	got := MeansByPoint(cells, summary)
	if len(got) != 2 || got[0].Cells != 3 || got[1].Cells != 1 {
		t.Fatalf("points %+v: want point 1 (3 cells) then point 0 (1 cell)", got)
	}
	if got[0].Mean[0] != 3 || got[0].Mean[1] != 4 || got[1].Mean[0] != 10 || !math.IsNaN(got[1].Mean[1]) {
		t.Errorf("means %v, %v: want [3 4] (NaN skipped), [10 NaN]", got[0].Mean, got[1].Mean)
	}
	if v := Varying(got); !slices.Equal(v, []string{"a"}) {
		t.Errorf("Varying = %v, want [a]", v)
	}
	if v := Varying(MeansByPoint([]*Cell{{Values: point()}, {Point: 1, Values: point("b=y")}, {Point: 2, Values: point("c=2")}},
		[][]float64{{0}, {0}, {0}})); !slices.Equal(v, []string{"b", "c"}) {
		t.Errorf("Varying = %v, want [b c]", v)
	}
	if MeansByPoint(cells[:1], [][]float64{nil}) != nil || Varying(nil) != nil {
		t.Error("no completed cells: want no points and no varying parameters")
	}
}

func TestWriteReport(t *testing.T) {
	s := Schema{{Name: "a", Kind: Int, Default: "1", Range: AtLeast(0)}, {Name: "b", Kind: Int, Default: "7", Range: AtLeast(0)}}
	v1, _ := s.Resolve(nil, nil)
	v2, _ := s.Resolve(nil, []string{"a=20"})
	points := MeansByPoint([]*Cell{{Values: v1}, {Point: 1, Values: v2}}, [][]float64{{0.5}, {1.5}})
	var b strings.Builder
	WriteReport(&b, points, []string{"cells", "mean"}, func(p PointMeans) []string {
		return []string{fmt.Sprint(p.Cells), fmt.Sprint(p.Mean[0])}
	})
	want := "   a  cells  mean\n   1      1   0.5\n  20      1   1.5\n"
	if b.String() != want {
		t.Errorf("report:\n%q\nwant\n%q", b.String(), want)
	}
	b.Reset()
	WriteReport(&b, nil, []string{"cells"}, nil)
	if b.String() != "no results\n" {
		t.Errorf("empty report %q", b.String())
	}
}
