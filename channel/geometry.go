package channel

import (
	"fmt"
	"math"

	"github.com/batchrun/batchrun/kernels/philox"
)

// Geometry is the placement of N links in the plane, drawn once per seed.
type Geometry struct {
	N  int
	L  float64      // transmitters are uniform in [-L, L]^2
	l  float64      // receiver offsets are uniform in [-l, l]^2
	Tx [][2]float64 // transmitter positions
	Rx [][2]float64 // receiver positions
}

// PaperSides returns the paper's geometry sizes for n links: L = n, l = n/4.
func PaperSides(n int) (L, l float64) { return float64(n), float64(n) / 4 }

// DensitySides returns the constant-density geometry for n links:
// L = 24 sqrt(n/24), l = 6. It equals PaperSides at n = 24.
func DensitySides(n int) (L, l float64) { return 24 * math.Sqrt(float64(n)/24), 6 }

// NewGeometry draws n links: transmitter i uniform in [-L, L]^2, receiver i =
// transmitter i + uniform offset in [-l, l]^2. Link i uses the uniforms
// philox.Float64(key, stream, 4i+c) for c = 0 (tx x), 1 (tx y), 2 (dx), 3 (dy).
func NewGeometry(n int, L, l float64, key, stream uint64) (Geometry, error) {
	if n < 1 {
		return Geometry{}, fmt.Errorf("channel: geometry with N = %d links, want N >= 1", n)
	}
	if !(L > 0) || !(l > 0) {
		return Geometry{}, fmt.Errorf("channel: geometry sides L = %g, l = %g, want both > 0", L, l)
	}
	g := Geometry{N: n, L: L, l: l, Tx: make([][2]float64, n), Rx: make([][2]float64, n)}
	u := func(i, c int) float64 { return 2*philox.Float64(key, stream, uint64(4*i+c)) - 1 }
	for i := 0; i < n; i++ {
		g.Tx[i] = [2]float64{L * u(i, 0), L * u(i, 1)}
		g.Rx[i] = [2]float64{g.Tx[i][0] + float64(l*u(i, 2)), g.Tx[i][1] + float64(l*u(i, 3))}
	}
	return g, nil
}

// Distance returns the distance from transmitter j to receiver r.
func (g Geometry) Distance(r, j int) float64 {
	return math.Hypot(g.Rx[r][0]-g.Tx[j][0], g.Rx[r][1]-g.Tx[j][1])
}

// PathLoss returns the amplitude path loss PL[r][j] = d(r, j)^(-exponent),
// row-major (index r*N+j). The paper uses exponent 2.2 on the amplitude, so
// the power gain is PL^2.
func (g Geometry) PathLoss(exponent float64) []float64 {
	pl := make([]float64, g.N*g.N)
	for r := 0; r < g.N; r++ {
		for j := 0; j < g.N; j++ {
			pl[r*g.N+j] = math.Pow(g.Distance(r, j), -exponent)
		}
	}
	return pl
}
